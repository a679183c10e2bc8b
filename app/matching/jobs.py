"""Matching's background job: a whole-area allocation run, queued by the API and carried out by
the worker. Two runs for the same area (a ward, or the whole borough) never overlap: each holds
the area's lock on the queue (a row in the queue's own table, shared by every process), and a
run that finds it held waits for the next retry, then fails saying so."""

from __future__ import annotations

from typing import Any

from huey import crontab
from sqlalchemy import update
from sqlmodel import Session

from app.accounts.models import Account
from app.core.config import Settings
from app.core.db import utcnow
from app.core.jobs import JobContext, JobRefused, LockHeld, JobSpec, Jobs, describe_error, enqueue_after_commit
from app.matching import service
from app.matching.models import MatchRun, RunStatus

RUN_JOB = "matching_run"


class AreaBusy(JobRefused):
    pass


def area_lock_name(ward_code: str | None) -> str:
    return f"matching-area-{ward_code or 'all'}"


def queue_run(db: Session, jobs: Jobs, *, account: Account | None, ward_code: str | None) -> MatchRun:
    """A queued run, and its job enqueued once this transaction commits."""
    run = MatchRun(status=RunStatus.queued, ward_code=ward_code, triggered_by_account_id=account.id if account else None)
    db.add(run)
    db.flush()
    enqueue_after_commit(db, jobs.task(RUN_JOB), run.id)
    return run


def carry_out_run(context: JobContext, run_id: int, *, task: Any = None) -> None:
    """The job. Idempotent: a run already finished (or failed for good) is left alone, and a
    failed attempt rolls back everything it suggested before it is tried again."""
    run_now(context.settings, context, run_id, last_try=task is None or not task.retries)


def run_now(settings: Settings, context: JobContext, run_id: int, *, last_try: bool = True) -> MatchRun | None:
    factory = context.session_factory
    with factory() as db:
        run = db.get(MatchRun, run_id)
        if run is None or run.status in (RunStatus.finished, RunStatus.failed):
            return run
        ward_code = run.ward_code
    try:
        try:
            lock = context.lock(area_lock_name(ward_code))
            lock.acquire()
        except LockHeld as exc:
            raise AreaBusy("another run for the same area was still running") from exc
        try:
            with factory() as db:
                run = db.get(MatchRun, run_id)
                run.status, run.error, run.started_at = RunStatus.running, None, utcnow()
                db.commit()
            with factory() as db:
                run = db.get(MatchRun, run_id)
                service.run_allocation(db, settings, ward_code=ward_code, run=run)
                run.status = RunStatus.finished
                db.commit()
                return run
        finally:
            lock.release()
    except Exception as exc:
        with factory() as db:
            run = db.get(MatchRun, run_id)
            run.status = RunStatus.failed if last_try else RunStatus.queued
            run.error = describe_error(exc)
            db.commit()
        raise


JOB = JobSpec(RUN_JOB, carry_out_run)

STOPPED_PART_WAY = "The run stopped part-way because its worker ended. Nothing from it was kept: start it again."


def fail_interrupted_runs(session_factory) -> int:
    """At a worker's start, with no other worker process on the queue: a run still marked
    `running` belonged to a worker that was killed. Its suggestions were never stored (a run
    writes them in one transaction), so it is marked failed, saying so, and the area is free."""
    with session_factory() as db:
        stopped = db.execute(
            update(MatchRun).where(MatchRun.status == RunStatus.running)
            .values(status=RunStatus.failed, error=STOPPED_PART_WAY, finished_at=utcnow())
        ).rowcount  # fmt: skip
        db.commit()
    return stopped

EXPIRY_JOB = "match_expiry"


def expire_matches(context: JobContext, *, task: Any = None) -> int:
    """Matches proposed and unanswered past `match_answer_days` end, freeing their places."""
    with context.session_factory() as db:
        ended = service.expire_unanswered(db, context.settings, mailer=context.plugins.mailer)
        db.commit()
    return ended


EXPIRY = JobSpec(EXPIRY_JOB, expire_matches, schedule=crontab(minute="*/15"))
