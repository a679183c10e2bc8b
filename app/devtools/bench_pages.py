"""`marketplace bench pages`: how fast the portal pages answer on a borough-sized register.

Measured over real HTTP: the bench starts the application in its own uvicorn process on a free
loopback port (as `marketplace serve` would, with the same settings from the environment), signs
in as a sample of people on the register and times each page from sending the request to reading
the last byte of the answer, on one kept-alive connection (as a browser would). So the figures
include uvicorn, the whole ASGI stack and the database, and the client does not share a process
(or the GIL) with the server. The client is the standard library's `http.client`: nothing here
needs the test dependencies.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update

from app.accounts import service as accounts
from app.accounts.models import Account, Role, UserSession
from app.core.config import Settings, get_settings
from app.core.db import make_engine, make_session_factory
from app.devtools.demo import ensure_borough
from app.registry.models import HelpRequest, Offer, Person

BENCH_EMAIL = "bench.{n}@bench.demo.example"
BENCH_EMAIL_PATTERN = "bench.%@bench.demo.example"
SERVER_START_SECONDS = 60


class BenchError(RuntimeError):
    """The benchmark could not run (the server did not start, a page did not answer 200)."""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


# --- the server ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


@contextmanager
def served(settings: Settings, *, start_seconds: float = SERVER_START_SECONDS) -> Iterator[tuple[str, int]]:
    """The application in a uvicorn process of its own on 127.0.0.1; yields (host, port) once
    `/healthz` answers, and stops the process afterwards."""
    with served_process(settings, start_seconds=start_seconds) as (host, port, _process):
        yield host, port


@contextmanager
def served_process(
    settings: Settings,
    *,
    workers: int = 1,
    start_seconds: float = SERVER_START_SECONDS,
    target: str = "app.main:create_app",
    factory: bool = True,
) -> Iterator[tuple[str, int, subprocess.Popen]]:
    """Like `served`, with `workers` uvicorn worker processes; also yields the server process."""
    host, port = "127.0.0.1", _free_port()
    env = {**os.environ, "MARKETPLACE_DATABASE_URL": settings.database_url}
    command = [
        sys.executable, "-m", "uvicorn", target, *(["--factory"] if factory else []),
        "--host", host, "--port", str(port), "--log-level", "warning", "--no-access-log",
        *(["--workers", str(workers)] if workers > 1 else []),
    ]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as directory:
        log = Path(directory) / "uvicorn.log"
        with log.open("wb") as log_file:
            process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + start_seconds
            while True:
                if process.poll() is not None:
                    raise BenchError(f"the server exited with code {process.returncode}:\n{_log_tail(log)}")
                try:
                    connection = http.client.HTTPConnection(host, port, timeout=2)
                    connection.request("GET", "/healthz")
                    if connection.getresponse().status == 200:
                        connection.close()
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise BenchError(f"the server did not answer /healthz within {start_seconds:g} s:\n{_log_tail(log)}")
                time.sleep(0.1)
            yield host, port, process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


# --- the benchmark ---------------------------------------------------------------------------


def _sign_in_sample(factory, settings: Settings, rng: random.Random, samples: int) -> list[tuple[str, list[int], list[int]]]:
    """Bench sign-ins for a sample of register entries without an account that hold an offer or a
    help request: (session token, their offers, their requests)."""
    with factory() as db:
        chosen: list[int] = []
        for model in (Offer, HelpRequest):
            owners = db.execute(
                select(Person.id)
                .where(Person.account_id.is_(None), Person.id.in_(select(model.person_id)))
                .order_by(Person.id)
                .limit(samples * 20)
            ).scalars().all()
            candidates = [p for p in owners if p not in chosen]
            chosen.extend(rng.sample(candidates, min(samples // 2, len(candidates))))
        signed_in = []
        for n, person_id in enumerate(chosen):
            account = accounts.create_account(
                db, email=BENCH_EMAIL.format(n=n), name=f"Bench {n}", role=Role.citizen,
                password="bench-lantern-quarry-meadow", is_demo=True,
            )  # fmt: skip
            db.execute(update(Person).where(Person.id == person_id).values(account_id=account.id))
            token = accounts.start_session(db, settings, account=account)
            offers = db.execute(select(Offer.id).where(Offer.person_id == person_id)).scalars().all()
            requests = db.execute(select(HelpRequest.id).where(HelpRequest.person_id == person_id)).scalars().all()
            signed_in.append((token, list(offers), list(requests)))
        db.commit()
    return signed_in


def _remove_bench_sign_ins(factory) -> None:
    with factory() as db:
        bench_ids = select(Account.id).where(Account.email.like(BENCH_EMAIL_PATTERN))
        db.execute(update(Person).where(Person.account_id.in_(bench_ids)).values(account_id=None))
        db.execute(delete(UserSession).where(UserSession.account_id.in_(bench_ids)))
        db.execute(delete(Account).where(Account.email.like(BENCH_EMAIL_PATTERN)))
        db.commit()


def _get(connection: http.client.HTTPConnection, path: str, cookie: str) -> float:
    """GET one page; milliseconds until its last byte was read."""
    started = time.perf_counter()
    connection.request("GET", path, headers={"Cookie": cookie, "Accept": "text/html"})
    response = connection.getresponse()
    response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise BenchError(f"{path} answered {response.status}")
    return elapsed


def bench_pages(*, people: int, seed: int, samples: int, requests_per_page: int) -> dict[str, Any]:
    settings = get_settings()
    if settings.is_production:
        raise BenchError("bench pages refuses to run in production (it adds demo people and sign-ins)")
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    timings: dict[str, list[float]] = {"dashboard": [], "offer_page": [], "request_page": []}
    result: dict[str, Any] = {"database": engine.dialect.name, "transport": "http", "server": "uvicorn"}
    try:
        borough = ensure_borough(factory, people, seed)
        rng = random.Random(seed)
        signed_in = _sign_in_sample(factory, settings, rng, samples)
        paths = []
        for token, offers, requests in signed_in:
            cookie = f"{settings.session_cookie_name}={token}"
            paths.append(("dashboard", cookie, "/my"))
            paths.extend(("offer_page", cookie, f"/offers/{item}") for item in offers[:1])
            paths.extend(("request_page", cookie, f"/requests/{item}") for item in requests[:1])
        by_page = {name: [p for p in paths if p[0] == name] for name in timings}
        with served(settings) as (host, port):
            connection = http.client.HTTPConnection(host, port, timeout=60)
            try:
                # One untimed round first: the server's first page of each kind loads templates and
                # builds the matching index. Reported apart, not mixed into the percentiles.
                for name, options in by_page.items():
                    if options:
                        result[f"{name}_first_ms"] = round(_get(connection, options[0][2], options[0][1]), 2)
                for round_ in range(requests_per_page):
                    for name, options in by_page.items():
                        if options:
                            _name, cookie, path = options[round_ % len(options)]
                            timings[name].append(_get(connection, path, cookie))
            finally:
                connection.close()
    finally:
        _remove_bench_sign_ins(factory)
        with factory() as db:
            result["people"] = db.execute(select(func.count()).select_from(Person)).scalar_one()
            result["offers"] = db.execute(select(func.count()).select_from(Offer)).scalar_one()
            result["requests"] = db.execute(select(func.count()).select_from(HelpRequest)).scalar_one()
        engine.dispose()
    result["borough_generated"] = borough["generated"]
    result["signed_in"] = len(signed_in)
    for name, values in timings.items():
        if values:
            result[f"{name}_p50_ms"] = round(statistics.median(values), 2)
            result[f"{name}_p95_ms"] = round(percentile(values, 0.95), 2)
            result[f"{name}_n"] = len(values)
    return result


def cli_bench_pages(args: argparse.Namespace) -> int:
    try:
        result = bench_pages(people=args.people, seed=args.seed, samples=args.samples, requests_per_page=args.requests)
    except BenchError as error:
        print(f"bench pages: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")
    return 0


def add_bench_pages(benches: Any) -> None:
    parser = benches.add_parser(
        "pages",
        help="time the dashboard, offer and request pages on a borough-sized register",
        description="Generates the demo borough if the register has fewer people than --people, signs in as a "
        "sample of them, starts the application in a uvicorn process on a free loopback port and times the "
        "pages over HTTP (uvicorn, the full ASGI stack and the database).",
    )
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--samples", type=int, default=40, help="people to sign in as")
    parser.add_argument("--requests", type=int, default=300, help="requests per page")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=cli_bench_pages)
