"""An in-process index of everything matching may use, kept in step with the database's change log.

Suggestions must answer in milliseconds on a borough of 100,000 people, faster than reading
thousands of candidate rows per call. So each process keeps the live, consenting offers and
requests as engine tables (indexed by skill), built once, and follows the change log
(`core.changes`) on every call: one primary-key read of the stamp, and when it has moved one
indexed read of what changed, applied in place:

- a changed offer, request or person retires its rows in the base tables (`eligible` set to
  False, so the engine's hard rules refuse them) and reloads just those items, live ones going
  into a small delta table that shares the base tables' skill spaces;
- a declined pair joins the declined set;
- a skills-taxonomy change, a whole-area run, a log pruned past this process, or a rollback that
  reused a generation this process saw, need a full rebuild.

A rebuild never blocks readers once there is an index: it is built from a fresh session in a
background thread while readers keep using (and updating) the current one, then the changes made
since it started are applied to it and it is swapped in atomically. Only the very first build,
when there is nothing to serve, is waited for. When the delta grows past `DELTA_LIMIT` items,
a background rebuild folds it into new base tables.

Each process (each uvicorn worker) keeps its own `LiveIndex` per database and follows the same
log, so a change is visible to every worker on its next call.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core import changes
from app.core.changes import Change, MustRebuild, Stamp
from app.matching import loader
from app.matching.engine import Side, SideTable, key_spaces
from app.registry.models import HelpRequest, Offer
from app.registry.service import OFFER, REQUEST

STAMP = "matching"
DELTA_LIMIT = 2_000
logger = logging.getLogger("marketplace.matching.index")


@dataclass
class MatchIndex:
    """One consistent view for a call: base tables, the delta tables beside them, and the rest."""

    stamp: Stamp
    offers: SideTable
    requests: SideTable
    declined: frozenset[tuple[int, int]]
    codes: dict[int, str]
    names: dict[int, str]
    categories: dict[int, int]
    build_seconds: float
    delta_offers: SideTable | None = None
    delta_requests: SideTable | None = None

    @property
    def token(self) -> str:
        return self.stamp.token

    def offer_tables(self) -> list[SideTable]:
        return [self.offers] + ([self.delta_offers] if self.delta_offers is not None else [])

    def request_tables(self) -> list[SideTable]:
        return [self.requests] + ([self.delta_requests] if self.delta_requests is not None else [])

    def find(self, kind_key: str, item_id: int) -> tuple[SideTable, int] | None:
        """The live row of an item, in the delta if it changed since the base was built."""
        tables = self.offer_tables() if kind_key == "offer" else self.request_tables()
        for table in reversed(tables):  # the delta is newer than the base
            row = table.row_of.get(item_id)
            if row is not None and table.eligible[row]:
                return table, row
        return None


@dataclass
class _State:
    """What a `LiveIndex` keeps between calls (replaced whole on a rebuild)."""

    stamp: Stamp
    offers: SideTable
    requests: SideTable
    declined: set[tuple[int, int]]
    skills: loader.SkillMaps
    build_seconds: float
    delta_offers: dict[int, Side] = field(default_factory=dict)
    delta_requests: dict[int, Side] = field(default_factory=dict)
    view: MatchIndex | None = None


class LiveIndex:
    """The index of one database in this process."""

    def __init__(self) -> None:
        self._state: _State | None = None
        self._apply_lock = threading.Lock()
        self._rebuilding: threading.Thread | None = None
        self.rebuilds = 0

    # --- reading -----------------------------------------------------------------------------

    def get(self, db: Session) -> MatchIndex:
        seen = changes.read_stamp(db, STAMP)
        state = self._state
        if state is not None and state.stamp == seen and state.view is not None:
            return state.view
        with self._apply_lock:
            state = self._state
            if state is None:
                self._state = state = self._build(db)
            if state.stamp != seen:
                try:
                    self._follow(db, state)
                except MustRebuild:
                    # Rare: a rollback or pruning under us, or a change the delta cannot hold.
                    self._state = state = self._build(db)
            if state.view is None:
                state.view = self._view(state)
            return state.view

    # --- following the log -------------------------------------------------------------------

    def _follow(self, db: Session, state: _State) -> None:
        stamp, changed = changes.changes_since(db, STAMP, state.stamp)
        if changed:
            self._apply(db, state, changed)
        state.stamp = stamp

    def _apply(self, db: Session, state: _State, changed: list[Change]) -> None:
        kinds = {c.kind for c in changed}
        if kinds & {"all", "skills"}:
            self._rebuild_soon(db)  # meanwhile the item changes below keep this index right
        offer_ids = {c.object_id for c in changed if c.kind == "offer"}
        request_ids = {c.object_id for c in changed if c.kind == "request"}
        person_ids = {c.object_id for c in changed if c.kind == "person"}
        for c in changed:
            if c.kind == "declined":
                state.declined.add((c.object_id, c.other_id))
        if person_ids:
            offer_ids |= loader.item_ids_of_people(db, OFFER, person_ids)
            request_ids |= loader.item_ids_of_people(db, REQUEST, person_ids)
        if offer_ids or request_ids or "declined" in kinds:
            state.view = None
        if offer_ids:
            self._reload(db, state, OFFER, offer_ids, state.offers, state.delta_offers, Offer)
        if request_ids:
            self._reload(db, state, REQUEST, request_ids, state.requests, state.delta_requests, HelpRequest)
        if len(state.delta_offers) + len(state.delta_requests) > DELTA_LIMIT:
            self._rebuild_soon(db)

    def _reload(self, db, state: _State, kind, ids: set[int], base: SideTable, delta: dict[int, Side], model) -> None:
        live = {side.id: side for side in loader.load_sides(db, kind, [model.id.in_(sorted(ids))], state.skills.categories)}
        unknown_key = False
        for item_id in ids:
            row = base.row_of.get(item_id)
            if row is not None:
                base.eligible[row] = False  # retired in place: the engine's rules refuse it
            delta.pop(item_id, None)
            side = live.get(item_id)
            if side is not None:
                if not (side.skills <= base.skill_space.bit.keys() and side.categories <= base.category_space.bit.keys()):
                    unknown_key = True  # a skill nobody had when the base was built
                delta[item_id] = side
        if unknown_key:
            raise MustRebuild()  # the tables' skill spaces must grow: only a rebuild can do that

    def _view(self, state: _State) -> MatchIndex:
        spaces = (state.offers.skill_space, state.offers.category_space)
        delta_offers = SideTable(sorted(state.delta_offers.values(), key=lambda s: s.id), spaces) if state.delta_offers else None
        delta_requests = SideTable(sorted(state.delta_requests.values(), key=lambda s: s.id), spaces) if state.delta_requests else None
        return MatchIndex(
            stamp=state.stamp,
            offers=state.offers,
            requests=state.requests,
            declined=frozenset(state.declined),
            codes=state.skills.codes,
            names=state.skills.names,
            categories=state.skills.categories,
            build_seconds=state.build_seconds,
            delta_offers=delta_offers,
            delta_requests=delta_requests,
        )

    # --- building ----------------------------------------------------------------------------

    def _build(self, db: Session) -> _State:
        """Whole tables as of a stamp read first; later changes are applied on top by `get`."""
        started = time.perf_counter()
        stamp = changes.read_stamp(db, STAMP)
        skills = loader.skill_maps(db)
        offers = loader.load_sides(db, OFFER, [], skills.categories)
        requests = loader.load_sides(db, REQUEST, [], skills.categories)
        spaces = key_spaces(offers, requests)
        state = _State(
            stamp=stamp,
            offers=SideTable(offers, spaces),
            requests=SideTable(requests, spaces),
            declined=set(loader.declined_pairs(db)),
            skills=skills,
            build_seconds=time.perf_counter() - started,
        )
        self.rebuilds += 1
        return state

    def _rebuild_soon(self, db: Session) -> None:
        """A fresh base without blocking readers, when a separate connection can be opened."""
        bind = db.get_bind()
        if not isinstance(bind, Engine):
            # Bound to one connection (a test's transaction): there is no second connection to
            # build from, so build now, in this caller's view of the data.
            raise MustRebuild()
        if self._rebuilding is not None and self._rebuilding.is_alive():
            return
        self._rebuilding = threading.Thread(target=self._rebuild_in_background, args=(bind,), daemon=True)
        self._rebuilding.start()

    def _rebuild_in_background(self, engine: Engine) -> None:
        try:
            with Session(engine) as db:
                fresh = self._build(db)
                with self._apply_lock:
                    try:
                        self._follow(db, fresh)  # what changed while it was being built
                    except MustRebuild:
                        return  # the next reader's call sorts this out
                    fresh.view = None
                    self._state = fresh  # the swap: readers pick it up on their next call
        except Exception as exc:  # the current index stays in use; the next change tries again
            logger.error("index rebuild failed: %s", type(exc).__name__)


_lock = threading.Lock()
_indexes: dict[str, LiveIndex] = {}


def _cache_key(db: Session) -> str:
    bind = db.get_bind()
    return str(bind.engine.url) if hasattr(bind, "engine") else str(id(bind))


def live_index(db: Session) -> LiveIndex:
    key = _cache_key(db)
    with _lock:
        index = _indexes.get(key)
        if index is None:
            index = _indexes[key] = LiveIndex()
        return index


def get_index(db: Session) -> MatchIndex:
    """The index for this database, brought up to date with the change log first."""
    return live_index(db).get(db)


def forget() -> None:
    """Drop every cached index (tests and benchmarks use this to measure a cold start)."""
    with _lock:
        _indexes.clear()


__all__ = ["LiveIndex", "MatchIndex", "forget", "get_index", "live_index"]
