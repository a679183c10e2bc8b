"""Change stamps: a cheap way for a cache to know that data it depends on has changed.

A writer calls `bump(db, "matching")` in the same transaction as its change; the row update
holds a lock until commit, so stamps are ordered exactly like the commits. Each stamp carries a
random token as well as a number, because a rolled-back transaction can reuse a number but never
a token.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select, update
from sqlmodel import Field, Session, SQLModel


class ChangeStamp(SQLModel, table=True):
    __tablename__ = "change_stamp"

    name: str = Field(primary_key=True, max_length=40)
    generation: int = 0
    token: str = Field(default="", max_length=32)


def bump(db: Session, name: str) -> None:
    token = secrets.token_hex(16)
    result = db.execute(
        update(ChangeStamp).where(ChangeStamp.name == name).values(generation=ChangeStamp.generation + 1, token=token)
    )
    if result.rowcount == 0:
        db.add(ChangeStamp(name=name, generation=1, token=token))
        db.flush()


def current(db: Session, name: str) -> str:
    """The current stamp's token ('' if nothing was ever stamped)."""
    return db.connection().execute(select(ChangeStamp.token).where(ChangeStamp.name == name)).scalar() or ""
