"""Tooling stays out of the domains: no domain module imports app.devtools."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
TOOLING_USERS = {"devtools", "cli.py", "cli"}  # the tooling itself and the command that wires it in


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_domain_module_imports_devtools():
    offenders = []
    for path in sorted(APP.rglob("*.py")):
        relative = path.relative_to(APP)
        if relative.parts[0] in TOOLING_USERS:
            continue
        if any(name == "app.devtools" or name.startswith("app.devtools.") for name in _imports(path)):
            offenders.append(str(relative))
    assert not offenders, f"domain code imports app.devtools: {offenders}"


def test_the_tooling_modules_are_gone_from_the_domains():
    for old in ("registry/demo.py", "registry/bench.py", "matching/bench.py"):
        assert not (APP / old).exists(), old
    assert "write_synthetic_onspd" not in (APP / "registry" / "importer.py").read_text()


def test_the_demo_words_ship_with_the_package():
    import tomllib

    pyproject = tomllib.loads((APP.parent / "pyproject.toml").read_text())
    package_data = pyproject["tool"]["setuptools"]["package-data"]
    assert "data/*.json" in package_data["app.devtools"]
    assert (APP / "devtools" / "data" / "demo_words.json").is_file()


def test_the_command_loads_no_numerical_libraries_until_a_command_needs_them():
    """`marketplace serve --workers N` forks from a supervisor that never matches anything: it
    must not carry numpy, SciPy and OR-Tools (about 100 MB) for nothing."""
    import subprocess
    import sys

    probe = (
        "import sys; from app.cli import build_parser; build_parser().parse_args(['serve']); "
        "print(sorted(m for m in ('numpy', 'scipy', 'ortools', 'app.matching.engine') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
