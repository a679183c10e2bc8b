"""Tooling, not domain code: the demo borough, benchmarks and synthetic files.

Domain packages (`app.registry`, `app.matching`, ...) never import from here; these modules use the
domains' public services and models, and the `marketplace` command wires their commands in
(`app.devtools.cli`).
"""
