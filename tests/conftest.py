"""Test fixtures: a real database (SQLite always, PostgreSQL when TEST_DATABASE_URL is set),
migrated once per run; each test runs inside a transaction that is rolled back."""

from __future__ import annotations

import csv
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from app.accounts import service as accounts
from app.accounts.models import Account, Role
from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.main import create_app
from app.registry.models import PostcodeLocation, Ward
from app.registry.postcodes import normalise_postcode
from app.migrations_support import upgrade_to_head

# Property tests must not fail because a shared CI machine is slow: no per-example deadline.
hypothesis_settings.register_profile("marketplace", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("marketplace")

PASSWORD = "plum-orchard-river-42"
BACKENDS = ["sqlite", "postgresql"]


def _required(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "no")


class FreshDatabases:
    """Creates empty databases of one kind and drops them afterwards."""

    def __init__(self, backend: str, tmp_dir: Path):
        self.backend = backend
        self.tmp_dir = tmp_dir
        self.created: list[str] = []
        self.server_url = os.environ.get("TEST_DATABASE_URL")

    def new(self, label: str = "db") -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.tmp_dir / f'{label}-{secrets.token_hex(4)}.db'}"
        name = f"marketplace_test_{label}_{secrets.token_hex(4)}"
        admin = create_engine(make_url(self.server_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        self.created.append(name)
        return make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if not self.created:
            return
        admin = create_engine(make_url(self.server_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for name in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def databases(request, tmp_path_factory) -> Iterator[FreshDatabases]:
    backend = request.param
    if backend == "postgresql" and not os.environ.get("TEST_DATABASE_URL"):
        if _required("REQUIRE_POSTGRES"):
            pytest.fail("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL not configured: set TEST_DATABASE_URL to run these tests on it too")
    factory = FreshDatabases(backend, tmp_path_factory.mktemp(backend))
    if backend == "postgresql":
        try:
            factory.new("probe")
        except Exception as exc:
            if _required("REQUIRE_POSTGRES"):
                pytest.fail(f"REQUIRE_POSTGRES=1 but PostgreSQL is not reachable: {type(exc).__name__}: {exc}")
            pytest.skip(f"PostgreSQL not reachable: {type(exc).__name__}")
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def database_url(databases) -> str:
    url = databases.new("main")
    upgrade_to_head(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture()
def connection(engine):
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        if transaction.is_active:
            transaction.rollback()


@pytest.fixture()
def session_factory(connection):
    # Every commit inside the app becomes a savepoint release; the outer transaction is rolled back.
    return make_session_factory(connection, join_transaction_mode="create_savepoint")


@pytest.fixture()
def db(session_factory) -> Iterator[Session]:
    session = session_factory()
    yield session
    session.close()


@pytest.fixture()
def settings(database_url, tmp_path) -> Settings:
    # Jobs run in this process right after the commit (huey's immediate mode), inside the test's
    # rolled-back transaction; tests/core/test_jobs.py runs the real worker on a committed database.
    return Settings(environment="test", database_url=database_url, outbox_dir=tmp_path / "outbox", jobs_immediate=True)


@pytest.fixture()
def app(settings, engine, session_factory):
    return create_app(settings, engine=engine, session_factory=session_factory)


@pytest.fixture()
def client(app) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture()
def other_client(app) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def make_account(db: Session, *, role: Role, email: str, name: str) -> Account:
    account = accounts.create_account(db, email=email, name=name, role=role, password=PASSWORD)
    db.commit()
    return account


@pytest.fixture()
def citizen(db) -> Account:
    return make_account(db, role=Role.citizen, email="cara@example.org", name="Cara Citizen")


@pytest.fixture()
def other_citizen(db) -> Account:
    return make_account(db, role=Role.citizen, email="owen@example.org", name="Owen Other")


@pytest.fixture()
def linker(db) -> Account:
    return make_account(db, role=Role.linker, email="lee@example.org", name="Lee Linker")


@pytest.fixture()
def second_linker(db) -> Account:
    return make_account(db, role=Role.linker, email="lina@example.org", name="Lina Linker")


@pytest.fixture()
def staff(db) -> Account:
    return make_account(db, role=Role.staff, email="sam@example.org", name="Sam Staff")


@pytest.fixture()
def admin(db) -> Account:
    return make_account(db, role=Role.admin, email="ada@example.org", name="Ada Admin")


SAMPLE = Path(__file__).resolve().parent / "data" / "onspd_sample.csv"


@pytest.fixture()
def places(db) -> list[str]:
    """The real sample rows of the ONS Postcode Directory, in the postcode table."""
    postcodes = []
    with SAMPLE.open(newline="") as handle:
        for row in csv.DictReader(handle):
            postcode = normalise_postcode(row["pcds"])
            db.merge(
                PostcodeLocation(
                    postcode=postcode,
                    latitude=float(row["lat"]),
                    longitude=float(row["long"]),
                    local_authority_code=row["oslaua"],
                    ward_code=row["osward"],
                )
            )
            postcodes.append(postcode)
    db.merge(Ward(code="S13002483", name="Torry/Ferryhill"))
    db.commit()
    return postcodes



CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: TestClient, path: str = "/sign-in") -> str:
    response = client.get(path)
    match = CSRF_RE.search(response.text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def post_form(client: TestClient, path: str, data: dict, *, token_from: str = "/sign-in", **kwargs):
    return client.post(path, data={"csrf_token": csrf_token(client, token_from), **data}, follow_redirects=False, **kwargs)


def sign_in(client: TestClient, account: Account | str, password: str = PASSWORD):
    email = account if isinstance(account, str) else account.email
    response = post_form(client, "/sign-in", {"email": email, "password": password})
    assert response.status_code == 303, response.text
    return response


def api_token(client: TestClient, account: Account, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"email": account.email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
