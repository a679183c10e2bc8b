"""Racing changes to one match over real HTTP, against a real uvicorn server and its own pool:
of 50 declines sent at once with the same version, exactly one wins and 49 are told 409."""

from __future__ import annotations

import concurrent.futures
import csv
import http.client
import json

import pytest

from app.accounts import service as accounts
from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.devtools.bench_pages import served_process
from app.migrations_support import upgrade_to_head
from app.registry.models import PostcodeLocation
from app.registry.postcodes import normalise_postcode
from tests.conftest import SAMPLE
from tests.matching.conftest import ONE_AND_A_HALF_KM, citizen, offer, request

RACERS = 50


@pytest.fixture()
def served_garden(databases):
    url = databases.new("race")
    upgrade_to_head(url)
    settings = Settings(environment="test", database_url=url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as db:
        with SAMPLE.open(newline="") as handle:
            for row in csv.DictReader(handle):
                db.merge(PostcodeLocation(
                    postcode=normalise_postcode(row["pcds"]), latitude=float(row["lat"]), longitude=float(row["long"]),
                    local_authority_code=row["oslaua"], ward_code=row["osward"],
                ))  # fmt: skip
        db.commit()
        rhian = citizen(db, settings, "Rhian Evans")
        bryn = citizen(db, settings, "Bryn Zephaniah", ONE_AND_A_HALF_KM)
        need, help_offer = request(db, rhian), offer(db, bryn)
        tokens = [accounts.issue_api_token(db, settings, account=who.account).access_token for who in (rhian, bryn)]
        db.commit()
        ids = need.id, help_offer.id
    try:
        with served_process(settings) as (host, port, _process):
            yield host, port, tokens, ids
    finally:
        engine.dispose()


def call(host, port, token, method, path, body=None):
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        connection.request(
            method, path, body=json.dumps(body) if body is not None else None,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )  # fmt: skip
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def test_fifty_declines_with_one_version_give_one_200_and_49_409(served_garden):
    host, port, (rhians, bryns), (need_id, offer_id) = served_garden
    status, match = call(host, port, rhians, "POST", "/api/v1/matches", {"offer_id": offer_id, "request_id": need_id})
    assert status == 201, match
    path = f"/api/v1/matches/{match['id']}/decline"
    with concurrent.futures.ThreadPoolExecutor(RACERS) as pool:
        answers = list(pool.map(lambda _: call(host, port, bryns, "POST", path, {"version": match["version"]}), range(RACERS)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [409] * (RACERS - 1)
    assert all(body["latest"]["status"] == "declined" for status, body in answers if status == 409)
    status, latest = call(host, port, bryns, "GET", f"/api/v1/matches/{match['id']}")
    assert latest["status"] == "declined" and latest["version"] == match["version"] + 1
