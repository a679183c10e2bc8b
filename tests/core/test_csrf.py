"""CSRF: every unsafe cookie-authenticated request needs a valid token; without one, 403 and nothing changes."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from app.accounts import service as accounts
from app.accounts.models import Account, UserSession
from app.core.security import csrf_token_for
from tests.conftest import PASSWORD, api_token, csrf_token, post_form, sign_in

NEW_PASSWORD = "heron-lattice-copper-77"


class FormAudit(HTMLParser):
    """Every <form method="post"> with the names and values of its inputs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.post_forms: list[dict] = []
        self._form: dict | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self._form = {"action": attributes.get("action"), "inputs": []}
            if (attributes.get("method") or "get").lower() == "post":
                self.post_forms.append(self._form)
        elif tag == "input" and self._form is not None:
            self._form["inputs"].append(attributes)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def post_forms(html: str) -> list[dict]:
    parser = FormAudit()
    parser.feed(html)
    parser.close()
    return parser.post_forms


def csrf_cookie(client, settings) -> str:
    value = client.cookies.get(settings.csrf_cookie_name)
    assert value, "no CSRF cookie"
    return value


def account_count(db) -> int:
    db.expire_all()
    return db.execute(select(func.count()).select_from(Account)).scalar_one()


def signed_in(client) -> bool:
    response = client.get("/account", follow_redirects=False)
    return response.status_code == 200


def registration(email: str = "rhian@example.org") -> dict:
    """A registration that succeeds when it carries its token (with the `places` fixture loaded)."""
    return {
        "name": "Rhian Evans",
        "email": email,
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "postcode": "AB10 1AB",
        "consent_profile": "yes",
    }


def assert_refused(response) -> None:
    assert response.status_code == 403
    assert "Nothing has been changed" in response.text


# --- missing, wrong or foreign tokens ----------------------------------------------------------


def test_register_without_token_is_refused_and_creates_no_account(client, db, places):
    client.get("/register")  # the browser has its CSRF cookie; only the token is missing
    before = account_count(db)
    response = client.post("/register", data=registration(), follow_redirects=False)
    assert_refused(response)
    assert account_count(db) == before
    assert accounts.find_account_by_email(db, email="rhian@example.org") is None
    assert client.cookies.get("marketplace_session") is None


def test_register_with_token_works(client, db, places):
    """The control for the test above: the same request with its token creates the account."""
    response = post_form(client, "/register", registration(), token_from="/register")
    assert response.status_code == 303
    db.expire_all()
    assert accounts.find_account_by_email(db, email="rhian@example.org") is not None


def test_a_first_visit_without_any_cookie_is_refused(client, db, places):
    """No CSRF cookie at all (a cross-site form posted at a new visitor): refused too."""
    before = account_count(db)
    response = client.post("/register", data=registration(), follow_redirects=False)
    assert_refused(response)
    assert account_count(db) == before


def test_password_change_without_token_leaves_the_hash_unchanged(client, citizen, db):
    sign_in(client, citizen)
    old_hash = citizen.password_hash
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD},
        follow_redirects=False,
    )
    assert_refused(response)
    db.expire_all()
    assert db.get(Account, citizen.id).password_hash == old_hash
    assert signed_in(client)  # a password change would have ended the session


def test_sign_out_without_token_keeps_the_session(client, citizen, db):
    sign_in(client, citizen)
    sessions_before = _session_count(db, citizen.id)
    response = client.post("/sign-out", follow_redirects=False)
    assert_refused(response)
    assert signed_in(client)
    assert _session_count(db, citizen.id) == sessions_before == 1


def test_admin_deactivation_without_token_changes_nothing(client, admin, citizen, db):
    sign_in(client, admin)
    response = client.post(f"/admin/accounts/{citizen.id}/deactivate", follow_redirects=False)
    assert_refused(response)
    db.expire_all()
    assert db.get(Account, citizen.id).is_active is True


def test_a_wrong_token_is_refused(client, citizen, db):
    sign_in(client, citizen)
    for wrong in ("0" * 64, "not-a-token", csrf_token(client, "/account")[:-1] + "x"):
        response = client.post("/sign-out", data={"csrf_token": wrong}, follow_redirects=False)
        assert_refused(response)
    response = client.post("/sign-out", headers={"X-CSRF-Token": "0" * 64}, follow_redirects=False)
    assert_refused(response)
    assert signed_in(client)


def test_a_token_made_for_a_different_csrf_cookie_is_refused(client, other_client, db, places):
    theirs = csrf_token(other_client, "/register")
    client.get("/register")
    assert client.cookies.get("marketplace_csrf") != other_client.cookies.get("marketplace_csrf")
    before = account_count(db)
    response = client.post("/register", data={"csrf_token": theirs, **registration()}, follow_redirects=False)
    assert_refused(response)
    assert account_count(db) == before


def test_a_token_without_its_cookie_is_refused(client, other_client, db, places):
    """A token lifted from a page is useless to a browser that does not hold the matching cookie."""
    token = csrf_token(other_client, "/register")
    before = account_count(db)
    response = client.post("/register", data={"csrf_token": token, **registration()}, follow_redirects=False)
    assert_refused(response)
    assert account_count(db) == before


def test_a_token_signed_with_another_secret_is_refused(client, settings, db, places):
    client.get("/register")
    forged = csrf_token_for(b"some-other-secret-key-of-enough-length", csrf_cookie(client, settings))
    response = client.post("/register", data={"csrf_token": forged, **registration()}, follow_redirects=False)
    assert_refused(response)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_other_unsafe_methods_need_a_token_too(client, citizen, method):
    sign_in(client, citizen)
    response = client.request(method, "/account", follow_redirects=False)
    assert_refused(response)
    assert signed_in(client)


def test_a_multipart_form_with_a_token_works_and_without_is_refused(client, citizen):
    token = csrf_token(client, "/sign-in")
    fields = {"email": citizen.email, "password": PASSWORD}
    refused = client.post(
        "/sign-in", files={"email": (None, citizen.email), "password": (None, PASSWORD)}, follow_redirects=False
    )
    assert_refused(refused)
    accepted = client.post(
        "/sign-in",
        files={"csrf_token": (None, token), **{k: (None, v) for k, v in fields.items()}},
        follow_redirects=False,
    )
    assert accepted.status_code == 303


# --- the header htmx sends ---------------------------------------------------------------------


def test_the_x_csrf_token_header_works_as_htmx_sends_it(client, citizen, db):
    sign_in(client, citizen)
    token = csrf_token(client, "/account")
    response = client.post("/sign-out", headers={"X-CSRF-Token": token, "HX-Request": "true"}, follow_redirects=False)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/"
    assert not signed_in(client)
    assert _session_count(db, citizen.id) == 0


def test_pages_give_htmx_the_token_in_hx_headers(client, settings):
    import json
    import re

    html = client.get("/").text
    match = re.search(r"<body[^>]*hx-headers='([^']+)'", html)
    assert match, "the body carries hx-headers for htmx"
    token = json.loads(match.group(1).replace("&#34;", '"').replace("&quot;", '"'))["X-CSRF-Token"]
    assert token == csrf_token_for(settings.secret_bytes, csrf_cookie(client, settings))


# --- every form carries the token --------------------------------------------------------------


def _assert_forms_carry_the_token(client, settings, path: str, expected_forms: int) -> None:
    response = client.get(path)
    assert response.status_code == 200, path
    forms = post_forms(response.text)
    assert len(forms) >= expected_forms, f"{path}: expected at least {expected_forms} post forms"
    valid = csrf_token_for(settings.secret_bytes, csrf_cookie(client, settings))
    for form in forms:
        tokens = [i.get("value") for i in form["inputs"] if i.get("name") == "csrf_token"]
        assert tokens == [valid], f"{path}: form {form['action']} lacks a valid csrf_token"
        hidden = [i for i in form["inputs"] if i.get("name") == "csrf_token"][0]
        assert hidden.get("type") == "hidden"


@pytest.mark.parametrize(
    "path",
    ["/register", "/sign-in", "/forgotten-password"],
)
def test_every_post_form_on_anonymous_pages_has_the_token(client, settings, path):
    _assert_forms_carry_the_token(client, settings, path, 1)


def test_every_post_form_on_signed_in_and_admin_pages_has_the_token(client, settings, admin, citizen, linker):
    sign_in(client, admin)
    _assert_forms_carry_the_token(client, settings, "/", 1)  # sign out
    _assert_forms_carry_the_token(client, settings, "/account", 2)  # sign out, change password
    # sign out, create account, and a deactivate form for the citizen and the linker
    _assert_forms_carry_the_token(client, settings, "/admin/accounts", 4)


def test_every_post_form_on_a_registered_citizens_pages_has_the_token(client, settings, places):
    response = post_form(client, "/register", registration("forms@example.org"), token_from="/register")
    assert response.status_code == 303
    for path in ("/account", "/my", "/profile"):
        _assert_forms_carry_the_token(client, settings, path, 1)


def test_the_reset_password_form_has_the_token(client, settings, citizen, db):
    from datetime import timedelta

    token = accounts._new_reset_token(db, settings, account=citizen, lifetime=timedelta(minutes=5))
    db.commit()
    _assert_forms_carry_the_token(client, settings, f"/reset-password?token={token}", 1)


def test_the_csrf_cookie_is_httponly_and_samesite_lax(client, settings):
    response = client.get("/sign-in")
    cookies = [c for c in response.headers.get_list("set-cookie") if c.startswith(settings.csrf_cookie_name + "=")]
    assert len(cookies) == 1
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookies[0].split(";")[1:]}
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "samesite=lax"
    assert attributes["path"] == "Path=/"
    value = cookies[0].split(";")[0].split("=", 1)[1]
    assert len(value) >= 32


# --- the JSON API needs no token ---------------------------------------------------------------


def test_the_json_api_needs_no_csrf_token(client, citizen, db):
    assert client.cookies.get("marketplace_csrf") is None
    headers = api_token(client, citizen)  # POST /api/v1/auth/token without cookie or token
    assert client.get("/api/v1/me", headers=headers).json()["email"] == citizen.email
    revoked = client.delete("/api/v1/auth/token", headers=headers)
    assert revoked.status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_the_api_ignores_the_browser_session_cookie(client, citizen):
    """Exempting the API from CSRF is safe only because it never trusts the session cookie."""
    sign_in(client, citizen)
    assert signed_in(client)
    assert client.get("/api/v1/me").status_code == 401
    assert client.delete("/api/v1/auth/token").status_code == 401


def _session_count(db, account_id: int) -> int:
    db.expire_all()
    return db.execute(
        select(func.count()).select_from(UserSession).where(UserSession.account_id == account_id)
    ).scalar_one()

