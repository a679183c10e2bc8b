"""`marketplace bench matching` on a small register, on both databases: it runs, reports its
figures, finds the exact optimum on the dense check, and leaves no matches behind."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from app.core.db import make_engine
from app.matching.models import Match


def test_bench_matching_reports_its_figures_and_leaves_no_matches(fresh_database, marketplace):
    code, out, err = marketplace(
        ["bench", "matching", "--people", "300", "--suggestions", "8", "--brute-subset", "3",
         "--exact-size", "60", "--writes-per-second", "50", "--json"],
        fresh_database,
    )  # fmt: skip
    assert code == 0, err
    figures = json.loads(out)
    assert figures["database"] == make_engine(fresh_database).dialect.name
    assert figures["offers"] > 0 and figures["requests"] > 0
    assert 0 < figures["suggest_p50_ms"] <= figures["suggest_p95_ms"]
    assert 0 < figures["suggest_under_writes_p50_ms"] <= figures["suggest_under_writes_p95_ms"]
    assert figures["writes_during_suggestions"] > 0, "the writer thread really wrote"
    assert figures["index_rebuilds_under_writes"] == 0, "writes are followed, not rebuilt"
    assert figures["allocation_pairs"] > 0 and figures["allocation_total_score"] > 0
    assert figures["exact_check"]["ratio_to_dense_optimum"] == 1.0  # the flow is exact
    assert figures["greedy_ratio"] >= 1.0  # never worse than greedy on the same graph
    assert figures["bruteforce_subset"] > 0
    engine = make_engine(fresh_database)
    try:
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(Match)).scalar_one() == 0
    finally:
        engine.dispose()
