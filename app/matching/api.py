"""JSON API for matching: suggestions for your own items, and whole-area runs for staff."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from app.accounts.dependencies import Actor, api_require_actor, api_require_role
from app.accounts.models import Account, Role
from app.core.db import DbSession
from app.core.errors import API_ERROR_RESPONSES, Conflict, NotFound
from app.core.validation import WholeNumber
from app.matching import engine, service, workflow
from app.matching import jobs as matching_jobs
from app.matching.dependencies import MatchAccess, broker_of, load_match, side_for_pair
from app.matching.models import Answer, DeclineReason, MatchRun, MatchSide, MatchStatus, RunStatus
from app.privacy.audit import AuditAction
from app.registry import service as registry
from app.registry.dependencies import ApiCitizenActor, ApiCitizenPerson, ItemAccess, load_item

router = APIRouter(prefix="/api/v1", tags=["matching"], responses=API_ERROR_RESPONSES)

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


# The match routes: a citizen for their own side, a linker for a person on their caseload.
api_match_actor = api_require_actor(Role.citizen, Role.linker)
ApiMatchActor = Annotated[Actor, Depends(api_match_actor)]

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


# --- matches: from suggestion to help given ----------------------------------------------------


class MatchAnswers(BaseModel):
    offer: Answer
    request: Answer


class OtherSide(BaseModel):
    title: str
    skills: list[str]


class ContactOut(BaseModel):
    first_name: str
    method: str
    value: str


class MatchOut(BaseModel):
    id: int
    status: MatchStatus
    version: int
    offer_id: int
    request_id: int
    my_side: MatchSide
    answers: MatchAnswers
    score: float
    explanation: str
    other: OtherSide
    contact: ContactOut | None
    minutes_given: int | None
    created_at: datetime
    updated_at: datetime


class MatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offer_id: WholeNumber
    request_id: WholeNumber


class VersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: WholeNumber
    # A linker answering for a person on their caseload says which side they answer for
    # (needed only when both people are on their caseload).
    on_behalf_of: MatchSide | None = None


class DeclineIn(VersionIn):
    reason: DeclineReason = DeclineReason.other
    note: str | None = Field(default=None, max_length=500)


class CompleteIn(VersionIn):
    minutes_given: WholeNumber = Field(ge=1, le=workflow.MAX_MINUTES)
    outcome: str | None = Field(default=None, max_length=2000)


class TimeIn(VersionIn):
    minutes_given: WholeNumber = Field(ge=1, le=workflow.MAX_MINUTES)


class CancelIn(VersionIn):
    reason: str = Field(min_length=1, max_length=300)


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=2000)


class MessageOut(BaseModel):
    id: int
    from_me: bool
    body: str
    created_at: datetime


def match_out(db, access: MatchAccess, actor: Actor) -> MatchOut:
    """The match as the actor may see it. The other person's contact is for the person themself:
    a linker sees contacts only through the linkers' own audited route, for matches they broker."""
    match, side, sides = access.match, access.side, access.sides
    other_kind = registry.REQUEST if side is MatchSide.offer else registry.OFFER
    other_item = sides.item(side.other)
    skills = registry.skills_of(db, kind=other_kind, item_ids=[other_item.id])[other_item.id]
    contact = service.contact_for(db, match=match, side=side, sides=sides) if actor.role is Role.citizen else None
    return MatchOut(
        id=match.id, status=match.status, version=match.version, offer_id=match.offer_id, request_id=match.request_id,
        my_side=side, answers=MatchAnswers(offer=match.offer_answer, request=match.request_answer),
        score=round(match.score / engine.SCORE_SCALE, 3), explanation=match.explanation,
        other=OtherSide(title=other_item.title, skills=sorted(s.code for s in skills)),
        contact=ContactOut(**vars(contact)) if contact else None,
        minutes_given=service.minutes_recorded(match), created_at=match.created_at, updated_at=match.updated_at,
    )  # fmt: skip


def _changed(request: Request, db, actor, match_id: int, event: workflow.Event, body: VersionIn, **data) -> MatchOut:
    access = load_match(request, db, actor, match_id, AuditAction.changed, on_behalf_of=body.on_behalf_of)
    try:
        service.change_match(
            db, match=access.match, side=access.side, seen_version=body.version, event=event,
            mailer=request.app.state.mailer, broker_account_id=broker_of(actor), **data,
        )  # fmt: skip
    except Conflict as conflict:
        raise Conflict(latest=match_out(db, access, actor).model_dump(mode="json")) from conflict
    return match_out(db, access, actor)


@router.post("/matches", status_code=201, response_model=MatchOut, name="api:match_propose")
def propose(request: Request, db: DbSession, actor: ApiMatchActor, body: MatchIn) -> MatchOut:
    """Ask to be put in touch about a pair of your offer and someone's request (or the reverse)."""
    side = side_for_pair(request, db, actor, offer_id=body.offer_id, request_id=body.request_id)
    match = service.propose_match(
        db, request.app.state.settings, offer_id=body.offer_id, request_id=body.request_id, side=side,
        mailer=request.app.state.mailer, broker_account_id=broker_of(actor),
    )  # fmt: skip
    return match_out(db, MatchAccess(match, side, service.sides_of(db, match)), actor)


@router.get("/matches", response_model=list[MatchOut], name="api:matches")
def my_matches(request: Request, db: DbSession, actor: ApiMatchActor) -> list[MatchOut]:
    """A citizen's own matches; a linker's, those where a person on their caseload is a side."""
    people = request.app.state.plugins.people_acted_for(db, actor)
    return [
        match_out(db, MatchAccess(match, side, service.sides_of(db, match)), actor)
        for match, side in service.matches_of_people(db, person_ids=people)
    ]


@router.get("/matches/{match_id}", response_model=MatchOut, name="api:match")
def one_match(request: Request, db: DbSession, actor: ApiMatchActor, match_id: int) -> MatchOut:
    return match_out(db, load_match(request, db, actor, match_id), actor)


@router.post("/matches/{match_id}/accept", response_model=MatchOut, name="api:match_accept")
def accept(request: Request, db: DbSession, actor: ApiMatchActor, match_id: int, body: VersionIn) -> MatchOut:
    return _changed(request, db, actor, match_id, workflow.Event.accept, body)


@router.post("/matches/{match_id}/decline", response_model=MatchOut, name="api:match_decline")
def decline(request: Request, db: DbSession, actor: ApiMatchActor, match_id: int, body: DeclineIn) -> MatchOut:
    return _changed(request, db, actor, match_id, workflow.Event.decline, body, reason=body.reason, note=body.note)


@router.post("/matches/{match_id}/start", response_model=MatchOut, name="api:match_start")
def start(request: Request, db: DbSession, actor: ApiMatchActor, match_id: int, body: VersionIn) -> MatchOut:
    return _changed(request, db, actor, match_id, workflow.Event.start, body)


@router.post("/matches/{match_id}/complete", response_model=MatchOut, name="api:match_complete")
def complete(request: Request, db: DbSession, actor: ApiMatchActor, match_id: int, body: CompleteIn) -> MatchOut:
    return _changed(
        request, db, actor, match_id, workflow.Event.complete, body, minutes=body.minutes_given, outcome=body.outcome
    )


@router.post("/matches/{match_id}/confirm-time", response_model=MatchOut, name="api:match_confirm_time")
def confirm_time(request: Request, db: DbSession, actor: ApiMatchActor, match_id: int, body: TimeIn) -> MatchOut:
    """The other person confirms (or corrects) the time given once a match is completed."""
    return _changed(request, db, actor, match_id, workflow.Event.confirm_time, body, minutes=body.minutes_given)


@router.post("/matches/{match_id}/cancel", response_model=MatchOut, name="api:match_cancel")
def cancel(request: Request, db: DbSession, actor: ApiMatchActor, match_id: int, body: CancelIn) -> MatchOut:
    return _changed(request, db, actor, match_id, workflow.Event.cancel, body, reason=body.reason)


@router.get("/matches/{match_id}/messages", response_model=list[MessageOut], name="api:match_messages")
def messages(request: Request, db: DbSession, actor: ApiMatchActor, match_id: int) -> list[MessageOut]:
    access = load_match(request, db, actor, match_id)
    return [
        MessageOut(id=m.id, from_me=m.sender_side is access.side, body=m.body, created_at=m.created_at)
        for m in service.messages_of(db, match_id=access.match.id)
    ]


@router.post("/matches/{match_id}/messages", status_code=201, response_model=MessageOut, name="api:match_message")
def write_message(request: Request, db: DbSession, actor: ApiMatchActor, match_id: int, body: MessageIn) -> MessageOut:
    access = load_match(request, db, actor, match_id, AuditAction.changed)
    message = service.post_message(
        db, match=access.match, side=access.side, account_id=actor.account_id, body=body.body,
        mailer=request.app.state.mailer,
    )  # fmt: skip
    return MessageOut(id=message.id, from_me=True, body=message.body, created_at=message.created_at)
