"""Jinja2 with the GOV.UK Frontend macros, and the context every page gets."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    pass_context,
    select_autoescape,
)
from starlette.responses import HTMLResponse

from app.core import i18n
from app.core.i18n import N_

BOROUGH_TIME = ZoneInfo("Europe/London")

FLASH_COOKIE = "marketplace_flash"
# Flash messages travel as keys, never as text: nothing a person typed goes into a cookie.
# Each domain registers its own (see `app.core.plugins`).


# GOV.UK Frontend's own English defaults, given to its macros so that they speak the page's language.
ERROR_PREFIX = N_("Error")  # read out before each field's error ("Error: Enter your name")
PASSWORD_INPUT_TEXTS = {
    "showPasswordText": N_("Show"),
    "hidePasswordText": N_("Hide"),
    "showPasswordAriaLabelText": N_("Show password"),
    "hidePasswordAriaLabelText": N_("Hide password"),
    "passwordShownAnnouncementText": N_("Your password is visible"),
    "passwordHiddenAnnouncementText": N_("Your password is hidden"),
}


@lru_cache(maxsize=8)
def _templates(templates_dir: str, auto_reload: bool = True) -> Jinja2Templates:
    env = Environment(
        # Checking every template file's time on every page is for people editing them.
        auto_reload=auto_reload,
        loader=ChoiceLoader(
            [
                FileSystemLoader(templates_dir),
                PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
            ]
        ),
        autoescape=select_autoescape(["html", "xml"]),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # The environment is shared by every request, so no language is installed on it: `render`
    # passes each request's gettext in the context. English (the message ids) is the fallback.
    env.install_null_translations(newstyle=True)
    # `{% trans %}` blocks collapse their line breaks and indentation (babel.cfg says the same).
    env.policies["ext.i18n.trimmed"] = True
    env.filters["sentence"] = sentence_case
    env.filters["translate"] = i18n.translate_filter
    env.filters["long_date"] = i18n.long_date_filter
    env.filters["local_time"] = local_time
    env.filters["password_texts"] = password_texts
    env.globals["field_error"] = field_error
    env.globals["error_list"] = error_list
    return Jinja2Templates(env=env)


def jinja_env(templates_dir: str | Path) -> Environment:
    """The shared environment, for rendering outside a request (mail)."""
    return _templates(str(templates_dir)).env


def local_time(value: datetime) -> str:
    """"14:05", in the borough's time (Europe/London)."""
    return value.astimezone(BOROUGH_TIME).strftime("%H:%M")


def sentence_case(text: str) -> str:
    """Capitalise the first letter only (Jinja's `capitalize` would lower-case 'Tuesday')."""
    return text[:1].upper() + text[1:]


def _gettext(context) -> Any:
    catalogue = context.get("translations")
    return catalogue.gettext if catalogue is not None else (lambda message: message)


def _error_text(error: Any, gettext: Any) -> str:
    translated = getattr(error, "translated", None)
    return translated(gettext) if translated is not None else str(error.message)


@pass_context
def field_error(context, errors: list, field: str) -> dict | None:
    """The GOV.UK `errorMessage` for one field, in the reader's language, or None."""
    error = next((e for e in errors or [] if e.field == field), None)
    if error is None:
        return None
    gettext = _gettext(context)
    return {"text": _error_text(error, gettext), "visuallyHiddenText": gettext(ERROR_PREFIX)}


@pass_context
def password_texts(context, params: dict) -> dict:
    """`govukPasswordInput(params | password_texts)`: the show/hide button and its announcements
    in the reader's language (the macro's defaults are English)."""
    gettext = _gettext(context)
    return {**{key: gettext(text) for key, text in PASSWORD_INPUT_TEXTS.items()}, **params}


@pass_context
def error_list(context, errors: list) -> list[dict]:
    """The GOV.UK error summary list, in the reader's language: each error links to its field."""
    gettext = _gettext(context)
    return [{"text": _error_text(e, gettext), "href": f"#{e.field}"} for e in errors or []]


def templates_for(request: Request) -> Jinja2Templates:
    settings = request.app.state.settings
    return _templates(str(settings.templates_dir), settings.environment == "development")


def static_manifest(static_dir: Path) -> dict[str, str]:
    manifest = static_dir / "dist" / "manifest.json"
    return json.loads(manifest.read_text()) if manifest.exists() else {}


def return_path(request: Request) -> str:
    """Where the language switcher brings a person back to: this page, or for a page that
    answered a form (a POST), the page the form was on. Checked again when it comes back."""
    if request.method in ("GET", "HEAD"):
        url = request.url
    else:
        url = urlsplit(request.headers.get("referer", ""))
        if url.netloc != request.url.netloc:
            return "/"
    return (url.path or "/") + (f"?{url.query}" if url.query else "")


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
    language = i18n.request_language(request)
    flash = request.app.state.plugins.flash_messages.get(flash_key or "")
    full_context = {
        **i18n.template_context(language),
        "languages": i18n.LANGUAGE_NAMES,
        "html_langs": i18n.HTML_LANG,
        "return_path": return_path(request),
        "settings": settings,
        "current_account": state.get("viewer"),
        "csrf_token": state.get("csrf_token", ""),
        "htmx_src": settings.htmx_url or "/static/dist/htmx.min.js",
        "htmx_integrity": settings.htmx_integrity if settings.htmx_url else None,
        "flash": i18n.gettext_for(language)(flash) if flash else None,
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
    response.headers["Content-Language"] = i18n.HTML_LANG.get(language, language)
    if flash_key:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def set_flash(response: Any, key: str, *, secure: bool) -> None:
    response.set_cookie(FLASH_COOKIE, key, max_age=60, path="/", httponly=True, samesite="lax", secure=secure)
