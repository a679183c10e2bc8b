"""A worker killed (SIGKILL, no chance to tidy up) in the middle of a whole-borough allocation run,
on both databases: nothing of the run is stored, the next worker to start marks the run failed
and frees the area, and the next run for the same area is carried out in full."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.core.jobs import build_jobs
from app.devtools.demo import generate_borough
from app.main import build_plugins
from app.matching import jobs as matching_jobs
from app.matching.models import Match, MatchRun, MatchStatus, RunStatus
from app.migrations_support import upgrade_to_head

MARKETPLACE = str(Path(sys.executable).parent / "marketplace")
# Big enough that the run takes a second or so, a wide window to kill the worker in.
PEOPLE = int(os.environ.get("KILLED_RUN_PEOPLE", "12000"))


def start_worker(url: str, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPLACE_")}
    env.update(MARKETPLACE_DATABASE_URL=url, MARKETPLACE_ENVIRONMENT="test", MARKETPLACE_JOBS_RETRY_DELAY_SECONDS="0.2")
    started_before = log.read_text().count("worker started") if log.exists() else 0
    with log.open("ab") as handle:
        worker = subprocess.Popen([MARKETPLACE, "worker", "--max-delay", "0.05"], env=env, stdout=handle, stderr=subprocess.STDOUT)
    wait_for(lambda: worker.poll() is not None or log.read_text().count("worker started") > started_before, "the worker's start", log)
    assert worker.poll() is None, log.read_text()[-3000:]
    return worker


def wait_for(predicate, what: str, log: Path, timeout: float = 60.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what} did not happen in {timeout} s; worker log:\n{log.read_text()[-3000:]}")


def stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def test_a_worker_killed_mid_run_stores_nothing_and_the_next_worker_marks_the_run_failed(databases, tmp_path):
    url = databases.new("killed")
    upgrade_to_head(url)
    settings = Settings(environment="test", database_url=url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as db:
        generate_borough(db, people=PEOPLE, seed=12)
        db.commit()
    jobs = build_jobs(settings, factory, build_plugins())
    log = tmp_path / "worker.log"

    def status(run_id: int) -> RunStatus:
        with factory() as db:
            return db.execute(select(MatchRun.status).where(MatchRun.id == run_id)).scalar_one()

    def suggested_by(run_id: int) -> int:
        with factory() as db:
            return db.execute(select(func.count()).select_from(Match).where(Match.run_id == run_id)).scalar_one()

    def queue() -> int:
        with factory() as db:
            run = matching_jobs.queue_run(db, jobs, account=None, ward_code=None)
            db.commit()
            return run.id

    worker = start_worker(url, log)
    try:
        killed_run = queue()
        wait_for(lambda: status(killed_run) != RunStatus.queued, "the run's start", log, every=0.005)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        assert status(killed_run) == RunStatus.running, "the kill came too late: the run had ended (raise KILLED_RUN_PEOPLE)"
        assert suggested_by(killed_run) == 0  # nothing half-stored

        worker = start_worker(url, log)
        assert status(killed_run) == RunStatus.failed
        with factory() as db:
            assert db.get(MatchRun, killed_run).error == matching_jobs.STOPPED_PART_WAY
        assert suggested_by(killed_run) == 0

        # The area is free again: the next run is carried out in full.
        next_run = queue()
        wait_for(lambda: status(next_run) in (RunStatus.finished, RunStatus.failed), "the next run", log, timeout=120)
        with factory() as db:
            run = db.get(MatchRun, next_run)
            assert (run.status, run.error) == (RunStatus.finished, None)
            assert run.new_suggestions > 0 and suggested_by(next_run) == run.new_suggestions
            assert db.execute(
                select(func.count()).select_from(Match).where(Match.status == MatchStatus.suggested)
            ).scalar_one() == run.new_suggestions  # fmt: skip
        print(f"\n{databases.backend}: run #{killed_run} killed while running, marked failed at the next start; "
              f"run #{next_run}: {run.new_suggestions} suggestions in {run.milliseconds} ms")  # fmt: skip
    finally:
        stop(worker)
        engine.dispose()
