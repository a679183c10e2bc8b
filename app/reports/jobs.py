"""The nightly reports job (02:30 UTC): works out the usual reports for the new day (the last 12
months, every breakdown) so that staff pages answer at once, and drops snapshots a week old.
Safe to run twice: a snapshot is one row per report, period, breakdown and ward."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from huey import crontab
from sqlalchemy import delete

from app.core.db import utcnow
from app.core.jobs import JobContext, JobSpec
from app.linkers.timeliness import local_date
from app.reports import service
from app.reports.models import ReportSnapshot
from app.reports.queries import By

REPORTS_JOB = "nightly_reports"
KEEP_DAYS = 7
USUAL = (
    *(("participation", by) for by in By),
    ("linker_work", By.ward),
    ("linker_work", By.month),
    ("social_value", None),
    ("outcomes", None),
)


def refresh(context: JobContext, *, now=None) -> int:
    now = now or utcnow()
    period = service.default_period(local_date(now))
    with context.lock(REPORTS_JOB):
        for report, by in USUAL:
            service.snapshot(
                context.session_factory,
                report,
                by=by,
                period=period,
                ward=None,
                settings=context.settings,
                now=now,
                fresh=True,
            )
        with context.session_factory() as db:
            db.execute(
                delete(ReportSnapshot).where(
                    ReportSnapshot.computed_at < now - timedelta(days=KEEP_DAYS)
                )
            )
            db.commit()
    return len(USUAL)


def nightly_job(context: JobContext, *, task: Any = None) -> int:
    return refresh(context)


JOB = JobSpec(REPORTS_JOB, nightly_job, schedule=crontab(minute="30", hour="2"))
