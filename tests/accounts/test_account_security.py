"""An account's own security: it sees where it is signed in and can end those sessions, and
changing the sign-in email needs the password again (the old address is told, by real SMTP)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.accounts.models import Account, UserSession
from app.registry.models import Person
from tests.accounts.test_mail import mail_client, smtp  # noqa: F401
from tests.conftest import PASSWORD, api_token, post_form, sign_in
from tests.matching.conftest import citizen as make_citizen

HANDLE_RE = re.compile(r'name="session" value="([0-9a-f]{16})"')


def sessions(db, account_id: int) -> int:
    db.expire_all()
    return db.execute(select(func.count()).select_from(UserSession).where(UserSession.account_id == account_id)).scalar_one()


def test_an_account_sees_its_sessions_and_ends_one_or_all_others(app, client, db, citizen, other_citizen):
    devices = [TestClient(app, raise_server_exceptions=False) for _ in range(2)]
    for device in devices:
        sign_in(device, citizen)
    sign_in(client, citizen)
    theirs = TestClient(app, raise_server_exceptions=False)
    sign_in(theirs, other_citizen)
    page = client.get("/account")
    assert page.text.count("This device") == 1
    handles = HANDLE_RE.findall(page.text)
    assert len(handles) == 2, "the other two devices, each with a sign-out button"

    # Another account's session cannot be ended, and looks like one that does not exist.
    other_handle = HANDLE_RE.findall(theirs.get("/account").text)
    assert other_handle == []  # they have one session: their own, marked "This device"
    theirs_api = api_token(theirs, other_citizen)
    their_ids = [s["id"] for s in theirs.get("/api/v1/me/sessions", headers=theirs_api).json()]
    assert post_form(client, "/account/sessions/end", {"session": their_ids[0]}, token_from="/account").status_code == 404
    assert sessions(db, other_citizen.id) == 1

    assert post_form(client, "/account/sessions/end", {"session": handles[0]}, token_from="/account").status_code == 303
    assert sessions(db, citizen.id) == 2
    assert post_form(client, "/account/sessions/end-others", {}, token_from="/account").status_code == 303
    assert sessions(db, citizen.id) == 1
    for device in devices:
        assert device.get("/account", follow_redirects=False).status_code == 303, "signed out"
    assert client.get("/account").status_code == 200, "this device stays signed in"


def test_the_api_lists_and_ends_the_accounts_own_browser_sessions(app, client, db, citizen, other_citizen):
    browser = TestClient(app, raise_server_exceptions=False)
    sign_in(browser, citizen)
    headers = api_token(client, citizen)
    [seen] = client.get("/api/v1/me/sessions", headers=headers).json()
    assert set(seen) == {"id", "created_at", "last_seen_at"} and len(seen["id"]) == 16
    assert client.delete(f"/api/v1/me/sessions/{seen['id']}", headers=api_token(client, other_citizen)).status_code == 404
    assert client.delete(f"/api/v1/me/sessions/{seen['id']}", headers=headers).status_code == 204
    assert client.delete(f"/api/v1/me/sessions/{seen['id']}", headers=headers).status_code == 404
    assert browser.get("/account", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("new_email", "password", "field"),
    [
        ("cara.new@example.org", "not-my-password", "email_password"),
        ("not an email", PASSWORD, "new_email"),
        ("owen@example.org", PASSWORD, "new_email"),  # someone else's
    ],
)
def test_changing_email_needs_the_password_and_a_free_valid_address(client, db, citizen, other_citizen, new_email, password, field):
    sign_in(client, citizen)
    answer = post_form(client, "/account/email", {"new_email": new_email, "email_password": password}, token_from="/account")
    assert answer.status_code == 422 and f'id="{field}-error"' in answer.text
    db.expire_all()
    assert db.get(Account, citizen.id).email == "cara@example.org"


def test_a_changed_email_signs_in_tells_the_old_address_and_ends_other_sessions(mail_client, smtp, db, settings, places):  # noqa: F811
    cara = make_citizen(db, settings, "Cara Changer")
    other_device = TestClient(mail_client.app, raise_server_exceptions=False)
    sign_in(other_device, cara.account)
    sign_in(mail_client, cara.account)
    answer = post_form(mail_client, "/account/email", {"new_email": "Cara.Moved@Example.org", "email_password": PASSWORD}, token_from="/account")
    assert answer.status_code == 303
    [message] = smtp.inbox.wait_for(1)
    assert message["To"] == cara.email and "cara.moved@example.org" in message.get_content()
    db.expire_all()
    assert db.get(Account, cara.account.id).email == "cara.moved@example.org"
    assert db.get(Person, cara.person.id).email == "cara.moved@example.org", "the contact address follows"
    assert other_device.get("/account", follow_redirects=False).status_code == 303
    assert mail_client.get("/account").status_code == 200
    assert mail_client.post("/api/v1/auth/token", json={"email": "cara.moved@example.org", "password": PASSWORD}).status_code == 200
    assert mail_client.post("/api/v1/auth/token", json={"email": cara.email, "password": PASSWORD}).status_code == 401
