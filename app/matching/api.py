"""JSON API for matching: suggestions for your own items, and whole-area runs for staff."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from app.accounts.dependencies import api_require_role
from app.accounts.models import Account, Role
from app.core.db import DbSession
from app.core.errors import NotFound
from app.matching import jobs as matching_jobs
from app.matching import service
from app.matching.models import MatchRun, RunStatus
from app.registry import service as registry
from app.registry.dependencies import ApiCitizenActor, ApiCitizenPerson, ItemAccess, load_item

router = APIRouter(prefix="/api/v1", tags=["matching"])

Limit = Annotated[int, Query(ge=1, le=50)]


class OfferSuggestion(BaseModel):
    offer_id: int
    score: float
    distance_km: float | None
    shared_skills: list[str]
    shared_slots: list[str]
    explanation: str


class RequestSuggestion(BaseModel):
    request_id: int
    score: float
    distance_km: float | None
    shared_skills: list[str]
    shared_slots: list[str]
    explanation: str


def _out(suggestion: service.Suggestion, model: type[BaseModel], key: str) -> BaseModel:
    return model(
        **{key: suggestion.other_id},
        score=suggestion.score,
        distance_km=suggestion.distance_km,
        shared_skills=suggestion.shared_skills,
        shared_slots=suggestion.shared_slots,
        explanation=suggestion.explanation,
    )


@router.get("/help-requests/{item_id}/suggestions", response_model=list[OfferSuggestion], name="api:request_suggestions")
def request_suggestions(
    request: Request, db: DbSession, actor: ApiCitizenActor, person: ApiCitizenPerson, item_id: int, limit: Limit = 10
) -> list[OfferSuggestion]:
    journey = ItemAccess(kind=registry.REQUEST, actor=actor, subject=person)
    item = load_item(request, db, journey, item_id)
    found = service.suggestions_for_request(db, request.app.state.settings, request_id=item.id, limit=limit)
    return [_out(s, OfferSuggestion, "offer_id") for s in found]


@router.get("/offers/{item_id}/suggestions", response_model=list[RequestSuggestion], name="api:offer_suggestions")
def offer_suggestions(
    request: Request, db: DbSession, actor: ApiCitizenActor, person: ApiCitizenPerson, item_id: int, limit: Limit = 10
) -> list[RequestSuggestion]:
    journey = ItemAccess(kind=registry.OFFER, actor=actor, subject=person)
    item = load_item(request, db, journey, item_id)
    found = service.suggestions_for_offer(db, request.app.state.settings, offer_id=item.id, limit=limit)
    return [_out(s, RequestSuggestion, "request_id") for s in found]


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ward_code: str | None = Field(default=None, max_length=9)


class RunQueued(BaseModel):
    id: int
    status: RunStatus


class RunOut(BaseModel):
    id: int
    ward_code: str | None
    status: RunStatus
    error: str | None
    requests_considered: int
    offers_considered: int
    candidate_pairs: int
    requests_covered: int
    offers_used: int
    new_suggestions: int
    total_score: int
    seconds: float


StaffRunner = Annotated[Account, Depends(api_require_role(Role.admin, Role.linker))]


@router.post("/matching/runs", status_code=202, response_model=RunQueued, name="api:matching_run")
def start_run(request: Request, db: DbSession, account: StaffRunner, body: RunIn | None = None) -> RunQueued:
    """Queue a whole-area run; the worker carries it out. Poll `GET /matching/runs/{id}`."""
    run = matching_jobs.queue_run(db, request.app.state.jobs, account=account, ward_code=body.ward_code if body else None)
    return RunQueued(id=run.id, status=run.status)


@router.get("/matching/runs/{run_id}", response_model=RunOut, name="api:matching_run_status")
def run_status(db: DbSession, account: StaffRunner, run_id: int) -> RunOut:
    run = db.get(MatchRun, run_id)
    if run is None:
        raise NotFound()
    fields = {k: getattr(run, k) for k in RunOut.model_fields if k != "seconds"}
    return RunOut(**fields, seconds=run.milliseconds / 1000)
