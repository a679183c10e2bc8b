"""Consent rules. A person holds a consent while their latest record for that purpose is `given`.

Withdrawal acts at once: everything that uses a purpose checks `consent_clause` or `has_consent`
at the moment it acts, so nothing needs to be switched off separately.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, exists, select, update
from sqlmodel import Session

from app.core.db import utcnow
from app.privacy.models import (
    ConsentMethod,
    ConsentPurpose,
    ConsentRecord,
    ConsentRecorder,
    ConsentRecordPublic,
    ConsentState,
)
from app.privacy.notices import Notice

CITIZEN_PURPOSES = (ConsentPurpose.profile, ConsentPurpose.matching, ConsentPurpose.share_contact, ConsentPurpose.linker_contact)

PURPOSE_TEXT = {
    ConsentPurpose.profile: (
        "Keep my details",
        "Keep my details so the service can support me. You need to agree to this to have an account.",
    ),
    ConsentPurpose.matching: (
        "Suggest me to others",
        "Use what I offer or need, my area and my free times to suggest people who could help each other.",
    ),
    ConsentPurpose.share_contact: (
        "Share my contact details after a match",
        "When both of us agree to a match, share my name and preferred contact details with the other person.",
    ),
    ConsentPurpose.linker_contact: (
        "Contact from a community linker",
        "A community linker may contact me to help me find or give help.",
    ),
}


# The legal basis of each purpose (UK GDPR Article 6(1)(a): the person's consent). Kept in each
# record as it stood then, so a later change of wording leaves the evidence as it was.
LEGAL_BASIS = "Consent: UK GDPR Article 6(1)(a)"
HOW_TO_WITHDRAW = (
    "Change it at any time on your account page, under 'Your privacy choices', "
    "or ask your community linker to change it for you."
)


@dataclass(frozen=True)
class ConsentTerms:
    """What every consent record states besides the choice itself: who the controller is and how
    long the details are kept (from the settings)."""

    controller: str
    retention_months: int

    @property
    def retention(self) -> str:
        return (
            f"Kept while you use the service. After {self.retention_months} months without use we write to you, "
            "and erase your details 30 days later unless you sign in. The record of your choices is kept as evidence."
        )


def terms_for(settings) -> ConsentTerms:
    return ConsentTerms(controller=settings.council_name, retention_months=settings.retention_months)


def consent_clause(person_id_column, purpose: ConsentPurpose):
    """SQL: the person in `person_id_column` holds `purpose` consent now."""
    return exists().where(
        ConsentRecord.person_id == person_id_column,
        ConsentRecord.purpose == purpose,
        given_now(),
    )


def given_now():
    """SQL: a record that is the current choice, and the choice is "yes"."""
    return and_(ConsentRecord.state == ConsentState.given, ConsentRecord.superseded_at.is_(None))


def has_consent(db: Session, *, person_id: int, purpose: ConsentPurpose) -> bool:
    return db.execute(select(consent_clause(person_id, purpose))).scalar_one()


def current_records(db: Session, *, person_id: int) -> dict[ConsentPurpose, ConsentRecord | None]:
    """The current record for each purpose (given, withdrawn or expired), or None if never asked."""
    rows = db.execute(
        select(ConsentRecord).where(ConsentRecord.person_id == person_id, ConsentRecord.superseded_at.is_(None))
    ).scalars()
    latest: dict[ConsentPurpose, ConsentRecord | None] = {purpose: None for purpose in ConsentPurpose}
    for record in rows:
        latest[record.purpose] = record
    return latest


def history(db: Session, *, person_id: int) -> list[ConsentRecord]:
    """Every record ever made for the person, oldest first."""
    return list(
        db.execute(
            select(ConsentRecord).where(ConsentRecord.person_id == person_id).order_by(ConsentRecord.recorded_at, ConsentRecord.id)
        ).scalars()
    )


def public(record: ConsentRecord) -> ConsentRecordPublic:
    return ConsentRecordPublic.model_validate(record)


def give(
    db: Session,
    *,
    person_id: int,
    purpose: ConsentPurpose,
    notice: Notice,
    method: ConsentMethod,
    recorded_by_account_id: int | None,
    terms: ConsentTerms,
    recorder: ConsentRecorder | None = None,
) -> ConsentRecord:
    """Record consent. Already given under this very notice: nothing changes. Otherwise a new
    record replaces the current one. Consent not given online (read out by a linker, or on paper)
    must name who recorded it."""
    if method is not ConsentMethod.online and recorded_by_account_id is None:
        raise ValueError("a consent given verbally or on paper needs the account that recorded it")
    current = _current_record(db, person_id, purpose)
    if (
        current is not None
        and current.state is ConsentState.given
        and current.notice_version == notice.version
        and current.notice_hash == notice.text_hash
    ):
        return current
    return _new_record(
        db, current, person_id=person_id, purpose=purpose, state=ConsentState.given, notice=notice, method=method,
        recorded_by_account_id=recorded_by_account_id, terms=terms,
        recorder=recorder or (ConsentRecorder.self if method is ConsentMethod.online else ConsentRecorder.linker),
    )  # fmt: skip


def withdraw(
    db: Session,
    *,
    person_id: int,
    purpose: ConsentPurpose,
    method: ConsentMethod,
    recorded_by_account_id: int | None,
    terms: ConsentTerms,
    notice: Notice,
    recorder: ConsentRecorder | None = None,
    state: ConsentState = ConsentState.withdrawn,
) -> bool:
    """End a given consent at once with a new record (`withdrawn` by the person, or `expired` when
    the service ends it); returns whether anything was given before."""
    current = _current_record(db, person_id, purpose)
    if current is None or current.state is not ConsentState.given:
        return False
    _new_record(
        db, current, person_id=person_id, purpose=purpose, state=state, notice=notice, method=method,
        recorded_by_account_id=recorded_by_account_id, terms=terms,
        recorder=recorder or (ConsentRecorder.self if method is ConsentMethod.online else ConsentRecorder.linker),
    )  # fmt: skip
    return True


def set_consent(
    db: Session,
    *,
    person_id: int,
    purpose: ConsentPurpose,
    given: bool,
    notice: Notice,
    method: ConsentMethod,
    recorded_by_account_id: int | None,
    terms: ConsentTerms,
) -> bool:
    """Returns whether anything changed."""
    if given:
        before = _current_record(db, person_id, purpose)
        record = give(
            db, person_id=person_id, purpose=purpose, notice=notice, method=method,
            recorded_by_account_id=recorded_by_account_id, terms=terms,
        )  # fmt: skip
        return record is not before
    if method is not ConsentMethod.online and recorded_by_account_id is None:
        raise ValueError("a consent withdrawn verbally or on paper needs the account that recorded it")
    return withdraw(
        db, person_id=person_id, purpose=purpose, method=method, recorded_by_account_id=recorded_by_account_id,
        terms=terms, notice=notice,
    )  # fmt: skip


def end_all(db: Session, *, person_id: int, terms: ConsentTerms, notice: Notice, recorded_by_account_id: int | None) -> int:
    """At erasure: every consent still given ends (`expired`), recorded by the service. The records
    stay as the evidence of what the person agreed to and when."""
    ended = 0
    for purpose in ConsentPurpose:
        ended += withdraw(
            db, person_id=person_id, purpose=purpose, method=ConsentMethod.online, recorded_by_account_id=recorded_by_account_id,
            terms=terms, notice=notice, recorder=ConsentRecorder.service, state=ConsentState.expired,
        )  # fmt: skip
    return ended


def _new_record(
    db: Session, current: ConsentRecord | None, *, person_id: int, purpose: ConsentPurpose, state: ConsentState,
    notice: Notice, method: ConsentMethod, recorded_by_account_id: int | None, terms: ConsentTerms,
    recorder: ConsentRecorder,
) -> ConsentRecord:  # fmt: skip
    now = utcnow()
    if current is not None:
        # The only change an old record ever sees: it is no longer the current one. Flushed first,
        # so the partial unique index on the current record is never crossed.
        db.execute(
            update(ConsentRecord)
            .where(ConsentRecord.id == current.id, ConsentRecord.superseded_at.is_(None))
            .values(superseded_at=now)
            .execution_options(synchronize_session=False)
        )
        db.expire(current)
    record = ConsentRecord(
        person_id=person_id,
        purpose=purpose,
        state=state,
        notice_version=notice.version,
        notice_hash=notice.text_hash,
        language=notice.language,
        method=method,
        recorder=recorder,
        recorded_by_account_id=recorded_by_account_id,
        recorded_at=now,
        withdrawn_at=now if state is not ConsentState.given else None,
        controller=terms.controller,
        legal_basis=LEGAL_BASIS,
        retention=terms.retention,
        how_to_withdraw=HOW_TO_WITHDRAW,
    )
    db.add(record)
    db.flush()
    return record


def _current_record(db: Session, person_id: int, purpose: ConsentPurpose) -> ConsentRecord | None:
    return db.execute(
        select(ConsentRecord).where(
            ConsentRecord.person_id == person_id,
            ConsentRecord.purpose == purpose,
            ConsentRecord.superseded_at.is_(None),
        )
    ).scalars().first()
