"""The privacy notice, current and past versions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app.accounts.dependencies import load_account
from app.core.errors import NotFound
from app.core.templating import render
from app.privacy.notices import CURRENT_NOTICE_VERSION, known_versions, notice

router = APIRouter(dependencies=[Depends(load_account)], include_in_schema=False)


def _notice_page(request: Request, version: str) -> Response:
    templates_dir = str(request.app.state.settings.templates_dir)
    try:
        current = notice(templates_dir, version)
    except LookupError:
        raise NotFound() from None
    return render(
        request,
        "privacy/notice.html",
        {"notice": current, "is_current": version == CURRENT_NOTICE_VERSION, "versions": known_versions(templates_dir)},
    )


@router.get("/privacy", name="privacy:notice")
def privacy_notice(request: Request) -> Response:
    return _notice_page(request, CURRENT_NOTICE_VERSION)


@router.get("/privacy/{version}", name="privacy:notice_version")
def privacy_notice_version(request: Request, version: str) -> Response:
    if version not in known_versions(str(request.app.state.settings.templates_dir)):
        raise NotFound()
    return _notice_page(request, version)
