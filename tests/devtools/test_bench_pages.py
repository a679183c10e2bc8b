"""`marketplace bench pages`: over real HTTP against a uvicorn process it starts, on both databases.

The bench must run on a plain install (`pip install -e .`, without the test extra), so the last
test runs the real command with the test-only packages made unimportable, in the bench's process
and in the server it starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from app.accounts.models import Account, UserSession
from app.core.db import make_engine
from app.linkers.models import CaseAssignment, ContactAttempt, FollowUp
from app.registry.models import HelpRequest, Offer, Person

ROOT = Path(__file__).resolve().parents[2]
MARKETPLACE = str(Path(sys.executable).parent / "marketplace")
PAGES = ("dashboard", "offer_page", "request_page", "caseload")
TEST_ONLY = ("httpx", "pytest", "hypothesis", "playwright", "aiosmtpd")  # pyproject's [test] extra


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {
                model.__name__: connection.execute(select(func.count()).select_from(model)).scalar_one()
                for model in (Person, Offer, HelpRequest, Account, UserSession, CaseAssignment, FollowUp, ContactAttempt)
            }
    finally:
        engine.dispose()


def _check_figures(figures: dict, *, requests: int, url: str) -> None:
    assert figures["transport"] == "http" and figures["server"] == "uvicorn"
    assert figures["database"] == make_engine(url).dialect.name
    assert figures["people"] >= 200 and figures["offers"] > 0 and figures["requests"] > 0
    assert figures["signed_in"] > 0 and figures["caseload_people"] > 20
    for page in PAGES:
        assert figures[f"{page}_n"] == requests
        assert 0 < figures[f"{page}_p50_ms"] <= figures[f"{page}_p95_ms"]
        assert figures[f"{page}_first_ms"] > 0


def test_bench_pages_times_every_page_over_http_and_cleans_up(fresh_database, marketplace):
    code, out, err = marketplace(
        ["bench", "pages", "--people", "200", "--samples", "6", "--requests", "9", "--json"], fresh_database
    )
    assert code == 0, err
    figures = json.loads(out)
    _check_figures(figures, requests=9, url=fresh_database)
    assert figures["borough_generated"] is True
    after = _counts(fresh_database)
    # The bench sign-ins are gone; the one account left is the demo linker who took the demo
    # borough's consents (every consent record names who recorded it).
    assert after["Account"] == 1 and after["UserSession"] == 0
    assert after["CaseAssignment"] == after["FollowUp"] == after["ContactAttempt"] == 0  # and the bench caseload
    assert after["Person"] == figures["people"]

    # Run again: the borough is big enough already, so it is reused, not generated again.
    code, out, err = marketplace(
        ["bench", "pages", "--people", "200", "--samples", "4", "--requests", "3", "--json"], fresh_database
    )
    assert code == 0, err
    again = json.loads(out)
    assert again["borough_generated"] is False and again["people"] == figures["people"]
    assert _counts(fresh_database) == after


def test_bench_pages_refuses_production(fresh_database, monkeypatch, capsys):
    from app.cli import main

    monkeypatch.setenv("MARKETPLACE_DATABASE_URL", fresh_database)
    monkeypatch.setenv("MARKETPLACE_ENVIRONMENT", "production")
    monkeypatch.setenv("MARKETPLACE_SECRET_KEY", "a-long-random-production-secret-for-this-test-only")
    monkeypatch.setenv("MARKETPLACE_SMTP_HOST", "smtp.invalid")
    before = _counts(fresh_database)
    assert main(["bench", "pages", "--people", "300", "--json"]) == 2
    assert "refuses to run in production" in capsys.readouterr().err
    assert _counts(fresh_database) == before


def test_bench_pages_runs_without_the_test_dependencies(fresh_database, tmp_path):
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    for name in TEST_ONLY:
        (blocked / f"{name}.py").write_text(
            f"raise ImportError('{name} is a test-only dependency: a plain install does not have it')\n"
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPLACE_")}
    env.update(
        MARKETPLACE_DATABASE_URL=fresh_database,
        MARKETPLACE_ENVIRONMENT="development",
        PYTHONPATH=os.pathsep.join([str(blocked), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    )
    probe = subprocess.run([sys.executable, "-c", "import httpx"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and "test-only dependency" in probe.stderr  # the block works
    result = subprocess.run(
        [MARKETPLACE, "bench", "pages", "--people", "200", "--samples", "4", "--requests", "5", "--json"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    _check_figures(json.loads(result.stdout), requests=5, url=fresh_database)
