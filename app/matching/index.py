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

from sqlmodel import Session

from app.core import changes
from app.matching import loader
from app.matching.engine import SideTable, key_spaces
from app.registry.service import OFFER, REQUEST

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
        skills = loader.skill_maps(db)
        offers = loader.load_sides(db, OFFER, [], skills.categories)
        requests = loader.load_sides(db, REQUEST, [], skills.categories)
        spaces = key_spaces(offers, requests)
        declined = loader.declined_pairs(db)
        index = MatchIndex(
            token=token,
            offers=SideTable(offers, spaces),
            requests=SideTable(requests, spaces),
            declined=declined,
            codes=skills.codes,
            names=skills.names,
            categories=skills.categories,
            build_seconds=time.perf_counter() - started,
        )
        _cache[key] = index
        return index


def forget() -> None:
    """Drop every cached index (tests and benchmarks use this to measure a cold start)."""
    with _lock:
        _cache.clear()


__all__ = ["MatchIndex", "forget", "get_index"]
