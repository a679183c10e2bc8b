"""`marketplace bench pages`: how fast the portal pages answer on a borough-sized register."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from typing import Any

from sqlalchemy import delete, func, select, update

from app.accounts import service as accounts
from app.accounts.models import Account, Role, UserSession
from app.core.config import get_settings
from app.core.db import make_engine, make_session_factory
from app.registry import demo
from app.registry.models import HelpRequest, Offer, Person

BENCH_EMAIL = "bench.{n}@bench.demo.example"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def ensure_borough(session_factory, people: int, seed: int) -> dict[str, Any]:
    with session_factory() as db:
        existing = db.execute(select(func.count()).select_from(Person)).scalar_one()
        if existing >= people:
            return {"generated": False, "people": existing}
        summary = demo.generate_borough(db, people=people, seed=seed)
        db.commit()
        return {"generated": True, **summary}


def bench_pages(*, people: int, seed: int, samples: int, requests_per_page: int) -> dict[str, Any]:
    import logging
    import warnings

    warnings.filterwarnings("ignore", message=".*httpx.*")
    from fastapi.testclient import TestClient

    logging.getLogger("httpx").setLevel(logging.WARNING)

    from app.main import create_app

    settings = get_settings()
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    borough = ensure_borough(factory, people, seed)
    rng = random.Random(seed)

    # Bench sign-ins for a sample of real register entries that hold both kinds of item.
    with factory() as db:
        chosen: list[int] = []
        for model in (Offer, HelpRequest):
            owners = db.execute(
                select(Person.id)
                .where(Person.account_id.is_(None), Person.id.in_(select(model.person_id)))
                .order_by(Person.id)
                .limit(samples * 20)
            ).scalars().all()
            chosen.extend(rng.sample([p for p in owners if p not in chosen], min(samples // 2, len(owners))))
        cookies: list[tuple[str, int, list[int], list[int]]] = []
        for n, person_id in enumerate(chosen):
            account = accounts.create_account(
                db, email=BENCH_EMAIL.format(n=n), name=f"Bench {n}", role=Role.citizen,
                password="bench-lantern-quarry-meadow", is_demo=True,
            )
            db.execute(update(Person).where(Person.id == person_id).values(account_id=account.id))
            token = accounts.start_session(db, settings, account=account)
            offers = db.execute(select(Offer.id).where(Offer.person_id == person_id)).scalars().all()
            requests = db.execute(select(HelpRequest.id).where(HelpRequest.person_id == person_id)).scalars().all()
            cookies.append((token, person_id, list(offers), list(requests)))
        db.commit()

    timings: dict[str, list[float]] = {"dashboard": [], "offer_page": [], "request_page": []}
    app = create_app(settings, engine=engine)
    try:
        with TestClient(app) as client:
            paths = []
            for token, _person, offers, requests in cookies:
                paths.append(("dashboard", token, "/my"))
                paths.extend(("offer_page", token, f"/offers/{item}") for item in offers[:1])
                paths.extend(("request_page", token, f"/requests/{item}") for item in requests[:1])
            by_page = {name: [p for p in paths if p[0] == name] for name in timings}
            for round_ in range(requests_per_page):
                for name, options in by_page.items():
                    if not options:
                        continue
                    _name, token, path = options[round_ % len(options)]
                    client.cookies.set(settings.session_cookie_name, token)
                    started = time.perf_counter()
                    response = client.get(path)
                    elapsed = (time.perf_counter() - started) * 1000
                    if response.status_code != 200:
                        raise RuntimeError(f"{path} answered {response.status_code}")
                    timings[name].append(elapsed)
    finally:
        with factory() as db:
            bench_ids = select(Account.id).where(Account.email.like("bench.%@bench.demo.example"))
            db.execute(update(Person).where(Person.account_id.in_(bench_ids)).values(account_id=None))
            db.execute(delete(UserSession).where(UserSession.account_id.in_(bench_ids)))
            db.execute(delete(Account).where(Account.email.like("bench.%@bench.demo.example")))
            db.commit()
        engine.dispose()

    result: dict[str, Any] = {"database": engine.dialect.name, "people": borough["people"]}
    with factory() as db:
        result["offers"] = db.execute(select(func.count()).select_from(Offer)).scalar_one()
        result["requests"] = db.execute(select(func.count()).select_from(HelpRequest)).scalar_one()
    for name, values in timings.items():
        if values:
            result[f"{name}_p50_ms"] = round(statistics.median(values), 2)
            result[f"{name}_p95_ms"] = round(percentile(values, 0.95), 2)
            result[f"{name}_n"] = len(values)
    return result


def cli_bench_pages(args: argparse.Namespace) -> int:
    result = bench_pages(people=args.people, seed=args.seed, samples=args.samples, requests_per_page=args.requests)
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
        "sample of them and times the pages in process (the full ASGI stack and the database, without the network).",
    )
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--samples", type=int, default=40, help="people to sign in as")
    parser.add_argument("--requests", type=int, default=300, help="requests per page")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=cli_bench_pages)
