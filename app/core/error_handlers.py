"""One handler per surface for every error: a page, an htmx fragment in place, or API JSON."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.errors import (
    STATUS_PAGES,
    AppError,
    NotFound,
    SecondFactorRequired,
    SignInRequired,
    api_errors,
    api_message,
    app_error_response,
    error_fragment,
    error_page,
    is_api,
    is_htmx,
)
from app.core.responses import redirect_to_sign_in, see_other
from app.core.validation import errors_from_pydantic


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if is_api(request):
            return api_errors(errors_from_pydantic(exc.errors()))
        # Pages parse their forms themselves; this is a malformed request (a bad query or path).
        if is_htmx(request):
            return error_fragment(request, 400, STATUS_PAGES[400][0])
        return error_page(request, 400)

    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> Response:
        return app_error_response(request, exc)

    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, exc: SignInRequired) -> Response:
        if is_api(request):
            return api_message(401, "Sign in required", headers={"WWW-Authenticate": "Bearer"})
        return redirect_to_sign_in(request, exc.next_path)

    @app.exception_handler(SecondFactorRequired)
    async def second_factor_required(request: Request, exc: SecondFactorRequired) -> Response:
        if is_api(request):
            return api_message(
                403, "Turn on two-step sign-in first: POST /api/v1/me/mfa/totp, then /api/v1/me/mfa/totp/confirm"
            )
        return see_other(request, request.url_for("accounts:two_step").path, flash="two-step-needed")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if is_api(request):
            return api_message(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))
        heading, body = STATUS_PAGES.get(exc.status_code, STATUS_PAGES[400])
        if is_htmx(request):
            return error_fragment(request, exc.status_code, heading)
        return error_page(request, exc.status_code, heading, body)

    # An id in an address too large for the database's integers names no record: SQLite
    # refuses a number past 64 bits (OverflowError), PostgreSQL one past its column's range
    # (SQLSTATE 22003, numeric_value_out_of_range). Any other data error is still a 500.
    @app.exception_handler(OverflowError)
    async def id_too_large(request: Request, exc: OverflowError) -> Response:
        return app_error_response(request, NotFound())

    @app.exception_handler(DataError)
    async def number_out_of_range(request: Request, exc: DataError) -> Response:
        if getattr(exc.orig, "sqlstate", None) != "22003":
            raise exc
        return app_error_response(request, NotFound())
