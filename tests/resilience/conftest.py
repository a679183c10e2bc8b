"""A served app on a committed database of its own, for tests that need real concurrency: a
uvicorn process with its own connection pool, called over real HTTP from many threads."""

from __future__ import annotations

import csv
import http.client
import json
from dataclasses import dataclass
from typing import Any

import pytest

from app.accounts import service as accounts
from app.accounts.models import Role
from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.devtools.bench_pages import served_process
from app.migrations_support import upgrade_to_head
from app.privacy.models import ConsentPurpose
from app.registry import service as registry
from app.registry.models import PostcodeLocation
from app.registry.postcodes import normalise_postcode
from tests.conftest import PASSWORD, SAMPLE
from tests.matching.conftest import ONE_AND_A_HALF_KM, PLUGINS, citizen


@dataclass
class Served:
    host: str
    port: int
    settings: Settings
    session_factory: Any
    tokens: dict[str, str]
    ids: dict[str, int]

    def call(self, method: str, path: str, body: Any = None, *, who: str = "rhian", headers: dict | None = None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            connection.request(
                method, path, body=json.dumps(body) if body is not None else None,
                headers={"Authorization": f"Bearer {self.tokens[who]}", "Content-Type": "application/json", **(headers or {})},
            )  # fmt: skip
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


def load_postcodes(db) -> None:
    with SAMPLE.open(newline="") as handle:
        for row in csv.DictReader(handle):
            db.merge(PostcodeLocation(
                postcode=normalise_postcode(row["pcds"]), latitude=float(row["lat"]), longitude=float(row["long"]),
                local_authority_code=row["oslaua"], ward_code=row["osward"],
            ))  # fmt: skip
    db.commit()


@pytest.fixture()
def served(databases):
    """Two citizens and two linkers on a served app (one uvicorn worker, its own pool)."""
    url = databases.new("served")
    upgrade_to_head(url)
    settings = Settings(environment="test", database_url=url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as db:
        load_postcodes(db)
        rhian = citizen(db, settings, "Rhian Evans")
        bryn = citizen(db, settings, "Bryn Zephaniah", ONE_AND_A_HALF_KM)
        wendy = citizen(db, settings, "Wendy Waiting")  # asked for a linker: in the pool
        registry.set_person_consent(
            db, settings, PLUGINS, person=wendy.person, purpose=ConsentPurpose.linker_contact, given=True, account=wendy.account
        )  # fmt: skip
        lee = accounts.create_account(db, email="lee@example.org", name="Lee Linker", role=Role.linker, password=PASSWORD)
        lina = accounts.create_account(db, email="lina@example.org", name="Lina Linker", role=Role.linker, password=PASSWORD)
        db.commit()
        tokens = {
            name: accounts.issue_api_token(db, settings, account=account).access_token
            for name, account in (("rhian", rhian.account), ("bryn", bryn.account), ("lee", lee), ("lina", lina))
        }
        db.commit()
        ids = {"rhian_person": rhian.person.id, "bryn_person": bryn.person.id, "rhian": rhian.account.id, "waiting": wendy.person.id,
               "lee": lee.id, "lina": lina.id}  # fmt: skip
    try:
        with served_process(settings) as (host, port, _process):
            yield Served(host, port, settings, factory, tokens, ids)
    finally:
        engine.dispose()
