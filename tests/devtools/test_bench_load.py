"""`marketplace bench load`: locust, headless, in its own process, against two served uvicorn
workers, on both databases. In `make test` a 30-second run with 20 people checks that nothing
errors; the full run (200 people, 5 minutes, 100,000-person borough) is the command itself."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from app.accounts.models import Account, UserSession
from app.core.db import make_engine

SECONDS = 30


def test_a_thirty_second_crowd_of_twenty_meets_no_error(marketplace, fresh_database):
    code, out, err = marketplace(
        ["bench", "load", "--people", "400", "--users", "20", "--minutes", str(SECONDS / 60), "--citizens", "30", "--json"],
        fresh_database,
    )
    assert code == 0, err
    result = json.loads(out)
    print(f"\nbench load ({result['database']}): {result['requests']} requests, {result['rps']}/s, "
          f"p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, p99 {result['p99_ms']} ms, errors {result['error_rate']}")  # fmt: skip
    assert result["failures"] == [] and result["error_rate"] == 0, result["failures"]
    assert result["requests"] > 100 and result["workers"] == 2
    pages = {page["name"] for page in result["pages"]}
    assert {"/my", "/linkers", "/linkers/people/{id}", "/reports"} <= pages, pages
    assert any(name.startswith("POST ") for name in pages), "citizens edited their items"
    # The bench's sign-ins are gone afterwards; the borough stays for the next run.
    engine = make_engine(fresh_database)
    try:
        with engine.connect() as connection:
            bench = connection.execute(select(func.count()).select_from(Account).where(Account.email.like("bench.%"))).scalar_one()
            sessions = connection.execute(select(func.count()).select_from(UserSession)).scalar_one()
    finally:
        engine.dispose()
    assert bench == 0 and sessions == 0
