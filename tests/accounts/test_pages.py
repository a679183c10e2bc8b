"""Registration, sign-in and account pages: happy paths and every kind of bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.accounts.models import Account, Role
from tests.conftest import PASSWORD, post_form, sign_in


@pytest.fixture(autouse=True)
def _postcodes(places):
    """Registration needs a known postcode."""


def register(client, **overrides):
    data = {
        "name": "Nia Jones",
        "email": "nia@example.org",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "postcode": "AB10 1AB",
        "consent_profile": "yes",
    }
    data.update(overrides)
    return post_form(client, "/register", data, token_from="/register")


def account_count(db) -> int:
    return db.execute(select(func.count()).select_from(Account)).scalar_one()


def test_register_creates_a_citizen_and_signs_them_in(client, db):
    response = register(client, email="  Nia@Example.ORG ")
    assert response.status_code == 303 and response.headers["location"] == "/my"
    account = db.execute(select(Account).where(Account.email == "nia@example.org")).scalar_one()
    assert account.role is Role.citizen and account.password_hash.startswith("$argon2id$")
    home = client.get("/")
    assert "Signed in as Nia Jones" in home.text
    assert "Your account has been created" in home.text


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": "   "}, "name", "Enter your name"),
        ({"name": "x" * 201}, "name", "200 characters or fewer"),
        ({"email": "not-an-email"}, "email", "correct format"),
        ({"email": ""}, "email", "correct format"),
        ({"password": "short", "password_confirm": "short"}, "password", "at least 10 characters"),
        ({"password": "password1234", "password_confirm": "password1234"}, "password", "harder to guess"),
        ({"password_confirm": "something-else-entirely"}, "password_confirm", "do not match"),
    ],
)
def test_register_bad_input_is_explained_and_nothing_is_saved(client, db, overrides, field, message):
    before = account_count(db)
    response = register(client, **overrides)
    assert response.status_code == 422
    assert "There is a problem" in response.text
    assert f'href="#{field}"' in response.text  # the error summary links to the field
    assert f'id="{field}-error"' in response.text  # and the field shows its own message
    assert message in response.text
    assert account_count(db) == before


def test_register_twice_with_one_email_is_refused(client, db, citizen):
    response = register(client, email=citizen.email.upper())
    assert response.status_code == 422
    assert "already exists" in response.text
    assert account_count(db) == 1


@pytest.mark.parametrize("name", ["Siân Ellis-Gwynfor", "Zoë 🌻 Okafor", "مريم الحسن", "Ōtake Ŵyn"])
def test_names_in_any_script_work(client, db, name):
    assert register(client, name=name, email="any@example.org").status_code == 303
    assert name in client.get("/account").text


def test_markup_in_a_name_is_shown_escaped(client):
    assert register(client, name="<script>alert(1)</script>").status_code == 303
    page = client.get("/account").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_huge_form_is_refused_without_saving(client, db, settings):
    response = register(client, name="a" * (settings.max_body_bytes + 10))
    assert response.status_code == 413
    assert account_count(db) == 0


def test_signed_in_person_visiting_register_goes_home(client, citizen):
    sign_in(client, citizen)
    response = client.get("/register", follow_redirects=False)
    assert response.status_code == 303


def test_sign_in_wrong_password_says_so_without_revealing_which(client, citizen):
    wrong = post_form(client, "/sign-in", {"email": citizen.email, "password": "not-the-password-at-all"})
    unknown = post_form(client, "/sign-in", {"email": "nobody@example.org", "password": "not-the-password-at-all"})
    assert wrong.status_code == unknown.status_code == 422
    assert "Enter a correct email address and password" in wrong.text
    assert "Enter a correct email address and password" in unknown.text


def test_sign_in_returns_to_the_page_asked_for(client, citizen):
    first = client.get("/account", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/sign-in?next=%2Faccount"
    response = post_form(client, "/sign-in", {"email": citizen.email, "password": PASSWORD, "next": "/account"})
    assert response.headers["location"] == "/account"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_sign_in_never_redirects_off_site(client, citizen, target):
    response = post_form(client, "/sign-in", {"email": citizen.email, "password": PASSWORD, "next": target})
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_deactivated_account_cannot_sign_in(client, db, citizen):
    citizen.is_active = False
    db.add(citizen)
    db.commit()
    response = post_form(client, "/sign-in", {"email": citizen.email, "password": PASSWORD})
    assert response.status_code == 422


def test_sign_out_ends_the_session(client, citizen):
    sign_in(client, citizen)
    response = post_form(client, "/sign-out", {}, token_from="/account")
    assert response.status_code == 303
    assert client.get("/account", follow_redirects=False).status_code == 303
    assert "You have signed out" in client.get("/").text


def test_change_password_then_sign_in_with_the_new_one(client, other_client, citizen):
    sign_in(client, citizen)
    new = "saffron-lighthouse-77"
    response = post_form(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": new, "new_password_confirm": new},
        token_from="/account",
    )
    assert response.status_code == 303
    assert "Your password has been changed" in client.get("/account").text  # this device stays signed in
    assert post_form(other_client, "/sign-in", {"email": citizen.email, "password": PASSWORD}).status_code == 422
    sign_in(other_client, citizen, new)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"current_password": "wrong-password-here", "new_password": "saffron-lighthouse-77", "new_password_confirm": "saffron-lighthouse-77"}, "current_password"),
        ({"current_password": PASSWORD, "new_password": "short", "new_password_confirm": "short"}, "new_password"),
        ({"current_password": PASSWORD, "new_password": PASSWORD, "new_password_confirm": PASSWORD}, "new_password"),
        ({"current_password": PASSWORD, "new_password": "saffron-lighthouse-77", "new_password_confirm": "nope"}, "new_password_confirm"),
    ],
)
def test_change_password_bad_input(client, db, citizen, data, field):
    sign_in(client, citizen)
    old_hash = citizen.password_hash
    response = post_form(client, "/account/password", data, token_from="/account")
    assert response.status_code == 422
    assert f'href="#{field}"' in response.text
    db.refresh(citizen)
    assert citizen.password_hash == old_hash
