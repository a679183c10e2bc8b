"""The demo linker's caseload: people from the demo borough with the work a linker really has.

`ensure_demo_caseload` gives a linker about 40 people (a few registered by them, by phone, with
verbal consent; the rest picked up from the pool), with case notes (one sensitive), contact
attempts, follow-ups (some overdue, some due this week, some done) and matches in every state,
driven through the real services and the match workflow, so the dashboard shows real work on the
first sign-in. A few more demo people ask for a linker, so the pool is not empty.

`assign_caseload` is the bulk form for the benchmarks: many people on one caseload at once.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlmodel import Session

from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import Conflict, InvalidInput
from app.core.validation import parse
from app.linkers import service as linkers
from app.linkers.models import (
    AssistedRegistration,
    AttemptOutcome,
    CaseAssignment,
    FollowUp,
    FollowUpResult,
)
from app.matching import service as matching
from app.matching import workflow
from app.matching.models import DeclineReason, MatchSide
from app.privacy import service as privacy
from app.privacy.models import ConsentMethod, ConsentPurpose, ConsentRecord
from app.privacy.notices import notice
from app.registry.models import HelpRequest, ItemStatus, Offer, Person

DEMO_POSTCODE_AREA = "NB"  # the demo borough's postcodes (app.devtools.demo)
CASELOAD_SIZE = 40
POOL_SIZE = 6
# Which state each brokered match is left in, in order; several of the commonest.
MATCH_PLAN = ("proposed", "proposed", "accepted", "accepted", "active", "completed", "completed", "declined", "cancelled")
NOTES = (
    "Spoke on the phone. Happy to help with shopping on Tuesday mornings.",
    "Prefers a call after 10am. Daughter helps with letters.",
    "Would like to meet somebody nearby first, at the library.",
    "Has a garden and tools; could show someone how to grow vegetables.",
)
ASSISTED = (
    ("Doreen Hollis", "Prefers a phone call in the morning", "Hard of hearing: speak clearly"),
    ("Mohammed Rafiq", "Any weekday afternoon", "Urdu or English"),
    ("Bernard Lowe", "Evenings, after 6pm", ""),
)


def _open_caseload_size(db: Session, linker_id: int) -> int:
    return db.execute(
        select(func.count())
        .select_from(CaseAssignment)
        .where(CaseAssignment.linker_account_id == linker_id, CaseAssignment.ended_at.is_(None))
    ).scalar_one()


def demo_people_with_items(db: Session, *, count: int, rng: random.Random, exclude: set[int] = frozenset()) -> list[int]:
    """Demo people (no account, not on any caseload) holding a live offer or help request, and
    both `profile` and `matching` consents, so that they can be brokered."""
    assigned = select(CaseAssignment.person_id).where(CaseAssignment.ended_at.is_(None))
    consenting = (
        select(ConsentRecord.person_id)
        .where(ConsentRecord.purpose == ConsentPurpose.matching, privacy.given_now())
    )  # fmt: skip
    live = select(Offer.person_id).where(Offer.status == ItemStatus.active).union(
        select(HelpRequest.person_id).where(HelpRequest.status == ItemStatus.active)
    )
    candidates = db.execute(
        select(Person.id)
        .where(
            Person.postcode.like(f"{DEMO_POSTCODE_AREA}%"),
            Person.account_id.is_(None),
            Person.id.not_in(assigned),
            Person.id.in_(consenting),
            Person.id.in_(live),
        )
        .order_by(Person.id)
        .limit(count * 20)
    ).scalars().all()
    candidates = [c for c in candidates if c not in exclude]
    return rng.sample(candidates, min(count, len(candidates)))


def assign_caseload(db: Session, *, linker_id: int, person_ids: list[int]) -> None:
    """Put these people on one linker's caseload in bulk (tooling: no per-person checks)."""
    now = utcnow()
    rows = [
        {"person_id": p, "linker_account_id": linker_id, "assigned_by_account_id": linker_id, "started_at": now}
        for p in person_ids
    ]
    for start in range(0, len(rows), 5000):
        db.execute(insert(CaseAssignment), rows[start : start + 5000])


def _assisted_people(db: Session, settings: Settings, linker_id: int, postcodes: list[str]) -> list[Person]:
    made = []
    for (name, times, needs), postcode in zip(ASSISTED, postcodes, strict=False):
        body = {
            "name": name,
            "postcode": postcode,
            "phone": "01632 960 " + str(100 + len(made)),
            "preferred_contact": "phone",
            "contact_times": times,
            "access_needs": needs,
            "consents": {
                "profile": {"given": True, "method": "verbal"},
                "matching": {"given": True, "method": "verbal"},
                "share_contact": {"given": False, "method": "verbal"},
                "linker_contact": {"given": True, "method": "verbal"},
            },
        }
        made.append(linkers.register_person(db, settings, linker_id=linker_id, data=parse(AssistedRegistration, body)))
    return made


def _broker(db: Session, settings: Settings, *, linker_id: int, person_ids: list[int]) -> dict[str, int]:
    """Matches in every state for people on the caseload, through the real workflow. "Accepted"
    goes to people who did not agree to share contact, so the linker has two people to connect;
    one "proposed" was asked for by the other side, so its answer waits on the linker's person."""
    sharing = set(
        db.execute(
            select(ConsentRecord.person_id).where(
                ConsentRecord.person_id.in_(person_ids),
                ConsentRecord.purpose == ConsentPurpose.share_contact,
                privacy.given_now(),
            )
        ).scalars()
    )
    made: dict[str, int] = {}
    used: set[int] = set()
    for n, target in enumerate(MATCH_PLAN):
        wanted = [p for p in person_ids if p not in used and (target != "accepted" or p not in sharing)]
        for person_id in wanted:
            used.add(person_id)
            match = _propose(db, settings, person_id=person_id, linker_id=linker_id, asker=MatchSide.offer if n == 0 else MatchSide.request)
            if match is not None:
                _walk(db, match, target, linker_id)
                made[target] = made.get(target, 0) + 1
                break
    return made


def _propose(db: Session, settings: Settings, *, person_id: int, linker_id: int, asker: MatchSide):
    request = db.execute(
        select(HelpRequest.id).where(HelpRequest.person_id == person_id, HelpRequest.status == ItemStatus.active).limit(1)
    ).scalar_one_or_none()
    if request is None:
        return None
    for suggestion in matching.suggestions_for_request(db, settings, request_id=request, limit=5):
        try:
            return matching.propose_match(
                db, settings, offer_id=suggestion.other_id, request_id=request, side=asker,
                broker_account_id=linker_id if asker is MatchSide.request else None,
            )  # fmt: skip
        except (InvalidInput, Conflict):  # a pair the workflow refuses (no place left): the next one
            continue
    return None


def _walk(db: Session, match: Any, target: str, linker_id: int) -> None:
    """From proposed to `target`, each step as the side who would take it."""
    steps = {
        "proposed": [],
        "accepted": [(workflow.Event.accept, MatchSide.offer, {})],
        "active": [(workflow.Event.accept, MatchSide.offer, {}), (workflow.Event.start, MatchSide.request, {})],
        "completed": [
            (workflow.Event.accept, MatchSide.offer, {}),
            (workflow.Event.start, MatchSide.request, {}),
            (workflow.Event.complete, MatchSide.request, {"minutes": 120, "outcome": "Lovely to meet. Thank you."}),
        ],
        "declined": [(workflow.Event.decline, MatchSide.offer, {"reason": DeclineReason.too_far})],
        "cancelled": [(workflow.Event.cancel, MatchSide.request, {})],
    }[target]
    if match.proposed_by is MatchSide.offer:  # the other person asked: our person answers
        steps = [(workflow.Event.accept, MatchSide.request, {})] + steps[1:] if steps else []
    for event, side, data in steps:
        matching.change_match(
            db, match=match, side=side, seen_version=match.version, event=event, broker_account_id=linker_id, **data
        )


def _give_pool_consent(db: Session, settings: Settings, *, person_ids: list[int], recorder_id: int) -> None:
    """As if each filled in a paper "a linker may contact me" slip at a drop-in."""
    current = notice(str(settings.templates_dir))
    for person_id in person_ids:
        privacy.give(
            db, person_id=person_id, purpose=ConsentPurpose.linker_contact, notice=current,
            method=ConsentMethod.paper, recorded_by_account_id=recorder_id, terms=privacy.terms_for(settings),
        )  # fmt: skip


def ensure_demo_caseload(db: Session, settings: Settings, *, linker_id: int, seed: int = 1) -> dict[str, Any]:
    """Give the demo linker their caseload unless they already have one. Flushes; the caller commits."""
    if _open_caseload_size(db, linker_id):
        return {"created": False}
    rng = random.Random(seed)
    picked = demo_people_with_items(db, count=CASELOAD_SIZE - len(ASSISTED) + POOL_SIZE, rng=rng)
    if len(picked) < 10:
        return {"created": False, "reason": "no demo borough: run seed-demo with --people"}
    pool, caseload = picked[:POOL_SIZE], picked[POOL_SIZE:]
    postcodes = db.execute(select(Person.postcode).where(Person.id.in_(caseload)).limit(len(ASSISTED))).scalars().all()
    assisted = _assisted_people(db, settings, linker_id, list(postcodes))
    assign_caseload(db, linker_id=linker_id, person_ids=caseload)
    _give_pool_consent(db, settings, person_ids=pool, recorder_id=linker_id)
    db.flush()

    today = date.today()
    matches = _broker(db, settings, linker_id=linker_id, person_ids=caseload)
    # Notes on some; one sensitive, seen only by its author and the person's current linker.
    for n, person_id in enumerate(caseload[:12]):
        linkers.add_note(db, person_id=person_id, author_id=linker_id, body=NOTES[n % len(NOTES)], sensitive=n == 3)
    # Contact: most people reached; the last few, and the assisted ones, not contacted yet.
    outcomes = (AttemptOutcome.reached, AttemptOutcome.left_message, AttemptOutcome.no_answer)
    for n, person_id in enumerate(caseload[:-6]):
        linkers.record_attempt(db, settings, person_id=person_id, linker_id=linker_id, outcome=outcomes[n % 3] if n % 5 == 4 else AttemptOutcome.reached)
    # Follow-ups: overdue, due this week, later, and done.
    plan = [(-5, "Ring to see how the first visit went"), (-2, "Post the printed code for going online"),
            (-1, "Check the lift at the library is working again"), (1, "Call about the gardening offer"),
            (3, "Ask whether Thursday still suits"), (10, "Six-week check-in")]  # fmt: skip
    for (days, what), person_id in zip(plan, caseload[6:], strict=False):
        linkers.add_follow_up(
            db, person_id=person_id, by_id=linker_id, due_on=today + timedelta(days=days), what=what, check_date=False
        )
    done = FollowUp(person_id=caseload[0], created_by_account_id=linker_id, due_on=today - timedelta(days=7),
                    what="First phone call", finished_at=utcnow(), finished_by_account_id=linker_id,
                    result=FollowUpResult.done, result_note="Talked for half an hour; keen to help.")  # fmt: skip
    db.add(done)
    db.flush()
    return {"created": True, "people": len(caseload) + len(assisted), "pool": len(pool), "matches": matches}
