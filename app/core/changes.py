"""Change stamps and the change log: how a cache learns exactly what changed, in commit order.

A writer calls `record(db, "matching", [Change("offer", 12), ...])` in the same transaction as its
change. That moves the stamp (generation + 1, a fresh random token) and writes one log row per
change tagged with the new generation and token. The stamp's row update holds a lock until
commit, so generations are ordered exactly like the commits that made them: a reader that has
applied everything up to generation G only ever needs rows with a generation above G.

A reader checks the stamp (one primary-key read). If it moved, it reads the log from its own
generation on (one indexed query): the row of its own generation must still carry the token it
saw, or that generation was rolled back and reused (a reader can see its own request's
uncommitted writes) or the log was pruned past it, and the reader must rebuild from scratch.
Every `record` writes at least one row, so a missing row always means one of those two.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import delete, func, insert, select, update
from sqlmodel import Field, Session, SQLModel

# Kept generations: enough for any process that was busy for a while, small enough to stay cheap.
KEEP_GENERATIONS = 20_000
PRUNE_EVERY = 1_000


class ChangeStamp(SQLModel, table=True):
    __tablename__ = "change_stamp"

    name: str = Field(primary_key=True, max_length=40)
    generation: int = 0
    token: str = Field(default="", max_length=32)


class ChangeLog(SQLModel, table=True):
    """What one generation changed: a kind ("offer", "request", "person", "declined", "skills",
    "all") and the object's id (a declined pair: offer id and request id)."""

    __tablename__ = "change_log"
    __table_args__ = (sa.Index("ix_change_log_stamp_generation", "stamp", "generation"),)

    id: int | None = Field(default=None, primary_key=True)
    stamp: str = Field(max_length=40)
    generation: int
    token: str = Field(max_length=32)
    kind: str = Field(max_length=16)
    object_id: int | None = None
    other_id: int | None = None


@dataclass(frozen=True)
class Change:
    kind: str
    object_id: int | None = None
    other_id: int | None = None


@dataclass(frozen=True)
class Stamp:
    generation: int
    token: str


def _bump(db: Session, name: str) -> Stamp:
    token = secrets.token_hex(16)
    result = db.execute(
        update(ChangeStamp).where(ChangeStamp.name == name).values(generation=ChangeStamp.generation + 1, token=token)
    )
    if result.rowcount == 0:
        db.add(ChangeStamp(name=name, generation=1, token=token))
        db.flush()
        return Stamp(1, token)
    generation = db.execute(select(ChangeStamp.generation).where(ChangeStamp.name == name)).scalar_one()
    return Stamp(generation, token)


def record(db: Session, name: str, changed: Iterable[Change]) -> Stamp:
    """Move the stamp and log what changed, in the caller's transaction."""
    stamp = _bump(db, name)
    rows = [
        {"stamp": name, "generation": stamp.generation, "token": stamp.token, "kind": c.kind,
         "object_id": c.object_id, "other_id": c.other_id}
        for c in dict.fromkeys(changed)
    ] or [{"stamp": name, "generation": stamp.generation, "token": stamp.token, "kind": "none",
           "object_id": None, "other_id": None}]
    db.execute(insert(ChangeLog.__table__), rows)
    if stamp.generation % PRUNE_EVERY == 0:
        prune(db, name, keep=KEEP_GENERATIONS)
    return stamp


def bump(db: Session, name: str) -> Stamp:
    """Something changed that a reader cannot follow piece by piece: it must rebuild."""
    return record(db, name, [Change("all")])


def prune(db: Session, name: str, *, keep: int) -> int:
    newest = db.execute(select(ChangeStamp.generation).where(ChangeStamp.name == name)).scalar() or 0
    result = db.execute(delete(ChangeLog).where(ChangeLog.stamp == name, ChangeLog.generation <= newest - keep))
    return result.rowcount


def read_stamp(db: Session, name: str) -> Stamp:
    row = db.connection().execute(select(ChangeStamp.generation, ChangeStamp.token).where(ChangeStamp.name == name)).first()
    return Stamp(row[0], row[1]) if row else Stamp(0, "")


def current(db: Session, name: str) -> str:
    """The current stamp's token ('' if nothing was ever stamped)."""
    return read_stamp(db, name).token


class MustRebuild(Exception):
    """The log cannot bring this reader up to date (a rollback reused its generation, or pruning)."""


def changes_since(db: Session, name: str, seen: Stamp) -> tuple[Stamp, list[Change]]:
    """Everything logged after `seen`, and the stamp it brings the reader to; or `MustRebuild`."""
    rows = db.connection().execute(
        select(ChangeLog.generation, ChangeLog.token, ChangeLog.kind, ChangeLog.object_id, ChangeLog.other_id)
        .where(ChangeLog.stamp == name, ChangeLog.generation >= seen.generation)
        .order_by(ChangeLog.generation, ChangeLog.id)
    ).all()
    if seen.generation > 0:
        own = [row for row in rows if row.generation == seen.generation]
        if not own or any(row.token != seen.token for row in own):
            raise MustRebuild()
    newer = [row for row in rows if row.generation > seen.generation]
    if not newer:
        latest = read_stamp(db, name)
        if latest != seen:  # the stamp moved but no row follows: rolled back underneath us
            raise MustRebuild()
        return seen, []
    last = newer[-1]
    return Stamp(last.generation, last.token), [Change(r.kind, r.object_id, r.other_id) for r in newer]


def oldest_generation(db: Session, name: str) -> int | None:
    return db.connection().execute(select(func.min(ChangeLog.generation)).where(ChangeLog.stamp == name)).scalar()
