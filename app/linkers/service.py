"""Linkers' rules: caseloads and the pool, assisted registration, notes, contact attempts,
follow-ups, introductions, account claims and the dashboard's worklist.

Who may reach a person is decided in `linkers.dependencies`; these functions trust their caller
on that and enforce everything else (a person is on at most one caseload, a note is not changed
after an hour, a follow-up is finished once).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, exists, func, not_, or_, select, union, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.accounts import service as accounts
from app.accounts.models import Account, Role
from app.core import changes
from app.core.changes import Change
from app.core.config import Settings
from app.core.db import utcnow, writing
from app.core.errors import Conflict, FieldError, InvalidInput, NotFound
from app.core.i18n import N_
from app.core.plugins import DataSubject
from app.linkers import timeliness
from app.linkers.models import (
    FAILED_OUTCOMES,
    AccountClaim,
    AssistedRegistration,
    AttemptOutcome,
    CaseAssignment,
    CaseNote,
    ContactAttempt,
    FollowUp,
    FollowUpResult,
    MatchIntroduction,
)
from app.matching.models import Answer, Match, MatchSide, MatchStatus
from app.privacy import rights
from app.privacy import service as privacy
from app.privacy.models import ConsentMethod, ConsentPurpose, ConsentRecord, ErasureChannel
from app.privacy.notices import notice
from app.registry import service as registry
from app.registry.models import HelpRequest, Offer, Person
from app.registry.service import MATCHING_STAMP

NOTE_EDIT_WINDOW = timedelta(hours=1)
FAILED_ATTEMPTS_FOR_FOLLOW_UP = 3
PAGE_SIZE = 25


# --- caseloads and the pool -----------------------------------------------------------------------


def open_assignment(db: Session, person_id: int) -> CaseAssignment | None:
    return db.execute(
        select(CaseAssignment).where(CaseAssignment.person_id == person_id, CaseAssignment.ended_at.is_(None))
    ).scalar_one_or_none()


def current_linker_id(db: Session, person_id: int) -> int | None:
    assignment = open_assignment(db, person_id)
    return assignment.linker_account_id if assignment else None


def on_caseload(db: Session, *, linker_id: int, person_id: int) -> bool:
    return db.execute(
        select(CaseAssignment.id).where(
            CaseAssignment.person_id == person_id,
            CaseAssignment.linker_account_id == linker_id,
            CaseAssignment.ended_at.is_(None),
        )
    ).first() is not None


def caseload_ids(linker_id: int):
    """SQL: the ids of the people on this linker's caseload now."""
    return select(CaseAssignment.person_id).where(
        CaseAssignment.linker_account_id == linker_id, CaseAssignment.ended_at.is_(None)
    )


def _active_linker(account_id_column):
    return exists().where(Account.id == account_id_column, Account.role == Role.linker, Account.is_active.is_(True))


def _open_with(linker_is_active: bool):
    active = _active_linker(CaseAssignment.linker_account_id)
    return exists().where(
        CaseAssignment.person_id == Person.id, CaseAssignment.ended_at.is_(None), active if linker_is_active else not_(active)
    )


def _gone():
    """A linker who has left: the account closed (or no longer a linker's)."""
    return or_(Account.role != Role.linker, Account.is_active.is_(False))


def pool_clause():
    """SQL: the people waiting for a linker. They asked for one (`linker_contact`), or a linker
    registered them or had them on a caseload and has since left (an account closed by an admin
    does not strand anyone); and no active linker has them on a caseload.

    Built from the few people who can be in it (each through an index), not by testing every
    person on the register."""
    asked = select(ConsentRecord.person_id).where(ConsentRecord.purpose == ConsentPurpose.linker_contact, privacy.given_now())
    orphaned = (
        select(Person.id)
        .join(Account, Account.id == Person.created_by_account_id)
        .where(_gone())
    )  # fmt: skip
    left_behind = (
        select(CaseAssignment.person_id)
        .join(Account, Account.id == CaseAssignment.linker_account_id)
        .where(CaseAssignment.ended_at.is_(None), _gone())
    )  # fmt: skip
    return and_(
        Person.id.in_(union(asked, orphaned, left_behind)), Person.erased_at.is_(None), not_(_open_with(linker_is_active=True))
    )


def pool(db: Session, *, page: int = 1, page_size: int = PAGE_SIZE) -> tuple[list[Person], int]:
    """The pool, oldest first, one page of it, and how many there are in all."""
    total = db.execute(select(func.count()).select_from(Person).where(pool_clause())).scalar_one()
    people = db.execute(
        select(Person).where(pool_clause()).order_by(Person.created_at, Person.id).limit(page_size).offset((page - 1) * page_size)
    ).scalars().all()
    return list(people), total


def in_pool(db: Session, person_id: int) -> bool:
    return db.execute(select(Person.id).where(Person.id == person_id, pool_clause())).first() is not None


def _start_assignment(db: Session, *, person_id: int, linker_id: int, by_id: int, note: str | None) -> CaseAssignment:
    assignment = CaseAssignment(person_id=person_id, linker_account_id=linker_id, assigned_by_account_id=by_id, note=note)
    try:
        with db.begin_nested():
            db.add(assignment)
            db.flush()
    except IntegrityError as exc:  # another linker took them a moment ago
        raise Conflict(N_("Another linker has just added this person to their caseload")) from exc
    return assignment


def pick_up(db: Session, *, linker_id: int, person_id: int) -> CaseAssignment:
    """Add someone from the pool to my caseload; of two linkers at once, one gets them."""
    if db.get(Person, person_id) is None:
        raise NotFound()
    if not in_pool(db, person_id):
        if open_assignment(db, person_id) is not None:
            raise Conflict(N_("Another linker has just added this person to their caseload"))
        raise NotFound()
    left = open_assignment(db, person_id)  # with a linker who has since left
    if left is not None:
        _end_assignment(db, left)
    return _start_assignment(db, person_id=person_id, linker_id=linker_id, by_id=linker_id, note=None)


def _end_assignment(db: Session, assignment: CaseAssignment) -> None:
    ended = db.execute(
        update(CaseAssignment)
        .where(CaseAssignment.id == assignment.id, CaseAssignment.ended_at.is_(None))
        .values(ended_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if ended.rowcount != 1:
        raise Conflict(N_("Someone changed this person's caseload just now"))


def hand_over(db: Session, *, person_id: int, to_account_id: int, by_id: int, note: str) -> CaseAssignment:
    """Move a person to another (active) linker's caseload, with a note for them."""
    target = db.get(Account, to_account_id)
    if target is None or target.role is not Role.linker or not target.is_active:
        raise InvalidInput(FieldError("to_account_id", N_("Choose a community linker to hand over to")))
    current = open_assignment(db, person_id)
    if current is not None and current.linker_account_id == to_account_id:
        raise InvalidInput(FieldError("to_account_id", N_("This person is already on that linker's caseload")))
    if current is not None:
        _end_assignment(db, current)
    return _start_assignment(db, person_id=person_id, linker_id=to_account_id, by_id=by_id, note=note.strip() or None)


def assignment_history(db: Session, person_id: int) -> list[tuple[CaseAssignment, str | None]]:
    rows = db.execute(
        select(CaseAssignment, Account.name)
        .join(Account, Account.id == CaseAssignment.linker_account_id, isouter=True)
        .where(CaseAssignment.person_id == person_id)
        .order_by(CaseAssignment.started_at.desc(), CaseAssignment.id.desc())
    ).all()
    return [(assignment, name) for assignment, name in rows]


def caseload_sizes(db: Session) -> list[tuple[Account, int]]:
    """Every linker account (active or not) with how many people are on their caseload now."""
    count = (
        select(func.count())
        .where(CaseAssignment.linker_account_id == Account.id, CaseAssignment.ended_at.is_(None))
        .scalar_subquery()
    )
    rows = db.execute(select(Account, count).where(Account.role == Role.linker).order_by(Account.is_active.desc(), Account.name))
    return [(account, size) for account, size in rows.all()]


def caseload_of(db: Session, *, linker_id: int, page: int = 1, page_size: int = PAGE_SIZE) -> tuple[list[Person], int]:
    mine = caseload_ids(linker_id)
    total = db.execute(select(func.count()).select_from(Person).where(Person.id.in_(mine))).scalar_one()
    people = db.execute(
        select(Person).where(Person.id.in_(mine)).order_by(Person.name, Person.id).limit(page_size).offset((page - 1) * page_size)
    ).scalars().all()
    return list(people), total


def other_linkers(db: Session, *, besides: int | None) -> list[Account]:
    return list(
        db.execute(
            select(Account)
            .where(Account.role == Role.linker, Account.is_active.is_(True), Account.id != besides)
            .order_by(Account.name)
        ).scalars()
    )


# --- assisted registration ------------------------------------------------------------------------

OPTIONAL_PURPOSES = (ConsentPurpose.matching, ConsentPurpose.share_contact, ConsentPurpose.linker_contact)


def register_person(
    db: Session, settings: Settings, *, linker_id: int, data: AssistedRegistration, language: str = "en"
) -> Person:
    """A person without an account, on this linker's caseload, with each consent recorded as the
    linker took it (method, notice version, language, and the linker as the recorder)."""
    problems: list[FieldError] = []
    if not data.consents.profile.given:
        problems.append(FieldError("consent_profile", N_("The person must agree that we keep their details to be registered")))
    if data.consents.profile.method is ConsentMethod.online or any(
        getattr(data.consents, p.value).method is ConsentMethod.online for p in OPTIONAL_PURPOSES
    ):
        problems.append(FieldError("consent_method", N_("Record how the person agreed: out loud (verbal) or on paper")))
    if data.preferred_contact.value == "phone" and not data.phone:
        problems.append(FieldError("phone", N_("Enter a phone number, or choose another way to contact them")))
    if data.preferred_contact.value == "email" and not data.email:
        problems.append(FieldError("email", N_("Enter an email address, or choose another way to contact them")))
    if data.preferred_contact.value == "post" and not data.address:
        problems.append(FieldError("address", N_("Enter a postal address, or choose another way to contact them")))
    place = None
    try:
        place = registry.locate(db, data.postcode)
    except InvalidInput as problem:
        problems.extend(problem.errors)
    if problems:
        raise InvalidInput(problems)
    person = Person(
        name=data.name,
        email=data.email or None,
        phone=data.phone or None,
        address=data.address or None,
        preferred_contact=data.preferred_contact,
        contact_times=data.contact_times or None,
        access_needs=data.access_needs or None,
        language_needs=data.language_needs or None,
        created_by_account_id=linker_id,
        postcode=place.postcode,
        latitude=place.latitude,
        longitude=place.longitude,
        ward_code=place.ward_code,
    )
    db.add(person)
    db.flush()
    read_to_them = notice(str(settings.templates_dir), language=language)
    for purpose in (ConsentPurpose.profile,) + OPTIONAL_PURPOSES:
        answer = getattr(data.consents, purpose.value)
        if answer.given:
            privacy.give(
                db, person_id=person.id, purpose=purpose, notice=read_to_them, method=answer.method,
                recorded_by_account_id=linker_id, terms=privacy.terms_for(settings),
            )  # fmt: skip
    changes.record(db, MATCHING_STAMP, [Change("person", person.id)])
    _start_assignment(db, person_id=person.id, linker_id=linker_id, by_id=linker_id, note=None)
    return person


def set_consent_for(
    db: Session, settings: Settings, plugins, *, person: Person, purpose: ConsentPurpose, given: bool,
    method: ConsentMethod, linker_id: int, language: str = "en",
) -> None:  # fmt: skip
    """A consent given or withdrawn through the linker (by phone, in person or on paper)."""
    if method is ConsentMethod.online:
        raise InvalidInput(FieldError("method", N_("Record how the person told you: out loud (verbal) or on paper")))
    privacy.set_consent(
        db, person_id=person.id, purpose=purpose, given=given, notice=notice(str(settings.templates_dir), language=language),
        method=method, recorded_by_account_id=linker_id, terms=privacy.terms_for(settings),
    )  # fmt: skip
    changes.record(db, MATCHING_STAMP, [Change("person", person.id)])
    if not given:
        plugins.consent_was_withdrawn(db, person_id=person.id, purpose=purpose)
    db.flush()


def erase_at_request(
    db: Session, settings: Settings, plugins, *, person: Person, linker_id: int, channel: ErasureChannel, requested_on: date,
) -> None:  # fmt: skip
    """The person asked their linker to erase their record (by phone, in person, by letter or
    email): record how and when, then erase it, all in one transaction."""
    if requested_on > timeliness.local_date(utcnow()):
        raise InvalidInput(FieldError("requested_on", N_("The date they asked must be today or in the past")))
    if requested_on < timeliness.local_date(person.created_at):
        raise InvalidInput(FieldError("requested_on", N_("The date they asked cannot be before they were registered")))
    if channel is ErasureChannel.online or channel is ErasureChannel.retention:
        raise InvalidInput(FieldError("channel", N_("Choose how they asked: by phone, in person, by letter or by email")))
    with writing(db):
        rights.erase(
            db, plugins, settings, DataSubject(person_id=person.id, account_id=person.account_id), channel=channel,
            requested_on=datetime.combine(requested_on, time(12, tzinfo=UTC)), recorded_by_account_id=linker_id,
        )  # fmt: skip


def consent_history(db: Session, person_id: int) -> list[tuple[ConsentRecord, str | None]]:
    """Every consent record ever made for the person, newest first, with the recorder's name."""
    rows = db.execute(
        select(ConsentRecord, Account.name)
        .join(Account, Account.id == ConsentRecord.recorded_by_account_id, isouter=True)
        .where(ConsentRecord.person_id == person_id)
        .order_by(ConsentRecord.recorded_at.desc(), ConsentRecord.id.desc())
    ).all()
    return [(record, name) for record, name in rows]


# --- claiming an online account -----------------------------------------------------------------


def _code_digest(settings: Settings, code: str) -> str:
    normalised = "".join(ch for ch in code.upper() if ch.isalnum())
    return hmac.new(settings.secret_bytes, b"claim:" + normalised.encode(), hashlib.sha256).hexdigest()


# No 0/O or 1/I/L: a code read out on the phone or from paper must not be misread.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def issue_claim_code(db: Session, settings: Settings, *, person: Person, by_id: int) -> str:
    """A new one-time code (any older unused one stops working). Shown once, never stored."""
    if person.account_id is not None:
        raise InvalidInput(FieldError("claim", N_("This person already has an online account")))
    now = utcnow()
    db.execute(
        update(AccountClaim).where(AccountClaim.person_id == person.id, AccountClaim.used_at.is_(None)).values(used_at=now)
    )
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    db.add(
        AccountClaim(
            person_id=person.id, code_digest=_code_digest(settings, raw), created_by_account_id=by_id,
            created_at=now, expires_at=now + timedelta(days=settings.claim_code_days),
        )
    )  # fmt: skip
    db.flush()
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


def claim_account(
    db: Session, settings: Settings, *, code: str, email: str, password: str, password_confirm: str, language: str = "en"
) -> Account:
    """Turn a code into an online account for the person it was made for: they then see
    everything recorded for them. A wrong, used or old code gets one plain answer."""
    claim = db.execute(
        select(AccountClaim).where(AccountClaim.code_digest == _code_digest(settings, code))
    ).scalar_one_or_none()
    if claim is None or claim.used_at is not None or claim.expires_at <= utcnow():
        raise InvalidInput(FieldError("code", N_("This code is not right, or it has been used or is too old. Ask your linker for a new one")))
    person = db.get(Person, claim.person_id)
    if person is None or person.account_id is not None:
        raise InvalidInput(FieldError("code", N_("This code is not right, or it has been used or is too old. Ask your linker for a new one")))
    problems = accounts.registration_problems(db, email=email, password=password, password_confirm=password_confirm, name=person.name)
    if problems:
        raise InvalidInput(problems)
    account = accounts.register_citizen(
        db, email=email, password=password, password_confirm=password_confirm, name=person.name, language=language
    )
    used = db.execute(
        update(AccountClaim)
        .where(AccountClaim.id == claim.id, AccountClaim.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        raise Conflict()
    person.account_id = account.id
    if not person.email:
        person.email = account.email
    person.updated_at = utcnow()
    db.add(person)
    db.flush()
    return account


# --- notes, contact attempts and follow-ups -------------------------------------------------------


def add_note(
    db: Session, *, person_id: int, author_id: int, body: str, sensitive: bool = False,
    match_id: int | None = None, corrects_note_id: int | None = None,
) -> CaseNote:  # fmt: skip
    text = body.strip()
    if not text:
        raise InvalidInput(FieldError("body", N_("Write the note")))
    if len(text) > 5000:
        raise InvalidInput(FieldError("body", N_("A note must be 5,000 characters or fewer")))
    if corrects_note_id is not None:
        old = db.get(CaseNote, corrects_note_id)
        if old is None or old.person_id != person_id:
            raise InvalidInput(FieldError("corrects_note_id", N_("Choose a note about this person to correct")))
    note = CaseNote(
        person_id=person_id, match_id=match_id, author_account_id=author_id, body=text, sensitive=sensitive,
        corrects_note_id=corrects_note_id,
    )  # fmt: skip
    db.add(note)
    db.flush()
    return note


def edit_note(db: Session, *, note: CaseNote, author_id: int, body: str, now: datetime | None = None) -> CaseNote:
    """Only its author, and only within the hour: after that, write a correction."""
    now = now or utcnow()
    if note.author_account_id != author_id:
        raise InvalidInput(FieldError("body", N_("Only the person who wrote a note can change it")))
    if now - note.created_at > NOTE_EDIT_WINDOW:
        raise InvalidInput(FieldError("body", N_("A note can only be changed within an hour: add a correction instead")))
    text = body.strip()
    if not text or len(text) > 5000:
        raise InvalidInput(FieldError("body", N_("Write the note, in 5,000 characters or fewer")))
    note.body, note.edited_at = text, now
    db.add(note)
    db.flush()
    return note


def note_visible_clause(viewer_id: int, current_linker_id: int | None):
    """A sensitive note is seen only by its author and the person's current linker."""
    if viewer_id == current_linker_id:
        return True
    return or_(CaseNote.sensitive.is_(False), CaseNote.author_account_id == viewer_id)


def notes_of(db: Session, *, person_id: int, viewer_id: int, match_id: int | None = None) -> list[tuple[CaseNote, str | None]]:
    current = current_linker_id(db, person_id)
    statement = (
        select(CaseNote, Account.name)
        .join(Account, Account.id == CaseNote.author_account_id, isouter=True)
        .where(CaseNote.person_id == person_id)
        .order_by(CaseNote.created_at.desc(), CaseNote.id.desc())
    )
    visible = note_visible_clause(viewer_id, current)
    if visible is not True:
        statement = statement.where(visible)
    if match_id is not None:
        statement = statement.where(CaseNote.match_id == match_id)
    return [(note, name) for note, name in db.execute(statement).all()]


def record_attempt(
    db: Session, settings: Settings, *, person_id: int, linker_id: int, outcome: AttemptOutcome, now: datetime | None = None
) -> tuple[ContactAttempt, FollowUp | None]:
    """One click: the outcome of a call or visit. Three failures in a row raise a follow-up."""
    now = now or utcnow()
    attempt = ContactAttempt(person_id=person_id, linker_account_id=linker_id, outcome=outcome, attempted_at=now)
    db.add(attempt)
    db.flush()
    raised = None
    if outcome in FAILED_OUTCOMES:
        latest = db.execute(
            select(ContactAttempt.outcome)
            .where(ContactAttempt.person_id == person_id)
            .order_by(ContactAttempt.attempted_at.desc(), ContactAttempt.id.desc())
            .limit(FAILED_ATTEMPTS_FOR_FOLLOW_UP)
        ).scalars().all()
        failures = len(latest) == FAILED_ATTEMPTS_FOR_FOLLOW_UP and all(o in FAILED_OUTCOMES for o in latest)
        already = db.execute(
            select(FollowUp.id).where(FollowUp.person_id == person_id, FollowUp.finished_at.is_(None), FollowUp.what == UNREACHED)
        ).first()
        if failures and already is None:
            raised = add_follow_up(
                db, person_id=person_id, by_id=linker_id, due_on=timeliness.local_date(now), what=UNREACHED, check_date=False
            )
    return attempt, raised


# Stored as written (English): the follow-up's text is the linker's own words elsewhere too.
UNREACHED = "Three tries without reaching them: try another way (a letter, a visit, or someone they trust)"


def add_follow_up(
    db: Session, *, person_id: int, by_id: int, due_on: date, what: str, today: date | None = None, check_date: bool = True
) -> FollowUp:
    text = what.strip()
    problems = []
    if not text:
        problems.append(FieldError("what", N_("Say what needs doing")))
    elif len(text) > 300:
        problems.append(FieldError("what", N_("Say what needs doing in 300 characters or fewer")))
    if check_date and due_on < (today or timeliness.local_date(utcnow())):
        problems.append(FieldError("due_on", N_("The date must be today or in the future")))
    if problems:
        raise InvalidInput(problems)
    follow_up = FollowUp(person_id=person_id, created_by_account_id=by_id, due_on=due_on, what=text)
    db.add(follow_up)
    db.flush()
    return follow_up


def finish_follow_up(db: Session, *, follow_up: FollowUp, by_id: int, done: bool, note: str | None) -> FollowUp:
    if follow_up.finished_at is not None:
        raise InvalidInput(FieldError("done", N_("This follow-up has already been finished")))
    text = (note or "").strip()
    if not done and not text:
        raise InvalidInput(FieldError("note", N_("Say why it was not done")))
    if len(text) > 1000:
        raise InvalidInput(FieldError("note", N_("The note must be 1,000 characters or fewer")))
    finished = db.execute(
        update(FollowUp)
        .where(FollowUp.id == follow_up.id, FollowUp.finished_at.is_(None))
        .values(
            finished_at=utcnow(), finished_by_account_id=by_id, result=FollowUpResult.done if done else FollowUpResult.not_done,
            result_note=text or None,
        )
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    if finished.rowcount != 1:
        raise Conflict()
    db.refresh(follow_up)
    return follow_up


def follow_up_state(follow_up: FollowUp, today: date, soon_days: int) -> str:
    if follow_up.result is not None:
        return follow_up.result.value
    return timeliness.due_state(follow_up.due_on, today, soon_days).value


def follow_ups_of_caseload(db: Session, *, linker_id: int, when: str, today: date, soon_days: int) -> list[tuple[FollowUp, str]]:
    """`overdue`, `due` (today to the end of this week, and overdue) or `all` (every open one)."""
    statement = (
        select(FollowUp, Person.name)
        .join(Person, Person.id == FollowUp.person_id)
        .where(FollowUp.person_id.in_(caseload_ids(linker_id)), FollowUp.finished_at.is_(None))
        .order_by(FollowUp.due_on, FollowUp.id)
    )
    if when == "overdue":
        statement = statement.where(FollowUp.due_on < today)
    elif when == "due":
        statement = statement.where(FollowUp.due_on <= timeliness.end_of_week(today))
    return [(follow_up, name) for follow_up, name in db.execute(statement).all()]


def follow_ups_of_person(db: Session, *, person_id: int) -> list[FollowUp]:
    return list(
        db.execute(
            select(FollowUp).where(FollowUp.person_id == person_id).order_by(FollowUp.finished_at.is_not(None), FollowUp.due_on)
        ).scalars()
    )


def attempts_of(db: Session, *, person_id: int, limit: int = 20) -> list[ContactAttempt]:
    return list(
        db.execute(
            select(ContactAttempt)
            .where(ContactAttempt.person_id == person_id)
            .order_by(ContactAttempt.attempted_at.desc(), ContactAttempt.id.desc())
            .limit(limit)
        ).scalars()
    )


# --- brokering: introductions -----------------------------------------------------------------


def introduction_of(db: Session, match_id: int) -> MatchIntroduction | None:
    return db.execute(select(MatchIntroduction).where(MatchIntroduction.match_id == match_id)).scalar_one_or_none()


def record_introduction(db: Session, *, match: Match, linker_id: int) -> MatchIntroduction:
    if match.status not in (MatchStatus.accepted, MatchStatus.active, MatchStatus.completed):
        raise InvalidInput(FieldError("match", N_("Both people must say yes before you put them in touch")))
    existing = introduction_of(db, match.id)
    if existing is not None:
        return existing
    introduction = MatchIntroduction(match_id=match.id, linker_account_id=linker_id)
    try:
        with db.begin_nested():
            db.add(introduction)
            db.flush()
    except IntegrityError:
        return introduction_of(db, match.id)
    return introduction


def contacts_to_introduce(db: Session, *, match: Match, sides, linker_id: int) -> list[tuple[MatchSide, Person]]:
    """The two people a linker may see the contacts of: only for a match both said yes to, that
    they broker. A linker for one side takes on an unbrokered match by doing this, and so does
    the new linker when the broker no longer has either side (a handover, or they left); a
    match another linker still brokers stays theirs."""
    if match.status not in (MatchStatus.accepted, MatchStatus.active, MatchStatus.completed):
        raise InvalidInput(FieldError("match", N_("Both people must say yes before you put them in touch")))
    broker = match.brokered_by_account_id
    if broker not in (None, linker_id) and _still_brokers(db, broker, sides):
        raise InvalidInput(FieldError("match", N_("Another linker is brokering this match: ask them to put the two in touch")))
    if broker != linker_id:
        held_by = Match.brokered_by_account_id.is_(None) if broker is None else Match.brokered_by_account_id == broker
        claimed = db.execute(
            update(Match)
            .where(Match.id == match.id, held_by)
            .values(brokered_by_account_id=linker_id)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            raise Conflict()
        db.refresh(match)
    return [(MatchSide.offer, sides.offer_person), (MatchSide.request, sides.request_person)]


def _still_brokers(db: Session, linker_id: int, sides) -> bool:
    """The broker is an active linker with one of the two people on their caseload."""
    return any(
        on_caseload(db, linker_id=linker_id, person_id=person.id) for person in (sides.offer_person, sides.request_person)
    ) and db.execute(select(_active_linker(linker_id))).scalar_one()


# --- the dashboard's worklist -------------------------------------------------------------------

NEEDS = ("follow_up_overdue", "answer_waiting", "connect", "not_contacted", "follow_up_this_week")
NEED_TEXT = {
    "follow_up_overdue": N_("Follow-up overdue"),
    "answer_waiting": N_("Match waiting for their answer"),
    "connect": N_("Put them in touch: contact not shared"),
    "not_contacted": N_("New: not contacted yet"),
    "follow_up_this_week": N_("Follow-up due this week"),
}
COUNT_TEXT = {
    "follow_up_overdue": N_("follow-ups overdue"),
    "answer_waiting": N_("matches waiting for an answer"),
    "connect": N_("matches to put in touch"),
    "not_contacted": N_("new people not contacted yet"),
    "follow_up_this_week": N_("follow-ups due this week"),
}


@dataclass(frozen=True)
class CasePerson:
    """What the worklist shows of a person: not the whole record."""

    id: int
    name: str
    postcode: str | None
    ward_code: str | None


@dataclass
class CaseRow:
    person: CasePerson
    assigned_at: datetime
    needs: dict[str, int] = field(default_factory=dict)  # need -> how many things
    due: dict[str, tuple[date, str]] = field(default_factory=dict)  # need -> (due on, overdue/due_soon/later)

    @property
    def next_need(self) -> str | None:
        return next((need for need in NEEDS if self.needs.get(need)), None)

    def add(self, need: str, due_on: date | None = None, state: str | None = None) -> None:
        self.needs[need] = self.needs.get(need, 0) + 1
        if due_on is not None and (need not in self.due or due_on < self.due[need][0]):
            self.due[need] = (due_on, state)


@dataclass
class Worklist:
    rows: list[CaseRow]
    counts: dict[str, int]
    total: int
    page: int
    pages: int


def _search_clause(query: str):
    text = query.strip()
    if not text:
        return None
    squeezed = text.replace(" ", "").upper()
    return or_(Person.name.ilike(f"%{text}%"), func.replace(Person.postcode, " ", "").like(f"{squeezed}%"))


def worklist(
    db: Session, settings: Settings, *, linker_id: int, now: datetime, ward: str = "", need: str = "", query: str = "",
    page: int = 1, page_size: int = PAGE_SIZE,
) -> Worklist:  # fmt: skip
    """Everyone on the caseload with what needs doing next, in a fixed number of queries however
    long the caseload is (five, whatever the filters)."""
    today = timeliness.local_date(now)
    soon = settings.due_soon_days
    mine = caseload_ids(linker_id)
    statement = (
        select(Person.id, Person.name, Person.postcode, Person.ward_code, CaseAssignment.started_at)
        .join(CaseAssignment, and_(CaseAssignment.person_id == Person.id, CaseAssignment.ended_at.is_(None)))
        .where(CaseAssignment.linker_account_id == linker_id)
    )
    if ward:
        statement = statement.where(Person.ward_code == ward)
    search = _search_clause(query)
    if search is not None:
        statement = statement.where(search)
    rows = {
        row.id: CaseRow(CasePerson(row.id, row.name, row.postcode, row.ward_code), row.started_at)
        for row in db.execute(statement).all()
    }

    week_end = timeliness.end_of_week(today)
    for person_id, due_on in db.execute(
        select(FollowUp.person_id, FollowUp.due_on).where(FollowUp.person_id.in_(mine), FollowUp.finished_at.is_(None))
    ).all():
        row = rows.get(person_id)
        if row is None:
            continue
        if due_on < today:
            row.add("follow_up_overdue", due_on, "overdue")
        elif due_on <= week_end:
            row.add("follow_up_this_week", due_on, timeliness.due_state(due_on, today, soon).value)

    for side_model, answer_column in ((Offer, Match.offer_answer), (HelpRequest, Match.request_answer)):
        item_column = Match.offer_id if side_model is Offer else Match.request_id
        for person_id, proposed_at in db.execute(
            select(side_model.person_id, Match.proposed_at)
            .join(Match, item_column == side_model.id)
            .where(side_model.person_id.in_(mine), Match.status == MatchStatus.proposed, answer_column == Answer.pending)
        ).all():
            if person_id in rows:
                due_on = timeliness.answer_due_on(proposed_at or now, settings.match_answer_days)
                rows[person_id].add("answer_waiting", due_on, timeliness.due_state(due_on, today, soon).value)

    # Joined, not correlated subqueries: inside EXISTS a scalar subquery on `match` would not
    # correlate to the outer row (it would bring its own `match` into FROM).
    both_share = and_(
        privacy.consent_clause(Offer.person_id, ConsentPurpose.share_contact),
        privacy.consent_clause(HelpRequest.person_id, ConsentPurpose.share_contact),
    )
    for offer_person_id, request_person_id in db.execute(
        select(Offer.person_id, HelpRequest.person_id)
        .select_from(Match)
        .join(Offer, Offer.id == Match.offer_id)
        .join(HelpRequest, HelpRequest.id == Match.request_id)
        .where(
            Match.status == MatchStatus.accepted,
            or_(Offer.person_id.in_(mine), HelpRequest.person_id.in_(mine)),
            not_(both_share),
            not_(exists().where(MatchIntroduction.match_id == Match.id)),
        )
    ).all():
        for person_id in {offer_person_id, request_person_id}:
            if person_id in rows:
                rows[person_id].add("connect")

    reached = set(
        db.execute(
            select(ContactAttempt.person_id)
            .join(CaseAssignment, and_(CaseAssignment.person_id == ContactAttempt.person_id, CaseAssignment.ended_at.is_(None)))
            .where(
                CaseAssignment.linker_account_id == linker_id,
                ContactAttempt.outcome == AttemptOutcome.reached,
                ContactAttempt.attempted_at >= CaseAssignment.started_at,
            )
            .distinct()
        ).scalars()
    )
    for person_id, row in rows.items():
        if person_id not in reached:
            due_on = timeliness.contact_due_on(row.assigned_at, settings.linker_contact_working_days)
            row.add("not_contacted", due_on, timeliness.due_state(due_on, today, soon).value)

    everyone = list(rows.values())
    counts = {n: sum(row.needs.get(n, 0) for row in everyone) for n in NEEDS}
    if need in NEEDS:
        everyone = [row for row in everyone if row.needs.get(need)]
    everyone.sort(key=lambda row: _priority(row, today))
    pages = max(1, -(-len(everyone) // page_size))
    page = min(max(page, 1), pages)
    return Worklist(everyone[(page - 1) * page_size : page * page_size], counts, len(everyone), page, pages)


def _priority(row: CaseRow, today: date) -> tuple:
    first = row.next_need
    rank = NEEDS.index(first) if first else len(NEEDS)
    due_on = row.due.get(first, (today + timedelta(days=3650), None))[0] if first else today + timedelta(days=3650)
    return (rank, due_on, row.person.name.lower(), row.person.id)


def caseload_wards(db: Session, *, linker_id: int) -> list[str]:
    return [
        code
        for code in db.execute(
            select(Person.ward_code).where(Person.id.in_(caseload_ids(linker_id)), Person.ward_code.is_not(None)).distinct()
        ).scalars()
    ]


# --- the weekday digest ------------------------------------------------------------------------


@dataclass
class Digest:
    account: Account
    overdue: list[tuple[FollowUp, str]]
    due: list[tuple[FollowUp, str]]


def digests(db: Session, settings: Settings, *, today: date) -> Iterable[Digest]:
    """For each active linker with follow-ups due by the end of today or overdue."""
    linkers = db.execute(select(Account).where(Account.role == Role.linker, Account.is_active.is_(True)).order_by(Account.id)).scalars().all()
    for account in linkers:
        open_ones = follow_ups_of_caseload(db, linker_id=account.id, when="all", today=today, soon_days=settings.due_soon_days)
        overdue = [(f, name) for f, name in open_ones if f.due_on < today]
        due = [(f, name) for f, name in open_ones if f.due_on == today]
        if overdue or due:
            yield Digest(account, overdue, due)
