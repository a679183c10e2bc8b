"""Explicit wiring: every domain registers its hooks from `plugin.register`, the same for the
web app and for a worker, and the modules' imports keep to the one-way dependency order."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app.core.plugins import Plugins
from app.main import DOMAINS, build_plugins, create_app

APP = Path(__file__).resolve().parents[2] / "app"
ORDER = ["core", "accounts", "privacy", "registry", "matching", "linkers"]
# Composition roots and tooling may import any domain; nothing imports them.
ROOTS = {"app.main", "app.cli", "app.models", "app.migrations_support", "app.pages"}


def hook_names(plugins: Plugins) -> dict:
    return {
        "account_sections": [f.__qualname__ for f in plugins.account_sections],
        "item_sections": [f.__qualname__ for f in plugins.item_sections],
        "consent_withdrawn": [f.__name__ for f in plugins.consent_withdrawn],
        "item_closed": [f.__name__ for f in plugins.item_closed],
        "person_access": [f.__qualname__ for f in plugins.person_access],
        "flash_messages": sorted(plugins.flash_messages),
        "exporters": sorted(plugins.exporters),
        "erasers": sorted(plugins.erasers),
        "page_mounts": sorted(plugins.page_mounts),
        "landing_pages": plugins.landing_pages,
    }


def test_a_worker_gets_the_same_wiring_as_the_web_app(settings):
    app = create_app(settings)
    assert hook_names(build_plugins()) == hook_names(app.state.plugins)
    wiring = hook_names(app.state.plugins)
    assert wiring["consent_withdrawn"] == ["pause_items_without_profile_consent", "cancel_matches_on_withdrawal"]
    assert wiring["item_closed"] == ["cancel_matches_of_closed_item"]
    assert wiring["item_sections"] == ["item_suggestions_section"]
    assert wiring["person_access"] == ["own_person_rule", "caseload_rule"]
    assert wiring["page_mounts"] == ["journeys", "suggestions"]
    assert wiring["landing_pages"] == {"linker": "linkers:dashboard", "staff": "reports:summary"}
    assert {"registered", "signed-out", "published", "skill-saved"} <= set(wiring["flash_messages"])


def test_two_domains_cannot_claim_the_same_flash_message_or_hook():
    plugins = Plugins()
    plugins.add_flash_messages({"saved": "Saved."})
    with pytest.raises(ValueError, match="registered twice"):
        plugins.add_flash_messages({"saved": "Also saved."})
    plugins.add_exporter("registry", lambda db, person_id: {})
    with pytest.raises(ValueError):
        plugins.add_exporter("registry", lambda db, person_id: {})
    plugins.add_eraser("registry", lambda db, person_id: None)
    with pytest.raises(ValueError):
        plugins.add_eraser("registry", lambda db, person_id: None)


def test_the_registry_is_filled_in_domain_order_whatever_was_imported_first():
    import importlib

    for name in reversed(DOMAINS):  # importing views in another order changes nothing
        importlib.import_module(f"{name}.plugin")
    first, second = build_plugins(), build_plugins()
    assert hook_names(first) == hook_names(second)
    assert first.consent_withdrawn is not second.consent_withdrawn  # each app gets its own registry


def _module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    modules = {_module_name(p) for p in APP.rglob("*.py")}
    for path in APP.rglob("*.py"):
        name = _module_name(path)
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app"):
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names if f"{node.module}.{alias.name}" in modules)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if alias.name.startswith("app"))
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def _domain(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ORDER else None


def test_dependencies_point_one_way():
    wrong = []
    for module, imported in _imports().items():
        here = _domain(module)
        if here is None:
            continue
        for target in imported:
            there = _domain(target)
            if there is None and target not in ("app",):
                wrong.append(f"{module} imports {target} (a composition root or tool)")
            elif there is not None and ORDER.index(there) > ORDER.index(here):
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_no_view_or_api_module_imports_another_domains_view_or_api():
    wrong = []
    for module, imported in _imports().items():
        for target in imported:
            surface = target.rsplit(".", 1)[-1]
            if surface in ("views", "api", "admin_views") and _domain(target) != _domain(module):
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_there_is_no_import_cycle():
    graph = _imports()
    visiting, done, cycles = set(), set(), []

    def visit(module: str, path: list[str]) -> None:
        if module in done:
            return
        if module in visiting:
            cycles.append(path[path.index(module):] + [module])
            return
        visiting.add(module)
        for target in sorted(graph.get(module, ())):
            visit(target, path + [module])
        visiting.discard(module)
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert cycles == []


def test_no_service_takes_a_raw_dict():
    offenders = []
    for path in APP.rglob("service.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                for arg in node.args.args + node.args.kwonlyargs:
                    annotation = ast.unparse(arg.annotation) if arg.annotation else ""
                    # A form or body as an untyped mapping: services take the typed models instead.
                    if annotation.replace(" ", "") in ("dict", "dict[str,Any]", "Mapping[str,Any]", "dict[str,object]"):
                        offenders.append(f"{_module_name(path)}.{node.name}({arg.arg}: {annotation})")
    assert offenders == []


def test_every_route_name_appears_literally_in_the_code(app):
    source = "\n".join(p.read_text() for p in APP.rglob("*.py"))
    names = set()
    for route in app.router.routes:
        stack = [route]
        while stack:
            current = stack.pop()
            inner = getattr(current, "original_router", None) or current
            stack.extend(getattr(inner, "routes", []) or [])
            name = getattr(current, "name", None)
            if name and ":" in name:
                names.add(name)
    assert len(names) > 40
    missing = sorted(name for name in names if f'"{name}"' not in source)
    assert missing == []
