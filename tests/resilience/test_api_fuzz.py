"""Schemathesis against `/api/v1/openapi.json`: every operation, every example sent as five callers.

For each operation Hypothesis generates examples from the published schema (valid ones, and
invalid ones the schema forbids); each example is sent, in process, as an anonymous caller, a
citizen, a linker, a staff member and an admin, each with their own bearer token and their own
data. Path ids are drawn partly from the ids those callers really own, so the fuzzing reaches real
objects rather than only 404s. Every answer must:

- never be a 5xx;
- match its documented status code, content type and response schema;
- never be a 2xx for a request the schema forbids.

`FUZZ_EXAMPLES` sets the examples per operation: 100 in `make test`, 1,000 in `make fuzz`.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import ASGIClient
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from app.accounts import service as accounts
from app.core.config import Settings
from app.main import create_app

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
CALLERS = ("anonymous", "citizen", "linker", "staff", "admin")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance, negative_data_rejection]

# The published document does not depend on the database: read it from an app that never connects.
schema = schemathesis.openapi.from_dict(create_app(Settings(environment="test", database_url="sqlite:////tmp/never-opened.db")).openapi())
# Unknown query parameters are ignored, as HTTP allows (a tracking tag on a link must not break a
# page): the negative examples do not add them.
schema.config.generation.update(max_examples=EXAMPLES, allow_extra_parameters=False)

# Ids the current test's callers own, by path parameter name (set by the `world` fixture).
KNOWN_IDS: dict[str, list[Any]] = {}


@schema.hook
def flatmap_path_parameters(context, path_parameters: dict[str, Any]):
    """Half the time, swap a generated id for one that exists, so owners' paths are exercised."""
    if not path_parameters:
        return st.just(path_parameters)
    strategies = {}
    for name, value in path_parameters.items():
        known = KNOWN_IDS.get(name)
        strategies[name] = st.sampled_from([value, *known]) if known else st.just(value)
    return st.fixed_dictionaries(strategies)


class Callers:
    """A bearer token for each caller, minted in the database (not through the throttled sign-in),
    and minted again whenever an example has revoked one."""

    def __init__(self, db, settings, accounts_by_caller: dict[str, Any]):
        self.db, self.settings, self.accounts = db, settings, accounts_by_caller
        self.headers: dict[str, dict[str, str]] = {}
        self.renew()

    def renew(self) -> None:
        for caller, account in self.accounts.items():
            token = accounts.issue_api_token(self.db, self.settings, account=account).access_token
            self.headers[caller] = {"Authorization": f"Bearer {token}"}
        self.headers["anonymous"] = {}
        self.db.commit()


@pytest.fixture()
def world(db, settings, places, linker, second_linker, staff, admin):
    from tests.linkers.test_access import build_world

    built = build_world(db, settings, linker, second_linker)
    seeker = built.seeker
    KNOWN_IDS.clear()
    KNOWN_IDS.update(
        item_id=[built.wanted.id, built.spare.id, built.offer.id, built.help_request.id],
        match_id=[built.match.id],
        person_id=[built.person.id, built.waiting.person.id],
        follow_up_id=[built.follow_up.id],
        purpose=["profile", "matching", "share_contact", "linker_contact"],
    )
    callers = Callers(db, settings, {"citizen": seeker.account, "linker": linker, "staff": staff, "admin": admin})
    yield callers
    KNOWN_IDS.clear()


@schema.parametrize()
@settings(max_examples=EXAMPLES, suppress_health_check=list(HealthCheck), deadline=None)
def test_api_answers_every_caller_within_its_schema(case, world, app):
    client = ASGIClient(app)
    for caller in CALLERS:
        case.call_and_validate(session=client, headers=world.headers[caller], checks=CHECKS)
    if case.method == "DELETE" and case.path in ("/api/v1/auth/token", "/api/v1/me"):
        world.renew()
