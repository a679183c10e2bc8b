"""The weekday digest: a scheduled job, real SMTP, once a day per linker however often it runs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from app.core.jobs import JobContext
from app.linkers import jobs, service, timeliness
from app.linkers.models import DigestSent
from app.main import build_plugins
from tests.linkers.conftest import assisted
from tests.smtp import SmtpServer

# A Wednesday, 8:00 in London (GMT in December).
DIGEST_MOMENT = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


@pytest.fixture()
def smtp():
    with SmtpServer() as server:
        yield server


def context(settings, session_factory, smtp) -> JobContext:
    mail = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_starttls": False})
    return JobContext(settings=mail, session_factory=session_factory, plugins=build_plugins(), huey=None)


def test_each_linker_gets_one_digest_of_what_is_due_and_overdue(db, settings, session_factory, places, linker, second_linker, smtp):
    today = timeliness.local_date(DIGEST_MOMENT)
    ann = assisted(db, settings, linker, "Ann Overdue")
    ben = assisted(db, settings, linker, "Ben Today")
    service.add_follow_up(db, person_id=ann.id, by_id=linker.id, due_on=today - timedelta(days=3), what="Ring about the lift", check_date=False)
    service.add_follow_up(db, person_id=ben.id, by_id=linker.id, due_on=today, what="Post the leaflet", check_date=False)
    later = assisted(db, settings, second_linker, "Cy Later")
    service.add_follow_up(db, person_id=later.id, by_id=second_linker.id, due_on=today + timedelta(days=5), what="Not yet", check_date=False)
    db.commit()

    job = context(settings, session_factory, smtp)
    assert jobs.send_digests(job, now=DIGEST_MOMENT - timedelta(hours=1)) == 0, "only at the digest hour"
    assert jobs.send_digests(job, now=DIGEST_MOMENT) == 1
    assert jobs.send_digests(job, now=DIGEST_MOMENT + timedelta(minutes=5)) == 0, "a second run the same day sends nothing"
    [message] = smtp.inbox.wait_for(1)
    assert message["To"] == linker.email
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "Ring about the lift" in body and "Post the leaflet" in body and "Not yet" not in body
    assert "Overdue:" in body and "Due today:" in body
    assert "Ann Overdue" not in body, "first names only"
    assert "/linkers" in body
    sent = db.execute(select(DigestSent)).scalars().all()
    assert [(s.account_id, s.sent_on) for s in sent] == [(linker.id, date(2026, 12, 2))]


def test_no_digest_at_weekends(db, settings, session_factory, places, linker, smtp):
    person = assisted(db, settings, linker)
    service.add_follow_up(db, person_id=person.id, by_id=linker.id, due_on=date(2026, 12, 1), what="Call", check_date=False)
    db.commit()
    saturday = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    assert jobs.send_digests(context(settings, session_factory, smtp), now=saturday) == 0


def test_the_digest_is_a_scheduled_job_of_the_worker():
    plugins = build_plugins()
    spec = next(job for job in plugins.jobs if job.name == jobs.DIGEST_JOB)
    assert spec.schedule is not None
    monday_eight = datetime(2026, 11, 30, 8, 0)
    assert spec.schedule(monday_eight) and not spec.schedule(datetime(2026, 12, 5, 8, 0))
    expiry = next(job for job in plugins.jobs if job.name == "match_expiry")
    assert expiry.schedule is not None
