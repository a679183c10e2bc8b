"""The home page and health checks."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from app.accounts.dependencies import load_account
from app.core.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/", name="pages:home", dependencies=[Depends(load_account)])
def home(request: Request) -> Response:
    return render(request, "home.html")


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
