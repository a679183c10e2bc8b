"""Errors: friendly 404 and 500 pages, no stack traces, no personal data in the log, 413 and API 422."""

from __future__ import annotations

import logging

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.accounts import service as accounts
from app.accounts.models import Account
from app.core.db import DbSession
from tests.conftest import PASSWORD, csrf_token, post_form

SECRET_EMAIL = "jane.private@example.org"
SECRET_DETAIL = f"could not match {SECRET_EMAIL} living at 12 Acacia Avenue"
TRACE_MARKERS = ("Traceback", 'File "', "RuntimeError", "line ", ".py")


def account_count(db) -> int:
    db.expire_all()
    return db.execute(select(func.count()).select_from(Account)).scalar_one()


# --- 404 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/no-such-page", "/account/nothing/here", "/admin/accounts/99999/unknown"])
def test_an_unknown_url_gives_the_friendly_404_page(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Page not found" in response.text
    assert "<html" in response.text and "Go to the home page" in response.text
    for marker in ("Traceback", 'File "', '{"detail"'):
        assert marker not in response.text


def test_an_unknown_api_url_answers_json_404(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert "detail" in response.json()


# --- 500 ---------------------------------------------------------------------------------------


@pytest.fixture()
def failing_app(app):
    """The test app with routes that fail with personal data in the exception message."""

    @app.get("/test-boom")
    def boom() -> None:
        raise RuntimeError(SECRET_DETAIL)

    @app.post("/test-boom-after-write")
    async def boom_after_write(request: Request, db: DbSession) -> None:
        form = await request.form()
        accounts.create_account(
            db, email=str(form["email"]), name="Jane Private", role=accounts.Role.citizen, password=PASSWORD
        )
        db.flush()
        raise LookupError(f"failed for {form['email']}")

    @app.get("/api/v1/test-boom")
    def api_boom() -> None:
        raise ValueError(SECRET_DETAIL)

    return app


def _assert_log_is_clean(caplog, *secrets: str) -> None:
    assert caplog.records, "the unexpected error must be logged"
    for record in caplog.records:
        text = record.getMessage()
        for secret in secrets:
            assert secret not in text, f"log line leaks {secret!r}: {text}"
        assert record.exc_info is None or record.exc_info == (None, None, None), "a traceback was logged"
        assert record.exc_text is None
    for secret in secrets:
        assert secret not in caplog.text


def test_an_unexpected_error_gives_the_friendly_500_page_and_a_clean_log(failing_app, caplog):
    caplog.set_level(logging.DEBUG)
    # raise_server_exceptions=True: the error must be handled inside the app, not by the test client.
    with TestClient(failing_app, raise_server_exceptions=True) as client:
        response = client.get("/test-boom")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "Sorry, there is a problem with the service" in response.text
    for marker in (*TRACE_MARKERS, SECRET_EMAIL, "Acacia"):
        assert marker not in response.text
    # Still a page of this site, with its security headers.
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]

    errors = [r for r in caplog.records if r.name == "marketplace.errors"]
    assert len(errors) == 1
    assert "RuntimeError" in errors[0].getMessage()
    assert "/test-boom" in errors[0].getMessage()
    _assert_log_is_clean(caplog, SECRET_EMAIL, "Acacia", SECRET_DETAIL)


def test_an_unexpected_error_after_a_write_saves_nothing_and_logs_no_form_data(failing_app, db, caplog):
    caplog.set_level(logging.DEBUG)
    before = account_count(db)
    with TestClient(failing_app, raise_server_exceptions=True) as client:
        token = csrf_token(client, "/sign-in")
        response = client.post("/test-boom-after-write", data={"csrf_token": token, "email": SECRET_EMAIL})
    assert response.status_code == 500
    assert "has not been saved" in response.text
    assert SECRET_EMAIL not in response.text
    assert account_count(db) == before
    assert accounts.find_account_by_email(db, email=SECRET_EMAIL) is None
    _assert_log_is_clean(caplog, SECRET_EMAIL)
    assert any("LookupError" in r.getMessage() for r in caplog.records)


def test_an_unexpected_api_error_answers_json_500_without_details(failing_app, caplog):
    caplog.set_level(logging.DEBUG)
    with TestClient(failing_app, raise_server_exceptions=True) as client:
        response = client.get("/api/v1/test-boom")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/json")
    assert set(response.json()) == {"detail"}
    for marker in (*TRACE_MARKERS, SECRET_EMAIL):
        assert marker not in response.text
    _assert_log_is_clean(caplog, SECRET_EMAIL, SECRET_DETAIL)


# --- 413 ---------------------------------------------------------------------------------------


def _registration(email: str) -> dict:
    """A registration that succeeds when it is small enough (with the `places` fixture loaded)."""
    return {
        "name": "Big Sender",
        "email": email,
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "postcode": "AB10 1AB",
        "consent_profile": "yes",
    }


def test_a_body_over_the_limit_gets_413_and_nothing_is_written(client, db, settings, places):
    before = account_count(db)
    token = csrf_token(client, "/register")
    padding = "x" * (settings.max_body_bytes + 1)
    response = client.post(
        "/register",
        data={"csrf_token": token, **_registration("big@example.org"), "padding": padding},
        follow_redirects=False,
    )
    assert response.status_code == 413
    assert "too much" in response.text
    assert account_count(db) == before
    assert accounts.find_account_by_email(db, email="big@example.org") is None


def test_a_body_under_the_limit_is_accepted(client, db, settings, places):
    """The control: the same registration, with a little padding, succeeds."""
    data = {**_registration("small@example.org"), "padding": "x" * 1000}
    response = post_form(client, "/register", data, token_from="/register")
    assert response.status_code == 303
    db.expire_all()
    assert accounts.find_account_by_email(db, email="small@example.org") is not None


def test_a_chunked_body_over_the_limit_gets_413_and_nothing_is_written(client, db, settings, places):
    """Without a Content-Length the limit is counted as the body arrives."""
    from urllib.parse import urlencode

    before = account_count(db)
    token = csrf_token(client, "/register")
    padding = "x" * (settings.max_body_bytes + 1)
    body = urlencode({"csrf_token": token, **_registration("chunked@example.org"), "padding": padding}).encode()

    def chunks():
        for start in range(0, len(body), 16384):
            yield body[start : start + 16384]

    response = client.post(
        "/register",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert account_count(db) == before


def test_an_api_body_over_the_limit_gets_413(client, settings, citizen):
    big = {"email": citizen.email, "password": "p" * (settings.max_body_bytes + 1)}
    response = client.post("/api/v1/auth/token", json=big)
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/json")


def test_a_chunked_api_body_over_the_limit_gets_413(client, settings, citizen):
    import json

    body = json.dumps({"email": citizen.email, "password": "p" * (settings.max_body_bytes + 1)}).encode()

    def chunks():
        for start in range(0, len(body), 16384):
            yield body[start : start + 16384]

    response = client.post("/api/v1/auth/token", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text


# --- API validation errors ---------------------------------------------------------------------


def _assert_error_shape(response) -> list[dict]:
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"errors"}
    assert isinstance(body["errors"], list) and body["errors"]
    for error in body["errors"]:
        assert set(error) == {"field", "message"}
        assert isinstance(error["field"], str) and isinstance(error["message"], str) and error["message"]
    return body["errors"]


def test_api_validation_errors_name_each_missing_field(client):
    errors = _assert_error_shape(client.post("/api/v1/auth/token", json={}))
    assert errors == [
        {"field": "email", "message": "This field is required"},
        {"field": "password", "message": "This field is required"},
    ]


def test_api_validation_errors_for_a_wrong_type(client):
    errors = _assert_error_shape(client.post("/api/v1/auth/token", json={"email": 5, "password": "x"}))
    assert [e["field"] for e in errors] == ["email"]


def test_api_validation_errors_for_a_value_too_long(client):
    errors = _assert_error_shape(client.post("/api/v1/auth/token", json={"email": "a" * 321, "password": "x"}))
    assert [e["field"] for e in errors] == ["email"]


def test_api_validation_errors_for_a_body_that_is_not_an_object(client):
    errors = _assert_error_shape(client.post("/api/v1/auth/token", json=["not", "an", "object"]))
    assert errors == [{"field": "body", "message": "Send a JSON object"}]


def test_api_validation_errors_for_invalid_json_name_the_body(client):
    response = client.post("/api/v1/auth/token", content=b'{"email": ', headers={"content-type": "application/json"})
    errors = _assert_error_shape(response)
    assert errors == [{"field": "body", "message": "The request body is not valid JSON"}]


def test_the_nul_character_in_an_address_is_refused_the_same_on_both_databases(client, citizen):
    from tests.conftest import api_token

    headers = api_token(client, citizen)
    for path in ("/api/v1/offers?x=%00", "/api/v1/offers?x=a%00b"):
        answer = client.get(path, headers=headers)
        assert answer.status_code == 400 and answer.json()["detail"]
    page = client.get("/sign-in?next=%00")
    assert page.status_code == 400 and "Sorry, there is a problem with that request" in page.text
    assert client.get("/api/v1/skills?q=%2500").status_code == 200  # an encoded "%00" is just text


def test_text_no_database_can_store_is_refused_in_any_body_field_naming_the_field(client, linker):
    """Found by Schemathesis on PostgreSQL: a NUL in the linker search's `q` reached the database
    as a 500. The net covers every JSON field, nested ones too, and urlencoded forms."""
    from tests.conftest import api_token, post_form

    headers = {**api_token(client, linker), "content-type": "application/json"}
    cases = [
        (rb'{"q": "Ann\\u0000 Smith"}', None),  # an escaped backslash: the text "\u0000", which is fine
        (rb'{"q": "Ann\u0000"}', "q"),
        (rb'{"q": "\ud800"}', "q"),  # a lone surrogate: valid JSON, but no character UTF-8 can hold
        (rb'{"q": "Ann", "ward": ["x", {"deep": "a\u0000"}]}', "ward.1.deep"),
        (rb'{"q\u0000": "Ann"}', "body"),
    ]
    for body, field in cases:
        answer = client.post("/api/v1/linker/people/search", content=body, headers=headers)
        if field is None:
            assert answer.status_code == 200, answer.text
        else:
            assert answer.status_code == 422, answer.text
            assert answer.json() == {"errors": [{"field": field, "message": "Remove the unusual invisible characters and try again"}]}
    page = post_form(client, "/sign-in", {"email": "a\x00@example.org", "password": "x"})
    assert page.status_code == 400 and "Sorry, there is a problem with that request" in page.text
