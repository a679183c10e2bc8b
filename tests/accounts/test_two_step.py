"""Two-step sign-in (TOTP with recovery codes): linkers, staff and admins must turn it on before
they see any personal data or report, on the pages and through the API."""

from __future__ import annotations

import re

import pyotp
import pytest
from fastapi.testclient import TestClient

from app.accounts.models import Account
from app.main import create_app
from tests.conftest import PASSWORD, csrf_token, post_form
from tests.linkers.test_access import walk_routes

SECRET_RE = re.compile(r'data-testid="totp-secret">([A-Z2-7]+)<')
CODES_RE = re.compile(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>")
TICKET_RE = re.compile(r'name="ticket" value="([^"]+)"')


@pytest.fixture()
def strict_app(settings, engine, session_factory):
    return create_app(settings.model_copy(update={"second_factor_required": True}), engine=engine, session_factory=session_factory)


@pytest.fixture()
def strict(strict_app):
    with TestClient(strict_app, raise_server_exceptions=False) as client:
        yield client


def token(client, account, code: str | None = None):
    body = {"email": account.email, "password": PASSWORD} | ({"code": code} if code else {})
    return client.post("/api/v1/auth/token", json=body)


def bearer(response) -> dict:
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def turn_on_by_api(client, account) -> tuple[str, list[str]]:
    headers = bearer(token(client, account))
    began = client.post("/api/v1/me/mfa/totp", headers=headers)
    assert began.status_code == 200, began.text
    key = began.json()
    assert key["otpauth_uri"].startswith("otpauth://totp/") and f"secret={key['secret']}" in key["otpauth_uri"]
    confirmed = client.post("/api/v1/me/mfa/totp/confirm", json={"code": pyotp.TOTP(key["secret"]).now()}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    return key["secret"], confirmed.json()["recovery_codes"]


def forget_last_step(db, account) -> None:
    """As if the next 30-second window had come: the code just used may not be used again, but a
    test cannot wait for a new one, so it clears the record of the last step used."""
    db.expire_all()
    row = db.get(Account, account.id)
    row.totp_last_step = None
    db.add(row)
    db.commit()


def test_a_linker_without_two_step_sign_in_sees_nothing_through_the_api_until_it_is_on(strict, db, linker):
    headers = bearer(token(strict, linker))
    refused = strict.get("/api/v1/linker/people", headers=headers)
    assert refused.status_code == 403 and "two-step" in refused.json()["detail"]
    assert strict.get("/api/v1/me", headers=headers).status_code == 200  # their own account, to set it up

    secret, codes = turn_on_by_api(strict, linker)
    assert len(codes) == 10 and len(set(codes)) == 10

    assert token(strict, linker).status_code == 401, "the password alone is no longer enough"
    assert token(strict, linker, "000000").status_code == 401
    forget_last_step(db, linker)
    code = pyotp.TOTP(secret).now()
    headers = bearer(token(strict, linker, code))
    assert strict.get("/api/v1/linker/people", headers=headers).status_code == 200
    assert token(strict, linker, code).status_code == 401, "a code works once"
    # A recovery code, once.
    assert token(strict, linker, codes[0].upper()).status_code == 200
    assert token(strict, linker, codes[0]).status_code == 401


def test_setting_up_again_after_it_is_on_is_refused(strict, linker):
    _secret, codes = turn_on_by_api(strict, linker)
    headers = bearer(token(strict, linker, codes[0]))
    assert strict.post("/api/v1/me/mfa/totp", headers=headers).status_code == 409


def test_a_wrong_first_code_does_not_turn_it_on(strict, db, staff):
    headers = bearer(token(strict, staff))
    strict.post("/api/v1/me/mfa/totp", headers=headers)
    answer = strict.post("/api/v1/me/mfa/totp/confirm", json={"code": "123456"}, headers=headers)
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "code"
    db.expire_all()
    assert db.get(Account, staff.id).totp_confirmed_at is None
    assert strict.get("/api/v1/reports/participation", headers=headers).status_code == 403


def test_wrong_codes_count_towards_the_sign_in_limit(strict, settings, linker):
    turn_on_by_api(strict, linker)
    answers = [token(strict, linker, "999999").status_code for _ in range(settings.login_max_failures_per_account + 1)]
    assert answers[-1] == 429, answers


def sign_in_with_password(client, account):
    return post_form(client, "/sign-in", {"email": account.email, "password": PASSWORD})


def test_pages_send_a_linker_to_set_it_up_then_ask_for_the_code_at_each_sign_in(strict, db, linker):
    assert sign_in_with_password(strict, linker).status_code == 303
    sent = strict.get("/linkers", follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/account/two-step"
    page = strict.get("/account/two-step")
    assert page.status_code == 200 and "<svg" in page.text
    secret = SECRET_RE.search(page.text).group(1)
    assert SECRET_RE.search(strict.get("/account/two-step").text).group(1) == secret, "a refresh keeps the key"

    wrong = post_form(strict, "/account/two-step", {"code": "12"}, token_from="/account/two-step")
    assert wrong.status_code == 422 and "Enter the 6-digit code" in wrong.text
    done = post_form(strict, "/account/two-step", {"code": pyotp.TOTP(secret).now()}, token_from="/account/two-step")
    assert done.status_code == 200 and len(CODES_RE.findall(done.text)) == 10
    assert strict.get("/linkers", follow_redirects=False).status_code == 200

    post_form(strict, "/sign-out", {}, token_from="/account")
    first = sign_in_with_password(strict, linker)
    assert first.status_code == 200 and "Enter your sign-in code" in first.text
    assert "marketplace_session" not in first.headers.get("set-cookie", ""), "no session before the code"
    ticket = TICKET_RE.search(first.text).group(1)
    form = {"csrf_token": csrf_token(strict), "ticket": ticket, "next": "/"}
    assert strict.post("/sign-in/code", data=form | {"code": "000000"}, follow_redirects=False).status_code == 422
    forget_last_step(db, linker)
    signed = strict.post("/sign-in/code", data=form | {"code": pyotp.TOTP(secret).now()}, follow_redirects=False)
    assert signed.status_code == 303
    assert strict.get("/linkers", follow_redirects=False).status_code == 200


def test_a_forged_or_stale_ticket_goes_back_to_sign_in(strict, linker):
    turn_on_by_api(strict, linker)
    form = {"csrf_token": csrf_token(strict), "ticket": f"{linker.id}.1700000000.abc", "code": "123456", "next": "/"}
    answer = strict.post("/sign-in/code", data=form, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/sign-in"


def test_citizens_are_not_made_to_use_it(strict, citizen):
    assert token(strict, citizen).status_code == 200
    assert sign_in_with_password(strict, citizen).status_code == 303


SELF_SERVICE = {"/account", "/account/two-step", "/account/data", "/account/data/export", "/my"}


@pytest.mark.parametrize("role", ["linker", "staff", "admin"])
def test_no_page_or_api_route_shows_anything_before_it_is_on(strict, strict_app, role, request):
    """Walks every GET route: what anonymous callers must sign in for, a privileged account
    without two-step sign-in is sent to set it up (pages) or refused (API), or refused by role."""
    account = request.getfixturevalue(role)
    api_headers = bearer(token(strict, account))
    assert sign_in_with_password(strict, account).status_code == 303
    anonymous = TestClient(strict_app, raise_server_exceptions=False)
    checked = 0
    for path, route in walk_routes(strict_app.router.routes):
        if "GET" not in (getattr(route, "methods", None) or ()) or path.startswith("/static"):
            continue
        concrete = re.sub(r"{(\w+)(?::\w+)?}", "1", path)
        if path.startswith("/api/"):
            answer = strict.get(concrete, headers=api_headers)
            if path in ("/api/v1/me", "/api/v1/me/export", "/api/v1/me/access-log", "/api/v1/me/sessions", "/api/v1/skills", "/api/v1/openapi.json"):
                continue
            assert answer.status_code in (401, 403, 404, 422), (path, answer.status_code)
            if answer.status_code == 403:
                assert "two-step" in answer.json()["detail"] or "permission" in answer.json()["detail"], path
        else:
            before = anonymous.get(concrete, follow_redirects=False)
            if not (before.status_code == 303 and before.headers["location"].startswith("/sign-in")) or path in SELF_SERVICE:
                continue
            answer = strict.get(concrete, follow_redirects=False)
            assert answer.status_code in (303, 403), (path, answer.status_code)
            if answer.status_code == 303:
                assert answer.headers["location"] == "/account/two-step", (path, answer.headers["location"])
        checked += 1
    assert checked > 40


def test_sign_ins_refusals_and_role_changes_are_logged_without_personal_data(strict, caplog, citizen, admin, db, settings):
    import logging

    from app.accounts import service as accounts_service

    caplog.set_level(logging.INFO)
    token(strict, citizen)
    strict.post("/api/v1/auth/token", json={"email": citizen.email, "password": "wrong-password-here"})
    strict.get("/api/v1/reports/participation", headers=bearer(token(strict, citizen)))
    accounts_service.invite_account(db, settings, strict.app.state.mailer, email="newlinker@example.org", name="Nia Newlinker", role=accounts_service.Role.linker, invited_by=admin)
    text = caplog.text
    assert f"password accepted for account {citizen.id}" in text
    assert "sign-in refused" in text
    assert f"refused account {citizen.id} (citizen) on api:report_participation" in text or f"refused account {citizen.id} (citizen)" in text
    assert "given the linker role by account" in text
    for secret in (citizen.email, "cara", "Cara", "newlinker@example.org", "Nia", "127.0.0.1", "testclient", "wrong-password-here"):
        assert secret not in text, secret
