"""Errors people can understand: field problems, not-found, and friendly error pages."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.i18n import N_

logger = logging.getLogger("marketplace.errors")


@dataclass(frozen=True)
class FieldError:
    """One field's problem. `template` is an English message id (marked with `N_`), formatted
    with `params` (`%(name)s` placeholders); `translated` gives it in the reader's language."""

    field: str
    template: str
    params: Mapping[str, Any] | None = None

    @property
    def message(self) -> str:
        return self.template % self.params if self.params else self.template

    def translated(self, gettext: Callable[[str], str]) -> str:
        text = gettext(self.template)
        return text % self.params if self.params else text


class InvalidInput(Exception):
    """One or more fields are wrong; each message is fit to show to the person who typed it."""

    def __init__(self, errors: list[FieldError] | FieldError):
        self.errors = [errors] if isinstance(errors, FieldError) else list(errors)
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.errors))

    def for_field(self, field: str) -> str | None:
        return next((e.message for e in self.errors if e.field == field), None)


class NotFound(Exception):
    """The object does not exist or belongs to someone else: both answer 404, so ids cannot be probed."""


class SignInRequired(Exception):
    def __init__(self, next_path: str = "/"):
        self.next_path = next_path


class Forbidden(Exception):
    pass


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def api_errors(errors: list[FieldError], status_code: int = 422) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"field": e.field, "message": e.message} for e in errors]}, status_code=status_code
    )


def api_message(status_code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status_code, headers=headers)


# English message ids (marked with N_): errors/error.html translates them for the reader.
_STATUS_PAGES = {
    400: (N_("Sorry, there is a problem with that request"), N_("Go back and try again.")),
    403: (N_("You do not have permission to see this page"), N_("If you think you should, ask your administrator.")),
    404: (N_("Page not found"), N_("If you typed the web address, check it is correct. If you pasted it, check you copied all of it.")),
    405: (N_("Sorry, that did not work"), N_("Go back and try again.")),
    413: (N_("That was too much to send"), N_("Shorten what you typed and try again.")),
    429: (N_("Please wait and try again"), N_("There have been too many attempts. Wait a few minutes, then try again.")),
}


def _field_name(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or "body"


def _plain_message(error: dict) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "This field is required"
    if kind == "json_invalid":
        return "The request body is not valid JSON"
    if kind == "model_attributes_type" or kind == "dict_type":
        return "Send a JSON object"
    message = str(error.get("msg", "This value is not valid"))
    return message.removeprefix("Value error, ")


def error_page(request: Request, status_code: int, heading: str | None = None, body: str | None = None) -> Response:
    from app.core.templating import render

    default_heading, default_body = _STATUS_PAGES.get(status_code, _STATUS_PAGES[400])
    return render(
        request,
        "errors/error.html",
        {"heading": heading or default_heading, "body": body or default_body},
        status_code=status_code,
    )


def install_error_handlers(app: FastAPI) -> None:

    def page(request: Request, status_code: int, heading: str, body: str) -> Response:
        return error_page(request, status_code, heading, body)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            FieldError("body" if e.get("type") == "json_invalid" else _field_name(tuple(e.get("loc", ()))), _plain_message(e))
            for e in exc.errors()
        ]
        if is_api(request):
            return api_errors(errors)
        return page(request, 400, *_STATUS_PAGES[400])

    @app.exception_handler(InvalidInput)
    async def invalid_input(request: Request, exc: InvalidInput) -> Response:
        if is_api(request):
            return api_errors(exc.errors)
        return page(request, 400, *_STATUS_PAGES[400])

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        if is_api(request):
            return api_message(404, "Not found")
        return page(request, 404, *_STATUS_PAGES[404])

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        if is_api(request):
            return api_message(403, "You do not have permission to do this")
        return page(request, 403, *_STATUS_PAGES[403])

    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, exc: SignInRequired) -> Response:
        if is_api(request):
            return api_message(401, "Sign in required", headers={"WWW-Authenticate": "Bearer"})
        target = request.url_for("accounts:sign_in").include_query_params(next=exc.next_path)
        if request.headers.get("HX-Request"):
            return Response(status_code=204, headers={"HX-Redirect": str(target.path) + "?" + target.query})
        return RedirectResponse(f"{target.path}?{target.query}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if is_api(request):
            return api_message(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))
        heading, body = _STATUS_PAGES.get(exc.status_code, _STATUS_PAGES[400])
        return page(request, exc.status_code, heading, body)
