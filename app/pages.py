"""The home page, the language switcher and health checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text

from app.accounts import service as accounts
from app.accounts.dependencies import OptionalAccount, load_account, safe_next_path
from app.core.responses import see_other
from app.core import i18n
from app.core.db import DbSession
from app.core.errors import FieldError, InvalidInput
from app.core.i18n import N_
from app.core.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/", name="pages:home", dependencies=[Depends(load_account)])
def home(request: Request) -> Response:
    return render(request, "home.html")


class LanguageForm(BaseModel):
    model_config = ConfigDict(extra="ignore", str_max_length=1024)

    language: str = ""
    next: str = "/"


@router.post("/language", name="pages:set_language")
def set_language(
    request: Request, db: DbSession, account: OptionalAccount, form: Annotated[LanguageForm, Form()]
) -> Response:
    """The footer's language switcher: a plain form, so it works without JavaScript.

    A signed-in person's choice is kept on their account (their pages and mail follow it); the
    cookie keeps it on this device for when nobody is signed in. Back to the same page after.
    """
    language = i18n.supported(form.language)
    if language is None:
        raise InvalidInput(FieldError("language", N_("Choose English or Welsh")))
    if account is not None:
        accounts.set_language(db, account=account, language=language)
    response = see_other(request, safe_next_path(form.next))
    settings = request.app.state.settings
    response.set_cookie(
        i18n.LANGUAGE_COOKIE,
        language,
        max_age=i18n.LANGUAGE_COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.is_production,
    )
    return response


@router.get("/favicon.ico", name="pages:favicon")
def favicon() -> Response:
    # Browsers ask for this whatever the page says; point them at the real icon.
    from fastapi.responses import RedirectResponse

    return RedirectResponse("/static/dist/favicon.svg", status_code=301)


@router.get("/healthz", name="pages:healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", name="pages:readyz")
def readyz(request: Request) -> Response:
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database means "not ready"
        import logging

        logging.getLogger("marketplace.health").warning("database not reachable: %s", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
