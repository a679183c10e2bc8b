"""Sixteen writers at once for 30 seconds against a served app, on both databases. On SQLite they
contend for the one write lock (a busy timeout, and write requests begin IMMEDIATE): none may see
"database is locked" or any error. On PostgreSQL the app's own connections are killed every two
seconds while they write (`pg_terminate_backend`): a request in flight gets a clean 503, never a
500. Afterwards nothing committed is lost and nothing half-written remains."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from app.accounts import service as accounts
from app.registry.models import Offer, OfferSkill
from tests.matching.conftest import citizen
from tests.registry.conftest import OFFER_BODY

WRITERS = 16
SECONDS = float(os.environ.get("WRITERS_SECONDS", "30"))


def kill_app_connections(url: str, stop: threading.Event, killed: list[int]) -> None:
    database = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        while not stop.wait(2.0):
            with admin.connect() as connection:
                ended = connection.execute(
                    text("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                         "WHERE datname = :db AND pid <> pg_backend_pid()"),
                    {"db": database},
                ).scalar_one()  # fmt: skip
                killed.append(ended)
    finally:
        admin.dispose()


def test_sixteen_writers_for_thirty_seconds_see_no_error_and_lose_nothing(served, databases):
    with served.session_factory() as db:
        tokens = []
        for n in range(WRITERS):
            who = citizen(db, served.settings, f"Writer Number{n}")
            tokens.append(accounts.issue_api_token(db, served.settings, account=who.account).access_token)
        db.commit()
    for n, token in enumerate(tokens):
        served.tokens[f"w{n}"] = token

    statuses: Counter = Counter()
    created: list[int] = []
    bad: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    deadline = time.monotonic() + SECONDS

    def writer(n: int) -> None:
        while time.monotonic() < deadline:
            status, body = served.call("POST", "/api/v1/offers", OFFER_BODY | {"title": f"Help number {n}"}, who=f"w{n}")
            with lock:
                statuses[status] += 1
                if status == 201:
                    created.append(json.loads(body)["id"])
                elif status != 503 or b"locked" in body.lower():
                    bad.append(f"{status} {body[:200]!r}")
            if status == 201:
                item = json.loads(body)["id"]
                status, body = served.call("PATCH", f"/api/v1/offers/{item}", {"description": "Updated while busy"}, who=f"w{n}")
                with lock:
                    statuses[status] += 1
                    if status not in (200, 503) or b"locked" in body.lower():
                        bad.append(f"{status} {body[:200]!r}")

    killed: list[int] = []
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    if databases.backend == "postgresql":
        threads.append(threading.Thread(target=kill_app_connections, args=(served.settings.database_url, stop, killed)))
    for thread in threads:
        thread.start()
    for thread in threads[:WRITERS]:
        thread.join()
    stop.set()
    for thread in threads[WRITERS:]:
        thread.join()

    total = sum(statuses.values())
    print(f"\n{databases.backend}: {total} writes in {SECONDS:g} s by {WRITERS} writers ({total / SECONDS:.0f}/s): "
          f"{dict(statuses)}; connections killed: {sum(killed)} in {len(killed)} rounds")  # fmt: skip
    assert bad == [], bad[:5]
    assert statuses[201] > WRITERS
    if databases.backend == "sqlite":
        assert statuses[503] == 0, "on SQLite every writer waits its turn"
    else:
        assert sum(killed) > 0, "the fault was injected"

    # Nothing committed lost, nothing half-written: every offer answered 201 is there with its
    # skill, and there are no others.
    with served.session_factory() as db:
        stored = set(db.execute(select(Offer.id).where(Offer.title.like("Help number %"))).scalars())
        without_skills = db.execute(
            select(func.count()).select_from(Offer).where(~Offer.id.in_(select(OfferSkill.offer_id)))
        ).scalar_one()
    assert stored == set(created)
    assert without_skills == 0
    # And the service is itself again.
    assert served.call("GET", "/readyz")[0] == 200
