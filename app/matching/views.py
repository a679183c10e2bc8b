"""Suggestions on the portal: a page per item, also served as an htmx fragment on the item page."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from app.accounts.deps import load_account
from app.core.db import DbSession
from app.core.templating import render
from app.matching import service
from app.registry import service as registry
from app.registry.views import CitizenPerson

router = APIRouter(dependencies=[Depends(load_account)], include_in_schema=False)


def _page(request: Request, db, person, kind, item_id: int, limit: int) -> Response:
    item = registry.get_item(db, kind=kind, item_id=item_id, person=person)
    settings = request.app.state.settings
    if kind is registry.OFFER:
        found = service.suggestions_for_offer(db, settings, offer_id=item.id, limit=limit)
    else:
        found = service.suggestions_for_request(db, settings, request_id=item.id, limit=limit)
    fragment = request.headers.get("HX-Request") == "true"
    response = render(
        request,
        "matching/suggestions.html",
        {"kind": kind, "item": item, "suggestions": found, "live": registry.is_live(item)},
        block="suggestions" if fragment else None,
    )
    response.headers["Vary"] = "HX-Request"
    return response


@router.get("/offers/{item_id:int}/suggestions", name="matching:offer_suggestions")
def offer_suggestions(request: Request, db: DbSession, person: CitizenPerson, item_id: int, limit: int = Query(10, ge=1, le=50)) -> Response:
    return _page(request, db, person, registry.OFFER, item_id, limit)


@router.get("/requests/{item_id:int}/suggestions", name="matching:request_suggestions")
def request_suggestions(request: Request, db: DbSession, person: CitizenPerson, item_id: int, limit: int = Query(10, ge=1, le=50)) -> Response:
    return _page(request, db, person, registry.REQUEST, item_id, limit)


def item_suggestions_section(request: Request, kind, item) -> dict | None:
    """On the item page: a placeholder that htmx fills with suggestions, and a plain link without JS."""
    if item.status.value != "active":
        return None
    route = "matching:offer_suggestions" if kind is registry.OFFER else "matching:request_suggestions"
    return {"template": "matching/_section.html", "url": request.url_for(route, item_id=item.id).path}
