"""Consent rules. A person holds a consent while their latest record for that purpose is `given`.

Withdrawal acts at once: everything that uses a purpose checks `consent_clause` or `has_consent`
at the moment it acts, so nothing needs to be switched off separately.
"""

from __future__ import annotations

from sqlalchemy import exists, select, update
from sqlmodel import Session

from app.core.db import utcnow
from app.privacy.models import ConsentMethod, ConsentPurpose, ConsentRecord, ConsentState
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


def consent_clause(person_id_column, purpose: ConsentPurpose):
    """SQL: the person in `person_id_column` holds `purpose` consent now."""
    return exists().where(
        ConsentRecord.person_id == person_id_column,
        ConsentRecord.purpose == purpose,
        ConsentRecord.state == ConsentState.given,
    )


def has_consent(db: Session, *, person_id: int, purpose: ConsentPurpose) -> bool:
    return db.execute(select(consent_clause(person_id, purpose))).scalar_one()


def current_records(db: Session, *, person_id: int) -> dict[ConsentPurpose, ConsentRecord | None]:
    """The latest record for each purpose (given, withdrawn or expired), or None if never asked."""
    rows = db.execute(
        select(ConsentRecord).where(ConsentRecord.person_id == person_id).order_by(ConsentRecord.recorded_at, ConsentRecord.id)
    ).scalars()
    latest: dict[ConsentPurpose, ConsentRecord | None] = {purpose: None for purpose in ConsentPurpose}
    for record in rows:
        latest[record.purpose] = record
    return latest


def give(
    db: Session,
    *,
    person_id: int,
    purpose: ConsentPurpose,
    notice: Notice,
    method: ConsentMethod,
    recorded_by_account_id: int | None,
) -> ConsentRecord:
    """Record consent; if it is already given under an older notice, the old record is superseded.
    Consent not given online (read out by a linker, or on paper) must name who recorded it."""
    if method is not ConsentMethod.online and recorded_by_account_id is None:
        raise ValueError("a consent given verbally or on paper needs the account that recorded it")
    current = _given_record(db, person_id, purpose)
    if current is not None and current.notice_version == notice.version and current.notice_hash == notice.text_hash:
        return current
    if current is not None:
        current.state = ConsentState.expired
        current.withdrawn_at = utcnow()
        db.add(current)
    record = ConsentRecord(
        person_id=person_id,
        purpose=purpose,
        state=ConsentState.given,
        notice_version=notice.version,
        notice_hash=notice.text_hash,
        language=notice.language,
        method=method,
        recorded_by_account_id=recorded_by_account_id,
    )
    db.add(record)
    db.flush()
    return record


def withdraw(db: Session, *, person_id: int, purpose: ConsentPurpose) -> bool:
    """Withdraw at once; returns whether anything was withdrawn."""
    result = db.execute(
        update(ConsentRecord)
        .where(
            ConsentRecord.person_id == person_id,
            ConsentRecord.purpose == purpose,
            ConsentRecord.state == ConsentState.given,
        )
        .values(state=ConsentState.withdrawn, withdrawn_at=utcnow())
    )
    db.flush()
    return result.rowcount > 0


def set_consent(
    db: Session,
    *,
    person_id: int,
    purpose: ConsentPurpose,
    given: bool,
    notice: Notice,
    method: ConsentMethod,
    recorded_by_account_id: int | None,
) -> None:
    if given:
        give(db, person_id=person_id, purpose=purpose, notice=notice, method=method, recorded_by_account_id=recorded_by_account_id)
    else:
        withdraw(db, person_id=person_id, purpose=purpose)


def _given_record(db: Session, person_id: int, purpose: ConsentPurpose) -> ConsentRecord | None:
    return db.execute(
        select(ConsentRecord).where(
            ConsentRecord.person_id == person_id,
            ConsentRecord.purpose == purpose,
            ConsentRecord.state == ConsentState.given,
        )
    ).scalars().first()
