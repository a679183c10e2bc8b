"""Jinja2 with the GOV.UK Frontend macros, and the context every page gets."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, PrefixLoader, select_autoescape
from starlette.responses import HTMLResponse

FLASH_COOKIE = "marketplace_flash"
# Flash messages travel as keys, never as text: nothing a person typed goes into a cookie.
# Each domain registers its own (see `app.core.plugins`).


@lru_cache(maxsize=8)
def _templates(templates_dir: str) -> Jinja2Templates:
    env = Environment(
        loader=ChoiceLoader(
            [
                FileSystemLoader(templates_dir),
                PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
            ]
        ),
        autoescape=select_autoescape(["html", "xml"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["sentence"] = sentence_case
    env.globals["field_error"] = field_error
    env.globals["error_list"] = error_list
    return Jinja2Templates(env=env)


def sentence_case(text: str) -> str:
    """Capitalise the first letter only (Jinja's `capitalize` would lower-case 'Tuesday')."""
    return text[:1].upper() + text[1:]


def field_error(errors: list, field: str) -> dict | None:
    """The GOV.UK `errorMessage` for one field, or None."""
    message = next((e.message for e in errors or [] if e.field == field), None)
    return {"text": message} if message else None


def error_list(errors: list) -> list[dict]:
    """The GOV.UK error summary list: each error links to its field."""
    return [{"text": e.message, "href": f"#{e.field}"} for e in errors or []]


def templates_for(request: Request) -> Jinja2Templates:
    return _templates(str(request.app.state.settings.templates_dir))


def static_manifest(static_dir: Path) -> dict[str, str]:
    manifest = static_dir / "dist" / "manifest.json"
    return json.loads(manifest.read_text()) if manifest.exists() else {}


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    block: str | None = None,
) -> HTMLResponse:
    """Render a page, or one {% block %} of it as an htmx fragment."""
    settings = request.app.state.settings
    state = request.scope.get("state", {})
    flash_key = request.cookies.get(FLASH_COOKIE)
    full_context = {
        "settings": settings,
        "current_account": state.get("viewer"),
        "csrf_token": state.get("csrf_token", ""),
        "htmx_src": settings.htmx_url or "/static/dist/htmx.min.js",
        "htmx_integrity": settings.htmx_integrity if settings.htmx_url else None,
        "flash": request.app.state.plugins.flash_messages.get(flash_key or ""),
        **(context or {}),
    }
    templates = templates_for(request)
    if block:
        tmpl = templates.env.get_template(template)
        ctx = tmpl.new_context({"request": request, **full_context})
        html = "".join(tmpl.blocks[block](ctx))
        response = HTMLResponse(html, status_code=status_code)
    else:
        response = templates.TemplateResponse(request, template, full_context, status_code=status_code)
    if flash_key:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def set_flash(response: Any, key: str, *, secure: bool) -> None:
    response.set_cookie(FLASH_COOKIE, key, max_age=60, path="/", httponly=True, samesite="lax", secure=secure)
