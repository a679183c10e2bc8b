"""Requests that take effect once, however often they arrive.

An API client that may retry sends an `Idempotency-Key` header; a page form carries a random
form token. The first request with a key stores its answer in the same transaction as the work
it did; every repeat, even one sent at the same instant, gets that stored answer and does nothing
else. How the race is settled: the key's row is inserted before the work, under a unique
constraint. On PostgreSQL a concurrent insert waits on that row until the first transaction ends,
then fails (and the stored answer is read); on SQLite writers queue for the database lock, and
the later one finds the row. If the first request fails, its transaction and its key go together,
so a retry runs afresh.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.accounts.models import OnceOnly
from app.core.db import begin_writing
from app.core.errors import FieldError, InvalidInput
from app.core.i18n import N_

KEEP_FOR = timedelta(hours=24)
FORM = "a page form"  # the fingerprint of every form send: any repeat gets the first answer
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: str
    repeated: bool = False  # True when this is the stored answer to an earlier request


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _stored(db: Session, account_id: int, key: str) -> OnceOnly | None:
    return db.execute(select(OnceOnly).where(OnceOnly.account_id == account_id, OnceOnly.key == key)).scalars().first()


def _repeat(row: OnceOnly, print_: str) -> Answer:
    if row.fingerprint != print_:
        raise InvalidInput(FieldError("Idempotency-Key", N_("This key was already used for a different request. Use a new key.")))
    return Answer(row.status_code, row.answer, repeated=True)


def once(db: Session, *, account_id: int, key: str, print_: str, run: Callable[[], Answer]) -> Answer:
    """`run()` the first time `key` is seen for this account; its stored answer every time after."""
    # Printable text only: a control character (NUL above all, which PostgreSQL cannot store)
    # is refused the same on both databases.
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(FieldError("Idempotency-Key", N_("Send a key of 1 to 255 characters.")))
    found = _stored(db, account_id, key)
    if found is not None:
        return _repeat(found, print_)
    begin_writing(db)
    row = OnceOnly(account_id=account_id, key=key, fingerprint=print_)
    try:
        with db.begin_nested():
            db.add(row)
            db.flush()
    except IntegrityError:
        # Another request with this key got there first and has committed: answer as it did.
        found = _stored(db, account_id, key)
        if found is None:  # it failed and rolled back after all: the key is free again
            return once(db, account_id=account_id, key=key, print_=print_, run=run)
        db.refresh(found)
        return _repeat(found, print_)
    try:
        with db.begin_nested():
            answer = run()
    except BaseException:
        # Refused (or failed): the key goes with the work it guarded, even if the page that shows
        # the refusal commits, so the corrected send is the first with it.
        db.delete(row)
        db.flush()
        raise
    row.status_code, row.answer = answer.status_code, answer.body
    db.add(row)
    db.flush()
    return answer


def new_form_token() -> str:
    return "form:" + secrets.token_urlsafe(18)


def form_once(db: Session, *, account_id: int, token: str, run: Callable[[], Answer]) -> Answer:
    """A page form's send: the first with its token runs; a repeat (a double click, a resend after
    a slow answer, the back button) goes where the first went, whatever it carries this time."""
    if not token.startswith("form:") or len(token) > MAX_KEY_LENGTH:
        return run()  # a page from before tokens, or a hand-made post: nothing to hold it to
    return once(db, account_id=account_id, key=token, print_=FORM, run=run)


__all__ = ["Answer", "fingerprint", "form_once", "new_form_token", "once"]
