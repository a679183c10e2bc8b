"""The linkers' part in the privacy rights.

Export: the notes linkers wrote about the person, their follow-ups and contact attempts, and who
has had them on a caseload; notes marked sensitive are withheld and listed, with the reason.
Erasure: what a linker wrote about the person goes (the rows stay, dated and empty, so that the
linkers' own reports of their work still count), the person leaves every caseload, and any
unused claim code is cancelled. Retention: recent casework counts as taking part."""

from __future__ import annotations

from sqlalchemy import delete, exists, func, or_, select, update
from sqlmodel import Session

from app.core.db import utcnow
from app.core.plugins import DataSubject
from app.linkers.models import AccountClaim, CaseAssignment, CaseNote, ContactAttempt, FollowUp
from app.privacy.scrub import name_parts, name_pattern, scrub
from app.registry.models import Person

REMOVED = "Removed when the person's record was erased."
WITHHELD_REASON = (
    "A community linker marked this note as sensitive. We may hold back such a note where giving it "
    "would be likely to cause serious harm to you or someone else, or would reveal information about "
    "another person (Data Protection Act 2018, Schedule 2 paragraph 16 and Schedule 3). You can ask "
    "the council's data protection officer to review this."
)


def export(db: Session, subject: DataSubject, settings=None) -> dict:
    notes = list(db.execute(select(CaseNote).where(CaseNote.person_id == subject.person_id).order_by(CaseNote.created_at, CaseNote.id)).scalars())
    follow_ups = db.execute(select(FollowUp).where(FollowUp.person_id == subject.person_id).order_by(FollowUp.created_at)).scalars()
    attempts = db.execute(
        select(ContactAttempt).where(ContactAttempt.person_id == subject.person_id).order_by(ContactAttempt.attempted_at)
    ).scalars()
    caseloads = db.execute(
        select(CaseAssignment).where(CaseAssignment.person_id == subject.person_id).order_by(CaseAssignment.started_at)
    ).scalars()
    return {
        "person": {
            "case_notes": [
                {"written_at": note.created_at, "edited_at": note.edited_at, "body": note.body, "about_match_id": note.match_id}
                for note in notes if not note.sensitive
            ],
            "withheld": [
                {"what": "case note", "written_at": note.created_at, "reason": WITHHELD_REASON}
                for note in notes if note.sensitive
            ],
            "follow_ups": [
                {"due_on": f.due_on, "what": f.what, "finished_at": f.finished_at,
                 "result": f.result.value if f.result else None, "result_note": f.result_note}
                for f in follow_ups
            ],
            "contact_attempts": [{"when": a.attempted_at, "outcome": a.outcome.value} for a in attempts],
            "linker_caseloads": [{"from": c.started_at, "until": c.ended_at} for c in caseloads],
        }
    }  # fmt: skip


def erase(db: Session, subject: DataSubject, settings=None) -> None:
    person_id = subject.person_id
    now = utcnow()
    _scrub_name_from_others(db, person_id)
    db.execute(update(CaseNote).where(CaseNote.person_id == person_id).values(body=REMOVED))
    db.execute(update(FollowUp).where(FollowUp.person_id == person_id).values(what=REMOVED, result_note=None))
    db.execute(
        update(FollowUp).where(FollowUp.person_id == person_id, FollowUp.finished_at.is_(None)).values(finished_at=now)
    )
    db.execute(update(CaseAssignment).where(CaseAssignment.person_id == person_id).values(note=None))
    db.execute(update(CaseAssignment).where(CaseAssignment.person_id == person_id, CaseAssignment.ended_at.is_(None)).values(ended_at=now))
    db.execute(delete(AccountClaim).where(AccountClaim.person_id == person_id))
    db.flush()


def _scrub_name_from_others(db: Session, person_id: int) -> None:
    """Linkers write about people in other people's records too ("Rang Bryn about her garden"):
    the name comes out of those, wherever it is (found first with a `LIKE`, then scrubbed)."""
    name = db.get(Person, person_id).name
    pattern, parts = name_pattern(name), name_parts(name)
    if pattern is None:
        return
    for model, column in ((CaseNote, CaseNote.body), (FollowUp, FollowUp.what), (FollowUp, FollowUp.result_note),
                          (CaseAssignment, CaseAssignment.note)):  # fmt: skip
        mentions = or_(*(func.lower(column).contains(part.lower(), autoescape=True) for part in parts))
        for row in db.execute(select(model).where(model.person_id != person_id, column.is_not(None), mentions)).scalars():
            cleaned = scrub(getattr(row, column.key), pattern)
            if cleaned != getattr(row, column.key):
                setattr(row, column.key, cleaned)
                db.add(row)
    db.flush()


def casework_rule(person_id_column, cutoff):
    """Retention: a linker worked with them since `cutoff`, or has a follow-up still to do."""
    return or_(
        exists().where(CaseNote.person_id == person_id_column, CaseNote.created_at >= cutoff),
        exists().where(ContactAttempt.person_id == person_id_column, ContactAttempt.attempted_at >= cutoff),
        exists().where(FollowUp.person_id == person_id_column, or_(FollowUp.created_at >= cutoff, FollowUp.finished_at.is_(None))),
    )


def purge_expired_claims(db: Session, settings, *, now, dry_run: bool) -> dict:
    """Claim codes past their lifetime or used: the keyed hash has no use left."""
    condition = or_(AccountClaim.expires_at < now, AccountClaim.used_at.is_not(None))
    count = db.execute(select(func.count()).select_from(AccountClaim).where(condition)).scalar_one()
    if count and not dry_run:
        db.execute(delete(AccountClaim).where(condition))
    return {"claim_codes": count}
