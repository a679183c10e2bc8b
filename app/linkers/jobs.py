"""The linkers' scheduled job: one email digest a weekday morning for each linker with
follow-ups due today or overdue. The worker checks every hour (huey schedules in UTC); the job
itself decides whether it is the digest hour in the borough, and `DigestSent` makes a retry or
a second worker harmless."""

from __future__ import annotations

from typing import Any

from huey import crontab
from sqlalchemy.exc import IntegrityError

from app.core.db import utcnow
from app.core.jobs import JobContext, JobSpec
from app.core.mail import Mailer, render_mail
from app.linkers import service, timeliness
from app.linkers.models import DigestSent

DIGEST_JOB = "linker_digest"


def send_digests(context: JobContext, *, task: Any = None, now=None, force: bool = False) -> int:
    settings = context.settings
    now = now or utcnow()
    if not force and not timeliness.is_digest_time(now, settings.linker_digest_hour):
        return 0
    today = timeliness.local_date(now)
    mailer = Mailer(settings)
    sent = 0
    with context.session_factory() as db:
        found = [(d.account.id, d.account.email, d.account.name, d.account.language, d.overdue, d.due)
                 for d in service.digests(db, settings, today=today)]  # fmt: skip
    for account_id, email, name, language, overdue, due in found:
        with context.session_factory() as db:
            try:
                db.add(DigestSent(account_id=account_id, sent_on=today))
                db.flush()
            except IntegrityError:
                db.rollback()
                continue  # already sent today
            message = render_mail(
                settings, "linker_digest", to=email, language=language, name=name.split()[0] if name else "",
                overdue=overdue, due=due, link=f"{settings.base_url.rstrip('/')}/linkers",
            )  # fmt: skip
            mailer.send_message(message)  # a failure rolls back the row, so the retry sends it
            db.commit()
            sent += 1
    return sent


def digest_job(context: JobContext, *, task: Any = None) -> int:
    return send_digests(context, task=task)


# Every hour on the hour, Monday to Friday (UTC): the job picks the borough's digest hour.
JOB = JobSpec(DIGEST_JOB, digest_job, schedule=crontab(minute="0", day_of_week="1-5"))
