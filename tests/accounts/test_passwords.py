"""Passwords: argon2id with OWASP's parameters, 10 to at least 128 characters, no composition rules,
common and guessable passwords refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.accounts import service as accounts
from app.accounts.models import Account, Role
from app.core.errors import InvalidInput
from app.core.security import hash_password, password_problem, verify_password
from tests.conftest import PASSWORD, post_form, sign_in

ARGON2ID_OWASP = "$argon2id$v=19$m=19456,t=2,p=1$"
# 128 characters of unrelated words: strong, and long enough to catch any truncation.
LONG_PASSWORD = (
    "tern-moss-kiln-fjord-quill-amber-cobalt-thistle-ribbon-walnut-meadow-pylon-"
    "saffron-lichen-gravel-anchor-harbour-willow-ember-baZ"
)
ALL_LOWERCASE_PASSPHRASE = "marble quantum lantern orchid"


def register(client, *, email: str, password: str, name: str = "Pat Example"):
    """Register through the page; tests that call this load the `places` fixture for the postcode."""
    data = {
        "name": name,
        "email": email,
        "password": password,
        "password_confirm": password,
        "postcode": "AB10 1AB",
        "consent_profile": "yes",
    }
    return post_form(client, "/register", data, token_from="/register")


def find(db, email: str) -> Account | None:
    db.expire_all()
    return db.execute(select(Account).where(Account.email == email)).scalars().first()


# --- hashing -----------------------------------------------------------------------------------


def test_hash_is_argon2id_with_owasp_parameters():
    hashed = hash_password(PASSWORD)
    assert hashed.startswith(ARGON2ID_OWASP)
    assert verify_password(PASSWORD, hashed)
    assert not verify_password(PASSWORD + "x", hashed)


def test_hashes_are_salted():
    assert hash_password(PASSWORD) != hash_password(PASSWORD)


def test_stored_hash_of_a_registered_account_is_argon2id(client, db, places):
    assert register(client, email="hash@example.org", password=PASSWORD).status_code == 303
    account = find(db, "hash@example.org")
    assert account.password_hash.startswith(ARGON2ID_OWASP)
    assert PASSWORD not in account.password_hash


def test_verify_refuses_missing_and_malformed_hashes():
    assert verify_password(PASSWORD, None) is False
    assert verify_password(PASSWORD, "") is False
    assert verify_password(PASSWORD, "not-a-hash") is False


# --- length ------------------------------------------------------------------------------------


def test_nine_characters_are_refused():
    assert "at least 10 characters" in password_problem("Kq8#vz!Lm")


def test_ten_characters_are_allowed_when_strong():
    assert password_problem("Kq8#vz!Lm2") is None


def test_nine_characters_are_refused_at_registration(client, db, places):
    response = register(client, email="short@example.org", password="Kq8#vz!Lm")
    assert response.status_code == 422
    assert "at least 10 characters" in response.text
    assert find(db, "short@example.org") is None


def test_ten_characters_work_at_registration(client, db, places):
    assert register(client, email="ten@example.org", password="Kq8#vz!Lm2").status_code == 303
    assert find(db, "ten@example.org") is not None


def test_a_strong_128_character_password_is_accepted():
    assert len(LONG_PASSWORD) == 128
    assert password_problem(LONG_PASSWORD) is None


@pytest.mark.parametrize("length", [73, 100, 101, 200, 256])
def test_long_passwords_up_to_the_maximum_are_judged_not_crashed_on(length):
    assert password_problem((LONG_PASSWORD * 2)[:length]) is None


def test_a_password_over_the_maximum_gets_a_plain_message():
    assert "256 characters or fewer" in password_problem((LONG_PASSWORD * 3)[:257])


def test_registration_and_sign_in_work_end_to_end_with_128_characters(client, other_client, db, places):
    assert register(client, email="long@example.org", password=LONG_PASSWORD).status_code == 303
    assert client.get("/account").status_code == 200
    sign_in(other_client, "long@example.org", LONG_PASSWORD)
    assert "long@example.org" in other_client.get("/account").text
    # Every character counts: the password is not silently truncated.
    account = find(db, "long@example.org")
    assert verify_password(LONG_PASSWORD, account.password_hash)
    assert not verify_password(LONG_PASSWORD[:-1], account.password_hash)
    assert not verify_password(LONG_PASSWORD[:72], account.password_hash)


# --- no composition rules ----------------------------------------------------------------------


@pytest.mark.parametrize("password", [ALL_LOWERCASE_PASSPHRASE, "tangerine walrus cobalt", "zq4vt8wnrk"])
def test_no_composition_rules(password):
    assert password_problem(password) is None


def test_an_all_lowercase_passphrase_works_at_registration(client, db, places):
    assert register(client, email="phrase@example.org", password=ALL_LOWERCASE_PASSPHRASE).status_code == 303
    assert find(db, "phrase@example.org") is not None


# --- common and guessable passwords ------------------------------------------------------------


@pytest.mark.parametrize("password", ["password1234", "qwertyuiop12", "1234567890", "iloveyou2024", "aaaaaaaaaaaa"])
def test_common_passwords_are_refused(password):
    assert "harder to guess" in password_problem(password)


@pytest.mark.parametrize("password", ["password1234", "qwertyuiop12"])
def test_common_passwords_are_refused_at_registration(client, db, password, places):
    response = register(client, email="common@example.org", password=password)
    assert response.status_code == 422
    assert "harder to guess" in response.text
    assert find(db, "common@example.org") is None


def test_the_users_own_email_is_refused_as_password(client, db, places):
    email = "cara.jones@example.org"
    assert password_problem(email) is None  # strong enough on its own ...
    assert password_problem(email, user_inputs=[email, "Cara Jones"]) is not None  # ... but not for Cara
    response = register(client, email=email, password=email, name="Cara Jones")
    assert response.status_code == 422
    assert "harder to guess" in response.text
    assert find(db, email) is None


def test_the_users_own_name_is_refused_as_password(db):
    with pytest.raises(InvalidInput) as refused:
        accounts.create_account(
            db, email="gwendolyn@example.org", name="Gwendolyn Featherstonehaugh", role=Role.citizen,
            password="GwendolynFeatherstonehaugh",
        )
    assert refused.value.for_field("password")


def test_a_weak_new_password_is_refused_on_change_and_the_hash_stays(client, citizen, db):
    sign_in(client, citizen)
    old_hash = citizen.password_hash
    response = post_form(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": "password1234", "new_password_confirm": "password1234"},
        token_from="/account",
    )
    assert response.status_code == 422
    assert "harder to guess" in response.text
    db.expire_all()
    assert db.get(Account, citizen.id).password_hash == old_hash


def test_a_weak_password_is_refused_on_reset(client, citizen, db, settings):
    token = accounts._new_reset_token(db, settings, account=citizen)
    db.commit()
    old_hash = citizen.password_hash
    response = post_form(
        client,
        "/reset-password",
        {"token": token, "password": "qwertyuiop12", "password_confirm": "qwertyuiop12"},
        token_from=f"/reset-password?token={token}",
    )
    assert response.status_code == 422
    assert "harder to guess" in response.text
    db.expire_all()
    assert db.get(Account, citizen.id).password_hash == old_hash
