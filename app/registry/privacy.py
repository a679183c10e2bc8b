"""The register's part in the privacy rights: a person's profile, offers and requests in an export;
their anonymisation at erasure; and who the retention rule applies to.

Erasure keeps the rows others rely on (a match points at an item, an item at a person) and keeps
what reports count (ward, skills, dates, statuses), but removes everything that says who the person
is or that they wrote: names, contact details, address, needs, titles and descriptions, the
postcode (narrowed to the ward)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, not_, or_, select
from sqlmodel import Session

from app.accounts.models import Account
from app.core import changes
from app.core.changes import Change
from app.core.db import utcnow
from app.core.plugins import DataSubject
from app.registry.models import ContactMethod, ItemStatus, Person
from app.registry.service import MATCHING_STAMP, OFFER, REQUEST, skills_of

FORMER_MEMBER = "A former member"
REMOVED_TITLE = {OFFER.key: "An offer from a former member", REQUEST.key: "A request from a former member"}


def person_of_account(db: Session, account_id: int) -> int | None:
    return db.execute(select(Person.id).where(Person.account_id == account_id)).scalar_one_or_none()


def export(db: Session, subject: DataSubject, settings=None) -> dict:
    person = db.get(Person, subject.person_id)
    found: dict = {
        "person": {
            "id": person.id,
            "name": person.name,
            "email": person.email,
            "phone": person.phone,
            "address": person.address,
            "postcode": person.postcode,
            "ward_code": person.ward_code,
            "preferred_contact": person.preferred_contact.value,
            "contact_times": person.contact_times,
            "access_needs": person.access_needs,
            "language_needs": person.language_needs,
            "registered_by_a_linker": person.created_by_account_id is not None,
            "created_at": person.created_at,
            "updated_at": person.updated_at,
        }
    }
    for kind, key in ((OFFER, "offers"), (REQUEST, "help_requests")):
        items = list(db.execute(select(kind.model).where(kind.model.person_id == person.id).order_by(kind.model.id)).scalars())
        skills = skills_of(db, kind=kind, item_ids=[item.id for item in items])
        found[key] = [
            {
                "id": item.id,
                "title": item.title,
                "description": item.description,
                "skills": [skill.name for skill in skills[item.id]],
                "status": item.status.value,
                "mode": item.mode.value,
                "max_distance_km": item.max_distance_km,
                "postcode": item.postcode,
                "created_at": item.created_at,
                "expires_at": item.expires_at,
                "closed_at": item.closed_at,
                **({"capacity": item.capacity} if kind is OFFER else {"urgency": item.urgency.value}),
            }
            for item in items
        ]
    return found


def erase(db: Session, subject: DataSubject, settings=None) -> None:
    person = db.get(Person, subject.person_id)
    now = utcnow()
    moved = [Change("person", person.id)]
    for kind in (OFFER, REQUEST):
        for item in db.execute(select(kind.model).where(kind.model.person_id == person.id)).scalars():
            if item.status is not ItemStatus.closed:
                item.status = ItemStatus.closed
                item.closed_at = now
            item.title = REMOVED_TITLE[kind.key]
            item.description = ""
            item.postcode = None
            item.latitude = item.longitude = None
            item.updated_at = now
            db.add(item)
            moved.append(Change(kind.key, item.id))
    person.name = FORMER_MEMBER
    person.email = person.phone = person.address = None
    person.contact_times = person.access_needs = person.language_needs = None
    person.postcode = None
    person.latitude = person.longitude = None  # the ward stays: reports count by ward
    person.preferred_contact = ContactMethod.email
    person.erased_at = now
    person.updated_at = now
    db.add(person)
    db.flush()
    changes.record(db, MATCHING_STAMP, moved)


@dataclass(frozen=True)
class RetentionCandidate:
    person_id: int
    account_id: int | None
    email: str | None
    language: str
    warned_at: datetime | None


class Retention:
    """Who the retention rule reaches: not erased; no sign-in, no change to their record and no
    live item since `cutoff`; and nothing the higher domains count as activity (an open match,
    recent casework: `Plugins.activity_rules`)."""

    def __init__(self, plugins) -> None:
        self.plugins = plugins

    def candidates(self, db: Session, *, cutoff: datetime, person_id: int | None = None) -> list[RetentionCandidate]:
        live = or_(
            *(
                exists().where(
                    kind.model.person_id == Person.id,
                    or_(kind.model.status == ItemStatus.active, kind.model.updated_at >= cutoff),
                )
                for kind in (OFFER, REQUEST)
            )
        )
        signed_in = and_(Account.last_signed_in_at.is_not(None), Account.last_signed_in_at >= cutoff)
        # Both tests hold only with an account: outer-joined NULLs must not hide account-less people.
        account_new = and_(Account.id.is_not(None), Account.created_at >= cutoff)
        others = [rule(Person.id, cutoff) for rule in self.plugins.activity_rules]
        rows = db.execute(
            select(Person.id, Person.account_id, Person.email, Account.email, Account.language, Person.retention_warned_at)
            .join(Account, Account.id == Person.account_id, isouter=True)
            .where(
                Person.erased_at.is_(None),
                Person.created_at < cutoff,
                Person.updated_at < cutoff,
                not_(live),
                not_(or_(signed_in, account_new)),
                *[not_(clause) for clause in others],
                *([Person.id == person_id] if person_id is not None else []),
            )
            .order_by(Person.id)
        ).all()
        return [
            RetentionCandidate(person_id, account_id, account_email or person_email, language or "en", warned_at)
            for person_id, account_id, person_email, account_email, language, warned_at in rows
        ]

    def mark_warned(self, db: Session, *, person_id: int, now: datetime) -> None:
        person = db.get(Person, person_id)
        person.retention_warned_at = now  # not `updated_at`: a warning is not activity
        db.add(person)
        db.flush()
