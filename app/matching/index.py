"""An in-process index of everything matching may use, kept in step with the database.

Suggestions must answer in milliseconds on a borough of 100,000 people, faster than reading
thousands of candidate rows per call. So each process keeps the live, consenting offers and
requests as engine tables (indexed by skill), and checks one change stamp per call: any write
that matching depends on moves the stamp in the same transaction, and the index is rebuilt
before it is used again. A stale index is never used.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from app.core import changes
from app.matching.engine import SideTable, key_spaces
from app.matching.models import Match, MatchStatus
from app.registry.models import Skill

STAMP = "matching"


@dataclass
class MatchIndex:
    token: str
    offers: SideTable
    requests: SideTable
    declined: frozenset[tuple[int, int]]
    codes: dict[int, str]
    names: dict[int, str]
    categories: dict[int, int]
    build_seconds: float


_lock = threading.Lock()
_cache: dict[str, MatchIndex] = {}


def _cache_key(db: Session) -> str:
    return str(db.get_bind().engine.url) if hasattr(db.get_bind(), "engine") else str(id(db.get_bind()))


def get_index(db: Session) -> MatchIndex:
    """The index for this database, rebuilt first if anything it depends on has changed."""
    from app.matching import service  # the loaders live with the rest of the service

    token = changes.current(db, STAMP)
    key = _cache_key(db)
    index = _cache.get(key)
    if index is not None and index.token == token:
        return index
    with _lock:
        index = _cache.get(key)
        if index is not None and index.token == token:
            return index
        started = time.perf_counter()
        rows = db.connection().execute(select(Skill.id, Skill.code, Skill.name, Skill.category_id)).all()
        codes = {r.id: r.code for r in rows}
        names = {r.id: r.name for r in rows}
        categories = {r.id: r.category_id for r in rows}
        offers = service.load_sides(db, service.OFFER, [], categories)
        requests = service.load_sides(db, service.REQUEST, [], categories)
        spaces = key_spaces(offers, requests)
        declined = frozenset(
            db.connection().execute(select(Match.offer_id, Match.request_id).where(Match.status == MatchStatus.declined)).all()
        )
        index = MatchIndex(
            token=token,
            offers=SideTable(offers, spaces),
            requests=SideTable(requests, spaces),
            declined=frozenset((int(a), int(b)) for a, b in declined),
            codes=codes,
            names=names,
            categories=categories,
            build_seconds=time.perf_counter() - started,
        )
        _cache[key] = index
        return index


def forget() -> None:
    """Drop every cached index (tests and benchmarks use this to measure a cold start)."""
    with _lock:
        _cache.clear()


__all__ = ["MatchIndex", "forget", "get_index"]
