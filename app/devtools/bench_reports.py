"""`marketplace bench reports`: how fast every report page answers on a borough-sized register
with a year of matches and casework.

Two figures per report: the cold time to work it out from the register (what the nightly job,
or the first reader of a new period, waits for), and the page times over real HTTP from a uvicorn
process once the day's snapshot is there (what staff see). Pages are read as a signed-in member
of staff on one kept-alive connection, like `bench pages`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from typing import Any

from sqlalchemy import delete, func, select

from app.accounts import service as accounts
from app.accounts.models import Account, Role, UserSession
from app.core.config import get_settings
from app.core.db import make_engine, make_session_factory, utcnow
from app.devtools import demo
from app.devtools.bench_pages import BenchError, _get, passed_two_steps, percentile, served
from app.devtools.demo_history import generate_history
from app.linkers.timeliness import local_date
from app.matching.models import Match
from app.reports import jobs, service
from app.reports.models import ReportSnapshot
from app.reports.queries import By

STAFF_EMAIL = "bench.staff@bench.demo.example"
PAGES = (
    ("summary", "/reports"),
    ("participation_ward", "/reports/participation?by=ward"),
    ("participation_month", "/reports/participation?by=month"),
    ("participation_skill_category", "/reports/participation?by=skill_category"),
    ("linkers_ward", "/reports/linkers?by=ward"),
    ("linkers_month", "/reports/linkers?by=month"),
    ("social_value", "/reports/social-value"),
    ("outcomes", "/reports/outcomes"),
    ("participation_csv", "/reports/participation.csv?by=ward"),
)


def _ensure_history(factory, seed: int) -> dict[str, Any]:
    with factory() as db:
        if db.execute(select(func.count()).select_from(Match)).scalar_one() > 0:
            return {"generated": False}
        demo.ensure_demo_accounts(db, templates_dir=str(get_settings().templates_dir))
        db.commit()
        summary = generate_history(db, seed=seed, now=utcnow(), linker_id=demo.demo_linker_id(db))
        db.commit()
        return {"generated": True, **summary}


def _staff_sign_in(factory, settings) -> str:
    with factory() as db:
        account = db.execute(
            select(Account).where(Account.email == STAFF_EMAIL)
        ).scalar_one_or_none()
        if account is None:
            account = accounts.create_account(
                db,
                email=STAFF_EMAIL,
                name="Bench staff",
                role=Role.staff,
                password="bench-lantern-quarry-meadow",
                is_demo=True,
            )
        passed_two_steps(db, account)
        token = accounts.start_session(db, settings, account=account)
        db.commit()
        return token


def _remove_staff(factory) -> None:
    with factory() as db:
        staff = select(Account.id).where(Account.email == STAFF_EMAIL)
        db.execute(delete(UserSession).where(UserSession.account_id.in_(staff)))
        db.execute(delete(Account).where(Account.email == STAFF_EMAIL))
        db.commit()


def bench_reports(*, people: int, seed: int, requests_per_page: int) -> dict[str, Any]:
    settings = get_settings()
    if settings.is_production:
        raise BenchError(
            "bench reports refuses to run in production (it adds demo people and a sign-in)"
        )
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    result: dict[str, Any] = {
        "database": engine.dialect.name,
        "transport": "http",
        "server": "uvicorn",
    }
    try:
        result["borough"] = demo.ensure_borough(factory, people, seed)
        result["history"] = _ensure_history(factory, seed)
        with factory() as db:
            result["matches"] = db.execute(select(func.count()).select_from(Match)).scalar_one()
            db.execute(delete(ReportSnapshot))
            db.commit()
        period = service.default_period(local_date(utcnow()))
        cold = {}
        for report, by in jobs.USUAL:
            started = time.perf_counter()
            service.snapshot(
                factory, report, by=by, period=period, ward=None, settings=settings, fresh=True
            )
            cold[f"{report}_{by.value if isinstance(by, By) else 'all'}"] = round(
                (time.perf_counter() - started) * 1000
            )
        result["cold_ms"] = cold
        result["cold_total_ms"] = sum(cold.values())
        cookie = f"{settings.session_cookie_name}={_staff_sign_in(factory, settings)}"
        pages: dict[str, Any] = {}
        with served(settings) as (host, port):
            connection = http.client.HTTPConnection(host, port, timeout=60)
            for name, path in PAGES:
                _get(connection, path, cookie)  # warm the process
                timings = [_get(connection, path, cookie) for _ in range(requests_per_page)]
                pages[name] = {
                    "p50_ms": round(statistics.median(timings), 1),
                    "p95_ms": round(percentile(timings, 0.95), 1),
                    "max_ms": round(max(timings), 1),
                    "requests": len(timings),
                }
            connection.close()
        result["pages"] = pages
        result["worst_p95_ms"] = max(page["p95_ms"] for page in pages.values())
    finally:
        _remove_staff(factory)
        engine.dispose()
    return result


def cli_bench_reports(args: argparse.Namespace) -> int:
    try:
        result = bench_reports(people=args.people, seed=args.seed, requests_per_page=args.requests)
    except BenchError as error:
        print(f"bench reports: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    print(
        f"reports on {result['database']}: {result['borough'].get('people')} people, {result['matches']} matches"
    )
    for name, ms in result["cold_ms"].items():
        print(f"  worked out cold  {name:<32} {ms:>7} ms")
    for name, page in result["pages"].items():
        print(
            f"  page {name:<32} p50 {page['p50_ms']:>7.1f} ms  p95 {page['p95_ms']:>7.1f} ms  ({page['requests']} requests)"
        )
    return 0
