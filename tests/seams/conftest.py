"""The seams are exercised through the register's citizens."""

from tests.registry.conftest import neighbour, resident  # noqa: F401 (fixtures)
