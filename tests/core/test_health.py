"""Health checks: /healthz is liveness only; /readyz answers 503 when the database cannot be reached."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.db import make_engine
from app.main import create_app


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_when_the_database_is_up(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_health_checks_need_no_session_or_csrf_cookie(client):
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert response.status_code == 200
        assert "set-cookie" not in response.headers


def _unreachable_postgresql(tmp_path):
    return make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")


def _sqlite_in_a_directory_that_is_a_file(tmp_path):
    folder = tmp_path / "data"
    engine = make_engine(f"sqlite:///{folder / 'marketplace.db'}")  # creates the folder ...
    folder.rmdir()
    folder.write_text("not a directory")  # ... which a file then takes the place of
    return engine


@pytest.fixture(
    params=[_unreachable_postgresql, _sqlite_in_a_directory_that_is_a_file],
    ids=["postgresql-port-1", "sqlite-under-a-file"],
)
def unreachable_app(request, tmp_path):
    engine = request.param(tmp_path)
    settings = Settings(environment="test", database_url=str(engine.url), outbox_dir=tmp_path / "outbox")
    app = create_app(settings, engine=engine)
    yield app
    engine.dispose()


def test_readyz_answers_503_when_the_database_cannot_be_reached(unreachable_app, caplog):
    caplog.set_level(logging.WARNING)
    with TestClient(unreachable_app, raise_server_exceptions=True) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] != "ok"
        # Nothing about the database's address or the driver's error goes to the caller.
        for leak in ("127.0.0.1", "marketplace.db", "psycopg", "sqlite", "Error"):
            assert leak not in response.text
        # Liveness does not depend on the database.
        live = client.get("/healthz")
        assert live.status_code == 200 and live.json() == {"status": "ok"}
    assert any("database not reachable" in r.getMessage() for r in caplog.records)
