"""Database engine and sessions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio
import anyio.to_thread
import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy import DateTime, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel, create_engine

# Stable constraint names, so that migrations can alter and drop them on both databases.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both databases.

    PostgreSQL keeps `timestamptz`; SQLite has no time zones, so values are stored as naive UTC
    and given their zone back on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store timezone-aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_column(enum_type: type, length: int) -> sa.Enum:
    """A plain VARCHAR on both databases: no PostgreSQL enum type to migrate later."""
    return sa.Enum(enum_type, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            from pathlib import Path

            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 15}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; we emit BEGIN ourselves.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # A write request's transactions begin IMMEDIATE: they take the write lock first (waiting up to
    # the busy timeout for it) instead of reading and then failing at once with "database is
    # locked" when another writer committed in between. Reads stay DEFERRED and never wait.
    if connection.get_execution_options().get(SQLITE_BEGIN) == "IMMEDIATE":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


SQLITE_BEGIN = "marketplace_sqlite_begin"


def write_session_factory(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """The sessions of requests that change things (POST, PUT, PATCH, DELETE). On SQLite their
    transactions begin IMMEDIATE; elsewhere (PostgreSQL, or a test's shared connection) they are
    the same sessions."""
    bind = session_factory.kw.get("bind")
    if isinstance(bind, Engine) and bind.dialect.name == "sqlite":
        return make_session_factory(bind.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"}), **{
            k: v for k, v in session_factory.kw.items() if k not in ("bind", "class_", "expire_on_commit")
        })  # fmt: skip
    return session_factory


def make_session_factory(bind: Any, **kwargs: Any) -> sessionmaker[Session]:
    return sessionmaker(bind=bind, class_=Session, expire_on_commit=False, **kwargs)


@contextmanager
def atomic(session: Session) -> Iterator[None]:
    """All or nothing inside a request: a savepoint that is rolled back if the block raises.

    Views wrap each service call in it, so a refused form never leaves a half-written record.
    """
    with session.begin_nested():
        yield


READING_METHODS = ("GET", "HEAD", "OPTIONS")


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One unit of work per request: commit when the handler returns, roll back if it raises.

    Used with scope="function" so the commit happens before the response is sent. Making a
    session touches no database, so it happens on the event loop; the end (commit or rollback,
    then the after-request writes) is one trip to a worker thread.
    """
    factory = request.app.state.session_factory if request.method in READING_METHODS else request.app.state.write_session_factory
    session: Session = factory()
    try:
        yield session
    except BaseException:
        await _in_thread_shielded(_end_unit_of_work, request, session, False)
        raise
    await _in_thread_shielded(_end_unit_of_work, request, session, True)


async def _in_thread_shielded(function: Callable[..., None], *args: Any) -> None:
    # As FastAPI does for the end of a sync dependency: never cancelled half-way (the connection
    # must go back to the pool), and never waiting for a thread that a waiting request holds.
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(function, *args, limiter=anyio.CapacityLimiter(1))


def _end_unit_of_work(request: Request, session: Session, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        _run_after_unit_of_work(request)


def begin_writing(session: Session) -> None:
    """Before a read-check-write (a versioned update): let the write begin a transaction of its
    own when this unit of work has only read so far.

    On SQLite a transaction that read and then writes cannot wait for another writer: it fails
    with "database is locked" at once. One that begins by writing waits its turn (the busy
    timeout), then sees the latest rows, so a stale version is a clean 409. Ending a transaction
    that only read changes nothing. PostgreSQL waits on the row itself and needs nothing.
    """
    if session.get_bind().dialect.name == "sqlite" and not (session.new or session.dirty or session.deleted):
        session.commit()


@contextmanager
def writing(session: Session) -> Iterator[None]:
    """`atomic`, for a block that reads, checks, then writes: on SQLite the unit of work first
    ends what it only read (`begin_writing`), so the block's writes wait their turn instead of
    failing with "database is locked"."""
    begin_writing(session)
    with session.begin_nested():
        yield


def after_unit_of_work(request: Request, callback: Callable[[sessionmaker[Session]], None]) -> None:
    """Run `callback(session_factory)` once the request's own transaction has ended, committed or
    rolled back: for records that must outlive a refusal (the audit trail writes refused probes
    this way, each in a short transaction of its own)."""
    request.scope.setdefault("state", {}).setdefault("after_unit_of_work", []).append(callback)


def _run_after_unit_of_work(request: Request) -> None:
    callbacks = request.scope.get("state", {}).pop("after_unit_of_work", [])
    for callback in callbacks:
        try:
            callback(request.app.state.session_factory)
        except Exception as exc:  # never lose the answer over it; say what failed, not what it held
            import logging

            logging.getLogger("marketplace.db").error("after-request write failed: %s", type(exc).__name__)


DbSession = Annotated[Session, Depends(get_db, scope="function")]

__all__ = ["DbSession", "atomic", "OrmSession", "UTCDateTime", "get_db", "make_engine", "make_session_factory", "utcnow"]
