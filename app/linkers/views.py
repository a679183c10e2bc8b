"""The linkers' pages: the caseload dashboard, the pool, assisted registration, a person's
record (notes, contact attempts, follow-ups, consents, handover, a claim code), the registry's
offer and request journeys mounted for a person on the caseload, brokering a match for them,
and the public page where a person claims an online account from their code.

Every page works without JavaScript; every form carries the CSRF token (base template).
"""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from app.accounts.dependencies import OptionalAccount, load_account, sign_in_response
from app.accounts.models import Account
from app.core import i18n
from app.core.db import DbSession, utcnow, writing
from app.core.errors import Conflict, FieldError, InvalidInput, NotFound
from app.core.i18n import N_
from app.core.plugins import DataSubject, Plugins
from app.core.responses import see_other
from app.core.templating import render
from app.core.validation import id_from_text, parse
from app.linkers import service, timeliness
from app.linkers.dependencies import (
    LINKER_OFFER_ROUTES,
    LINKER_REQUEST_ROUTES,
    LinkerActor,
    linker_journey_subject,
    load_person,
)
from app.linkers.models import AssistedRegistration, AttemptOutcome, CaseNote, FollowUp
from app.matching import service as matching
from app.matching import wellbeing, workflow
from app.matching.dependencies import MatchAccess, load_match, side_for_pair
from app.matching.labels import DECLINE_REASONS, STATUS_NAMES
from app.matching.models import DeclineReason, MatchSide
from app.privacy import rights
from app.privacy import service as privacy
from app.privacy.audit import AuditAction, AuditOutcome
from app.privacy.models import ConsentMethod, ConsentPurpose, ErasureChannel
from app.privacy.notices import notice
from app.registry import availability
from app.registry import service as registry
from app.registry.dependencies import Journey, audit
from app.registry.models import ContactMethod, Person
from app.registry.service import OFFER, REQUEST

router = APIRouter(dependencies=[Depends(load_account)], include_in_schema=False)

FLASH_MESSAGES = {
    "linker-wellbeing-saved": N_("Their answers have been saved."),
    "linker-registered": N_("They are registered and on your caseload."),
    "linker-picked-up": N_("They are on your caseload now."),
    "linker-handed-over": N_("They are on the other linker's caseload now, with your note."),
    "linker-note-saved": N_("The note has been saved."),
    "linker-attempt-saved": N_("The contact attempt has been recorded."),
    "linker-attempts-follow-up": N_("That is three tries without reaching them: we have added a follow-up for today."),
    "linker-follow-up-saved": N_("The follow-up has been added."),
    "linker-follow-up-finished": N_("The follow-up has been finished."),
    "linker-consent-saved": N_("Their choice has been recorded."),
    "linker-match-asked": N_("The match has been proposed. The other side is asked to answer."),
    "linker-match-changed": N_("The match has been updated."),
    "linker-introduced": N_("Thank you: you have put them in touch."),
    "linker-erased": N_("Their record has been erased, as they asked. It is no longer on your caseload."),
    "account-claimed": N_("Your online account is ready. You can see everything we hold about you."),
}
NEED_TEXT = service.NEED_TEXT
ATTEMPT_TEXT = {
    AttemptOutcome.reached: N_("Reached them"),
    AttemptOutcome.left_message: N_("Left a message"),
    AttemptOutcome.no_answer: N_("No answer"),
    AttemptOutcome.wrong_number: N_("Wrong number"),
}
CONTACT_TEXT = {
    ContactMethod.phone: N_("By phone"),
    ContactMethod.email: N_("By email"),
    ContactMethod.post: N_("By post"),
    ContactMethod.in_person: N_("In person"),
}
METHOD_TEXT = {ConsentMethod.verbal: N_("Out loud (verbal)"), ConsentMethod.paper: N_("On paper"), ConsentMethod.online: N_("Online")}
# How a person gave an answer to their linker: kept on the match's notes.
ANSWER_CHANNELS = {
    "phone": N_("by phone"),
    "in_person": N_("in person"),
    "paper": N_("on paper"),
    "message": N_("by text or email"),
}
DUE_TEXT = {"overdue": N_("Overdue"), "due_soon": N_("Due soon"), "later": N_("Later")}
PURPOSES = (ConsentPurpose.profile, ConsentPurpose.matching, ConsentPurpose.share_contact, ConsentPurpose.linker_contact)


class _Form(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _today():
    return timeliness.local_date(utcnow())


def _common(request: Request) -> dict:
    return {
        "need_text": NEED_TEXT,
        "due_text": DUE_TEXT,
        "attempt_text": ATTEMPT_TEXT,
        "contact_text": CONTACT_TEXT,
        "method_text": METHOD_TEXT,
        "purpose_text": privacy.PURPOSE_TEXT,
    }


# --- the caseload dashboard -------------------------------------------------------------------


@router.get("/linkers", name="linkers:dashboard")
def dashboard(
    request: Request, db: DbSession, actor: LinkerActor,
    ward: Annotated[str, Query(max_length=9)] = "", need: Annotated[str, Query(max_length=30)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:  # fmt: skip
    return _dashboard(request, db, actor, ward=ward, need=need, q="", page=page)


class SearchForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    q: str = Field(default="", max_length=100)
    ward: str = Field(default="", max_length=9)
    need: str = Field(default="", max_length=30)
    page: int = Field(default=1, ge=1, le=10_000)


@router.post("/linkers/search", name="linkers:dashboard_search")
def dashboard_search(request: Request, db: DbSession, actor: LinkerActor, form: Annotated[SearchForm, Form()]) -> Response:
    """The caseload searched by name or postcode: posted, so the words never sit in an address
    (browser history, server logs, a shared screen's address bar)."""
    if not form.q.strip():  # filters alone are no one's data: a plain address, fit to bookmark
        target = request.url_for("linkers:dashboard").include_query_params(ward=form.ward, need=form.need, page=form.page)
        return see_other(request, f"{target.path}?{target.query}")
    return _dashboard(request, db, actor, ward=form.ward, need=form.need, q=form.q.strip(), page=form.page)


def _dashboard(request: Request, db, actor, *, ward: str, need: str, q: str, page: int) -> Response:
    settings = request.app.state.settings
    found = service.worklist(
        db, settings, linker_id=actor.account_id, now=utcnow(), ward=ward, need=need if need in service.NEEDS else "",
        query=q, page=page,
    )  # fmt: skip
    wards = registry.ward_names(db)
    _pool, pool_total = service.pool(db, page=1, page_size=1)
    return render(
        request,
        "linkers/dashboard.html",
        _common(request) | {
            "worklist": found, "needs": service.NEEDS, "count_text": service.COUNT_TEXT, "wards": wards,
            "caseload_wards": sorted(service.caseload_wards(db, linker_id=actor.account_id), key=lambda c: wards.get(c, c)),
            "ward": ward, "need": need, "q": q, "pool_total": pool_total,
        },
    )  # fmt: skip


# --- the pool --------------------------------------------------------------------------------


@router.get("/linkers/pool", name="linkers:pool")
def pool_page(request: Request, db: DbSession, actor: LinkerActor, page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> Response:
    people, total = service.pool(db, page=page)
    pages = max(1, -(-total // service.PAGE_SIZE))
    return render(
        request, "linkers/pool.html",
        {"people": people, "total": total, "page": min(page, pages), "pages": pages, "wards": registry.ward_names(db)},
    )  # fmt: skip


@router.post("/linkers/pool/{person_id:int}", name="linkers:pick_up")
def pick_up(request: Request, db: DbSession, actor: LinkerActor, person_id: int) -> Response:
    person = db.get(Person, person_id)
    if person is None:
        raise NotFound()
    try:
        with writing(db):
            service.pick_up(db, linker_id=actor.account_id, person_id=person_id)
    except Conflict as taken:
        people, total = service.pool(db, page=1)
        return render(
            request, "linkers/pool.html",
            {"people": people, "total": total, "page": 1, "pages": max(1, -(-total // service.PAGE_SIZE)),
             "wards": registry.ward_names(db), "errors": [FieldError("pool", taken.message)]},
            status_code=409,
        )  # fmt: skip
    audit(request, actor, person, AuditAction.changed, AuditOutcome.allowed)
    return see_other(request, request.url_for("linkers:person", person_id=person_id).path, flash="linker-picked-up")


# --- assisted registration --------------------------------------------------------------------


class RegisterForm(_Form):
    name: str = ""
    postcode: str = ""
    phone: str = ""
    email: str = ""
    address: str = ""
    preferred_contact: str = "phone"
    contact_times: str = ""
    access_needs: str = ""
    language_needs: str = ""
    consent_profile: str = ""
    consent_matching: str = ""
    consent_share_contact: str = ""
    consent_linker_contact: str = ""
    consent_method: str = ""  # no default: the linker says how the person agreed


def _register_page(request: Request, form: RegisterForm, errors=None) -> Response:
    return render(
        request, "linkers/register.html",
        _common(request) | {
            "form": form, "errors": errors or [], "purposes": PURPOSES,
            "notice": notice(str(request.app.state.settings.templates_dir)),
        },
        status_code=422 if errors else 200,
    )  # fmt: skip


@router.get("/linkers/register", name="linkers:register")
def register_page(request: Request, actor: LinkerActor) -> Response:
    return _register_page(request, RegisterForm())


@router.post("/linkers/register", name="linkers:register_submit")
def register_submit(request: Request, db: DbSession, actor: LinkerActor, form: Annotated[RegisterForm, Form()]) -> Response:
    method = form.consent_method if form.consent_method in ("verbal", "paper") else "online"
    data = {
        "name": form.name, "postcode": form.postcode, "phone": form.phone, "email": form.email, "address": form.address,
        "preferred_contact": form.preferred_contact if form.preferred_contact in ContactMethod._value2member_map_ else "phone",
        "contact_times": form.contact_times, "access_needs": form.access_needs, "language_needs": form.language_needs,
        "consents": {
            purpose.value: {"given": getattr(form, f"consent_{purpose.value}") == "yes", "method": method}
            for purpose in PURPOSES
        },
    }  # fmt: skip
    try:
        parsed = parse(AssistedRegistration, data, context=registry.lookups(db))
        with writing(db):
            person = service.register_person(
                db, request.app.state.settings, linker_id=actor.account_id, data=parsed, language=i18n.request_language(request)
            )
    except InvalidInput as error:
        return _register_page(request, form, error.errors)
    return see_other(request, request.url_for("linkers:person", person_id=person.id).path, flash="linker-registered")


# --- a person's record --------------------------------------------------------------------------


def _person_context(request: Request, db, actor, person: Person) -> dict:
    today = _today()
    soon = request.app.state.settings.due_soon_days
    items = {}
    for kind in (OFFER, REQUEST):
        found = registry.list_items(db, kind=kind, person=person)
        items[kind.key] = {"items": found, "skills": registry.skills_of(db, kind=kind, item_ids=[i.id for i in found])}
    matches = matching.matches_of_person(db, person_id=person.id)
    follow_ups = service.follow_ups_of_person(db, person_id=person.id)
    return _common(request) | {
        "person": person,
        "ward": registry.ward_names(db).get(person.ward_code) if person.ward_code else None,
        "items": items,
        "offer_journey": Journey(kind=OFFER, routes=LINKER_OFFER_ROUTES, actor=actor, subject=person, path_params={"person_id": person.id}),
        "request_journey": Journey(kind=REQUEST, routes=LINKER_REQUEST_ROUTES, actor=actor, subject=person, path_params={"person_id": person.id}),
        "matches": matches,
        "status_names": STATUS_NAMES,
        "notes": service.notes_of(db, person_id=person.id, viewer_id=actor.account_id),
        "attempts": service.attempts_of(db, person_id=person.id),
        "follow_ups": [(f, service.follow_up_state(f, today, soon)) for f in follow_ups],
        "consents": service.consent_history(db, person.id),
        "history": service.assignment_history(db, person.id),
        "current": privacy.current_records(db, person_id=person.id),
        "outcomes": list(AttemptOutcome),
        "today": today.isoformat(),
        "editable_until": utcnow() - service.NOTE_EDIT_WINDOW,
        "describe": availability.describe,
        "skill_ideas": registry.skill_ideas(db),
        "errors": [],
    }  # fmt: skip


def _person_page(request: Request, db, actor, person: Person, errors=None, status_code: int = 200, **extra) -> Response:
    context = _person_context(request, db, actor, person) | extra
    context["errors"] = errors or []
    return render(request, "linkers/person.html", context, status_code=422 if errors and status_code == 200 else status_code)


def _to_person(request: Request, person_id: int, flash: str, anchor: str = "") -> Response:
    return see_other(request, request.url_for("linkers:person", person_id=person_id).path + anchor, flash=flash)


@router.get("/linkers/people/{person_id:int}", name="linkers:person")
def person_page(request: Request, db: DbSession, actor: LinkerActor, person_id: int) -> Response:
    return _person_page(request, db, actor, load_person(request, db, actor, person_id))


@router.post("/linkers/people/{person_id:int}/attempts", name="linkers:attempt")
def attempt(
    request: Request, db: DbSession, actor: LinkerActor, person_id: int, outcome: Annotated[str, Form(max_length=20)] = ""
) -> Response:
    person = load_person(request, db, actor, person_id, AuditAction.changed)
    if outcome not in AttemptOutcome._value2member_map_:
        return _person_page(request, db, actor, person, [FieldError("outcome", N_("Choose what happened"))])
    with writing(db):
        _attempt, raised = service.record_attempt(
            db, request.app.state.settings, person_id=person.id, linker_id=actor.account_id, outcome=AttemptOutcome(outcome)
        )
    return _to_person(request, person.id, "linker-attempts-follow-up" if raised else "linker-attempt-saved", "#contact")


@router.post("/linkers/people/{person_id:int}/notes", name="linkers:note")
def add_note(
    request: Request, db: DbSession, actor: LinkerActor, person_id: int,
    body: Annotated[str, Form(max_length=6000)] = "", sensitive: Annotated[str, Form(max_length=3)] = "",
    corrects: Annotated[str, Form(max_length=12)] = "",
) -> Response:  # fmt: skip
    person = load_person(request, db, actor, person_id, AuditAction.changed)
    try:
        with writing(db):
            service.add_note(
                db, person_id=person.id, author_id=actor.account_id, body=body, sensitive=sensitive == "yes",
                corrects_note_id=id_from_text(corrects),
            )  # fmt: skip
    except InvalidInput as error:
        return _person_page(request, db, actor, person, error.errors, note_body=body)
    return _to_person(request, person.id, "linker-note-saved", "#notes")


@router.post("/linkers/notes/{note_id:int}", name="linkers:note_edit")
def edit_note(
    request: Request, db: DbSession, actor: LinkerActor, note_id: int, body: Annotated[str, Form(max_length=6000)] = ""
) -> Response:
    note = db.get(CaseNote, note_id)
    if note is None:
        raise NotFound()
    person = load_person(request, db, actor, note.person_id, AuditAction.changed)
    try:
        with writing(db):
            service.edit_note(db, note=note, author_id=actor.account_id, body=body)
    except InvalidInput as error:
        db.refresh(note)
        return _person_page(request, db, actor, person, error.errors)
    return _to_person(request, person.id, "linker-note-saved", "#notes")


@router.post("/linkers/people/{person_id:int}/follow-ups", name="linkers:follow_up")
def add_follow_up(
    request: Request, db: DbSession, actor: LinkerActor, person_id: int,
    due_on: Annotated[str, Form(max_length=10)] = "", what: Annotated[str, Form(max_length=400)] = "",
) -> Response:  # fmt: skip
    person = load_person(request, db, actor, person_id, AuditAction.changed)
    try:
        try:
            day = date.fromisoformat(due_on)
        except ValueError:
            raise InvalidInput(FieldError("due_on", N_("Enter the date it is due, like 2027-01-31"))) from None
        with writing(db):
            service.add_follow_up(db, person_id=person.id, by_id=actor.account_id, due_on=day, what=what, today=_today())
    except InvalidInput as error:
        return _person_page(request, db, actor, person, error.errors, follow_up_form={"due_on": due_on, "what": what})
    return _to_person(request, person.id, "linker-follow-up-saved", "#follow-ups")


@router.post("/linkers/follow-ups/{follow_up_id:int}", name="linkers:follow_up_done")
def follow_up_done(
    request: Request, db: DbSession, actor: LinkerActor, follow_up_id: int,
    result: Annotated[str, Form(max_length=10)] = "done", note: Annotated[str, Form(max_length=1200)] = "",
) -> Response:  # fmt: skip
    follow_up = db.get(FollowUp, follow_up_id)
    if follow_up is None:
        raise NotFound()
    person = load_person(request, db, actor, follow_up.person_id, AuditAction.changed)
    try:
        with writing(db):
            service.finish_follow_up(db, follow_up=follow_up, by_id=actor.account_id, done=result != "not_done", note=note)
    except (InvalidInput, Conflict) as error:
        db.refresh(follow_up)
        found = error.errors if isinstance(error, InvalidInput) else [FieldError("done", N_("This follow-up has already been finished"))]
        # Named after this follow-up's own fields, so the error summary links to them.
        where = {"note": f"follow-up-note-{follow_up.id}"}
        errors = [FieldError(where.get(e.field, f"follow-up-{follow_up.id}"), e.template, e.params) for e in found]
        return _person_page(request, db, actor, person, errors)
    return _to_person(request, person.id, "linker-follow-up-finished", "#follow-ups")


@router.post("/linkers/people/{person_id:int}/consents/{purpose}", name="linkers:consent")
def consent(
    request: Request, db: DbSession, actor: LinkerActor, person_id: int, purpose: str,
    given: Annotated[str, Form(max_length=3)] = "", method: Annotated[str, Form(max_length=10)] = "",
) -> Response:  # fmt: skip
    person = load_person(request, db, actor, person_id, AuditAction.changed)
    if purpose not in {p.value for p in PURPOSES}:
        raise NotFound()
    if method not in ("verbal", "paper"):
        return _person_page(
            request, db, actor, person, [FieldError(f"method-{purpose}", N_("Record how the person told you: out loud (verbal) or on paper"))]
        )
    with writing(db):
        service.set_consent_for(
            db, request.app.state.settings, request.app.state.plugins, person=person, purpose=ConsentPurpose(purpose),
            given=given == "yes", method=ConsentMethod(method), linker_id=actor.account_id,
            language=i18n.request_language(request),
        )  # fmt: skip
    return _to_person(request, person.id, "linker-consent-saved", "#consents")


@router.post("/linkers/people/{person_id:int}/claim-code", name="linkers:claim_code")
def claim_code(
    request: Request, db: DbSession, actor: LinkerActor, person_id: int, send: Annotated[str, Form(max_length=10)] = "print"
) -> Response:
    """A one-time code: shown on this page to print or read out, or emailed to the person."""
    person = load_person(request, db, actor, person_id, AuditAction.changed)
    settings = request.app.state.settings
    try:
        with writing(db):
            code = service.issue_claim_code(db, settings, person=person, by_id=actor.account_id)
            emailed = False
            if send == "email" and person.email:
                from app.core.mail import render_mail, send_after_commit

                message = render_mail(
                    settings, "claim_code", to=person.email, language=i18n.request_language(request),
                    name=person.name.split()[0], code=code, days=settings.claim_code_days,
                    link=f"{settings.base_url.rstrip('/')}/claim",
                )  # fmt: skip
                send_after_commit(db, request.app.state.mailer, message)
                emailed = True
    except InvalidInput as error:
        return _person_page(request, db, actor, person, error.errors)
    return render(
        request, "linkers/claim_code.html",
        {"person": person, "code": None if emailed else code, "emailed": emailed, "days": settings.claim_code_days},
    )  # fmt: skip


def _handover_page(request: Request, db, actor, person: Person, form: dict, errors=None) -> Response:
    linkers = service.other_linkers(db, besides=actor.account_id)
    items = [{"value": str(a.id), "text": a.name, "checked": form.get("to_account_id") == str(a.id)} for a in linkers]
    return render(
        request, "linkers/handover.html",
        {
            "person": person, "linkers": linkers, "linker_items": items, "errors": errors or [], "form": form,
            "action": request.url_for("linkers:handover_submit", person_id=person.id).path,
            "back_url": request.url_for("linkers:person", person_id=person.id).path,
        },
        status_code=422 if errors else 200,
    )  # fmt: skip


@router.get("/linkers/people/{person_id:int}/handover", name="linkers:handover")
def handover_page(request: Request, db: DbSession, actor: LinkerActor, person_id: int) -> Response:
    return _handover_page(request, db, actor, load_person(request, db, actor, person_id), {})


@router.post("/linkers/people/{person_id:int}/handover", name="linkers:handover_submit")
def handover_submit(
    request: Request, db: DbSession, actor: LinkerActor, person_id: int,
    to_account_id: Annotated[str, Form(max_length=12)] = "", note: Annotated[str, Form(max_length=1200)] = "",
) -> Response:  # fmt: skip
    person = load_person(request, db, actor, person_id, AuditAction.changed)
    try:
        if len(note.strip()) > 1000:
            raise InvalidInput(FieldError("note", N_("The note must be 1,000 characters or fewer")))
        with writing(db):
            service.hand_over(
                db, person_id=person.id, to_account_id=id_from_text(to_account_id) or 0,
                by_id=actor.account_id, note=note,
            )  # fmt: skip
    except InvalidInput as error:
        return _handover_page(request, db, actor, person, {"to_account_id": to_account_id, "note": note}, error.errors)
    return see_other(request, request.url_for("linkers:dashboard").path, flash="linker-handed-over")


# --- erasure at the person's request --------------------------------------------------------------

ERASURE_CHANNELS = (ErasureChannel.phone, ErasureChannel.in_person, ErasureChannel.letter, ErasureChannel.email)


def _erase_page(request: Request, person, form: dict, errors: list | None = None) -> Response:
    return render(
        request, "linkers/erase.html",
        {"person": person, "form": form, "errors": errors or None, "channels": [c.value for c in ERASURE_CHANNELS], "today": _today()},
        status_code=422 if errors else 200,
    )  # fmt: skip


@router.get("/linkers/people/{person_id:int}/export", name="linkers:export")
def export_page(request: Request, db: DbSession, actor: LinkerActor, person_id: int) -> Response:
    """A subject access request made through the linker: the same export, to read or print."""
    person = load_person(request, db, actor, person_id, AuditAction.exported)
    data = rights.export(
        db, request.app.state.plugins, request.app.state.settings, DataSubject(person_id=person.id, account_id=person.account_id)
    )
    response = render(request, "privacy/export.html", {"data": data, "for_person": person})
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/linkers/people/{person_id:int}/erase", name="linkers:erase")
def erase_page(request: Request, db: DbSession, actor: LinkerActor, person_id: int) -> Response:
    return _erase_page(request, load_person(request, db, actor, person_id), {"requested_on": _today().isoformat()})


@router.post("/linkers/people/{person_id:int}/erase", name="linkers:erase_submit")
def erase_submit(
    request: Request, db: DbSession, actor: LinkerActor, person_id: int,
    channel: Annotated[str, Form(max_length=20)] = "", requested_on: Annotated[str, Form(max_length=10)] = "",
    confirmed: Annotated[str, Form(max_length=10)] = "",
) -> Response:  # fmt: skip
    # Audited as a look until it is done: a refused form must not read "erased" in their log.
    person = load_person(request, db, actor, person_id, AuditAction.viewed)
    form = {"channel": channel, "requested_on": requested_on, "confirmed": confirmed}
    errors = []
    if channel not in {c.value for c in ERASURE_CHANNELS}:
        errors.append(FieldError("channel", N_("Choose how they asked: by phone, in person, by letter or by email")))
    try:
        day = date.fromisoformat(requested_on)
    except ValueError:
        day = None
        errors.append(FieldError("requested_on", N_("Enter the date they asked, like 2027-01-31")))
    if confirmed != "yes":
        errors.append(FieldError("confirmed", N_("Confirm that they asked for this and know it cannot be undone")))
    if errors:
        return _erase_page(request, person, form, errors)
    try:
        service.erase_at_request(
            db, request.app.state.settings, request.app.state.plugins, person=person, linker_id=actor.account_id,
            channel=ErasureChannel(channel), requested_on=day,
        )  # fmt: skip
    except InvalidInput as error:
        return _erase_page(request, person, form, error.errors)
    audit(request, actor, person.id, AuditAction.erased, AuditOutcome.allowed)
    return see_other(request, request.url_for("linkers:dashboard").path, flash="linker-erased")


# --- the registry's journeys and matching's suggestions, for a person on my caseload -------------


def caseload_journeys(plugins: Plugins) -> list[APIRouter]:
    """The same pages a citizen uses, mounted through the plug-in registry (not copied, and not
    imported from another domain's views)."""
    journeys, suggestions = plugins.page_mounts["journeys"], plugins.page_mounts["suggestions"]
    offers, requests = "/linkers/people/{person_id:int}/offers", "/linkers/people/{person_id:int}/requests"
    return [
        journeys(OFFER, LINKER_OFFER_ROUTES, linker_journey_subject, offers),
        journeys(REQUEST, LINKER_REQUEST_ROUTES, linker_journey_subject, requests),
        suggestions(OFFER, LINKER_OFFER_ROUTES, linker_journey_subject, offers),
        suggestions(REQUEST, LINKER_REQUEST_ROUTES, linker_journey_subject, requests),
    ]


# --- brokering ----------------------------------------------------------------------------------


@router.post("/linkers/people/{person_id:int}/ask", name="linkers:ask")
def ask(
    request: Request, db: DbSession, actor: LinkerActor, person_id: int,
    offer_id: Annotated[int, Form()], request_id: Annotated[int, Form()],
) -> Response:  # fmt: skip
    load_person(request, db, actor, person_id, AuditAction.changed)
    side = side_for_pair(request, db, actor, offer_id=offer_id, request_id=request_id)
    match = matching.propose_match(
        db, request.app.state.settings, offer_id=offer_id, request_id=request_id, side=side,
        mailer=request.app.state.mailer, broker_account_id=actor.account_id,
    )  # fmt: skip
    return see_other(request, request.url_for("linkers:match", match_id=match.id).path, flash="linker-match-asked")


def _side_summary(db, access: MatchAccess, side: MatchSide, mine: bool) -> dict:
    kind = OFFER if side is MatchSide.offer else REQUEST
    item = access.sides.item(side)
    summary = matching.other_items(db, kind, [item.id], for_linker=True)[item.id]
    person = access.sides.person(side)
    return {"side": side.value, "item": item, "summary": summary, "person": person if mine else None}


def match_page(request: Request, db, actor, access: MatchAccess, *, errors=None, status_code: int = 200, conflict: bool = False, contacts=None):
    match = access.match
    mine = {side for side in MatchSide if service.on_caseload(db, linker_id=actor.account_id, person_id=access.sides.person(side).id)}
    state = matching.state_of(match)
    broker = db.get(Account, match.brokered_by_account_id) if match.brokered_by_account_id else None
    people = [access.sides.person(side) for side in MatchSide if side in mine]
    notes = []
    for person in people:
        notes.extend(service.notes_of(db, person_id=person.id, viewer_id=actor.account_id, match_id=match.id))
    notes.sort(key=lambda pair: pair[0].created_at, reverse=True)
    both_share = all(
        privacy.has_consent(db, person_id=access.sides.person(side).id, purpose=ConsentPurpose.share_contact) for side in MatchSide
    )
    context = _common(request) | {
        "match": match,
        "sides": [_side_summary(db, access, side, side in mine) for side in MatchSide],
        "mine": [side.value for side in MatchSide if side in mine],
        "next_steps": {side.value: workflow.next_step(state, side) for side in MatchSide if side in mine},
        "wellbeing_due": {
            side.value: matching.wellbeing_due(db, match=match, person_id=access.sides.person(side).id)
            for side in MatchSide if side in mine
        },
        "pending": {side.value: state.answer(side).value == "pending" for side in MatchSide},
        "minutes": matching.minutes_recorded(match),
        "broker": broker,
        "brokered_by_me": match.brokered_by_account_id == actor.account_id,
        "introduction": service.introduction_of(db, match.id),
        "both_share": both_share,
        "contacts": contacts,
        "messages": matching.messages_of(db, match_id=match.id),
        "notes": notes,
        "status_names": STATUS_NAMES,
        "decline_reasons": DECLINE_REASONS,
        "channels": ANSWER_CHANNELS,
        "errors": errors or [],
        "conflict": conflict,
    }
    return render(request, "linkers/match.html", context, status_code=status_code)


@router.get("/linkers/matches/{match_id:int}", name="linkers:match")
def match_detail(request: Request, db: DbSession, actor: LinkerActor, match_id: int) -> Response:
    return match_page(request, db, actor, load_match(request, db, actor, match_id))


@router.post("/linkers/matches/{match_id:int}/contacts", name="linkers:match_contacts")
def match_contacts(request: Request, db: DbSession, actor: LinkerActor, match_id: int) -> Response:
    """Show both people's contact to put them in touch: only for a match I broker (or take on),
    once both said yes; each reveal is in both people's audit trail."""
    access = load_match(request, db, actor, match_id)
    try:
        with writing(db):
            pair = service.contacts_to_introduce(db, match=access.match, sides=access.sides, linker_id=actor.account_id)
    except (InvalidInput, Conflict) as error:
        db.refresh(access.match)
        errors = error.errors if isinstance(error, InvalidInput) else [FieldError("match", N_("Someone changed this just now"))]
        return match_page(request, db, actor, access, errors=errors, status_code=422)
    contacts = []
    for side, person in pair:
        audit(request, actor, person, AuditAction.contact_revealed, AuditOutcome.allowed)
        contacts.append({"side": side.value, "name": person.name, "contact": matching.person_contact(db, person),
                         "preferred": person.preferred_contact, "times": person.contact_times, "address": person.address})  # fmt: skip
    return match_page(request, db, actor, access, contacts=contacts)


@router.post("/linkers/matches/{match_id:int}/introduced", name="linkers:match_introduced")
def match_introduced(request: Request, db: DbSession, actor: LinkerActor, match_id: int) -> Response:
    access = load_match(request, db, actor, match_id, AuditAction.changed)
    try:
        with writing(db):
            if access.match.brokered_by_account_id != actor.account_id:
                raise InvalidInput(FieldError("match", N_("Show both contacts first, to put them in touch")))
            service.record_introduction(db, match=access.match, linker_id=actor.account_id)
    except InvalidInput as error:
        return match_page(request, db, actor, access, errors=error.errors, status_code=422)
    return see_other(request, request.url_for("linkers:match", match_id=match_id).path, flash="linker-introduced")


@router.post("/linkers/matches/{match_id:int}/notes", name="linkers:match_note")
def match_note(
    request: Request, db: DbSession, actor: LinkerActor, match_id: int, body: Annotated[str, Form(max_length=6000)] = "",
    sensitive: Annotated[str, Form(max_length=3)] = "",
) -> Response:  # fmt: skip
    access = load_match(request, db, actor, match_id, AuditAction.changed)
    person = access.subject
    try:
        with writing(db):
            service.add_note(db, person_id=person.id, author_id=actor.account_id, body=body, sensitive=sensitive == "yes", match_id=match_id)
    except InvalidInput as error:
        return match_page(request, db, actor, access, errors=error.errors, status_code=422)
    return see_other(request, request.url_for("linkers:match", match_id=match_id).path + "#notes", flash="linker-note-saved")


def _wellbeing_side(request: Request, db, actor, match_id: int, raw_side: str, action: AuditAction) -> MatchAccess:
    chosen = MatchSide(raw_side) if raw_side in MatchSide._value2member_map_ else None
    return load_match(request, db, actor, match_id, action, on_behalf_of=chosen)


def _wellbeing_form(request: Request, access: MatchAccess, stage, *, form=None, errors=None) -> Response:
    """The citizen's own wellbeing page, asked by their linker (by phone, say) for one side."""
    match_id = access.match.id
    context = wellbeing.form_context(
        stage, side=access.side.value, for_person=access.subject.name, form=form, errors=errors,
        form_action=request.url_for("linkers:match_wellbeing_save", match_id=match_id).path,
        back_url=request.url_for("linkers:match", match_id=match_id).path,
    )  # fmt: skip
    return render(request, "matching/wellbeing.html", context, status_code=422 if errors else 200)


@router.get("/linkers/matches/{match_id:int}/wellbeing", name="linkers:match_wellbeing")
def match_wellbeing(
    request: Request, db: DbSession, actor: LinkerActor, match_id: int, side: Annotated[str, Query(max_length=10)] = "",
) -> Response:  # fmt: skip
    access = _wellbeing_side(request, db, actor, match_id, side, AuditAction.viewed)
    stage = matching.wellbeing_due(db, match=access.match, person_id=access.subject.id)
    if stage is None:
        return see_other(request, request.url_for("linkers:match", match_id=match_id).path)
    return _wellbeing_form(request, access, stage)


@router.post("/linkers/matches/{match_id:int}/wellbeing", name="linkers:match_wellbeing_save")
async def match_wellbeing_save(request: Request, db: DbSession, actor: LinkerActor, match_id: int) -> Response:
    form = await request.form()
    access = _wellbeing_side(request, db, actor, match_id, str(form.get("side", ""))[:10], AuditAction.changed)
    back = request.url_for("linkers:match", match_id=match_id).path
    try:
        stage, answers = wellbeing.parse_form(form)
        matching.record_wellbeing(
            db, match=access.match, person_id=access.subject.id, stage=stage, answers=answers, recorded_by=actor.account_id
        )  # fmt: skip
    except InvalidInput as error:
        due = matching.wellbeing_due(db, match=access.match, person_id=access.subject.id)
        if due is None:
            return see_other(request, back)
        values = {measure: str(form.get(measure, "")) for measure in wellbeing.MEASURES}
        return _wellbeing_form(request, access, due, form=values, errors=error.errors)
    return see_other(request, back, flash="linker-wellbeing-saved")


EVENTS = {e.value: e for e in workflow.Event if e not in (workflow.Event.propose, workflow.Event.expire)}


def _minutes(hours: str, minutes: str) -> int | None:
    try:
        total = int(hours or 0) * 60 + int(minutes or 0)
    except ValueError:
        return None
    return total if total > 0 else None


@router.post("/linkers/matches/{match_id:int}/{action}", name="linkers:match_action")
def match_action(
    request: Request, db: DbSession, actor: LinkerActor, match_id: int, action: str,
    version: Annotated[int, Form()], side: Annotated[str, Form(max_length=10)] = "",
    channel: Annotated[str, Form(max_length=20)] = "", reason: Annotated[str, Form(max_length=300)] = "",
    note: Annotated[str, Form(max_length=500)] = "", hours: Annotated[str, Form(max_length=4)] = "",
    minutes: Annotated[str, Form(max_length=4)] = "", outcome: Annotated[str, Form(max_length=2000)] = "",
) -> Response:  # fmt: skip
    """An answer or a step taken for one side ("on behalf of"), with how the person said it."""
    event = EVENTS.get(action.replace("-", "_"))
    if event is None:
        raise NotFound()
    chosen = MatchSide(side) if side in MatchSide._value2member_map_ else None
    try:
        access = load_match(request, db, actor, match_id, AuditAction.changed, on_behalf_of=chosen)
    except InvalidInput as error:  # not a side on their caseload: said at the top of the page
        errors = [FieldError("match", e.template, e.params) for e in error.errors]
        return match_page(request, db, actor, load_match(request, db, actor, match_id), errors=errors, status_code=422)
    data: dict = {}
    problems = []
    if event in (workflow.Event.accept, workflow.Event.decline) and channel not in ANSWER_CHANNELS:
        answer = "yes" if event is workflow.Event.accept else "no"
        problems.append(FieldError(f"channel-{chosen.value if chosen else 'offer'}-{answer}", N_("Say how the person gave their answer")))
    if event is workflow.Event.decline:
        data = {"reason": reason if reason in DeclineReason._value2member_map_ else DeclineReason.other, "note": note.strip()}
    elif event is workflow.Event.cancel:
        if not reason.strip():
            problems.append(FieldError(f"cancel-{chosen.value if chosen else 'offer'}", N_("Say why it is being cancelled")))
        data = {"reason": reason.strip()}
    elif event in (workflow.Event.complete, workflow.Event.confirm_time):
        data = {"minutes": _minutes(hours, minutes)}
        if event is workflow.Event.complete:
            data["outcome"] = outcome.strip()
    if problems:
        return match_page(request, db, actor, access, errors=problems, status_code=422)
    try:
        matching.change_match(
            db, match=access.match, side=access.side, seen_version=version, event=event,
            mailer=request.app.state.mailer, broker_account_id=actor.account_id, **data,
        )  # fmt: skip
        if channel in ANSWER_CHANNELS and event in (workflow.Event.accept, workflow.Event.decline):
            answer = "yes" if event is workflow.Event.accept else "no thanks"
            service.add_note(
                db, person_id=access.subject.id, author_id=actor.account_id, match_id=match_id,
                body=f"Answered {answer} {ANSWER_CHANNELS_EN[channel]}, recorded by their linker.",
            )  # fmt: skip
    except Conflict:
        db.rollback()
        db.refresh(access.match)
        return match_page(request, db, actor, access, status_code=409, conflict=True)
    except InvalidInput as error:
        db.rollback()
        db.refresh(access.match)
        return match_page(request, db, actor, access, errors=error.errors, status_code=422)
    return see_other(request, request.url_for("linkers:match", match_id=match_id).path, flash="linker-match-changed")


# A note's text is stored as written, in English (like every case note), whatever the page language.
ANSWER_CHANNELS_EN = {"phone": "by phone", "in_person": "in person", "paper": "on paper", "message": "by text or email"}


# --- claiming an online account -----------------------------------------------------------------


class ClaimForm(_Form):
    code: str = ""
    email: str = ""
    password: str = ""
    password_confirm: str = ""


def _claim_page(request: Request, form: ClaimForm, errors=None, status_code: int = 200) -> Response:
    return render(request, "linkers/claim.html", {"form": form, "errors": errors or []}, status_code=status_code)


@router.get("/claim", name="linkers:claim")
def claim_page(request: Request, account: OptionalAccount) -> Response:
    if account is not None:
        return see_other(request, request.url_for("pages:home").path)
    return _claim_page(request, ClaimForm())


@router.post("/claim", name="linkers:claim_submit")
def claim_submit(request: Request, db: DbSession, form: Annotated[ClaimForm, Form()]) -> Response:
    if len(form.code) > 40 or len(form.email) > 320 or len(form.password) > 1024 or len(form.password_confirm) > 1024:
        return _claim_page(request, ClaimForm(), [FieldError("code", N_("This code is not right, or it has been used or is too old. Ask your linker for a new one"))], 422)
    try:
        with writing(db):
            account = service.claim_account(
                db, request.app.state.settings, code=form.code, email=form.email, password=form.password,
                password_confirm=form.password_confirm, language=i18n.request_language(request),
            )  # fmt: skip
    except (InvalidInput, Conflict) as error:
        form.password = form.password_confirm = ""
        errors = error.errors if isinstance(error, InvalidInput) else []
        return _claim_page(request, form, errors, 422)
    return sign_in_response(request, db, account, request.url_for("accounts:settings").path, flash="account-claimed")
