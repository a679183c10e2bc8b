"""The match pages: ask to be put in touch, your matches, one match with its next step, its
answers and its messages. Every form carries the version the person saw; a stale one shows the
latest state with "Someone changed this just now" (409). Works without JavaScript."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from app.accounts.dependencies import load_account
from app.accounts.models import Account, Role
from app.core.db import DbSession
from app.core.errors import Conflict, FieldError, InvalidInput, NotFound
from app.core.i18n import N_
from app.core.responses import see_other
from app.core.templating import render
from app.matching import service, wellbeing, workflow
from app.matching.dependencies import MatchAccess, load_match, side_for_pair
from app.matching.labels import DECLINE_REASONS, STATUS_NAMES
from app.matching.models import DeclineReason, MatchSide, WellbeingStage
from app.privacy.audit import AuditAction
from app.registry.dependencies import CitizenActor, CitizenPerson
from app.registry.service import OFFER, REQUEST

router = APIRouter(dependencies=[Depends(load_account)], include_in_schema=False)

FLASH_MESSAGES = {
    "match-asked": N_("We have asked the other person. We will let you know when they answer."),
    "match-changed": N_("Your match has been updated."),
    "message-sent": N_("Your message has been sent."),
    "match-mail-on": N_("We will email you when there is news about your matches."),
    "match-mail-off": N_("We will not email you about your matches. Your matches page always shows the news."),
    "wellbeing-saved": N_("Thank you. Your answers have been saved."),
}
EVENTS = {e.value: e for e in workflow.Event if e not in (workflow.Event.propose, workflow.Event.expire)}


def _other(db, access: MatchAccess):
    kind = REQUEST if access.side is MatchSide.offer else OFFER
    item = access.sides.item(access.side.other)
    return service.other_items(db, kind, [item.id])[item.id]


def match_page(request: Request, db, access: MatchAccess, *, errors=None, status_code: int = 200, conflict: bool = False):
    match = access.match
    context = {
        "match": match,
        "side": access.side.value,
        "mine": access.sides.item(access.side),
        "other": _other(db, access),
        "contact": service.contact_for(db, match=match, side=access.side, sides=access.sides),
        "messages": service.messages_of(db, match_id=match.id),
        "next_step": workflow.next_step(service.state_of(match), access.side),
        "minutes": service.minutes_recorded(match),
        "broker": db.get(Account, match.brokered_by_account_id) if match.brokered_by_account_id else None,
        "status_names": STATUS_NAMES,
        "decline_reasons": DECLINE_REASONS,
        "wellbeing_due": service.wellbeing_due(db, match=match, person_id=access.subject.id),
        "errors": errors or [],
        "conflict": conflict,
    }
    return render(request, "matching/match.html", context, status_code=status_code)


def account_mail_section(request: Request, db, account: Account) -> dict | None:
    """On the account page, for citizens: whether to be emailed about their matches."""
    if account.role is not Role.citizen:
        return None
    return {"template": "matching/_mail_choice.html", "match_emails": account.match_emails}


@router.post("/account/match-emails", name="matching:mail_choice")
def mail_choice(
    request: Request, db: DbSession, actor: CitizenActor, choice: Annotated[str, Form(max_length=20)] = ""
) -> Response:
    if choice not in ("yes", "no"):
        raise InvalidInput(FieldError("choice", N_("Choose whether we should email you")))
    account = db.get(Account, actor.account_id)
    account.match_emails = choice == "yes"
    db.add(account)
    flash = "match-mail-on" if account.match_emails else "match-mail-off"
    return see_other(request, request.url_for("accounts:settings").path + "#match-emails", flash=flash)


@router.post("/matches/ask", name="matching:ask")
def ask(
    request: Request, db: DbSession, actor: CitizenActor,
    offer_id: Annotated[int, Form()], request_id: Annotated[int, Form()],
) -> Response:  # fmt: skip
    side = side_for_pair(request, db, actor, offer_id=offer_id, request_id=request_id)
    match = service.propose_match(
        db, request.app.state.settings, offer_id=offer_id, request_id=request_id, side=side,
        mailer=request.app.state.mailer,
    )  # fmt: skip
    return see_other(request, request.url_for("matching:match", match_id=match.id).path, flash="match-asked")


@router.get("/matches", name="matching:matches")
def matches_page(request: Request, db: DbSession, actor: CitizenActor, person: CitizenPerson) -> Response:
    rows = []
    for match, side in service.matches_of_person(db, person_id=person.id):
        access = MatchAccess(match, side, service.sides_of(db, match))
        rows.append({
            "match": match, "other": _other(db, access), "mine": access.sides.item(side),
            "next_step": workflow.next_step(service.state_of(match), side),
        })  # fmt: skip
    return render(request, "matching/matches.html", {"rows": rows, "status_names": STATUS_NAMES})


@router.get("/matches/{match_id:int}", name="matching:match")
def match_detail(request: Request, db: DbSession, actor: CitizenActor, match_id: int) -> Response:
    return match_page(request, db, load_match(request, db, actor, match_id))


def _minutes(hours: str, minutes: str) -> int | None:
    try:
        total = int(hours or 0) * 60 + int(minutes or 0)
    except ValueError:
        return None
    return total if total > 0 else None


@router.post("/matches/{match_id:int}/messages", name="matching:match_message")
def match_message(
    request: Request, db: DbSession, actor: CitizenActor, match_id: int,
    body: Annotated[str, Form(max_length=4000)] = "",
) -> Response:  # fmt: skip
    access = load_match(request, db, actor, match_id, AuditAction.changed)
    text = body.strip()
    if not text or len(text) > 2000:
        problem = N_("Write your message") if not text else N_("Your message must be 2,000 characters or fewer")
        return match_page(request, db, access, errors=[FieldError("body", problem)], status_code=422)
    try:
        service.post_message(
            db, match=access.match, side=access.side, account_id=actor.account_id, body=text,
            mailer=request.app.state.mailer,
        )  # fmt: skip
    except InvalidInput as error:
        return match_page(request, db, access, errors=error.errors, status_code=422)
    return see_other(request, request.url_for("matching:match", match_id=match_id).path + "#messages", flash="message-sent")


def wellbeing_page(request: Request, stage: WellbeingStage, **fields) -> Response:
    context = wellbeing.form_context(stage, **fields)
    return render(request, "matching/wellbeing.html", context, status_code=422 if context["errors"] else 200)


@router.get("/matches/{match_id:int}/wellbeing", name="matching:wellbeing")
def wellbeing_form(request: Request, db: DbSession, actor: CitizenActor, match_id: int) -> Response:
    access = load_match(request, db, actor, match_id)
    back = request.url_for("matching:match", match_id=match_id).path
    stage = service.wellbeing_due(db, match=access.match, person_id=access.subject.id)
    if stage is None:  # answered already, or not asked at this point: the match page says what is next
        return see_other(request, back)
    action = request.url_for("matching:wellbeing_save", match_id=match_id).path
    return wellbeing_page(request, stage, form_action=action, back_url=back)


@router.post("/matches/{match_id:int}/wellbeing", name="matching:wellbeing_save")
async def wellbeing_save(request: Request, db: DbSession, actor: CitizenActor, match_id: int) -> Response:
    access = load_match(request, db, actor, match_id, AuditAction.changed)
    form = await request.form()
    back = request.url_for("matching:match", match_id=match_id).path
    try:
        stage, answers = wellbeing.parse_form(form)
        service.record_wellbeing(
            db, match=access.match, person_id=access.subject.id, stage=stage, answers=answers,
            recorded_by=actor.account_id,
        )  # fmt: skip
    except InvalidInput as error:
        due = service.wellbeing_due(db, match=access.match, person_id=access.subject.id)
        if due is None:
            return see_other(request, back)
        action = request.url_for("matching:wellbeing_save", match_id=match_id).path
        values = {measure: str(form.get(measure, "")) for measure in wellbeing.MEASURES}
        return wellbeing_page(request, due, form_action=action, back_url=back, form=values, errors=error.errors)
    return see_other(request, back, flash="wellbeing-saved")


# After the messages and wellbeing routes, which it would otherwise swallow.
@router.post("/matches/{match_id:int}/{action}", name="matching:match_action")
def match_action(
    request: Request, db: DbSession, actor: CitizenActor, match_id: int, action: str,
    version: Annotated[int, Form()], reason: Annotated[str, Form(max_length=300)] = "",
    note: Annotated[str, Form(max_length=500)] = "", hours: Annotated[str, Form(max_length=4)] = "",
    minutes: Annotated[str, Form(max_length=4)] = "", outcome: Annotated[str, Form(max_length=2000)] = "",
) -> Response:  # fmt: skip
    access = load_match(request, db, actor, match_id, AuditAction.changed)
    event = EVENTS.get(action.replace("-", "_"))
    if event is None:
        raise NotFound()
    data: dict = {}
    if event is workflow.Event.decline:
        data = {"reason": reason if reason in DeclineReason._value2member_map_ else DeclineReason.other, "note": note.strip()}
    elif event is workflow.Event.cancel:
        if not reason.strip():
            return match_page(request, db, access, errors=[FieldError("reason", N_("Say why you are cancelling"))], status_code=422)
        data = {"reason": reason.strip()}
    elif event in (workflow.Event.complete, workflow.Event.confirm_time):
        data = {"minutes": _minutes(hours, minutes)}
        if event is workflow.Event.complete:
            data["outcome"] = outcome.strip()
    try:
        service.change_match(
            db, match=access.match, side=access.side, seen_version=version, event=event,
            mailer=request.app.state.mailer, **data,
        )  # fmt: skip
    except Conflict:
        return match_page(request, db, access, status_code=409, conflict=True)
    except InvalidInput as error:
        db.rollback()
        db.refresh(access.match)
        return match_page(request, db, access, errors=error.errors, status_code=422)
    return see_other(request, request.url_for("matching:match", match_id=match_id).path, flash="match-changed")
