"""Background jobs: a queue that lives in the configured database (huey), enqueued after commit.

The library is huey 3 with its own SQL storage: `SqliteHuey` in the SQLite file itself and
`PostgresHuey` (psycopg 3, `LISTEN/NOTIFY`, `FOR UPDATE SKIP LOCKED`) in the PostgreSQL database.
Its tables are made by the Alembic migrations (`0009_job_runs`), never at start-up.

- Each domain registers its jobs on `Plugins.jobs` (`JobSpec`: a name and a function taking a
  `JobContext` first). `build_jobs(settings, session_factory, plugins)` makes the queue and
  registers every job on it: the web application and `marketplace worker` call it with the same
  `build_plugins()` wiring, so both know exactly the same jobs.
- `enqueue_after_commit(db, task, *args)` puts a job on the queue once `db`'s transaction has
  committed, and forgets it if the transaction (or the savepoint it was queued in) rolls back.
- Every job is retried `jobs_retries` times, `jobs_retry_delay_seconds` apart. Jobs must be
  idempotent (a retry may follow a failure half-way). What each attempt did is kept in
  `job_run` (name, status, attempts, the error's type: never the job's arguments), which
  administrators see on `/admin/jobs`.
- `jobs_immediate` (tests, single-process development) runs each job in the enqueuing process
  right after the commit, through the same huey machinery, with an in-memory queue.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from huey import PostgresHuey, SqliteHuey
from huey.api import Huey, TaskWrapper
from huey.exceptions import TaskLockedException
from sqlalchemy import event, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker
from sqlmodel import Field, SQLModel

from app.core.config import Settings
from app.core.db import UTCDateTime, enum_column, utcnow

logger = logging.getLogger("marketplace.jobs")

QUEUE_NAME = "marketplace"
# huey's table names: SQLite has fixed ones, PostgreSQL a prefix ("huey_task", ...).
SQLITE_QUEUE_TABLES = ("kv", "schedule", "task", "counter")
POSTGRES_QUEUE_TABLES = ("huey_kv", "huey_schedule", "huey_task", "huey_counter")
QUEUE_TABLES = frozenset(SQLITE_QUEUE_TABLES + POSTGRES_QUEUE_TABLES)


LockHeld = TaskLockedException  # raised by `JobContext.lock(name).acquire()` when another holds it


class JobRefused(Exception):
    """A job that cannot run now for a reason that is safe to show (no personal data)."""


# --- what administrators see --------------------------------------------------------------------


class JobStatus(str, enum.Enum):
    running = "running"
    retrying = "retrying"  # failed, another attempt is scheduled
    finished = "finished"
    failed = "failed"  # failed for good, after every retry


class JobRun(SQLModel, table=True):
    """One job on the queue, as the worker ran it: written by the queue's hooks, never by jobs."""

    __tablename__ = "job_run"

    id: int | None = Field(default=None, primary_key=True)
    task_id: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=60)
    status: JobStatus = Field(sa_type=enum_column(JobStatus, 16), index=True)
    attempts: int = 0
    error: str | None = Field(default=None, max_length=300)  # the error's type (and our own safe message)
    started_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow, index=True)
    finished_at: datetime | None = Field(sa_type=UTCDateTime, default=None)


def describe_error(exc: BaseException) -> str:
    """What may be stored and shown about a failure: its type, and the message only of our own
    refusals and lock refusals (library messages can quote addresses or data)."""
    if isinstance(exc, JobRefused):
        return f"{type(exc).__name__}: {exc}"[:300]
    if isinstance(exc, TaskLockedException):
        return "TaskLockedException: another job held this job's lock"
    return type(exc).__name__


# --- jobs, their wiring and the queue -----------------------------------------------------------


@dataclass(frozen=True)
class JobContext:
    """What a job gets besides its own (plain, JSON-like) arguments."""

    settings: Settings
    session_factory: sessionmaker
    plugins: Any
    huey: Huey

    def lock(self, name: str):
        """A lock shared by every process using this queue (a row in the queue's table)."""
        return self.huey.lock_task(name)


@dataclass(frozen=True)
class JobSpec:
    name: str  # unique, stable: it is what the queue stores
    func: Callable[..., Any]  # func(context, *args, task=huey_task)
    # A huey `crontab(...)` (in UTC) for jobs the worker starts by itself, such as digests and
    # expiry sweeps. Scheduled jobs take no arguments and must be safe to run twice.
    schedule: Callable[..., bool] | None = None


@dataclass
class Jobs:
    huey: Huey
    context: JobContext
    tasks: dict[str, TaskWrapper] = field(default_factory=dict)

    def task(self, name: str) -> TaskWrapper:
        return self.tasks[name]

    def enqueue_now(self, name: str, *args: Any) -> None:
        """Enqueue outside any unit of work (scripts). Inside one, use `enqueue_after_commit`."""
        self.tasks[name](*args)


def huey_for(settings: Settings) -> Huey:
    """The queue in the database that `MARKETPLACE_DATABASE_URL` names (SQLAlchemy URL)."""
    if settings.jobs_immediate:
        # huey runs each job synchronously at enqueue time, with an in-memory queue.
        return Huey(QUEUE_NAME, immediate=True, results=False)
    url = make_url(settings.database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ValueError("the job queue needs a SQLite file, not an in-memory database")
        return SqliteHuey(QUEUE_NAME, filename=url.database, results=False, create_tables=False, timeout=15)
    if backend == "postgresql":
        # libpq's own URL: the same address without SQLAlchemy's "+psycopg" driver suffix.
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return PostgresHuey(QUEUE_NAME, dsn=dsn, results=False, create_tables=False)
    raise ValueError(f"no job queue for the {backend} database")


def build_jobs(settings: Settings, session_factory: sessionmaker, plugins: Any) -> Jobs:
    """The queue with every registered job, and the hooks that record what each attempt did."""
    huey = huey_for(settings)
    context = JobContext(settings=settings, session_factory=session_factory, plugins=plugins, huey=huey)
    jobs = Jobs(huey=huey, context=context)
    for spec in plugins.jobs:
        options = {"retries": settings.jobs_retries, "retry_delay": settings.jobs_retry_delay_seconds, "context": True, "name": spec.name}
        if spec.schedule is not None:
            jobs.tasks[spec.name] = huey.periodic_task(spec.schedule, **options)(_bind(spec, context))
        else:
            jobs.tasks[spec.name] = huey.task(**options)(_bind(spec, context))
    _record_attempts(huey, session_factory)
    return jobs


def _bind(spec: JobSpec, context: JobContext) -> Callable[..., Any]:
    def run(*args: Any, task: Any = None, **kwargs: Any) -> Any:
        return spec.func(context, *args, task=task, **kwargs)

    run.__name__ = run.__qualname__ = spec.name
    run.__module__ = "marketplace.jobs"
    return run


def _record_attempts(huey: Huey, session_factory: sessionmaker) -> None:
    def save(task: Any, **values: Any) -> None:
        try:
            with session_factory() as db:
                row = db.execute(select(JobRun).where(JobRun.task_id == task.id)).scalar_one_or_none()
                if row is None:
                    row = JobRun(task_id=task.id, name=task.name)
                for key, value in values.items():
                    setattr(row, key, value(row) if callable(value) else value)
                db.add(row)
                db.commit()
        except Exception as exc:  # noqa: BLE001 (the record must never break the job itself)
            logger.error("could not record job %s: %s", task.name, type(exc).__name__)

    @huey.signal("executing")
    def executing(signal: str, task: Any, *args: Any) -> None:
        save(task, status=JobStatus.running, attempts=lambda row: row.attempts + 1, finished_at=None)

    @huey.post_execute()
    def executed(task: Any, value: Any, exc: BaseException | None) -> None:
        if exc is None:
            save(task, status=JobStatus.finished, error=None, finished_at=utcnow())
        elif task.retries:
            save(task, status=JobStatus.retrying, error=describe_error(exc))
        else:
            logger.error("job %s failed for good: %s", task.name, describe_error(exc))
            save(task, status=JobStatus.failed, error=describe_error(exc), finished_at=utcnow())


# --- after commit ---------------------------------------------------------------------------------

_QUEUE_KEY = "marketplace.after_commit"


@dataclass
class _Queued:
    transaction: SessionTransaction
    task: TaskWrapper
    args: tuple
    label: Any = None  # what the queued item is about, for `pending` (e.g. the mail message)


def enqueue_after_commit(db: Session, task: TaskWrapper, *args: Any, label: Any = None) -> None:
    """Enqueue `task(*args)` once `db`'s transaction has committed; forget it if it rolls back.

    The arguments must be plain data (ids, strings): they are serialised into the queue.
    """
    _listen(db)
    db.connection()  # make sure a transaction has begun, so the job belongs to it
    transaction = db.get_nested_transaction() or db.get_transaction()
    db.info.setdefault(_QUEUE_KEY, []).append(_Queued(transaction, task, args, label))


def pending(db: Session, task_name: str | None = None) -> list[Any]:
    """The labels of what would be enqueued if the session committed now (tests, diagnostics)."""
    return [q.label for q in db.info.get(_QUEUE_KEY, []) if task_name is None or q.task.name == task_name]


def _listen(db: Session) -> None:
    if not event.contains(db, "after_commit", _after_commit):
        event.listen(db, "after_commit", _after_commit)
        event.listen(db, "after_soft_rollback", _after_soft_rollback)
        event.listen(db, "after_transaction_end", _after_transaction_end)


def _within(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


def _after_soft_rollback(db: Session, previous_transaction: SessionTransaction) -> None:
    # A rolled-back savepoint drops only what was queued inside it; the whole transaction, all.
    queue = db.info.get(_QUEUE_KEY)
    if queue:
        queue[:] = [queued for queued in queue if not _within(queued.transaction, previous_transaction)]


def _after_transaction_end(db: Session, transaction: SessionTransaction) -> None:
    # A session closed without committing ends its transaction without a rollback event.
    if transaction.parent is None and not transaction.nested:
        queue = db.info.get(_QUEUE_KEY)
        if queue:
            queue[:] = [queued for queued in queue if not _within(queued.transaction, transaction)]


def _after_commit(db: Session) -> None:
    # SQLAlchemy fires this for a released savepoint too: wait for the outermost transaction.
    # Then the data is saved whatever happens next, so a failure to enqueue is logged, not raised.
    if db.in_nested_transaction():
        return
    queue = db.info.pop(_QUEUE_KEY, [])
    for queued in queue:
        try:
            queued.task(*queued.args)
        except Exception as exc:  # noqa: BLE001 (a job must not undo a committed request)
            logger.error("job %s could not be enqueued after commit: %s", queued.task.name, type(exc).__name__)
