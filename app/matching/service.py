"""Matching rules that need the database: load sides, suggest, allocate, store matches.

The scoring itself is the pure engine's; this module only decides what to load and what to save.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import insert, or_, select, update
from sqlmodel import Session

from app.accounts.models import Account
from app.core import changes
from app.core.changes import Change
from app.core.config import Settings
from app.core.db import utcnow
from app.matching import engine, loader
from app.matching.allocation import allocate_edges
from app.matching.engine import Candidate, Context, Side, SideTable, Weights
from app.matching.index import get_index
from app.matching.models import OPEN_STATUSES, Match, MatchRun, MatchStatus
from app.privacy.models import ConsentPurpose
from app.registry import availability
from app.registry.service import MATCHING_STAMP, OFFER, REQUEST, ItemKind, in_matching_clause


def weights_from(settings: Settings) -> Weights:
    return Weights(
        skills=settings.match_weight_skills,
        distance=settings.match_weight_distance,
        time=settings.match_weight_time,
        fresh=settings.match_weight_fresh,
        category=settings.match_weight_category,
        remote_distance_part=settings.match_remote_distance_part,
    )


@dataclass(frozen=True)
class Suggestion:
    """What an owner may see of a candidate: no name, no contact, a rounded distance."""

    other_id: int
    score: float
    distance_km: float | None
    shared_skills: list[str]
    shared_slots: list[str]
    explanation: str


def _suggestions(db: Session, settings: Settings, *, kind: ItemKind, item_id: int, limit: int) -> list[Suggestion]:
    """The best candidates for one live item, from the in-process index (see `matching.index`):
    its base tables and the small delta of what changed since they were built."""
    index = get_index(db)
    found_row = index.find(kind.key, item_id)
    if found_row is None:
        return []  # not live, or the owner withdrew consent: nothing is suggested
    table, row = found_row
    weights = weights_from(settings)
    # The index may be older than some end dates: expiry is checked against the clock each time.
    context = Context(declined=index.declined, now=utcnow().timestamp())
    found: list[Candidate] = []
    if kind is OFFER:
        for requests in index.request_tables():
            scored = engine.requests_for_offer(table, requests, row, weights, context)
            found += engine.candidates(scored, engine.top(scored, limit, by_offer=False), table, requests)
        found.sort(key=lambda c: (-c.score, c.request_id))
    else:
        for offers in index.offer_tables():
            scored = engine.offers_for_request(offers, table, row, weights, context)
            found += engine.candidates(scored, engine.top(scored, limit, by_offer=True), offers, table)
        found.sort(key=lambda c: (-c.score, c.offer_id))
    return [_suggestion(c, kind, index.codes, index.names) for c in found[:limit]]


def _suggestion(candidate: Candidate, kind: ItemKind, codes: dict[int, str], names: dict[int, str]) -> Suggestion:
    return Suggestion(
        other_id=candidate.request_id if kind is OFFER else candidate.offer_id,
        score=round(candidate.score / engine.SCORE_SCALE, 3),
        distance_km=engine.round_distance(candidate.distance_km),
        shared_skills=sorted(codes[s] for s in candidate.shared_skills),
        shared_slots=availability.from_mask(candidate.shared_slots),
        explanation=engine.explain(candidate, names),
    )


def suggestions_for_request(db: Session, settings: Settings, *, request_id: int, limit: int = 10) -> list[Suggestion]:
    return _suggestions(db, settings, kind=REQUEST, item_id=request_id, limit=limit)


def suggestions_for_offer(db: Session, settings: Settings, *, offer_id: int, limit: int = 10) -> list[Suggestion]:
    return _suggestions(db, settings, kind=OFFER, item_id=offer_id, limit=limit)


def _cancel_suggestions_where(db: Session, condition) -> int:
    """Cancel suggested matches; the offers they held get their places back (logged for the index)."""
    statement = select(Match.id, Match.offer_id).where(Match.status == MatchStatus.suggested, condition)
    found = db.execute(statement).all()
    if not found:
        return 0
    ids = [row.id for row in found]
    for start in range(0, len(ids), 5000):
        db.execute(
            update(Match)
            .where(Match.id.in_(ids[start : start + 5000]), Match.status == MatchStatus.suggested)
            .values(status=MatchStatus.cancelled, updated_at=utcnow(), version=Match.version + 1)
        )
    changes.record(db, MATCHING_STAMP, [Change("offer", offer_id) for offer_id in sorted({row.offer_id for row in found})])
    return len(ids)


def cancel_stale_suggestions(db: Session) -> int:
    """Cancel suggestions whose offer or request has left matching (paused, closed, expired, or
    its owner withdrew consent), so that nobody without consent stays matched and the other side
    is free for the next run."""
    live_offers = select(OFFER.model.id).where(in_matching_clause(OFFER))
    live_requests = select(REQUEST.model.id).where(in_matching_clause(REQUEST))
    return _cancel_suggestions_where(db, or_(Match.offer_id.not_in(live_offers), Match.request_id.not_in(live_requests)))


# --- allocation ------------------------------------------------------------------------------


@dataclass
class Allocation:
    """An allocation computed from sides, before anything is saved."""

    offers: SideTable
    requests: SideTable
    chosen: list[Candidate]
    candidate_pairs: int


def compute_allocation(
    offer_sides: Sequence[Side], request_sides: Sequence[Side], weights: Weights, context: Context, per_request: int
) -> Allocation:
    spaces = engine.key_spaces(offer_sides, request_sides)
    offers, requests = SideTable(offer_sides, spaces), SideTable(request_sides, spaces)
    graph = engine.candidate_graph(offers, requests, weights, context, per_request)
    remaining = np.maximum(0, offers.capacity - offers.used)
    picked = allocate_edges(graph.offer_rows, graph.request_rows, graph.scores, remaining)
    o, r = graph.offer_rows[picked], graph.request_rows[picked]
    scored = engine.score_chosen_pairs(offers, o, requests, r, weights, context)
    chosen = engine.candidates(scored, np.arange(len(scored.scores)), offers, requests)
    return Allocation(offers, requests, chosen, len(graph.scores))


def run_allocation(
    db: Session,
    settings: Settings,
    *,
    account: Account | None = None,
    ward_code: str | None = None,
    run: MatchRun | None = None,
) -> MatchRun:
    """Suggest the best whole-area set of pairs, as `suggested` matches, and record the run
    (in `run` when given: a queued run that the `matching_run` job carries out).

    Requests that already hold an open match sit this run out, and offers bring only their
    unused places, so a re-run never duplicates what is still open.
    """
    started = time.perf_counter()
    cancel_stale_suggestions(db)
    if run is None:
        run = MatchRun(ward_code=ward_code, triggered_by_account_id=account.id if account else None)
    db.add(run)
    db.flush()
    skills = loader.skill_maps(db)
    names, categories = skills.names, skills.categories
    area = [] if ward_code is None else [OFFER.model.ward_code == ward_code]
    offers = loader.load_sides(db, OFFER, area, categories)
    has_open = select(Match.request_id).where(Match.status.in_(OPEN_STATUSES))
    request_area = [] if ward_code is None else [REQUEST.model.ward_code == ward_code]
    requests = loader.load_sides(db, REQUEST, [*request_area, REQUEST.model.id.not_in(has_open)], categories)
    context = Context(declined=loader.declined_pairs(db), now=utcnow().timestamp())
    result = compute_allocation(offers, requests, weights_from(settings), context, settings.match_candidates_per_request)

    now = utcnow()
    rows = [
        {
            "offer_id": c.offer_id,
            "request_id": c.request_id,
            "run_id": run.id,
            "status": MatchStatus.suggested.value,
            "score": c.score,
            "breakdown": dict(c.parts),
            "explanation": engine.explain(c, names)[:300],
            "distance_km": engine.round_distance(c.distance_km),
            "offer_answer": "pending",
            "request_answer": "pending",
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for c in result.chosen
    ]
    # Core, not the ORM: tens of thousands of rows, none of which needs to become an object.
    connection = db.connection()
    for start in range(0, len(rows), 5000):
        connection.execute(insert(Match.__table__), rows[start : start + 5000])
    run.requests_considered = len(requests)
    run.offers_considered = len(offers)
    run.candidate_pairs = result.candidate_pairs
    run.requests_covered = len(result.chosen)
    run.offers_used = len({c.offer_id for c in result.chosen})
    run.new_suggestions = len(rows)
    run.total_score = sum(c.score for c in result.chosen)
    if rows:
        changes.bump(db, MATCHING_STAMP)  # many offers' places in use changed at once: indexes rebuild
    run.finished_at = utcnow()
    run.milliseconds = round((time.perf_counter() - started) * 1000)
    db.add(run)
    db.flush()
    return run



def cancel_suggestions_of_person(db: Session, person_id: int) -> None:
    """Their open suggestions end at once."""
    offers = select(OFFER.model.id).where(OFFER.model.person_id == person_id)
    requests = select(REQUEST.model.id).where(REQUEST.model.person_id == person_id)
    _cancel_suggestions_where(db, or_(Match.offer_id.in_(offers), Match.request_id.in_(requests)))


def cancel_suggestions_on_withdrawal(db: Session, *, person_id: int, purpose: ConsentPurpose) -> None:
    """A `consent_withdrawn` hook: without `profile` or `matching` consent nobody stays matched."""
    if purpose in (ConsentPurpose.matching, ConsentPurpose.profile):
        cancel_suggestions_of_person(db, person_id)
