"""When the database cannot serve a request: PostgreSQL's serialization failures and deadlocks
(40001, 40P01) are retried up to 3 times, then a friendly 503; a lost connection or a locked
SQLite file is a 503 with Retry-After at once; never a 500, and the request body is replayed whole."""

from __future__ import annotations

import psycopg.errors
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from app.core.middleware import DatabaseTroubleMiddleware


def failing_app(errors: list[BaseException]):
    app = FastAPI()
    app.state.bodies = []

    @app.post("/api/v1/thing")
    async def thing(request: Request):
        app.state.bodies.append(await request.body())
        if errors:
            raise errors.pop(0)
        return {"ok": True}

    app.add_middleware(DatabaseTroubleMiddleware)
    return app


def pg(error_class, message: str = "could not serialize access") -> OperationalError:
    return OperationalError("UPDATE match SET ...", {}, error_class(message))


@pytest.mark.parametrize("error_class", [psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected])
def test_a_serialization_failure_or_deadlock_is_retried_and_then_succeeds(error_class):
    app = failing_app([pg(error_class), pg(error_class), pg(error_class)])
    with TestClient(app) as client:
        answer = client.post("/api/v1/thing", content=b'{"a": 1}', headers={"Content-Type": "application/json"})
    assert answer.status_code == 200 and answer.json() == {"ok": True}
    assert app.state.bodies == [b'{"a": 1}'] * 4, "the same body, each time"


def test_after_three_retries_the_answer_is_a_friendly_503():
    app = failing_app([pg(psycopg.errors.SerializationFailure) for _ in range(10)])
    with TestClient(app) as client:
        answer = client.post("/api/v1/thing", json={})
    assert answer.status_code == 503 and answer.headers["retry-after"]
    assert "try again" in answer.json()["detail"]
    assert len(app.state.bodies) == 4


def test_a_lost_connection_or_a_locked_sqlite_file_is_a_503_at_once():
    import sqlite3

    locked = OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))
    lost = OperationalError("SELECT 1", {}, psycopg.OperationalError("server closed the connection unexpectedly"))
    shutdown = OperationalError("UPDATE x", {}, psycopg.errors.AdminShutdown("terminating connection due to administrator command"))
    for error in (locked, lost, shutdown):
        app = failing_app([error])
        with TestClient(app) as client:
            answer = client.post("/api/v1/thing", json={})
        assert answer.status_code == 503 and answer.headers["retry-after"], error
        assert len(app.state.bodies) == 1, "not retried: it would only wait again"


def test_any_other_database_error_is_not_hidden():
    import sqlite3

    app = failing_app([OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))])
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/api/v1/thing", json={}).status_code == 500
