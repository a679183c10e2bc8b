"""The real job queue in the database and the real `marketplace worker` process, on both databases.

The web application (in this process, with its own engine on a fresh, committed database) puts
jobs on the queue after its commits; a `marketplace worker` subprocess takes them from the queue
and runs them: a whole-area run queued through the API, a mail sent to a real SMTP server, and a
mail that keeps failing, retried up to the limit and then shown to administrators as failed.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.accounts.models import Role
from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.core.jobs import JobRun, JobStatus
from app.main import create_app
from app.migrations_support import upgrade_to_head
from app.registry.models import PostcodeLocation
from app.registry.postcodes import normalise_postcode
from tests.conftest import SAMPLE, api_token, make_account, post_form, sign_in
from tests.smtp import SmtpServer

MARKETPLACE = str(Path(sys.executable).parent / "marketplace")
RETRIES = 2


@pytest.fixture(scope="module")
def queue_world(databases, tmp_path_factory):
    """A migrated database, an SMTP server, a worker process and the web application's settings."""
    url = databases.new("jobs")
    upgrade_to_head(url)
    work = tmp_path_factory.mktemp("jobs")
    smtp = SmtpServer().__enter__()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPLACE_")}
    env.update(
        MARKETPLACE_DATABASE_URL=url, MARKETPLACE_ENVIRONMENT="test",
        MARKETPLACE_SMTP_HOST="127.0.0.1", MARKETPLACE_SMTP_PORT=str(smtp.port), MARKETPLACE_SMTP_STARTTLS="false",
        MARKETPLACE_SMTP_TIMEOUT_SECONDS="2",
        MARKETPLACE_JOBS_RETRIES=str(RETRIES), MARKETPLACE_JOBS_RETRY_DELAY_SECONDS="0.2",
    )  # fmt: skip
    log = work / "worker.log"
    with log.open("wb") as handle:
        worker = subprocess.Popen([MARKETPLACE, "worker", "--max-delay", "0.2"], env=env, stdout=handle, stderr=subprocess.STDOUT)
    settings = Settings(
        environment="test", database_url=url, outbox_dir=work / "outbox",
        smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False,
        # A job's retries travel with it: the enqueuing side's settings count.
        jobs_retries=RETRIES, jobs_retry_delay_seconds=0.2,
    )  # fmt: skip
    engine = make_engine(url)
    try:
        yield settings, engine, smtp, worker, log
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        if smtp.controller._thread is not None:  # (the mail test stops it early)
            smtp.controller.stop()
        engine.dispose()


@pytest.fixture(scope="module")
def web(queue_world):
    settings, engine, _smtp, _worker, _log = queue_world
    assert settings.jobs_immediate is False  # the real queue
    factory = make_session_factory(engine)
    app = create_app(settings, engine=engine, session_factory=factory)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, factory


def wait_for(predicate, what: str, log: Path, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen in {timeout} s; worker log:\n{log.read_text()[-3000:]}")


def test_the_worker_starts_and_carries_out_a_run_queued_through_the_api(queue_world, web):
    from tests.matching.conftest import FOUR_AND_A_HALF_KM, ONE_AND_A_HALF_KM, TWO_KM, citizen, offer, request

    settings, _engine, _smtp, worker, log = queue_world
    client, factory = web
    with factory() as db:
        with SAMPLE.open(newline="") as handle:
            for row in csv.DictReader(handle):
                db.merge(PostcodeLocation(
                    postcode=normalise_postcode(row["pcds"]), latitude=float(row["lat"]), longitude=float(row["long"]),
                    local_authority_code=row["oslaua"], ward_code=row["osward"],
                ))  # fmt: skip
        db.commit()
        linker = make_account(db, role=Role.linker, email="lee@example.org", name="Lee Linker")
        rhian = citizen(db, settings, "Rhian Evans")
        request(db, rhian)
        offer(db, citizen(db, settings, "Bryn Zephaniah", ONE_AND_A_HALF_KM))
        offer(db, citizen(db, settings, "Gwen Quartermaine", TWO_KM))
        offer(db, citizen(db, settings, "Ffion Farrowby", FOUR_AND_A_HALF_KM), max_distance_km=10)
    wait_for(lambda: b"worker started" in log.read_bytes(), "the worker's start", log)
    assert worker.poll() is None

    headers = api_token(client, linker)
    response = client.post("/api/v1/matching/runs", json={}, headers=headers)
    assert response.status_code == 202 and response.json()["status"] == "queued"
    run_id = response.json()["id"]

    def finished():
        body = client.get(f"/api/v1/matching/runs/{run_id}", headers=headers).json()
        return body if body["status"] in ("finished", "failed") else None

    body = wait_for(finished, "the run", log)
    assert body["status"] == "finished" and body["error"] is None
    assert (body["requests_considered"], body["offers_considered"], body["requests_covered"]) == (1, 3, 1)
    assert body["new_suggestions"] == 1 and body["total_score"] > 0
    with factory() as db:
        [job] = db.execute(select(JobRun).where(JobRun.name == "matching_run")).scalars().all()
        assert (job.status, job.attempts, job.error) == (JobStatus.finished, 1, None)


def test_mail_sent_while_the_mail_server_is_down_is_sent_when_it_returns(queue_world, web):
    settings, engine, smtp, worker, log = queue_world
    # Retries travel with the job: this sender allows enough of them to outlast the outage.
    patient = settings.model_copy(update={"jobs_retries": 50, "jobs_retry_delay_seconds": 0.3})
    factory = make_session_factory(engine)
    with factory() as db:
        citizen = make_account(db, role=Role.citizen, email="dai@example.org", name="Dai Down")
    smtp.controller.stop()
    with TestClient(create_app(patient, engine=engine, session_factory=factory), raise_server_exceptions=False) as client:
        response = post_form(client, "/forgotten-password", {"email": citizen.email})
        assert response.status_code == 200 and "Check your email" in response.text  # the request does not fail

    def retrying():
        with factory() as db:
            return db.execute(
                select(JobRun).where(JobRun.name == "mail_send", JobRun.status == JobStatus.retrying, JobRun.attempts >= 2)
            ).scalars().all()  # fmt: skip

    [job] = wait_for(retrying, "a failed attempt while the server is down", log)
    before = len(smtp.inbox.messages)
    smtp.controller = Controller(smtp.inbox, hostname="127.0.0.1", port=smtp.port)
    smtp.controller.start()
    *_, message = sent = smtp.inbox.wait_for(before + 1, timeout=30)
    assert len(sent) == before + 1
    assert message["To"] == citizen.email and "reset-password?token=" in message.get_body().get_content()
    with factory() as db:
        job = db.execute(select(JobRun).where(JobRun.task_id == job.task_id)).scalar_one()
        assert (job.status, job.error) == (JobStatus.finished, None) and job.attempts >= 2
    assert worker.poll() is None


def test_mail_is_sent_by_the_worker_and_a_failing_mail_is_retried_then_shown_as_failed(queue_world, web):
    _settings, _engine, smtp, worker, log = queue_world
    client, factory = web
    with factory() as db:
        admin = make_account(db, role=Role.admin, email="ada@example.org", name="Ada Admin")
        citizen = make_account(db, role=Role.citizen, email="cara@example.org", name="Cara Citizen")

    before = len(smtp.inbox.messages)  # the module's world is shared: earlier tests may have sent mail
    response = post_form(client, "/forgotten-password", {"email": citizen.email})
    assert response.status_code == 200
    *_, message = sent = smtp.inbox.wait_for(before + 1, timeout=30)
    assert len(sent) == before + 1
    assert message["To"] == citizen.email and "reset-password?token=" in message.get_body().get_content()

    # Now the SMTP server is gone: the next mail fails, is tried RETRIES more times, then fails for good.
    smtp.controller.stop()
    response = post_form(client, "/forgotten-password", {"email": citizen.email})
    assert response.status_code == 200 and "Check your email" in response.text

    def failed():
        with factory() as db:
            return db.execute(select(JobRun).where(JobRun.name == "mail_send", JobRun.status == JobStatus.failed)).scalars().all()

    [job] = wait_for(failed, "the mail job's final failure", log, timeout=60)
    assert job.attempts == 1 + RETRIES and job.error == "ConnectionRefusedError"
    assert worker.poll() is None  # a failing job does not stop the worker

    # Administrators see it on /admin/jobs; nobody else may.
    sign_in(client, citizen)
    assert client.get("/admin/jobs").status_code == 403
    client.cookies.clear()
    sign_in(client, admin)
    page = client.get("/admin/jobs")
    assert page.status_code == 200
    assert 'data-job="mail_send" data-status="failed"' in page.text and "ConnectionRefusedError" in page.text
    assert 'data-job="mail_send" data-status="finished"' in page.text  # the first mail, among recent jobs
    assert citizen.email not in page.text  # names, times and error types only


def test_the_worker_stops_cleanly_on_sigterm(queue_world):
    _settings, _engine, _smtp, worker, log = queue_world
    assert worker.poll() is None
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0, log.read_text()[-3000:]
