"""Sessions: server-side, random, hashed at rest, a new id at sign-in, ended by sign-out, password
change and deactivation, with idle and absolute timeouts."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.accounts.models import Account, ApiToken, UserSession
from app.core.config import Settings
from app.core.db import utcnow
from app.core.security import token_digest
from app.main import create_app
from tests.conftest import PASSWORD, api_token, csrf_token, post_form, sign_in

COOKIE = "marketplace_session"
NEW_PASSWORD = "heron-lattice-copper-77"


def parse_set_cookie(header: str) -> tuple[str, str, dict[str, str]]:
    pair, *attributes = [part.strip() for part in header.split(";")]
    name, _, value = pair.partition("=")
    parsed = {}
    for attribute in attributes:
        key, _, val = attribute.partition("=")
        parsed[key.lower()] = val
    return name, value, parsed


def session_set_cookie(response, name: str = COOKIE) -> tuple[str, dict[str, str]]:
    found = [parse_set_cookie(h) for h in response.headers.get_list("set-cookie")]
    matches = [(value, attrs) for cookie_name, value, attrs in found if cookie_name == name]
    assert len(matches) == 1, f"expected one {name} cookie, got {response.headers.get_list('set-cookie')}"
    return matches[0]


def is_signed_in(client) -> bool:
    response = client.get("/account", follow_redirects=False)
    if response.status_code == 200:
        return True
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in")
    return False


def fresh_client_with_cookie(app, value: str) -> TestClient:
    client = TestClient(app, raise_server_exceptions=False)
    client.cookies.set(COOKIE, value)
    return client


def sessions_of(db, account_id: int) -> list[UserSession]:
    db.expire_all()
    return list(db.execute(select(UserSession).where(UserSession.account_id == account_id)).scalars())


def live_api_tokens(db, account_id: int) -> list[ApiToken]:
    db.expire_all()
    rows = db.execute(select(ApiToken).where(ApiToken.account_id == account_id)).scalars()
    return [row for row in rows if row.revoked_at is None]


# --- the cookie --------------------------------------------------------------------------------


def test_session_cookie_is_httponly_and_samesite_lax(client, citizen):
    value, attributes = session_set_cookie(sign_in(client, citizen))
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "lax"
    assert attributes["path"] == "/"
    assert "domain" not in attributes
    # Not longer than the absolute timeout.
    assert int(attributes["max-age"]) <= 8 * 3600


@pytest.fixture()
def production_app(database_url, tmp_path, engine, session_factory):
    settings = Settings(
        environment="production",
        secret_key=secrets.token_urlsafe(36),
        smtp_host="127.0.0.1",
        database_url=database_url,
        outbox_dir=tmp_path / "outbox",
    )
    return create_app(settings, engine=engine, session_factory=session_factory)


def test_in_production_the_cookie_is_host_prefixed_and_secure(production_app, citizen):
    with TestClient(production_app, base_url="https://testserver") as client:
        response = sign_in(client, citizen)
        value, attributes = session_set_cookie(response, "__Host-marketplace_session")
        assert len(value) >= 22
        assert "secure" in attributes
        assert attributes["path"] == "/"
        assert "domain" not in attributes
        assert "httponly" in attributes
        assert attributes["samesite"].lower() == "lax"
        assert client.get("/account", follow_redirects=False).status_code == 200
        assert not any(h.startswith(COOKIE + "=") for h in response.headers.get_list("set-cookie"))


def test_in_production_every_cookie_is_secure(production_app, citizen):
    with TestClient(production_app, base_url="https://testserver") as client:
        first = client.get("/sign-in")
        _value, csrf_attributes = session_set_cookie(first, "__Host-marketplace_csrf")
        assert "secure" in csrf_attributes and csrf_attributes["path"] == "/" and "domain" not in csrf_attributes
        response = sign_in(client, citizen)
        token = csrf_token(client, "/account")
        signed_out = client.post("/sign-out", data={"csrf_token": token}, follow_redirects=False)
        for header in [*response.headers.get_list("set-cookie"), *signed_out.headers.get_list("set-cookie")]:
            assert "secure" in parse_set_cookie(header)[2], header


def test_session_id_has_at_least_128_bits_and_only_its_hash_is_stored(client, citizen, db):
    value, _ = session_set_cookie(sign_in(client, citizen))
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert set(value) <= alphabet
    assert len(value) * 6 >= 128 + 6  # base64url: six bits a character, with room to spare
    stored = sessions_of(db, citizen.id)
    assert len(stored) == 1
    assert all(row.id != value and value not in row.id for row in stored)
    assert stored[0].id == token_digest(value)


def test_session_ids_are_not_repeated(client, other_client, citizen):
    values = set()
    for browser in (client, other_client):
        values.add(session_set_cookie(sign_in(browser, citizen))[0])
    assert len(values) == 2


# --- a new id at sign-in -----------------------------------------------------------------------


def test_a_cookie_planted_before_sign_in_is_not_reused(client, citizen, db):
    planted = secrets.token_urlsafe(32)
    client.cookies.set(COOKIE, planted)
    value, _ = session_set_cookie(sign_in(client, citizen))
    assert value != planted
    assert all(row.id != token_digest(planted) for row in sessions_of(db, citizen.id))
    with fresh_client_with_cookie(client.app, planted) as attacker:
        assert not is_signed_in(attacker)


def test_signing_in_again_replaces_the_old_id(client, citizen, db):
    old, _ = session_set_cookie(sign_in(client, citizen))
    new, _ = session_set_cookie(sign_in(client, citizen))
    assert new != old
    assert is_signed_in(client)
    with fresh_client_with_cookie(client.app, old) as replay:
        assert not is_signed_in(replay)
    assert [row.id for row in sessions_of(db, citizen.id)] == [token_digest(new)]


def test_a_session_for_one_account_is_dropped_when_another_signs_in(client, citizen, other_citizen):
    first, _ = session_set_cookie(sign_in(client, citizen))
    sign_in(client, other_citizen)
    assert "Owen Other" in client.get("/account").text
    with fresh_client_with_cookie(client.app, first) as replay:
        assert not is_signed_in(replay)


# --- sign-out ----------------------------------------------------------------------------------


def test_sign_out_ends_the_session_on_the_server(client, citizen, db):
    value, _ = session_set_cookie(sign_in(client, citizen))
    response = post_form(client, "/sign-out", {}, token_from="/account")
    assert response.status_code == 303
    assert not is_signed_in(client)
    assert sessions_of(db, citizen.id) == []
    # Replaying the old cookie from anywhere does not sign anyone in.
    with fresh_client_with_cookie(client.app, value) as replay:
        assert not is_signed_in(replay)
        assert "Cara Citizen" not in replay.get("/").text


def test_sign_out_clears_the_cookie_in_the_browser(client, citizen):
    sign_in(client, citizen)
    response = post_form(client, "/sign-out", {}, token_from="/account")
    value, attributes = session_set_cookie(response)
    assert value in ("", '""')
    assert attributes.get("max-age") == "0" or "expires" in attributes


def test_sign_out_ends_only_this_session(client, other_client, citizen):
    sign_in(client, citizen)
    sign_in(other_client, citizen)
    post_form(client, "/sign-out", {}, token_from="/account")
    assert not is_signed_in(client)
    assert is_signed_in(other_client)


# --- password change ---------------------------------------------------------------------------


def change_password(client, current: str = PASSWORD, new: str = NEW_PASSWORD):
    return post_form(
        client,
        "/account/password",
        {"current_password": current, "new_password": new, "new_password_confirm": new},
        token_from="/account",
    )


def test_password_change_ends_other_sessions_and_revokes_api_tokens(client, other_client, citizen, db):
    mine_before, _ = session_set_cookie(sign_in(client, citizen))
    sign_in(other_client, citizen)
    headers = api_token(other_client, citizen)
    assert other_client.get("/api/v1/me", headers=headers).status_code == 200

    response = change_password(client)
    assert response.status_code == 303
    mine_after, _ = session_set_cookie(response)

    # The other device is sent to sign in.
    elsewhere = other_client.get("/account", follow_redirects=False)
    assert elsewhere.status_code == 303
    assert elsewhere.headers["location"].startswith("/sign-in")
    # The API token no longer works.
    assert other_client.get("/api/v1/me", headers=headers).status_code == 401
    assert live_api_tokens(db, citizen.id) == []
    # This device carries on with a fresh session; its old id is dead too.
    assert mine_after != mine_before
    assert is_signed_in(client)
    with fresh_client_with_cookie(client.app, mine_before) as replay:
        assert not is_signed_in(replay)
    assert [row.id for row in sessions_of(db, citizen.id)] == [token_digest(mine_after)]


def test_a_refused_password_change_ends_nothing(client, other_client, citizen):
    sign_in(client, citizen)
    sign_in(other_client, citizen)
    headers = api_token(other_client, citizen)
    response = change_password(client, current="wrong-current-password-1")
    assert response.status_code == 422
    assert is_signed_in(other_client)
    assert other_client.get("/api/v1/me", headers=headers).status_code == 200


def test_a_password_reset_ends_every_session_and_token(client, other_client, citizen, db, settings):
    from app.accounts import service as accounts

    sign_in(other_client, citizen)
    headers = api_token(other_client, citizen)
    token = accounts._new_reset_token(db, settings, account=citizen)
    db.commit()
    response = post_form(
        client,
        "/reset-password",
        {"token": token, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
        token_from=f"/reset-password?token={token}",
    )
    assert response.status_code == 303
    assert not is_signed_in(other_client)
    assert other_client.get("/api/v1/me", headers=headers).status_code == 401
    assert sessions_of(db, citizen.id) == []


# --- deactivation ------------------------------------------------------------------------------


def test_admin_deactivation_ends_the_persons_sessions_and_tokens(client, other_client, admin, citizen, db):
    sign_in(other_client, citizen)
    headers = api_token(other_client, citizen)
    sign_in(client, admin)

    response = post_form(client, f"/admin/accounts/{citizen.id}/deactivate", {}, token_from="/admin/accounts")
    assert response.status_code == 303

    assert not is_signed_in(other_client)
    assert other_client.get("/api/v1/me", headers=headers).status_code == 401
    assert sessions_of(db, citizen.id) == []
    assert live_api_tokens(db, citizen.id) == []
    db.expire_all()
    assert db.get(Account, citizen.id).is_active is False
    # And the person cannot simply sign in again.
    again = post_form(other_client, "/sign-in", {"email": citizen.email, "password": PASSWORD})
    assert again.status_code == 422
    token_again = other_client.post("/api/v1/auth/token", json={"email": citizen.email, "password": PASSWORD})
    assert token_again.status_code == 401
    # The administrator's own session is untouched.
    assert is_signed_in(client)


def test_a_session_of_a_deactivated_account_is_refused_even_if_left_in_the_table(client, citizen, db):
    """Belt and braces: loading a session checks the account is still active."""
    value, _ = session_set_cookie(sign_in(client, citizen))
    db.expire_all()
    account = db.get(Account, citizen.id)
    account.is_active = False  # deactivated behind the service's back: the session row survives
    db.add(account)
    db.commit()
    assert len(sessions_of(db, citizen.id)) == 1
    assert not is_signed_in(client)
    assert "Cara Citizen" not in client.get("/").text


# --- timeouts ----------------------------------------------------------------------------------


def set_session_times(db, account_id: int, *, created_ago: timedelta | None = None, seen_ago: timedelta | None = None):
    now = utcnow()
    (row,) = sessions_of(db, account_id)
    if created_ago is not None:
        row.created_at = now - created_ago
    if seen_ago is not None:
        row.last_seen_at = now - seen_ago
    db.add(row)
    db.commit()


def test_idle_timeout_signs_out_after_31_minutes(client, citizen, db):
    sign_in(client, citizen)
    set_session_times(db, citizen.id, seen_ago=timedelta(minutes=31))
    assert not is_signed_in(client)
    assert "Cara Citizen" not in client.get("/").text
    assert client.get("/api/v1/me").status_code == 401


def test_activity_within_the_idle_timeout_keeps_the_session_and_slides_it(client, citizen, db):
    sign_in(client, citizen)
    set_session_times(db, citizen.id, seen_ago=timedelta(minutes=29))
    assert is_signed_in(client)
    (row,) = sessions_of(db, citizen.id)
    assert utcnow() - row.last_seen_at < timedelta(minutes=1)
    # Because it slid forward, another 29 minutes of quiet is still fine.
    set_session_times(db, citizen.id, seen_ago=timedelta(minutes=29))
    assert is_signed_in(client)


def test_absolute_timeout_signs_out_after_8_hours_even_when_active(client, citizen, db):
    sign_in(client, citizen)
    set_session_times(db, citizen.id, created_ago=timedelta(hours=8, minutes=1), seen_ago=timedelta(0))
    assert not is_signed_in(client)
    assert "Cara Citizen" not in client.get("/").text


@pytest.mark.parametrize(
    "ages",
    [
        {"seen_ago": timedelta(minutes=31)},
        {"created_ago": timedelta(hours=8, minutes=1), "seen_ago": timedelta(0)},
    ],
    ids=["idle", "absolute"],
)
def test_an_expired_session_is_deleted_when_it_is_refused_on_a_protected_page(client, citizen, db, ages):
    """check_session deletes an expired session; that deletion must not be lost with the redirect."""
    sign_in(client, citizen)
    set_session_times(db, citizen.id, **ages)
    assert not is_signed_in(client)  # GET /account: refused, sent to sign in
    assert sessions_of(db, citizen.id) == []


def test_a_session_just_under_8_hours_old_and_active_is_kept(client, citizen, db):
    sign_in(client, citizen)
    set_session_times(db, citizen.id, created_ago=timedelta(hours=7, minutes=59), seen_ago=timedelta(0))
    assert is_signed_in(client)


def test_timeouts_come_from_settings(settings, engine, session_factory, citizen, db):
    short = settings.model_copy(update={"session_idle_minutes": 5, "session_absolute_hours": 1})
    app = create_app(short, engine=engine, session_factory=session_factory)
    with TestClient(app) as client:
        _, attributes = session_set_cookie(sign_in(client, citizen))
        assert int(attributes["max-age"]) == 3600
        set_session_times(db, citizen.id, seen_ago=timedelta(minutes=6))
        assert not is_signed_in(client)


def test_on_sqlite_the_session_touch_waits_for_another_writer_instead_of_failing(tmp_path):
    """The once-a-minute touch used to read and then write in one transaction: on SQLite such a
    transaction cannot wait for another writer, and answered "database is locked" (a 500)."""
    import sqlite3
    import threading
    import time as clock
    from datetime import timedelta

    from sqlalchemy import update

    from app.accounts import service
    from app.accounts.models import Role
    from app.core.db import make_engine, make_session_factory
    from app.migrations_support import upgrade_to_head

    path = tmp_path / "touch.db"
    url = f"sqlite:///{path}"
    upgrade_to_head(url)
    engine = make_engine(url)
    settings = Settings(environment="test", database_url=url)
    factory = make_session_factory(engine)
    try:
        with factory() as db:
            account = service.create_account(db, email="toucher@example.org", name="T", role=Role.citizen, password=PASSWORD)
            cookie = service.start_session(db, settings, account=account)
            db.commit()
            db.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=5)))
            db.commit()
        holding, done = threading.Event(), threading.Event()

        def other_writer():
            other = sqlite3.connect(path, isolation_level=None, timeout=15)
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE account SET name = name")
            holding.set()
            clock.sleep(0.5)
            other.execute("COMMIT")
            other.close()
            done.set()

        writer = threading.Thread(target=other_writer)
        writer.start()
        holding.wait(5)
        with factory() as db:
            assert service.check_session(db, settings, cookie_value=cookie) == account.id
        writer.join(5)
        assert done.is_set()
        with factory() as db:
            touched = db.execute(select(UserSession.last_seen_at)).scalar_one()
        assert utcnow() - touched < timedelta(seconds=30)
    finally:
        engine.dispose()
