"""Suggestions on the portal: a page per item, also served as an htmx fragment on the item page.

Built by `suggestions_router(kind, routes, subject)`, like the registry's journeys, so the same
page can be mounted for a person on a linker's caseload.
"""


from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from app.accounts.dependencies import load_account
from app.accounts.models import Role
from app.core.db import DbSession
from app.core.errors import is_htmx
from app.core.templating import render
from app.matching import service
from app.registry import service as registry
from app.registry.dependencies import (
    CITIZEN_OFFER_ROUTES,
    CITIZEN_REQUEST_ROUTES,
    Journey,
    JourneyRoutes,
    citizen_journey_subject,
    load_item,
)
from app.registry.service import OFFER, REQUEST, ItemKind


def suggestions_for(request: Request, db, journey: Journey, item_id: int, limit: int) -> list[service.Suggestion]:
    settings = request.app.state.settings
    if journey.kind is OFFER:
        return service.suggestions_for_offer(db, settings, offer_id=item_id, limit=limit)
    return service.suggestions_for_request(db, settings, request_id=item_id, limit=limit)


def suggestions_router(kind: ItemKind, routes: JourneyRoutes, subject: Any, prefix: str) -> APIRouter:
    router = APIRouter(dependencies=[Depends(load_account)], include_in_schema=False)

    def journey_for(resolved: Annotated[tuple, Depends(subject)]) -> Journey:
        actor, person, path_params = resolved
        return Journey(kind=kind, routes=routes, actor=actor, subject=person, path_params=path_params)

    @router.get(prefix + "/{item_id:int}/suggestions", name=routes.suggestions)
    def suggestions_page(
        request: Request,
        db: DbSession,
        journey: Annotated[Journey, Depends(journey_for)],
        item_id: int,
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> Response:
        item = load_item(request, db, journey, item_id)
        found = suggestions_for(request, db, journey, item.id, limit)
        others = service.other_items(
            db, REQUEST if kind is OFFER else OFFER, [s.other_id for s in found], for_linker=journey.actor.role is Role.linker
        )
        response = render(
            request,
            "matching/suggestions.html",
            {
                "kind": kind, "journey": journey, "item": item, "suggestions": found, "others": others,
                "live": registry.is_live(item),
            },
            block="suggestions" if is_htmx(request) else None,
        )
        response.headers["Vary"] = "HX-Request"
        return response

    return router


citizen_offer_suggestions = suggestions_router(OFFER, CITIZEN_OFFER_ROUTES, citizen_journey_subject, "/offers")
citizen_request_suggestions = suggestions_router(REQUEST, CITIZEN_REQUEST_ROUTES, citizen_journey_subject, "/requests")


def item_suggestions_section(request: Request, db, journey: Journey, item) -> dict | None:
    """On the item page: a placeholder that htmx fills with suggestions, and a plain link without JS."""
    if item.status.value != "active":
        return None
    return {"template": "matching/_section.html", "url": journey.url(request, "suggestions", item_id=item.id)}
