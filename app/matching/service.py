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
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.accounts.models import Account
from app.core import changes
from app.core.changes import Change
from app.core.config import Settings
from app.core.db import begin_writing, utcnow
from app.core.errors import Conflict, FieldError, InvalidInput
from app.core.i18n import N_
from app.core.mail import Mailer, render_mail, send_after_commit
from app.matching import engine, loader, wellbeing, workflow
from app.matching.allocation import allocate_edges
from app.matching.engine import Candidate, Context, Side, SideTable, Weights
from app.matching.index import get_index
from app.matching.models import (
    OPEN_STATUSES,
    PLACE_HOLDING,
    Answer,
    Match,
    MatchMessage,
    MatchRun,
    MatchSide,
    MatchStatus,
    WellbeingAnswer,
    WellbeingStage,
)
from app.privacy import service as privacy
from app.privacy.models import ConsentPurpose
from app.registry import availability
from app.registry import service as registry
from app.registry.models import ContactMethod, HelpRequest, Offer, Person
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
        # (a full offer's own page shows none: every candidate carries that offer)
        found.sort(key=lambda c: (-c.score, c.request_id))
    else:
        for offers in index.offer_tables():
            scored = engine.offers_for_request(offers, table, row, weights, context)
            # A few more than asked for, so that offers found full still leave `limit` to show.
            found += engine.candidates(scored, engine.top(scored, limit + 5, by_offer=True), offers, table)
        found.sort(key=lambda c: (-c.score, c.offer_id))
    full = full_offers(db, {c.offer_id for c in found})
    return [_suggestion(c, kind, index.codes, index.names) for c in found if c.offer_id not in full][:limit]


def full_offers(db: Session, offer_ids: set[int]) -> set[int]:
    """Those of these offers whose places are all taken by agreed matches: they are not suggested."""
    if not offer_ids:
        return set()
    held = (
        select(Match.offer_id, func.count().label("held"))
        .where(Match.offer_id.in_(sorted(offer_ids)), Match.status.in_(PLACE_HOLDING))
        .group_by(Match.offer_id)
        .subquery()
    )
    statement = select(Offer.id).join(held, held.c.offer_id == Offer.id).where(held.c.held >= Offer.capacity)
    return set(db.execute(statement).scalars())


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



def cancel_matches_of_person(db: Session, person_id: int, *, mailer: Mailer | None = None) -> int:
    """Every open match of theirs ends at once (suggested, proposed, agreed or under way); the
    other person of each match that went past a suggestion is told, neutrally."""
    offers = select(OFFER.model.id).where(OFFER.model.person_id == person_id)
    requests = select(REQUEST.model.id).where(REQUEST.model.person_id == person_id)
    condition = or_(Match.offer_id.in_(offers), Match.request_id.in_(requests))

    def leaving(match: Match) -> MatchSide:
        return MatchSide.offer if db.get(Offer, match.offer_id).person_id == person_id else MatchSide.request

    return _cancel_open_where(db, condition, mailer, leaving)


def cancel_matches_of_item(db: Session, *, kind_key: str, item_id: int, mailer: Mailer | None = None) -> int:
    side = MatchSide.offer if kind_key == OFFER.key else MatchSide.request
    condition = Match.offer_id == item_id if side is MatchSide.offer else Match.request_id == item_id
    return _cancel_open_where(db, condition, mailer, lambda _match: side)


def _cancel_open_where(db: Session, condition, mailer: Mailer | None, leaving) -> int:
    _cancel_suggestions_where(db, condition)  # suggestions nobody acted on simply go
    found = list(db.execute(select(Match).where(Match.status.in_(OPEN_STATUSES), condition)).scalars())
    for match in found:
        ended = db.execute(
            update(Match)
            .where(Match.id == match.id, Match.version == match.version)
            .values(status=MatchStatus.cancelled, version=match.version + 1, updated_at=utcnow(),
                    cancel_reason=None, ended_by=None)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        db.refresh(match)
        if ended.rowcount == 1:
            _after_change(db, match, workflow.Event.cancel, leaving(match), mailer)
    return len(found)


def cancel_matches_on_withdrawal(db: Session, *, person_id: int, purpose: ConsentPurpose, mailer: Mailer | None = None) -> None:
    """A `consent_withdrawn` hook: without `profile` or `matching` consent nobody stays matched."""
    if purpose in (ConsentPurpose.matching, ConsentPurpose.profile):
        cancel_matches_of_person(db, person_id, mailer=mailer)


# --- the match workflow ----------------------------------------------------------------------
# States and who may do what: `matching.workflow`. Every change goes through `change_match`,
# which applies the workflow's answer with `UPDATE ... WHERE version = :seen`.


@dataclass(frozen=True)
class Sides:
    """A match's two items and the people who own them."""

    offer: Offer
    request: HelpRequest
    offer_person: Person
    request_person: Person

    def person(self, side: MatchSide) -> Person:
        return self.offer_person if side is MatchSide.offer else self.request_person

    def item(self, side: MatchSide):
        return self.offer if side is MatchSide.offer else self.request


def sides_of(db: Session, match: Match) -> Sides:
    offer, help_request = db.get(Offer, match.offer_id), db.get(HelpRequest, match.request_id)
    return Sides(offer, help_request, db.get(Person, offer.person_id), db.get(Person, help_request.person_id))


def state_of(match: Match) -> workflow.State:
    return workflow.State(
        status=match.status,
        offer_answer=match.offer_answer,
        request_answer=match.request_answer,
        offer_minutes=match.offer_minutes,
        request_minutes=match.request_minutes,
        completed_at=match.completed_at,
    )


def places_in_use(db: Session, offer_id: int, *, besides: int | None = None) -> int:
    statement = select(func.count()).select_from(Match).where(Match.offer_id == offer_id, Match.status.in_(PLACE_HOLDING))
    if besides is not None:
        statement = statement.where(Match.id != besides)
    return db.execute(statement).scalar_one()


def pair_refusal(db: Session, settings: Settings, *, offer_id: int, request_id: int) -> tuple[str | None, Candidate | None]:
    """Why this pair cannot be matched now (an English message id), or its scored candidate."""
    categories = loader.skill_maps(db).categories
    offers = loader.load_sides(db, OFFER, [OFFER.model.id == offer_id], categories)
    requests = loader.load_sides(db, REQUEST, [REQUEST.model.id == request_id], categories)
    if not offers or not requests:
        return N_("One of these is no longer open for matching"), None
    offer_side, request_side = offers[0], requests[0]
    if offer_side.person_id == request_side.person_id:
        return N_("You cannot be matched with yourself"), None
    declined = loader.declined_pairs(db, offer_ids=[offer_id], request_ids=[request_id])
    if (offer_id, request_id) in declined:
        return N_("This match was declined, so it is not suggested again"), None
    if places_in_use(db, offer_id) >= offer_side.capacity:
        return N_("This offer has no places free just now"), None
    found = engine.evaluate(offer_side, request_side, weights_from(settings), Context(declined=declined, now=utcnow().timestamp()))
    if found is None:
        return N_("These two do not fit: they need a shared skill, a time both are free, and to be near enough"), None
    return None, found


def propose_match(
    db: Session,
    settings: Settings,
    *,
    offer_id: int,
    request_id: int,
    side: MatchSide,
    mailer: Mailer | None = None,
    broker_account_id: int | None = None,
) -> Match:
    """Ask for a pair: a suggestion stored by a run becomes `proposed`; a pair from the index is
    stored as `proposed` at once. The asker's answer is yes. A linker asking for a person on their
    caseload passes `broker_account_id`: the match then names them as its broker."""
    existing = db.execute(
        select(Match).where(Match.offer_id == offer_id, Match.request_id == request_id, Match.status.in_(OPEN_STATUSES))
    ).scalar_one_or_none()
    if existing is not None:
        return change_match(
            db, match=existing, side=side, seen_version=existing.version, event=workflow.Event.propose, mailer=mailer,
            broker_account_id=broker_account_id,
        )
    refusal, candidate = pair_refusal(db, settings, offer_id=offer_id, request_id=request_id)
    if refusal:
        raise InvalidInput(FieldError("match", refusal))
    names = loader.skill_maps(db).names
    now = utcnow()
    changes_ = workflow.next_state(workflow.State(MatchStatus.suggested), workflow.Event.propose, side, now=now)
    match = Match(
        offer_id=offer_id,
        request_id=request_id,
        score=candidate.score,
        breakdown={k: round(v, 4) for k, v in candidate.parts.items()},
        explanation=engine.explain(candidate, names)[:300],
        distance_km=candidate.rounded_distance(),
        created_at=now,
        updated_at=now,
        brokered_by_account_id=broker_account_id,
        **changes_,
    )
    begin_writing(db)
    try:
        with db.begin_nested():
            db.add(match)
            db.flush()
    except IntegrityError as exc:  # someone asked for the same pair a moment ago
        raise Conflict() from exc
    _after_change(db, match, workflow.Event.propose, side, mailer)
    return match


def change_match(
    db: Session,
    *,
    match: Match,
    side: MatchSide,
    seen_version: int,
    event: workflow.Event,
    mailer: Mailer | None = None,
    broker_account_id: int | None = None,
    **data,
) -> Match:
    """The one transition: check the workflow allows it, then apply it only if nobody changed the
    match since `seen_version` (else `Conflict`, with the latest version). A linker acting for a
    side passes `broker_account_id`; the first linker to act is named as the match's broker."""
    if match.version != seen_version:
        raise Conflict()
    try:
        values = workflow.next_state(state_of(match), event, side, now=utcnow(), **data)
    except workflow.NotAllowed as refusal:
        raise InvalidInput(FieldError("match", refusal.message)) from refusal
    if broker_account_id is not None and match.brokered_by_account_id is None:
        values["brokered_by_account_id"] = broker_account_id
    begin_writing(db)
    if values.get("status") is MatchStatus.accepted and db.get_bind().dialect.name == "postgresql":
        # Two acceptances of one offer's matches must not both take its last place.
        db.execute(select(Offer.id).where(Offer.id == match.offer_id).with_for_update())
    now = utcnow()
    updated = db.execute(
        update(Match)
        .where(Match.id == match.id, Match.version == seen_version)
        .values(**values, version=seen_version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if updated.rowcount != 1:
        db.refresh(match)  # the latest version, for the "someone changed this" answer
        raise Conflict()
    db.refresh(match)
    if match.status is MatchStatus.accepted and "status" in values:
        capacity = db.get(Offer, match.offer_id).capacity
        if places_in_use(db, match.offer_id) > capacity:
            raise InvalidInput(FieldError("match", N_("This offer has no places free just now")))
    _after_change(db, match, event, side, mailer, status_moved="status" in values)
    return match


def _after_change(
    db: Session, match: Match, event: workflow.Event | str, side: MatchSide, mailer: Mailer | None, *, status_moved: bool = True
) -> None:
    """Keep every process's suggestions right (places and declined pairs), and tell the people."""
    if status_moved:  # a confirmed time or a "yes" still waiting for the other changes no place
        found = [Change("offer", match.offer_id), Change("request", match.request_id)]
        if match.status is MatchStatus.declined:
            found.append(Change("declined", match.offer_id, match.request_id))
        changes.record(db, MATCHING_STAMP, found)
    if mailer is not None:
        notify(db, mailer, match=match, event=event, by=side)


# What each change tells whom: the other person always; both when it brings them together.
NOTICES = {
    workflow.Event.propose: "proposed",
    workflow.Event.accept: "answered",
    workflow.Event.decline: "declined",
    workflow.Event.start: "started",
    workflow.Event.complete: "completed",
    workflow.Event.confirm_time: "time",
    workflow.Event.cancel: "cancelled",
    workflow.Event.expire: "expired",
    "message": "message",
}


def notify(db: Session, mailer: Mailer, *, match: Match, event: workflow.Event | str, by: MatchSide | None) -> None:
    """Mail (after commit) to the people this change concerns who want mail about matches.
    It says what happened and links to the match: never a message's text or the other's details."""
    notice = "accepted" if match.status is MatchStatus.accepted and event is workflow.Event.accept else NOTICES[event]
    sides = sides_of(db, match)
    told = list(MatchSide) if notice == "accepted" or by is None else [by.other]
    settings = mailer.settings
    for side in told:
        person = sides.person(side)
        account = db.get(Account, person.account_id) if person.account_id else None
        if account is None or not account.is_active or not account.match_emails:
            continue  # people without an account hear from their linker
        message = render_mail(
            settings, "match_update", to=account.email, language=account.language,
            notice=notice, name=person.name.split()[0] if person.name else "", title=sides.item(side).title,
            link=f"{settings.base_url.rstrip('/')}/matches/{match.id}",
        )  # fmt: skip
        send_after_commit(db, mailer, message)


def expire_unanswered(db: Session, settings: Settings, *, mailer: Mailer | None = None, now=None) -> int:
    """End every match proposed more than `match_answer_days` ago and still unanswered, freeing
    the pair for other suggestions and telling both people. Each goes through `change_match`,
    so one answered a moment ago (a newer version) is left alone."""
    from datetime import timedelta

    limit = (now or utcnow()) - timedelta(days=settings.match_answer_days)
    stale = db.execute(
        select(Match).where(Match.status == MatchStatus.proposed, Match.proposed_at < limit).order_by(Match.id)
    ).scalars().all()
    ended = 0
    for match in stale:
        try:  # a refused change writes nothing, so no savepoint is needed
            change_match(
                db, match=match, side=MatchSide.offer, seen_version=match.version, event=workflow.Event.expire, mailer=None
            )
        except (Conflict, InvalidInput):
            continue
        if mailer is not None:
            notify(db, mailer, match=match, event=workflow.Event.expire, by=None)
        ended += 1
    return ended


def matches_of_person(db: Session, *, person_id: int) -> list[tuple[Match, MatchSide]]:
    """Every match of this person's offers and requests, newest first, with their side of each."""
    return matches_of_people(db, person_ids={person_id})


def matches_of_people(db: Session, *, person_ids: set[int]) -> list[tuple[Match, MatchSide]]:
    """Every match where one of these people is a side, newest first, with the side they are on
    (the offer's, when both are), in one query."""
    if not person_ids:
        return []
    rows = db.execute(
        select(Match, Offer.person_id)
        .join(Offer, Offer.id == Match.offer_id)
        .join(HelpRequest, HelpRequest.id == Match.request_id)
        .where(or_(Offer.person_id.in_(person_ids), HelpRequest.person_id.in_(person_ids)))
        .order_by(Match.created_at.desc(), Match.id.desc())
    ).all()
    return [(match, MatchSide.offer if offer_person in person_ids else MatchSide.request) for match, offer_person in rows]


def post_message(
    db: Session, *, match: Match, side: MatchSide, account_id: int | None, body: str, mailer: Mailer | None = None
) -> MatchMessage:
    if match.status not in (MatchStatus.accepted, MatchStatus.active, MatchStatus.completed):
        raise InvalidInput(FieldError("body", N_("You can write to each other once you have both agreed")))
    message = MatchMessage(match_id=match.id, sender_side=side, sender_account_id=account_id, body=body)
    db.add(message)
    db.flush()
    if mailer is not None:
        notify(db, mailer, match=match, event="message", by=side)
    return message


def messages_of(db: Session, *, match_id: int) -> list[MatchMessage]:
    return list(
        db.execute(select(MatchMessage).where(MatchMessage.match_id == match_id).order_by(MatchMessage.id)).scalars()
    )


@dataclass(frozen=True)
class Contact:
    first_name: str
    method: str
    value: str


def contact_for(db: Session, *, match: Match, side: MatchSide, sides: Sides) -> Contact | None:
    """The other person's first name and chosen contact, once both agreed and only if they gave
    `share_contact` consent; otherwise None (a linker puts them in touch)."""
    if match.status not in (MatchStatus.accepted, MatchStatus.active, MatchStatus.completed):
        return None
    other = sides.person(side.other)
    if not privacy.has_consent(db, person_id=other.id, purpose=ConsentPurpose.share_contact):
        return None
    return person_contact(db, other)


def person_contact(db: Session, person: Person) -> Contact | None:
    """A person's chosen way to be reached: their phone or email (a letter or a visit is the
    linker's to arrange, so for those the phone, or else the email, is given)."""
    method = person.preferred_contact
    value = person.email if method is ContactMethod.email else person.phone
    if value and method in (ContactMethod.post, ContactMethod.in_person):
        method = ContactMethod.phone
    if not value:
        account = db.get(Account, person.account_id) if person.account_id else None
        value = person.email or (account.email if account else None)
        method = ContactMethod.email
    if not value:
        return None
    return Contact(first_name=(person.name.split() or [""])[0], method=method.value, value=value)


def minutes_recorded(match: Match) -> int | None:
    if match.minutes_given is not None:
        return match.minutes_given
    return workflow.recorded_minutes(match.offer_minutes, match.request_minutes, match.completed_at, utcnow())


@dataclass(frozen=True)
class OtherItem:
    """What a person may see of the other side of a suggestion or match: never who, or where."""

    title: str
    skills: list[str]
    # A linker brokering for someone also sees what the other side wrote and its ward: enough
    # to judge the fit on the phone, still no name or contact.
    description: str | None = None
    ward: str | None = None


def other_items(db: Session, kind: ItemKind, item_ids: list[int], *, for_linker: bool = False) -> dict[int, OtherItem]:
    skills = registry.skills_of(db, kind=kind, item_ids=item_ids)
    wards = registry.ward_names(db) if for_linker else {}
    out = {}
    for item_id in item_ids:
        item = registry.find_item(db, kind=kind, item_id=item_id)
        out[item_id] = OtherItem(
            title=item.title,
            skills=[s.name for s in skills[item_id]],
            description=item.description if for_linker else None,
            ward=wards.get(item.ward_code) if for_linker else None,
        )
    return out


# --- the optional wellbeing questions (ONS4) on a match page --------------------------------------


def _has_completed_match(db: Session, person_id: int) -> bool:
    completed = Match.status == MatchStatus.completed
    as_offer = select(Match.id).join(Offer, Offer.id == Match.offer_id).where(Offer.person_id == person_id, completed)
    as_request = (
        select(Match.id).join(HelpRequest, HelpRequest.id == Match.request_id).where(HelpRequest.person_id == person_id, completed)
    )
    return db.execute(as_offer.union_all(as_request).limit(1)).first() is not None


def wellbeing_due(db: Session, *, match: Match, person_id: int) -> WellbeingStage | None:
    """The wellbeing questions this person may answer on this match now (see `wellbeing.stage_due`)."""
    answered = db.execute(
        select(WellbeingAnswer.stage, WellbeingAnswer.match_id).where(WellbeingAnswer.person_id == person_id)
    ).all()
    return wellbeing.stage_due(
        match_status=match.status,
        has_starting_point=any(stage is WellbeingStage.before for stage, _match in answered),
        has_completed_match=match.status is MatchStatus.completed or _has_completed_match(db, person_id),
        answered_after_this_match=any(stage is WellbeingStage.after and match_id == match.id for stage, match_id in answered),
    )


def record_wellbeing(
    db: Session, *, match: Match, person_id: int, stage: WellbeingStage, answers: wellbeing.WellbeingAnswers,
    recorded_by: int | None,
) -> WellbeingAnswer:  # fmt: skip
    """Keep a person's four answers, once per stage (a second try, or a stage not asked now, is
    refused with a plain message; the unique indexes settle two at the same moment)."""
    if wellbeing_due(db, match=match, person_id=person_id) is not stage:
        raise InvalidInput(FieldError("stage", N_("These questions have been answered already")))
    row = WellbeingAnswer(
        person_id=person_id, match_id=match.id, stage=stage, recorded_by_account_id=recorded_by, **answers.model_dump()
    )  # fmt: skip
    try:
        with db.begin_nested():
            db.add(row)
    except IntegrityError:
        raise InvalidInput(FieldError("stage", N_("These questions have been answered already"))) from None
    return row


def wellbeing_answers_of(db: Session, *, person_id: int) -> list[WellbeingAnswer]:
    return list(
        db.execute(
            select(WellbeingAnswer).where(WellbeingAnswer.person_id == person_id).order_by(WellbeingAnswer.answered_at, WellbeingAnswer.id)
        ).scalars()
    )
