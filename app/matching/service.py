"""Matching rules that need the database: load sides, suggest, allocate, store matches.

The scoring itself is the pure engine's; this module only decides what to load and what to save.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from sqlalchemy import or_, select, update
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
from app.matching.models import OPEN_STATUSES, Answer, Match, MatchRun, MatchStatus
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
    """An allocation computed from sides, before anything is saved: the chosen pairs as aligned
    arrays (`pairs`, scored again with their breakdown), and as candidates on demand."""

    offers: SideTable
    requests: SideTable
    pairs: engine.Scored
    candidate_pairs: int

    @cached_property
    def chosen(self) -> list[Candidate]:
        return engine.candidates(self.pairs, np.arange(len(self.pairs.scores)), self.offers, self.requests)


def compute_allocation(
    offer_sides: Sequence[Side], request_sides: Sequence[Side], weights: Weights, context: Context, per_request: int
) -> Allocation:
    spaces = engine.key_spaces(offer_sides, request_sides)
    return allocate_tables(SideTable(offer_sides, spaces), SideTable(request_sides, spaces), weights, context, per_request)


class _Laps:
    """Seconds spent in each phase of a run, when asked for (the benchmark reports them)."""

    def __init__(self, phases: dict[str, float] | None):
        self.phases, self.last = phases, time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        if self.phases is not None:
            self.phases[name] = round(self.phases.get(name, 0.0) + now - self.last, 3)
        self.last = now


def allocate_tables(
    offers: SideTable, requests: SideTable, weights: Weights, context: Context, per_request: int, *, phases: dict[str, float] | None = None
) -> Allocation:
    """Each request's best `per_request` offers, then the best whole-area set of pairs on that
    graph (minimum-cost flow), respecting the places each offer has left."""
    lap = _Laps(phases)
    graph = engine.candidate_graph(offers, requests, weights, context, per_request)
    lap("candidate_graph")
    remaining = np.maximum(0, offers.capacity - offers.used)
    picked = allocate_edges(graph.offer_rows, graph.request_rows, graph.scores, remaining)
    lap("min_cost_flow")
    o, r = graph.offer_rows[picked], graph.request_rows[picked]
    order = np.lexsort((o, r))  # by request, as the candidates always were
    pairs = engine.score_chosen_pairs(offers, o[order], requests, r[order], weights, context)
    lap("chosen_pairs")
    return Allocation(offers, requests, pairs, len(graph.scores))


_MATCH_COLUMNS = (
    "offer_id", "request_id", "run_id", "status", "score", "breakdown", "explanation", "distance_km",
    "offer_answer", "request_answer", "version", "created_at", "updated_at",
)  # fmt: skip


def _match_rows(result: Allocation, run_id: int, names: dict[int, str], now) -> list[tuple]:
    """The suggested matches, as plain tuples in `_MATCH_COLUMNS` order (the breakdown already
    JSON, as the JSON column would write it)."""
    pairs = result.pairs
    explanations = engine.explain_pairs(pairs, result.offers, result.requests, names)
    parts = (pairs.skill_part, pairs.distance_part, pairs.time_part, pairs.fresh_part)
    finite = all(np.isfinite(p).all() for p in parts)
    remote = np.isnan(pairs.km)
    rounded = np.where(remote, 0.0, np.maximum(0.5, np.round(np.where(remote, 0.0, pairs.km) * 2) / 2))
    suggested, pending = MatchStatus.suggested.value, Answer.pending.value
    rows = []
    for offer_id, request_id, score, skill, distance, when, fresh, explanation, far, km in zip(
        result.offers.ids[pairs.offer_rows].tolist(), result.requests.ids[pairs.request_rows].tolist(),
        pairs.scores.tolist(), *(p.tolist() for p in parts), explanations, remote.tolist(), rounded.tolist(),
        strict=True,
    ):  # fmt: skip
        breakdown = {"skills": round(skill, 4), "distance": round(distance, 4), "time": round(when, 4), "fresh": round(fresh, 4)}
        if finite:  # what json.dumps writes for these four floats
            text = '{{"skills": {!r}, "distance": {!r}, "time": {!r}, "fresh": {!r}}}'.format(*breakdown.values())
        else:
            text = json.dumps(breakdown)
        rows.append((
            offer_id, request_id, run_id, suggested, score, text, explanation[:300], None if far else km,
            pending, pending, 1, now, now,
        ))  # fmt: skip
    return rows


def _insert_matches(db: Session, rows: list[tuple]) -> None:
    """Many matches in one statement: COPY on PostgreSQL, one prepared INSERT run for every row
    on SQLite. Values are already what the columns store, so no row becomes an object."""
    if not rows:
        return
    connection = db.connection()
    dialect = connection.dialect
    table = Match.__table__
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in _MATCH_COLUMNS)
    name = dialect.identifier_preparer.format_table(table)
    if dialect.name == "postgresql":
        with connection.connection.dbapi_connection.cursor() as cursor:
            with cursor.copy(f"COPY {name} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    # Times as the column stores them on this database (UTCDateTime, then the dialect's own).
    stamp = table.c.created_at.type.bind_processor(dialect)
    now = stamp(rows[0][-1]) if stamp else rows[0][-1]
    placeholders = ", ".join("?" for _ in _MATCH_COLUMNS)
    connection.exec_driver_sql(
        f"INSERT INTO {name} ({columns}) VALUES ({placeholders})", [(*row[:-2], now, now) for row in rows]
    )


def run_allocation(
    db: Session,
    settings: Settings,
    *,
    account: Account | None = None,
    ward_code: str | None = None,
    run: MatchRun | None = None,
    phases: dict[str, float] | None = None,
) -> MatchRun:
    """Suggest the best whole-area set of pairs, as `suggested` matches, and record the run
    (in `run` when given: a queued run that the `matching_run` job carries out).

    Requests that already hold an open match sit this run out, and offers bring only their
    unused places, so a re-run never duplicates what is still open. `phases`, when given, is
    filled with the seconds each part took.
    """
    started = time.perf_counter()
    lap = _Laps(phases)
    cancel_stale_suggestions(db)
    if run is None:
        run = MatchRun(ward_code=ward_code, triggered_by_account_id=account.id if account else None)
    db.add(run)
    db.flush()
    lap("cancel_stale")
    skills = loader.skill_maps(db)
    names, categories = skills.names, skills.categories
    area = [] if ward_code is None else [OFFER.model.ward_code == ward_code]
    offers = loader.load_columns(db, OFFER, area)
    has_open = select(Match.request_id).where(Match.status.in_(OPEN_STATUSES))
    request_area = [] if ward_code is None else [REQUEST.model.ward_code == ward_code]
    requests = loader.load_columns(db, REQUEST, [*request_area, REQUEST.model.id.not_in(has_open)])
    context = Context(declined=loader.declined_pairs(db), now=utcnow().timestamp())
    lap("load")
    spaces = engine.key_spaces_of(offers, requests, categories=categories)
    offer_table = SideTable.from_columns(offers, spaces, categories)
    request_table = SideTable.from_columns(requests, spaces, categories)
    lap("tables")
    result = allocate_tables(
        offer_table, request_table, weights_from(settings), context, settings.match_candidates_per_request, phases=phases
    )
    lap.last = time.perf_counter()
    rows = _match_rows(result, run.id, names, utcnow())
    lap("explain")
    _insert_matches(db, rows)
    lap("insert")
    pairs = result.pairs
    run.requests_considered = len(requests)
    run.offers_considered = len(offers)
    run.candidate_pairs = result.candidate_pairs
    run.requests_covered = len(pairs.scores)
    run.offers_used = len(np.unique(pairs.offer_rows))
    run.new_suggestions = len(rows)
    run.total_score = int(pairs.scores.sum())
    if rows:
        changes.bump(db, MATCHING_STAMP)  # many offers' places in use changed at once: indexes rebuild
    run.finished_at = utcnow()
    run.milliseconds = round((time.perf_counter() - started) * 1000)
    db.add(run)
    db.flush()
    lap("record")
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
