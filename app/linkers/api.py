"""JSON API for community linkers (`/api/v1/linker`, the linker role only).

Every `{id}` is checked by `load_person`: a person on another linker's caseload, or in nobody's,
is 404 exactly like one that does not exist. The pool shows names and wards only.
"""

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from app.core.db import DbSession, utcnow, writing
from app.core.errors import API_ERROR_RESPONSES, NotFound
from app.core.plugins import DataSubject
from app.linkers import service, timeliness
from app.linkers.dependencies import ApiLinkerActor, load_person
from app.linkers.models import (
    AssistedRegistration,
    AttemptIn,
    AttemptOut,
    FollowUp,
    FollowUpDoneIn,
    FollowUpIn,
    FollowUpOut,
    HandoverIn,
    NoteIn,
    NoteOut,
    PersonDetail,
    PersonOut,
    PoolPerson,
)
from app.matching.dependencies import load_match
from app.matching.service import person_contact
from app.privacy import rights
from app.privacy import service as privacy
from app.privacy.audit import AuditAction, AuditOutcome
from app.privacy.models import ConsentRecordPublic, ErasureChannel, Export
from app.registry import service as registry
from app.registry.dependencies import audit
from app.registry.models import (
    HelpRequestCreate,
    HelpRequestPublic,
    OfferCreate,
    OfferPublic,
    Person,
)
from app.registry.service import OFFER, REQUEST

router = APIRouter(prefix="/api/v1/linker", tags=["linkers"], responses=API_ERROR_RESPONSES)

Page = Annotated[int, Query(ge=1, le=10_000)]


class CaseloadPerson(PersonOut):
    next_need: str | None
    needs: dict[str, int]


def _person_out(person: Person | service.CasePerson, linker_id: int | None) -> PersonOut:
    return PersonOut(id=person.id, name=person.name, postcode=person.postcode, ward_code=person.ward_code, on_caseload_of=linker_id)


@router.post("/people", status_code=201, response_model=PersonOut, name="api:linker_register")
def register_person(request: Request, db: DbSession, actor: ApiLinkerActor, body: AssistedRegistration) -> PersonOut:
    """Assisted registration: a person without an account, on my caseload, with each consent
    recorded as I took it (`verbal` or `paper`)."""
    with writing(db):
        person = service.register_person(db, request.app.state.settings, linker_id=actor.account_id, data=body)
    return _person_out(person, actor.account_id)


@router.get("/people", response_model=list[CaseloadPerson], name="api:linker_caseload")
def caseload(
    request: Request, db: DbSession, actor: ApiLinkerActor, page: Page = 1,
    ward: Annotated[str, Query(max_length=9)] = "", need: Annotated[str, Query(max_length=30)] = "",
) -> list[CaseloadPerson]:  # fmt: skip
    return _caseload(request, db, actor, ward=ward, need=need, q="", page=page)


class CaseloadSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str = Field(min_length=1, max_length=100, description="Part of a name or a postcode")
    ward: str = Field(default="", max_length=9)
    need: str = Field(default="", max_length=30)
    page: int = Field(default=1, ge=1, le=10_000)


@router.post("/people/search", response_model=list[CaseloadPerson], name="api:linker_caseload_search")
def caseload_search(request: Request, db: DbSession, actor: ApiLinkerActor, body: CaseloadSearch) -> list[CaseloadPerson]:
    """The caseload searched by name or postcode, in the body: personal data never goes in a URL."""
    return _caseload(request, db, actor, ward=body.ward, need=body.need, q=body.q.strip(), page=body.page)


def _caseload(request: Request, db, actor, *, ward: str, need: str, q: str, page: int) -> list[CaseloadPerson]:
    found = service.worklist(
        db, request.app.state.settings, linker_id=actor.account_id, now=utcnow(), ward=ward, need=need,
        query=q, page=page,
    )  # fmt: skip
    return [
        CaseloadPerson(**_person_out(row.person, actor.account_id).model_dump(), next_need=row.next_need, needs=row.needs)
        for row in found.rows
    ]


@router.get("/people/{person_id}", response_model=PersonDetail, name="api:linker_person")
def person_detail(request: Request, db: DbSession, actor: ApiLinkerActor, person_id: int) -> PersonDetail:
    person = load_person(request, db, actor, person_id)
    return PersonDetail(
        **_person_out(person, actor.account_id).model_dump(), phone=person.phone, email=person.email, address=person.address,
        preferred_contact=person.preferred_contact, contact_times=person.contact_times, access_needs=person.access_needs,
        language_needs=person.language_needs, has_account=person.account_id is not None,
    )  # fmt: skip


@router.get("/pool", response_model=list[PoolPerson], name="api:linker_pool")
def pool(db: DbSession, actor: ApiLinkerActor, page: Page = 1) -> list[PoolPerson]:
    people, _total = service.pool(db, page=page)
    return [PoolPerson(id=p.id, name=p.name, ward_code=p.ward_code, waiting_since=p.created_at) for p in people]


@router.post("/people/{person_id}/assign", response_model=PersonOut, name="api:linker_assign")
def assign(request: Request, db: DbSession, actor: ApiLinkerActor, person_id: int) -> PersonOut:
    """Pick a person up from the pool. Of two linkers at once, one gets them; the other 409."""
    person = db.get(Person, person_id)
    if person is None:
        raise NotFound()
    with writing(db):
        service.pick_up(db, linker_id=actor.account_id, person_id=person_id)
    audit(request, actor, person, AuditAction.changed, AuditOutcome.allowed)
    return _person_out(person, actor.account_id)


@router.post("/people/{person_id}/handover", response_model=PersonOut, name="api:linker_handover")
def handover(request: Request, db: DbSession, actor: ApiLinkerActor, person_id: int, body: HandoverIn) -> PersonOut:
    person = load_person(request, db, actor, person_id, AuditAction.changed)
    with writing(db):
        service.hand_over(db, person_id=person.id, to_account_id=body.to_account_id, by_id=actor.account_id, note=body.note)
    return _person_out(person, body.to_account_id)


@router.get("/people/{person_id}/consents", response_model=list[ConsentRecordPublic], name="api:linker_consents")
def consents(request: Request, db: DbSession, actor: ApiLinkerActor, person_id: int) -> list[ConsentRecordPublic]:
    """Every consent record of the person, newest first (all the ISO/IEC TS 27560 fields)."""
    person = load_person(request, db, actor, person_id)
    return [privacy.public(r) for r, _name in service.consent_history(db, person.id)]


@router.get("/people/{person_id}/export", response_model=Export, name="api:linker_person_export")
def export_person(request: Request, db: DbSession, actor: ApiLinkerActor, person_id: int) -> Export:
    """The same export the person gets for themself (a subject access request made through their
    linker); recorded in the audit trail as an export."""
    person = load_person(request, db, actor, person_id, AuditAction.exported)
    subject = DataSubject(person_id=person.id, account_id=person.account_id)
    return Export(**rights.export(db, request.app.state.plugins, request.app.state.settings, subject))


class ErasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Literal["phone", "in_person", "letter", "email"]
    requested_on: date


@router.post("/people/{person_id}/erasure", status_code=204, name="api:linker_person_erase")
def erase_person(request: Request, db: DbSession, actor: ApiLinkerActor, person_id: int, body: ErasureIn) -> Response:
    """Erase a person on my caseload who asked for it (how and when they asked is recorded)."""
    person = load_person(request, db, actor, person_id, AuditAction.viewed)  # "erased" only once it is done
    service.erase_at_request(
        db, request.app.state.settings, request.app.state.plugins, person=person, linker_id=actor.account_id,
        channel=ErasureChannel(body.channel), requested_on=body.requested_on,
    )  # fmt: skip
    audit(request, actor, person.id, AuditAction.erased, AuditOutcome.allowed)
    return Response(status_code=204)


@router.post("/people/{person_id}/offers", status_code=201, response_model=OfferPublic, name="api:linker_offer_create")
def create_offer(request: Request, db: DbSession, actor: ApiLinkerActor, person_id: int, body: OfferCreate) -> OfferPublic:
    person = load_person(request, db, actor, person_id, AuditAction.changed)
    with writing(db):
        item = registry.create_item(db, kind=OFFER, person=person, data=body)
    return registry.public_items(db, kind=OFFER, items=[item])[0]


@router.post(
    "/people/{person_id}/help-requests", status_code=201, response_model=HelpRequestPublic, name="api:linker_request_create"
)
def create_request(
    request: Request, db: DbSession, actor: ApiLinkerActor, person_id: int, body: HelpRequestCreate
) -> HelpRequestPublic:
    person = load_person(request, db, actor, person_id, AuditAction.changed)
    with writing(db):
        item = registry.create_item(db, kind=REQUEST, person=person, data=body)
    return registry.public_items(db, kind=REQUEST, items=[item])[0]


def _note_out(note) -> NoteOut:
    return NoteOut(
        id=note.id, person_id=note.person_id, match_id=note.match_id, author_account_id=note.author_account_id,
        body=note.body, sensitive=note.sensitive, corrects_note_id=note.corrects_note_id, created_at=note.created_at,
        edited_at=note.edited_at,
    )  # fmt: skip


@router.post("/people/{person_id}/notes", status_code=201, response_model=NoteOut, name="api:linker_note_create")
def add_note(request: Request, db: DbSession, actor: ApiLinkerActor, person_id: int, body: NoteIn) -> NoteOut:
    person = load_person(request, db, actor, person_id, AuditAction.changed)
    if body.match_id is not None:
        access = load_match(request, db, actor, body.match_id)
        if person.id not in (access.sides.offer_person.id, access.sides.request_person.id):
            raise NotFound()
    with writing(db):
        note = service.add_note(
            db, person_id=person.id, author_id=actor.account_id, body=body.body, sensitive=body.sensitive,
            match_id=body.match_id, corrects_note_id=body.corrects_note_id,
        )  # fmt: skip
    return _note_out(note)


@router.get("/people/{person_id}/notes", response_model=list[NoteOut], name="api:linker_notes")
def notes(request: Request, db: DbSession, actor: ApiLinkerActor, person_id: int) -> list[NoteOut]:
    person = load_person(request, db, actor, person_id)
    return [_note_out(note) for note, _author in service.notes_of(db, person_id=person.id, viewer_id=actor.account_id)]


@router.post(
    "/people/{person_id}/contact-attempts", status_code=201, response_model=AttemptOut, name="api:linker_contact_attempt"
)
def contact_attempt(request: Request, db: DbSession, actor: ApiLinkerActor, person_id: int, body: AttemptIn) -> AttemptOut:
    person = load_person(request, db, actor, person_id, AuditAction.changed)
    with writing(db):
        attempt, raised = service.record_attempt(
            db, request.app.state.settings, person_id=person.id, linker_id=actor.account_id, outcome=body.outcome
        )
    return AttemptOut(id=attempt.id, outcome=attempt.outcome, attempted_at=attempt.attempted_at, follow_up_raised=raised.id if raised else None)


def _follow_up_out(request: Request, follow_up: FollowUp) -> FollowUpOut:
    today = timeliness.local_date(utcnow())
    return FollowUpOut(
        id=follow_up.id, person_id=follow_up.person_id, due_on=follow_up.due_on, what=follow_up.what,
        state=service.follow_up_state(follow_up, today, request.app.state.settings.due_soon_days),
        result=follow_up.result, result_note=follow_up.result_note, finished_at=follow_up.finished_at,
    )  # fmt: skip


@router.post("/people/{person_id}/follow-ups", status_code=201, response_model=FollowUpOut, name="api:linker_follow_up_create")
def add_follow_up(request: Request, db: DbSession, actor: ApiLinkerActor, person_id: int, body: FollowUpIn) -> FollowUpOut:
    person = load_person(request, db, actor, person_id, AuditAction.changed)
    with writing(db):
        follow_up = service.add_follow_up(db, person_id=person.id, by_id=actor.account_id, due_on=body.due_on, what=body.what)
    return _follow_up_out(request, follow_up)


@router.post("/follow-ups/{follow_up_id}/done", response_model=FollowUpOut, name="api:linker_follow_up_done")
def follow_up_done(
    request: Request, db: DbSession, actor: ApiLinkerActor, follow_up_id: int, body: FollowUpDoneIn | None = None
) -> FollowUpOut:
    follow_up = db.get(FollowUp, follow_up_id)
    if follow_up is None:
        raise NotFound()
    load_person(request, db, actor, follow_up.person_id, AuditAction.changed)
    body = body or FollowUpDoneIn()
    with writing(db):
        service.finish_follow_up(db, follow_up=follow_up, by_id=actor.account_id, done=body.done, note=body.note)
    return _follow_up_out(request, follow_up)


@router.get("/follow-ups", response_model=list[FollowUpOut], name="api:linker_follow_ups")
def follow_ups(
    request: Request, db: DbSession, actor: ApiLinkerActor, when: Literal["overdue", "due", "all"] = "all"
) -> list[FollowUpOut]:
    today = timeliness.local_date(utcnow())
    found = service.follow_ups_of_caseload(
        db, linker_id=actor.account_id, when=when, today=today, soon_days=request.app.state.settings.due_soon_days
    )
    return [_follow_up_out(request, follow_up) for follow_up, _name in found]


class ClaimCodeOut(BaseModel):
    code: str
    expires_in_days: int


@router.post("/people/{person_id}/claim-code", status_code=201, response_model=ClaimCodeOut, name="api:linker_claim_code")
def claim_code(request: Request, db: DbSession, actor: ApiLinkerActor, person_id: int) -> ClaimCodeOut:
    """A new one-time code the person can use to claim an online account (shown once)."""
    person = load_person(request, db, actor, person_id, AuditAction.changed)
    settings = request.app.state.settings
    with writing(db):
        code = service.issue_claim_code(db, settings, person=person, by_id=actor.account_id)
    return ClaimCodeOut(code=code, expires_in_days=settings.claim_code_days)


class ContactOut(BaseModel):
    side: str
    first_name: str
    method: str
    value: str


@router.post("/matches/{match_id}/contacts", response_model=list[ContactOut], name="api:linker_match_contacts")
def match_contacts(request: Request, db: DbSession, actor: ApiLinkerActor, match_id: int) -> list[ContactOut]:
    """Both people's contact, for a match I broker once both said yes, so I can put them in
    touch. A POST: asking takes on the brokering of a match nobody (still) brokers, and each
    reveal is recorded in both people's audit trail."""
    access = load_match(request, db, actor, match_id)
    with writing(db):
        pair = service.contacts_to_introduce(db, match=access.match, sides=access.sides, linker_id=actor.account_id)
    out = []
    for side, person in pair:
        audit(request, actor, person, AuditAction.contact_revealed, AuditOutcome.allowed)
        contact = person_contact(db, person)
        if contact is not None:
            out.append(ContactOut(side=side.value, first_name=contact.first_name, method=contact.method, value=contact.value))
    return out
