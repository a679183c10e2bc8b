"""A year of the demo borough's history, for the council's reports: matches proposed, accepted,
completed (with the time given), declined and cancelled, and linkers' past casework (people
picked up, rung and followed up, then handed back).

Bulk rows, not the services: the workflow's rules are kept by construction (each match's times
in order, answers and minutes consistent with its state), and nothing open is left that would
crowd the demo linker's dashboard (past casework is ended). Run after `generate_borough`; the
demo's `delete_demo_data` removes it with the borough.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from app.devtools.demo import DEMO_POSTCODE_AREA, _insert, _reserve_ids
from app.linkers.models import AttemptOutcome, CaseAssignment, ContactAttempt, FollowUp
from app.matching.models import Match, WellbeingAnswer
from app.registry.models import HelpRequest, Offer, Person

MATCHED_SHARE = 0.45  # of requests live long enough, how many got a match in the year
OUTCOMES = (
    ("completed", 45),
    ("declined", 15),
    ("cancelled", 10),
    ("active", 15),
    ("proposed", 15),
)
REASONS = ("not_now", "too_far", "not_needed", "other")
MINUTES = (30, 45, 60, 60, 90, 120, 120, 180, 240)
CASEWORK_SHARE = 0.03
WELLBEING_SHARE = 0.6  # of the people on a completed match, how many answer the ONS questions


def _choice(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    total = sum(weight for _name, weight in weighted)
    roll = rng.randrange(total)
    for name, weight in weighted:
        if roll < weight:
            return name
        roll -= weight
    return weighted[-1][0]


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    seconds = max(1, int((end - start).total_seconds()))
    return start + timedelta(seconds=rng.randrange(seconds))


def generate_history(
    session: Session, *, seed: int, now: datetime, linker_id: int
) -> dict[str, Any]:
    """Insert the year; return {"matches","casework","seconds"}. The caller commits."""
    started = time.perf_counter()
    rng = random.Random(seed * 1_000_003 + 11)
    year_ago = now - timedelta(days=365)
    demo_people = select(Person.id).where(
        Person.postcode.like(f"{DEMO_POSTCODE_AREA}%"), Person.account_id.is_(None)
    )
    offers = session.execute(
        select(Offer.id, Offer.person_id, Offer.published_at).where(
            Offer.person_id.in_(demo_people), Offer.published_at.is_not(None)
        )
    ).all()
    requests = session.execute(
        select(HelpRequest.id, HelpRequest.person_id, HelpRequest.published_at)
        .where(HelpRequest.person_id.in_(demo_people), HelpRequest.published_at.is_not(None))
    ).all()  # fmt: skip
    if not offers or not requests:
        return {"matches": 0, "casework": 0, "seconds": time.perf_counter() - started}
    postgres = session.connection().dialect.name == "postgresql"
    matches: list[dict[str, Any]] = []
    people_of: list[tuple[int, int]] = []  # (helper, requester) of each match, in order
    for request_id, requester, request_live in requests:
        if rng.random() >= MATCHED_SHARE:
            continue
        offer_id, helper, offer_live = offers[rng.randrange(len(offers))]
        if helper == requester:
            continue
        earliest = max(year_ago, _aware(request_live), _aware(offer_live))
        if earliest >= now - timedelta(days=2):
            continue
        proposed = _between(rng, earliest, now - timedelta(days=1))
        matches.append(_match(rng, offer_id, request_id, proposed, now, postgres))
        people_of.append((helper, requester))
    base = _reserve_ids(session, Match, len(matches))
    for index, row in enumerate(matches):
        row["id"] = base + index
    _insert(session, Match, matches)
    answers = _wellbeing_answers(rng, matches, people_of, now)
    _insert(session, WellbeingAnswer, answers)

    assignments, attempts, follow_ups = _casework(
        session, rng, demo_people, now, year_ago, linker_id
    )
    _insert(session, CaseAssignment, assignments)
    _insert(session, ContactAttempt, attempts)
    _insert(session, FollowUp, follow_ups)
    return {
        "matches": len(matches),
        "casework": len(assignments),
        "wellbeing_answers": len(answers),
        "seconds": time.perf_counter() - started,
    }


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _match(
    rng: random.Random,
    offer_id: int,
    request_id: int,
    proposed: datetime,
    now: datetime,
    postgres: bool,
) -> dict[str, Any]:
    outcome = _choice(rng, OUTCOMES)
    row: dict[str, Any] = {
        "offer_id": offer_id,
        "request_id": request_id,
        "run_id": None,
        "status": outcome,
        "score": rng.randrange(400, 1000),
        "breakdown": "{}" if postgres else {},
        "explanation": "Suggested for the same skill, nearby, at a time both are free",
        "distance_km": rng.choice((0.5, 1.0, 1.5, 2.0, 3.0)),
        "offer_answer": "yes",
        "request_answer": "yes",
        "brokered_by_account_id": None,
        "minutes_given": None,
        "outcome": None,
        "version": 2,
        "created_at": proposed - timedelta(days=rng.randrange(0, 5)),
        "updated_at": proposed,
        "proposed_by": rng.choice(("offer", "request")),
        "ended_by": None,
        "decline_reason": None,
        "decline_note": None,
        "cancel_reason": None,
        "offer_minutes": None,
        "request_minutes": None,
        "proposed_at": proposed,
        "accepted_at": None,
        "completed_at": None,
    }
    answered = min(now, proposed + timedelta(hours=rng.randrange(2, 24 * 6)))
    if outcome == "proposed":
        if now - proposed > timedelta(days=13):  # unanswered for 14 days: it would have expired
            row.update(
                status="cancelled",
                cancel_reason="expired",
                updated_at=proposed + timedelta(days=14),
            )
        else:
            row.update(
                **{f"{'request' if row['proposed_by'] == 'offer' else 'offer'}_answer": "pending"}
            )
        return row
    if outcome == "declined":
        side = "request" if row["proposed_by"] == "offer" else "offer"
        row.update(
            status="declined",
            ended_by=side,
            decline_reason=rng.choice(REASONS),
            updated_at=answered,
            **{f"{side}_answer": "no"},
        )
        return row
    row.update(accepted_at=answered, updated_at=answered)
    if outcome == "cancelled":
        row.update(
            ended_by=rng.choice(("offer", "request")), updated_at=_between(rng, answered, now)
        )
        return row
    if outcome == "active":
        row.update(status="active")
        return row
    completed = answered + timedelta(days=rng.randrange(1, 45))
    if completed >= now:  # not finished yet
        row.update(status="active")
        return row
    minutes = rng.choice(MINUTES)
    row.update(
        completed_at=completed,
        updated_at=completed,
        ended_by="offer",
        offer_minutes=minutes,
        request_minutes=minutes,
        minutes_given=minutes,
    )
    return row


def _score(rng: random.Random, mean: float) -> int:
    return max(0, min(10, round(rng.gauss(mean, 2.0))))


def _wellbeing_answers(
    rng: random.Random, matches: list[dict[str, Any]], people_of: list[tuple[int, int]], now: datetime
) -> list[dict[str, Any]]:
    """Some people answer the ONS questions when their first match is under way and again when a
    match is done; on the whole they feel a little better after (as such schemes often report)."""
    started: dict[int, dict[str, int]] = {}
    answers: list[dict[str, Any]] = []
    order = sorted(range(len(matches)), key=lambda i: matches[i]["proposed_at"])
    for index in order:
        row = matches[index]
        if row["status"] != "completed":
            continue
        for person_id in people_of[index]:
            if rng.random() >= WELLBEING_SHARE:
                continue
            if person_id not in started:
                before = {
                    "life_satisfaction": _score(rng, 6.2),
                    "worthwhile": _score(rng, 6.6),
                    "happiness": _score(rng, 6.0),
                    "anxiety": _score(rng, 3.8),
                }
                started[person_id] = before
                answers.append(_answer(person_id, row, "before", before, row["accepted_at"]))
            after = {
                measure: max(0, min(10, value + rng.choice((-1, 0, 0, 1, 1, 2))))
                for measure, value in started[person_id].items()
                if measure != "anxiety"
            }
            anxiety = started[person_id]["anxiety"] + rng.choice((-2, -1, -1, 0, 0, 1))
            after["anxiety"] = max(0, min(10, anxiety))
            when = min(now - timedelta(minutes=1), row["completed_at"] + timedelta(hours=rng.randrange(1, 72)))
            answers.append(_answer(person_id, row, "after", after, when))
    return answers


def _answer(person_id: int, match: dict[str, Any], stage: str, scores: dict[str, int], when) -> dict[str, Any]:
    return {
        "person_id": person_id,
        "match_id": match["id"],
        "stage": stage,
        **scores,
        "answered_at": when,
        "recorded_by_account_id": None,
    }


def _casework(
    session: Session,
    rng: random.Random,
    demo_people,
    now: datetime,
    year_ago: datetime,
    linker_id: int,
):
    people = session.execute(select(Person.id).where(Person.id.in_(demo_people))).scalars().all()
    assignments, attempts, follow_ups = [], [], []
    for person_id in people:
        if rng.random() >= CASEWORK_SHARE:
            continue
        started = _between(rng, year_ago, now - timedelta(days=30))
        ended = min(now - timedelta(days=1), started + timedelta(days=rng.randrange(20, 120)))
        assignments.append({"person_id": person_id, "linker_account_id": linker_id, "assigned_by_account_id": None,
                            "note": None, "started_at": started, "ended_at": ended})  # fmt: skip
        reached_after = timedelta(
            days=rng.choice((0, 1, 1, 2, 3, 4, 6, 9, 14)), hours=rng.randrange(1, 8)
        )
        if rng.random() < 0.3:
            attempts.append({"person_id": person_id, "linker_account_id": linker_id, "outcome": AttemptOutcome.no_answer.value,
                             "attempted_at": started + reached_after / 2})  # fmt: skip
        attempts.append({"person_id": person_id, "linker_account_id": linker_id, "outcome": AttemptOutcome.reached.value,
                         "attempted_at": min(ended, started + reached_after)})  # fmt: skip
        due = (started + timedelta(days=rng.randrange(7, 21))).date()
        finished = datetime.combine(due, datetime.min.time(), tzinfo=started.tzinfo) + timedelta(
            days=rng.choice((-3, -1, 0, 0, 0, 2, 6)), hours=11
        )
        result = "done" if rng.random() < 0.85 else "not_done"
        follow_ups.append({"person_id": person_id, "created_by_account_id": linker_id, "due_on": due, "what": "Ring to see how it went",
                           "created_at": started, "finished_at": min(finished, ended), "finished_by_account_id": linker_id,
                           "result": result, "result_note": None})  # fmt: skip
    return assignments, attempts, follow_ups
