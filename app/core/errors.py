"""Errors that carry their status, and one handler for each surface: page, htmx fragment, API.

Every refusal a person can meet is an `AppError`: `NotFound` (404, also for someone else's object,
so ids cannot be probed), `Forbidden` (403), `Conflict` (409, a stale version: it carries the
latest state), `InvalidInput` (422, one or more field errors). Services raise them; views and
APIs let them through. A plain page gets the friendly error page, an htmx request gets the
message in place (the fragment replaces the element that asked), and the API gets JSON:
`{"detail": message}`, or `{"errors": [{"field", "message"}]}` for invalid input.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

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


class AppError(Exception):
    """A refusal fit to show to the person: a plain-English message and the HTTP status it means."""

    status: int = 400
    default_message: str = N_("Sorry, there is a problem with that request")

    def __init__(self, message: str | None = None, *, status: int | None = None):
        self.message = message or self.default_message
        if status is not None:
            self.status = status
        super().__init__(self.message)


class NotFound(AppError):
    """The object does not exist or belongs to someone else: both answer 404, so ids cannot be probed."""

    status = 404
    default_message = N_("Page not found")


class Forbidden(AppError):
    status = 403
    default_message = N_("You do not have permission to do this")


class Conflict(AppError):
    """Someone else changed the object first. `latest` is its current public state, for the API."""

    status = 409
    default_message = N_("Someone else changed this just now. Here is the latest version.")

    def __init__(self, message: str | None = None, *, latest: Any = None):
        super().__init__(message)
        self.latest = latest


class InvalidInput(AppError):
    """One or more fields are wrong; each message is fit to show to the person who typed it."""

    status = 422
    default_message = N_("There is a problem with what you entered")

    def __init__(self, errors: list[FieldError] | FieldError):
        self.errors = [errors] if isinstance(errors, FieldError) else list(errors)
        super().__init__()
        self.args = ("; ".join(f"{e.field}: {e.message}" for e in self.errors),)

    def for_field(self, field: str) -> str | None:
        return next((e.message for e in self.errors if e.field == field), None)


class SecondFactorRequired(Exception):
    """Signed in, but this role must turn on two-step sign-in before anything else."""


class SignInRequired(Exception):
    def __init__(self, next_path: str = "/"):
        self.next_path = next_path


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def api_errors(errors: list[FieldError], status_code: int = 422) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"field": e.field, "message": e.message} for e in errors]}, status_code=status_code
    )


def api_message(status_code: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": message, **extra}, status_code=status_code, headers=headers)


# English message ids (marked with N_): errors/error.html translates them for the reader.
STATUS_PAGES = {
    400: (N_("Sorry, there is a problem with that request"), N_("Go back and try again.")),
    403: (N_("You do not have permission to see this page"), N_("If you think you should, ask your administrator.")),
    404: (N_("Page not found"), N_("If you typed the web address, check it is correct. If you pasted it, check you copied all of it.")),
    405: (N_("Sorry, that did not work"), N_("Go back and try again.")),
    409: (N_("Someone else changed this just now"), N_("Here is the latest version. Check it, then try again.")),
    413: (N_("That was too much to send"), N_("Shorten what you typed and try again.")),
    422: (N_("There is a problem with what you entered"), N_("Go back, check your answers and try again.")),
    429: (N_("Please wait and try again"), N_("There have been too many attempts. Wait a few minutes, then try again.")),
}


def error_page(
    request: Request, status_code: int, heading: str | None = None, body: str | None = None,
    errors: list[FieldError] | None = None,
) -> Response:  # fmt: skip
    """The friendly error page; a refusal's own reasons (`errors`) are listed under the heading."""
    from app.core.templating import render

    default_heading, default_body = STATUS_PAGES.get(status_code, STATUS_PAGES[400])
    return render(
        request,
        "errors/error.html",
        {"heading": heading or default_heading, "body": body or default_body, "errors": errors or []},
        status_code=status_code,
    )


def error_fragment(request: Request, status_code: int, message: str, errors: list[FieldError] | None = None) -> Response:
    """The message in place, for htmx: it replaces the element that made the request."""
    from app.core.templating import render

    response = render(
        request,
        "errors/_inline.html",
        {"message": message, "errors": errors or []},
        status_code=status_code,
        block="inline_error",
    )
    response.headers["X-Error-Fragment"] = "1"  # the front end swaps only our own error fragments
    response.headers["HX-Reswap"] = "innerHTML"  # inside the element that asked, so it can ask again
    return response


def app_error_response(request: Request, exc: AppError) -> Response:
    if is_api(request):
        if isinstance(exc, InvalidInput):
            return api_errors(exc.errors, exc.status)
        extra = {"latest": exc.latest} if isinstance(exc, Conflict) and exc.latest is not None else {}
        return api_message(exc.status, exc.message, **extra)
    errors = exc.errors if isinstance(exc, InvalidInput) else None
    if is_htmx(request):
        return error_fragment(request, exc.status, exc.message, errors)
    heading, body = STATUS_PAGES.get(exc.status, STATUS_PAGES[400])
    if type(exc) is AppError or isinstance(exc, Conflict):
        heading = exc.message  # a specific message says more than the status's generic heading
    return error_page(request, exc.status, heading, body, errors)


# --- what the API documents for its errors -----------------------------------------------------


class ApiMessage(BaseModel):
    """Every API refusal: a plain sentence. A 409 adds the object's latest state as `latest`."""

    model_config = ConfigDict(extra="allow")
    detail: str


class ApiFieldError(BaseModel):
    field: str
    message: str


class ApiFieldErrors(BaseModel):
    """A 422: one message per field, each fit to show to the person who typed it."""

    errors: list[ApiFieldError]


# Every API router documents these (FastAPI's own 422 schema is replaced by ours), so a client, and
# the schema tests, know each answer the API can give.
API_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ApiMessage, "description": "The body could not be read (not UTF-8 JSON)"},
    401: {"model": ApiMessage, "description": "No valid bearer token (or, for sign-in, wrong details)"},
    403: {"model": ApiMessage, "description": "This account's role may not do this"},
    404: {"model": ApiMessage, "description": "No such record, or not one this account may see"},
    409: {"model": ApiMessage, "description": "Changed by someone else first: `latest` holds its state"},
    413: {"model": ApiMessage, "description": "The body is too large"},
    422: {"model": ApiFieldErrors, "description": "Something sent is not valid: one message per field"},
    429: {"model": ApiMessage, "description": "Too many attempts: wait for `Retry-After` seconds"},
    503: {"model": ApiMessage, "description": "Busy or the database is unavailable: try again after `Retry-After`"},
}
