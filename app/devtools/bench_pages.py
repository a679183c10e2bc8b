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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from sqlalchemy import delete, func, insert, select, update

from app.accounts import service as accounts
from app.accounts.models import Account, Role, UserSession
from app.core.config import Settings, get_settings
from app.core.db import make_engine, make_session_factory
from app.devtools.demo import ensure_borough
from app.linkers.models import AttemptOutcome, CaseAssignment, ContactAttempt, FollowUp
from app.registry.models import HelpRequest, Offer, Person

BENCH_EMAIL = "bench.{n}@bench.demo.example"
BENCH_EMAIL_PATTERN = "bench.%@bench.demo.example"
BENCH_LINKER_EMAIL = "bench.linker@bench.demo.example"  # matches BENCH_EMAIL_PATTERN: removed with the rest
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
    env = {
        **os.environ, "MARKETPLACE_DATABASE_URL": settings.database_url, "MARKETPLACE_ENVIRONMENT": settings.environment,
        "MARKETPLACE_SECOND_FACTOR_REQUIRED": str(settings.second_factor_is_required).lower(),
    }  # fmt: skip
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


def passed_two_steps(db, account) -> None:
    """A bench session is written straight to the database, as if its holder had signed in with
    both steps; linkers, staff and admins have two-step sign-in on, as they must."""
    import pyotp

    from app.core.db import utcnow

    account.totp_secret = account.totp_secret or pyotp.random_base32()
    account.totp_confirmed_at = account.totp_confirmed_at or utcnow()
    db.add(account)
    db.flush()


def _caseload_sign_in(factory, settings: Settings, rng: random.Random, size: int) -> tuple[str, list[str], int]:
    """A bench linker with `size` people on their caseload, with the work a caseload has (a follow-up
    for one in ten, a third of them overdue; a call that reached two in three): (session token,
    the dashboard addresses to time: the first page, a need filter, a ward, a search; how many)."""
    # Imported here: the caseload tooling reaches the matching service (numpy and OR-Tools), which
    # the `marketplace` command must not load just to build its parser.
    from app.devtools.demo_caseload import assign_caseload, demo_people_with_items

    with factory() as db:
        linker = accounts.create_account(
            db, email=BENCH_LINKER_EMAIL, name="Bench Linker", role=Role.linker,
            password="bench-lantern-quarry-meadow", is_demo=True,
        )  # fmt: skip
        people = demo_people_with_items(db, count=size, rng=rng)
        assign_caseload(db, linker_id=linker.id, person_ids=people)
        today = datetime.now(UTC).date()
        db.execute(insert(FollowUp), [
            {"person_id": p, "created_by_account_id": linker.id, "what": "Ring back",
             "due_on": today + timedelta(days=rng.randint(-10, 20)), "created_at": datetime.now(UTC)}
            for p in people[::10]
        ])  # fmt: skip
        db.execute(insert(ContactAttempt), [
            {"person_id": p, "linker_account_id": linker.id, "outcome": AttemptOutcome.reached, "attempted_at": datetime.now(UTC)}
            for n, p in enumerate(people) if n % 3
        ])  # fmt: skip
        ward = db.execute(select(Person.ward_code).where(Person.id == people[0])).scalar_one() if people else ""
        name = db.execute(select(Person.name).where(Person.id == people[-1])).scalar_one() if people else ""
        passed_two_steps(db, linker)
        token = accounts.start_session(db, settings, account=linker)
        db.commit()
    surname = quote_plus(name.split()[-1]) if name else ""
    return token, ["/linkers", "/linkers?need=follow_up_overdue", f"/linkers?ward={ward}", f"/linkers?q={surname}"], len(people)


def _remove_bench_sign_ins(factory) -> None:
    with factory() as db:
        bench_ids = select(Account.id).where(Account.email.like(BENCH_EMAIL_PATTERN))
        for model, column in ((CaseAssignment, CaseAssignment.linker_account_id), (FollowUp, FollowUp.created_by_account_id),
                              (ContactAttempt, ContactAttempt.linker_account_id)):  # fmt: skip
            db.execute(delete(model).where(column.in_(bench_ids)))
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


def bench_pages(*, people: int, seed: int, samples: int, requests_per_page: int, caseload: int = 500) -> dict[str, Any]:
    settings = get_settings()
    if settings.is_production:
        raise BenchError("bench pages refuses to run in production (it adds demo people and sign-ins)")
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    timings: dict[str, list[float]] = {"dashboard": [], "offer_page": [], "request_page": [], "caseload": []}
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
        linker_token, caseload_pages, on_caseload = _caseload_sign_in(factory, settings, rng, caseload)
        linker_cookie = f"{settings.session_cookie_name}={linker_token}"
        paths.extend(("caseload", linker_cookie, path) for path in caseload_pages)
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
    result["caseload_people"] = on_caseload
    for name, values in timings.items():
        if values:
            result[f"{name}_p50_ms"] = round(statistics.median(values), 2)
            result[f"{name}_p95_ms"] = round(percentile(values, 0.95), 2)
            result[f"{name}_n"] = len(values)
    return result


def cli_bench_pages(args: argparse.Namespace) -> int:
    try:
        result = bench_pages(
            people=args.people, seed=args.seed, samples=args.samples, requests_per_page=args.requests, caseload=args.caseload
        )
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
        help="time the dashboard, offer and request pages and a linker's caseload on a borough-sized register",
        description="Generates the demo borough if the register has fewer people than --people, signs in as a "
        "sample of them, starts the application in a uvicorn process on a free loopback port and times the "
        "pages over HTTP (uvicorn, the full ASGI stack and the database).",
    )
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--samples", type=int, default=40, help="people to sign in as")
    parser.add_argument("--requests", type=int, default=300, help="requests per page")
    parser.add_argument("--caseload", type=int, default=500, help="people on the bench linker's caseload")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=cli_bench_pages)
