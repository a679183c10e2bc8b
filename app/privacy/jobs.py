"""The retention purge, once a day (03:15 UTC, when nobody is about). Idempotent, so a retry or
a second worker does no harm; warnings are mailed only after the purge's transaction commits."""

from __future__ import annotations

from typing import Any

from huey import crontab

from app.core.db import utcnow
from app.core.jobs import JobContext, JobSpec
from app.core.mail import render_mail, send_after_commit
from app.privacy import rights

PURGE_JOB = "retention_purge"


def run_purge(context: JobContext, *, dry_run: bool = False, now=None) -> rights.PurgeReport:
    settings, plugins = context.settings, context.plugins
    now = now or utcnow()
    with context.lock(PURGE_JOB):
        with context.session_factory() as db:
            report = rights.purge(db, plugins, settings, now=now, dry_run=dry_run)
            if dry_run:
                db.rollback()
                return report
            for email, language in report.mail:
                message = render_mail(
                    settings, "retention_warning", to=email, language=language, days=settings.retention_warning_days,
                    months=settings.retention_months, link=f"{settings.base_url.rstrip('/')}/sign-in",
                )  # fmt: skip
                send_after_commit(db, plugins.mailer, message)
            db.commit()
        cutoff = rights.months_before(now, settings.retention_months)
        erased = 0
        for subject in report.to_erase:
            with context.session_factory() as db:
                erased += rights.erase_for_retention(db, plugins, settings, subject, cutoff=cutoff)
                db.commit()
        report.erased = erased
    return report


def purge_job(context: JobContext, *, task: Any = None) -> int:
    report = run_purge(context)
    return report.warned + report.erased


JOB = JobSpec(PURGE_JOB, purge_job, schedule=crontab(minute="15", hour="3"))
