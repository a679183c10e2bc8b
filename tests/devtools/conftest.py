"""Devtools fixtures: a fresh, migrated database per module, and the `marketplace` command run in
this process against it (the same code path as the real command, without a new interpreter)."""

from __future__ import annotations

import pytest

from app.cli import main
from app.migrations_support import upgrade_to_head


@pytest.fixture(scope="module")
def fresh_database(databases) -> str:
    url = databases.new("devtools")
    upgrade_to_head(url)
    return url


@pytest.fixture()
def marketplace(monkeypatch, capsys):
    """Runs `marketplace ARGS` in process against a database URL; returns (exit code, out, err)."""

    def run(argv: list[str], database_url: str) -> tuple[int, str, str]:
        monkeypatch.setenv("MARKETPLACE_DATABASE_URL", database_url)
        monkeypatch.setenv("MARKETPLACE_ENVIRONMENT", "test")
        capsys.readouterr()
        code = main(argv)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
