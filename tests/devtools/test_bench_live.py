"""`marketplace bench live` on a small register: real uvicorn workers, suggestions over HTTP,
quiet and under writes, and the figures it promises."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from app.accounts.models import Account, ApiToken, UserSession
from app.core.db import make_engine


def test_bench_live_serves_two_workers_and_reports_every_phase(fresh_database, marketplace):
    code, out, err = marketplace(
        ["bench", "live", "--people", "300", "--workers", "2", "--samples", "6", "--calls", "20",
         "--seconds", "1.5", "--crowd-seconds", "1", "--json"],
        fresh_database,
    )  # fmt: skip
    assert code == 0, err
    figures = json.loads(out)
    assert figures["database"] == make_engine(fresh_database).dialect.name and figures["workers"] == 2
    for phase in ("quiet", "writes_1_per_second", "writes_10_per_second"):
        assert 0 < figures[phase]["p50_ms"] <= figures[phase]["p95_ms"] and figures[phase]["n"] >= 20
    assert figures["writes_10_per_second"]["writes"] >= 5, "the writer really wrote during the phase"
    assert len(figures["worker_rss_mb"]) == 2 and all(mb > 50 for mb in figures["worker_rss_mb"])
    for connections in ("c16", "c64"):  # wrk on the signed-in dashboard, beside the bare app
        crowd = figures["dashboard_crowd"][connections]
        assert 0 < crowd["page"]["rps"] < crowd["bare_app"]["rps"]
        assert 0 < crowd["page"]["p50_ms"] <= crowd["page"]["p99_ms"]
        assert crowd["page"]["non_2xx_3xx"] == 0 and crowd["page"]["socket_errors"] == 0, "no 5xx, none dropped"
        assert crowd["page_share_of_bare_percent"] == round(100 * crowd["page"]["rps"] / crowd["bare_app"]["rps"], 1)
    engine = make_engine(fresh_database)
    try:
        with engine.connect() as connection:  # its sign-ins are gone again
            assert connection.execute(select(func.count()).select_from(ApiToken)).scalar_one() == 0
            assert connection.execute(select(func.count()).select_from(UserSession)).scalar_one() == 0
            assert connection.execute(
                select(func.count()).select_from(Account).where(Account.email.like("live.%"))
            ).scalar_one() == 0
    finally:
        engine.dispose()
