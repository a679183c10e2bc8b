"""The JSON API: bearer tokens, /me, validation errors and its OpenAPI document."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.accounts.models import ApiToken
from app.core.db import utcnow
from tests.conftest import PASSWORD, api_token, sign_in


def test_token_then_me(client, linker):
    response = client.post("/api/v1/auth/token", json={"email": linker.email, "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json() == {"id": linker.id, "email": linker.email, "name": linker.name, "role": "linker"}


def test_tokens_are_stored_hashed(client, db, citizen):
    headers = api_token(client, citizen)
    raw = headers["Authorization"].split()[1]
    stored = db.execute(select(ApiToken.token_digest).where(ApiToken.account_id == citizen.id)).scalars().all()
    assert len(stored) == 1 and raw not in stored and len(stored[0]) == 64


def test_revoked_token_no_longer_works(client, citizen):
    headers = api_token(client, citizen)
    assert client.delete("/api/v1/auth/token", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_expired_token_no_longer_works(client, db, citizen):
    headers = api_token(client, citizen)
    row = db.execute(select(ApiToken).where(ApiToken.account_id == citizen.id)).scalar_one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.add(row)
    db.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 401


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer not-a-real-token", "Basic abc", "Bearer " + "x" * 500])
def test_me_without_a_valid_token_is_401(client, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


def test_a_browser_session_does_not_authenticate_the_api(client, citizen):
    sign_in(client, citizen)
    assert client.get("/api/v1/me").status_code == 401


def test_wrong_password_is_401_with_a_message(client, citizen):
    response = client.post("/api/v1/auth/token", json={"email": citizen.email, "password": "not-the-password"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Enter a correct email address and password"}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"email", "password"}),
        ({"email": "a@example.org"}, {"password"}),
        ({"email": 5, "password": "x"}, {"email"}),
        ({"email": "a@example.org", "password": "x" * 2000}, {"password"}),
    ],
)
def test_validation_errors_are_422_with_fields(client, body, fields):
    response = client.post("/api/v1/auth/token", json=body)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert {e["field"] for e in errors} == fields
    assert all(set(e) == {"field", "message"} and e["message"] for e in errors)


def test_malformed_json_is_422(client):
    response = client.post("/api/v1/auth/token", content=b"{nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["errors"]


def test_openapi_document_lists_the_api(client):
    document = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/auth/token", "/api/v1/me"} <= set(document["paths"])
    assert not any(not path.startswith("/api/v1/") for path in document["paths"])
