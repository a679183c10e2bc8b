"""`marketplace bench live`: the borough served by real uvicorn workers, suggestions timed over
HTTP through the API, quiet and then while another person writes 1 and 10 times a second, with
the memory each worker holds once its index is built; then a crowd (wrk, 16 and 64 connections)
on a citizen's signed-in dashboard `/my`, beside a bare FastAPI app served the same way."""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update

from app.accounts import service as accounts
from app.accounts.models import Account, ApiToken, Role, UserSession
from app.core.config import get_settings
from app.core.db import make_engine, make_session_factory
from app.devtools.bench_matching import writes_in_background
from app.devtools.bench_pages import BenchError, percentile, served_process
from app.devtools.crowd import crowd, crowd_lines, wrk_path
from app.devtools.demo import ensure_borough
from app.registry.models import HelpRequest, ItemStatus, Person

LIVE_EMAIL = "live.{n}@bench.demo.example"
LIVE_EMAIL_PATTERN = "live.%@bench.demo.example"


def _tokens_for_requesters(factory, settings, rng: random.Random, samples: int) -> list[tuple[str, int]]:
    """API tokens for people without an account who hold a live help request: (token, request id)."""
    with factory() as db:
        rows = db.execute(
            select(Person.id, HelpRequest.id)
            .join(HelpRequest, HelpRequest.person_id == Person.id)
            .where(Person.account_id.is_(None), HelpRequest.status == ItemStatus.active)
            .order_by(HelpRequest.id)
            .limit(samples * 20)
        ).all()
        chosen = rng.sample(list({person: request for person, request in rows}.items()), min(samples, len(rows)))
        out = []
        for n, (person_id, request_id) in enumerate(chosen):
            account = accounts.create_account(
                db, email=LIVE_EMAIL.format(n=n), name=f"Live {n}", role=Role.citizen,
                password="bench-lantern-quarry-meadow", is_demo=True,
            )  # fmt: skip
            db.execute(update(Person).where(Person.id == person_id).values(account_id=account.id))
            out.append((accounts.issue_api_token(db, settings, account=account).access_token, request_id))
        db.commit()
    return out


def _dashboard_cookie(factory, settings) -> str:
    """A signed-in session for the first bench citizen, as a Cookie header's value."""
    with factory() as db:
        account = db.execute(select(Account).where(Account.email == LIVE_EMAIL.format(n=0))).scalar_one()
        token = accounts.start_session(db, settings, account=account)
        db.commit()
    return f"{settings.session_cookie_name}={token}"


def _remove_live_accounts(factory) -> None:
    with factory() as db:
        ids = select(Account.id).where(Account.email.like(LIVE_EMAIL_PATTERN))
        db.execute(update(Person).where(Person.account_id.in_(ids)).values(account_id=None))
        db.execute(delete(ApiToken).where(ApiToken.account_id.in_(ids)))
        db.execute(delete(UserSession).where(UserSession.account_id.in_(ids)))
        db.execute(delete(Account).where(Account.email.like(LIVE_EMAIL_PATTERN)))
        db.commit()


def _call(host: str, port: int, token: str, request_id: int) -> float:
    """One suggestion call on a new connection (so the calls spread over the workers)."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        connection.request("GET", f"/api/v1/help-requests/{request_id}/suggestions",
                           headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise BenchError(f"suggestions answered {response.status}")
    return (time.perf_counter() - started) * 1000


def _timings(host, port, sample, calls: int, seconds: float = 0.0) -> list[float]:
    """At least `calls` calls, and for at least `seconds`, a call every 10 ms or so."""
    out: list[float] = []
    deadline = time.monotonic() + seconds
    while len(out) < calls or time.monotonic() < deadline:
        out.append(_call(host, port, *sample[len(out) % len(sample)]))
        time.sleep(0.01)
    return out


def _summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(values), 2), "p95_ms": round(percentile(values, 0.95), 2), "n": len(values)}


def _worker_rss_mb(server_pid: int) -> list[float]:
    """Resident memory of each uvicorn worker (the server's children that run the app)."""
    out = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            cmdline = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(server_pid) and b"spawn_main" in cmdline:
            out.append(round(int(fields["VmRSS"].split()[0]) / 1024, 1))
    return sorted(out)


def bench_live(
    *, people: int, seed: int, workers: int, samples: int, calls: int, seconds: float = 10.0, crowd_seconds: float = 10.0
) -> dict[str, Any]:
    settings = get_settings()
    if settings.is_production:
        raise BenchError("bench live refuses to run in production (it adds demo sign-ins)")
    if crowd_seconds > 0:
        wrk_path()  # before the borough is built: say at once what is missing
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    result: dict[str, Any] = {"database": engine.dialect.name, "people": people, "workers": workers, "transport": "http"}
    try:
        ensure_borough(factory, people, seed)
        sample = _tokens_for_requesters(factory, settings, random.Random(seed), samples)
        with served_process(settings, workers=workers) as (host, port, process):
            started = time.perf_counter()
            _timings(host, port, sample, 6 * workers)  # every worker builds its index on its first call
            result["warm_up_seconds"] = round(time.perf_counter() - started, 2)
            result["quiet"] = _summary(_timings(host, port, sample, calls, seconds))
            for rate in (1, 10):
                with writes_in_background(factory, rate, seed) as written:
                    result[f"writes_{rate}_per_second"] = _summary(_timings(host, port, sample, calls, seconds)) | {"writes": 0}
                result[f"writes_{rate}_per_second"]["writes"] = written[0]
            result["worker_rss_mb"] = _worker_rss_mb(process.pid) if workers > 1 else []
            if crowd_seconds > 0:
                cookie = _dashboard_cookie(factory, settings)
                with served_process(settings, workers=workers, target="app.devtools.bare_app:app", factory=False) as (
                    bare_host, bare_port, _bare,
                ):  # fmt: skip
                    result["dashboard_crowd"] = crowd(
                        (host, port, "/my", cookie), (bare_host, bare_port), seconds=crowd_seconds
                    )
    finally:
        _remove_live_accounts(factory)
        engine.dispose()
    quiet, busy = result["quiet"]["p95_ms"], result["writes_10_per_second"]["p95_ms"]
    result["busy_to_quiet_p95"] = round(busy / quiet, 2) if quiet else None
    return result


def cli_bench_live(args: argparse.Namespace) -> int:
    try:
        result = bench_live(
            people=args.people, seed=args.seed, workers=args.workers, samples=args.samples, calls=args.calls,
            seconds=args.seconds, crowd_seconds=args.crowd_seconds,
        )
    except BenchError as error:
        print(f"bench live: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
        return 0
    crowd_figures = result.pop("dashboard_crowd", None)
    print("\n".join(f"{k:>24}: {v}" for k, v in result.items()))
    if crowd_figures:
        print("\n/my under a crowd (wrk, 2 threads), beside a bare FastAPI app:")
        print("\n".join(crowd_lines(crowd_figures)))
    return 0
