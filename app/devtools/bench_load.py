"""`marketplace bench load`: a crowd of people using the service at once, measured with locust.

Generates the borough if needed, signs in a sample of citizens, a linker with a caseload and a
member of staff (sessions written to the database, as after a sign-in with both steps), serves the
app with `--workers` uvicorn workers on loopback, and runs locust headless in its own process with
`--users` simulated people for `--minutes`. Prints requests per second, p50/p95/p99 for each page
and the error rate, and checks them against the targets (p95 <= 300 ms, p99 <= 800 ms, errors
< 0.1%).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.core.config import get_settings
from app.core.db import make_engine, make_session_factory
from app.devtools.bench_pages import (
    BenchError,
    _caseload_sign_in,
    _remove_bench_sign_ins,
    _sign_in_sample,
    served_process,
)
from app.devtools.demo import ensure_borough
from app.linkers.models import CaseAssignment

TARGETS = {"p95_ms": 300, "p99_ms": 800, "error_rate": 0.001}
LOCUSTFILE = Path(__file__).with_name("locustfile.py")


def _plan(factory, settings, *, seed: int, citizens: int, caseload: int) -> dict[str, Any]:
    from app.devtools.bench_reports import _remove_staff, _staff_sign_in

    rng = random.Random(seed)
    signed_in = _sign_in_sample(factory, settings, rng, citizens)
    linker_token, _pages, _count = _caseload_sign_in(factory, settings, rng, caseload)
    _remove_staff(factory)
    staff_token = _staff_sign_in(factory, settings)
    with factory() as db:
        from app.accounts.models import Account
        from app.devtools.bench_pages import BENCH_LINKER_EMAIL

        linker_id = db.execute(select(Account.id).where(Account.email == BENCH_LINKER_EMAIL)).scalar_one()
        people = db.execute(
            select(CaseAssignment.person_id).where(CaseAssignment.linker_account_id == linker_id, CaseAssignment.ended_at.is_(None)).limit(200)
        ).scalars().all()
        # Only people who agreed to matching can change a live item (the page says why otherwise):
        # the others browse.
        from app.accounts.models import UserSession
        from app.core.security import token_digest
        from app.privacy.models import ConsentPurpose
        from app.privacy.service import has_consent
        from app.registry.models import HelpRequest, ItemStatus, Offer, Person

        def first_open(model, ids: list[int]) -> int | None:
            # A closed item must be reopened before it is changed (the page says so): edit an open one.
            return db.execute(
                select(model.id).where(model.id.in_(ids), model.status != ItemStatus.closed).order_by(model.id).limit(1)
            ).scalar_one_or_none() if ids else None

        citizens = []
        for token, offers, requests in signed_in:
            account_id = db.execute(select(UserSession.account_id).where(UserSession.id == token_digest(token))).scalar_one()
            person_id = db.execute(select(Person.id).where(Person.account_id == account_id)).scalar_one()
            consents = all(has_consent(db, person_id=person_id, purpose=p) for p in (ConsentPurpose.profile, ConsentPurpose.matching))
            offer, request = first_open(Offer, list(offers)), first_open(HelpRequest, list(requests))
            edits = (["offers", offer] if offer else ["requests", request] if request else None) if consents else None
            citizens.append({"token": token, "offers": list(offers), "requests": list(requests), "edits": edits})
    return {
        "cookie_name": settings.session_cookie_name,
        "citizens": citizens,
        "linker": {"token": linker_token, "people": list(people)},
        "staff": {"token": staff_token},
    }


def _read_stats(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows = list(csv.DictReader(path.open(newline="")))
    pages = []
    total: dict[str, Any] = {}
    for row in rows:
        figures = {
            "name": row["Name"],
            "requests": int(row["Request Count"]),
            "failures": int(row["Failure Count"]),
            "rps": round(float(row["Requests/s"]), 1),
            "p50_ms": float(row["50%"] or 0),
            "p95_ms": float(row["95%"] or 0),
            "p99_ms": float(row["99%"] or 0),
        }
        if row["Name"] == "Aggregated":
            total = figures
        else:
            pages.append(figures)
    return total, pages


def bench_load(*, people: int, seed: int, users: int, seconds: int, workers: int, citizens: int = 200, caseload: int = 300) -> dict[str, Any]:
    settings = get_settings()
    if settings.is_production:
        raise BenchError("bench load refuses to run in production (it adds demo people and sign-ins)")
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    try:
        borough = ensure_borough(factory, people, seed)
        plan = _plan(factory, settings, seed=seed, citizens=citizens, caseload=caseload)
        with tempfile.TemporaryDirectory(prefix="bench-load-") as directory:
            plan_file = Path(directory) / "plan.json"
            plan_file.write_text(json.dumps(plan), encoding="utf-8")
            with served_process(settings, workers=workers) as (host, port, _process):
                command = [
                    sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", f"http://{host}:{port}",
                    "--users", str(users), "--spawn-rate", str(max(1, users // 10)), "--run-time", f"{seconds}s",
                    "--csv", str(Path(directory) / "load"), "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "10",
                ]  # fmt: skip
                env = {**os.environ, "MARKETPLACE_LOAD_PLAN": str(plan_file)}
                finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 120, check=False)
                stats = Path(directory) / "load_stats.csv"
                if not stats.exists():
                    raise BenchError(f"locust wrote no figures (exit {finished.returncode}):\n{finished.stderr[-3000:]}")
                total, pages = _read_stats(stats)
                if finished.returncode not in (0, 1):  # 1: some requests failed, counted below
                    print(f"locust exited with {finished.returncode}:\n{finished.stderr[-3000:]}", file=sys.stderr)
                failures_file = Path(directory) / "load_failures.csv"
                failures = [
                    {"page": row["Name"], "error": row["Error"], "times": int(row["Occurrences"])}
                    for row in (csv.DictReader(failures_file.open(newline="")) if failures_file.exists() else [])
                ]
    finally:
        _remove_bench_sign_ins(factory)
        from app.devtools.bench_reports import _remove_staff

        _remove_staff(factory)
        engine.dispose()
    error_rate = total["failures"] / total["requests"] if total.get("requests") else 1.0
    worst_p95 = max((p["p95_ms"] for p in pages), default=0)
    worst_p99 = max((p["p99_ms"] for p in pages), default=0)
    return {
        "database": engine.dialect.name, "workers": workers, "users": users, "seconds": seconds,
        "people": borough.get("people"), "borough_generated": borough["generated"],
        "requests": total.get("requests", 0), "rps": total.get("rps", 0), "error_rate": round(error_rate, 5),
        "p50_ms": total.get("p50_ms"), "p95_ms": total.get("p95_ms"), "p99_ms": total.get("p99_ms"),
        "worst_page_p95_ms": worst_p95, "worst_page_p99_ms": worst_p99,
        "meets_targets": worst_p95 <= TARGETS["p95_ms"] and worst_p99 <= TARGETS["p99_ms"] and error_rate < TARGETS["error_rate"],
        "failures": failures, "pages": pages,
    }  # fmt: skip


def cli_bench_load(args: argparse.Namespace) -> int:
    try:
        result = bench_load(
            people=args.people, seed=args.seed, users=args.users, seconds=int(args.minutes * 60), workers=args.workers,
            citizens=args.citizens,
        )  # fmt: skip
    except BenchError as error:
        print(f"bench load: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
        return 0
    for key, value in result.items():
        if key != "pages":
            print(f"{key:>20}: {value}")
    print(f"\n{'page':<36} {'requests':>9} {'failed':>7} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for page in result["pages"]:
        print(f"{page['name']:<36} {page['requests']:>9} {page['failures']:>7} {page['rps']:>7} "
              f"{page['p50_ms']:>8g} {page['p95_ms']:>8g} {page['p99_ms']:>8g}")  # fmt: skip
    return 0


def add_bench_load(benches: Any) -> None:
    parser = benches.add_parser(
        "load",
        help="a crowd of citizens, linkers and staff at once (locust, headless) against served workers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--users", type=int, default=200, help="simulated people at once")
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--citizens", type=int, default=200, help="citizens to sign in as")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=cli_bench_load)
