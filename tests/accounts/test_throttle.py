"""Sign-in throttling: per account and per address, kept in the database, with a cool-off that ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.accounts.models import LoginAttempt
from app.accounts.throttle import locked_until, minutes_to_wait
from app.main import create_app
from tests.conftest import PASSWORD, csrf_token, sign_in

WRONG = "not-the-right-password-9"
THROTTLED = "too many attempts to sign in"

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)
COOLOFF = timedelta(minutes=15)


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def locked(failures, *, now=NOW, limit=10):
    return locked_until(failures, limit=limit, window=WINDOW, cooloff=COOLOFF, now=now)


# --- the pure rule -----------------------------------------------------------------------------


def test_no_failures_means_open():
    assert locked([]) is None


def test_fewer_failures_than_the_limit_leave_it_open():
    assert locked([at(-i) for i in range(9)]) is None


def test_the_limit_within_the_window_locks_until_cooloff_after_the_last_of_them():
    failures = [at(-60 - i * 20) for i in range(10)]  # ten failures over three minutes, the last a minute ago
    assert locked(failures) == at(-60) + COOLOFF


def test_failures_exactly_a_window_apart_still_count():
    failures = [at(-300 + i * 300 / 9) for i in range(10)]
    assert failures[-1] - failures[0] == WINDOW
    assert locked(failures) == failures[-1] + COOLOFF


def test_the_limit_spread_wider_than_the_window_leaves_it_open():
    failures = [at(-i * 40) for i in range(10)]  # ten failures over six minutes
    assert failures[0] - failures[-1] > WINDOW
    assert locked(failures) is None


def test_the_lock_ends_when_the_cooloff_has_passed():
    failures = [at(-i) for i in range(10)]
    until = locked(failures)
    assert until == NOW + COOLOFF
    assert locked(failures, now=until - timedelta(seconds=1)) == until
    assert locked(failures, now=until) is None
    assert locked(failures, now=until + timedelta(minutes=1)) is None


def test_the_order_of_the_failures_does_not_matter():
    failures = [at(-i * 10) for i in range(10)]
    assert locked(list(reversed(failures))) == locked(failures) == NOW + COOLOFF


def test_the_latest_burst_decides_when_it_opens():
    first_burst = [at(-600 - i) for i in range(10)]  # reached the limit ten minutes ago
    second_burst = [at(-120 - i) for i in range(10)]  # and again two minutes ago
    assert locked(first_burst + second_burst) == at(-120) + COOLOFF


def test_other_limits_are_respected():
    failures = [at(-i) for i in range(3)]
    assert locked(failures, limit=3) == NOW + COOLOFF
    assert locked(failures, limit=4) is None


def test_minutes_to_wait_rounds_up_and_is_at_least_one():
    assert minutes_to_wait(NOW + timedelta(minutes=15), NOW) == 15
    assert minutes_to_wait(NOW + timedelta(minutes=14, seconds=1), NOW) == 15
    assert minutes_to_wait(NOW + timedelta(seconds=1), NOW) == 1
    assert minutes_to_wait(NOW, NOW) == 1
    assert minutes_to_wait(NOW - timedelta(minutes=5), NOW) == 1


# --- helpers against the real app --------------------------------------------------------------


def page_attempt(client, email: str, password: str):
    # The CSRF cookie stays the same for a client, so one token serves all its attempts.
    token = getattr(client, "_throttle_test_csrf", None) or csrf_token(client, "/sign-in")
    client._throttle_test_csrf = token
    return client.post(
        "/sign-in", data={"csrf_token": token, "email": email, "password": password}, follow_redirects=False
    )


def api_attempt(client, email: str, password: str):
    return client.post("/api/v1/auth/token", json={"email": email, "password": password})


def fail_times(client, email: str, times: int, *, api: bool = False) -> None:
    for _ in range(times):
        response = (api_attempt if api else page_attempt)(client, email, WRONG)
        assert response.status_code == (401 if api else 422), response.text


def attempts_in_db(db) -> list[LoginAttempt]:
    db.expire_all()
    return list(db.execute(select(LoginAttempt)).scalars())


def move_attempts_back(db, minutes: float) -> None:
    for attempt in attempts_in_db(db):
        attempt.attempted_at = attempt.attempted_at - timedelta(minutes=minutes)
        db.add(attempt)
    db.commit()


def assert_page_throttled(response) -> None:
    assert response.status_code == 429
    assert THROTTLED in response.text
    assert "wait 15 minutes" in response.text
    assert "marketplace_session" not in response.headers.get("set-cookie", "")


# --- through the pages -------------------------------------------------------------------------


def test_nine_failures_still_let_the_right_password_in(client, citizen):
    fail_times(client, citizen.email, 9)
    sign_in(client, citizen)
    assert client.get("/account", follow_redirects=False).status_code == 200


def test_ten_failures_refuse_even_the_right_password_with_a_clear_message(client, other_client, citizen, other_citizen):
    fail_times(client, citizen.email, 10)
    assert_page_throttled(page_attempt(client, citizen.email, PASSWORD))
    # The lock belongs to the account, not to the browser.
    assert_page_throttled(page_attempt(other_client, citizen.email, PASSWORD))
    assert other_client.get("/account", follow_redirects=False).status_code == 303
    # Other accounts are not affected.
    sign_in(other_client, other_citizen)
    assert other_client.get("/account", follow_redirects=False).status_code == 200


def test_the_account_lock_ignores_the_case_and_spaces_of_the_email(client, citizen):
    fail_times(client, citizen.email.upper(), 5)
    fail_times(client, f"  {citizen.email}  ", 5)
    assert_page_throttled(page_attempt(client, citizen.email, PASSWORD))


def test_refused_attempts_are_not_counted_so_waiting_opens_it(client, citizen, db):
    fail_times(client, citizen.email, 10)
    for _ in range(3):
        assert_page_throttled(page_attempt(client, citizen.email, PASSWORD))
    assert len(attempts_in_db(db)) == 10


def test_sign_in_works_again_after_the_cooloff(client, citizen, db):
    fail_times(client, citizen.email, 10)
    assert_page_throttled(page_attempt(client, citizen.email, PASSWORD))
    move_attempts_back(db, 10)  # ten minutes later: still cooling off
    response = page_attempt(client, citizen.email, PASSWORD)
    assert response.status_code == 429
    assert "wait 5 minutes" in response.text
    move_attempts_back(db, 6)  # sixteen minutes after the last failure
    sign_in(client, citizen)
    assert client.get("/account", follow_redirects=False).status_code == 200
    # A success clears the account's failures.
    assert attempts_in_db(db) == []


def test_failures_older_than_the_window_do_not_add_up(client, citizen, db):
    fail_times(client, citizen.email, 5)
    move_attempts_back(db, 6)
    fail_times(client, citizen.email, 5)
    sign_in(client, citizen)


# --- through the API ---------------------------------------------------------------------------


def test_the_api_is_throttled_the_same_way(client, citizen, other_citizen):
    fail_times(client, citizen.email, 10, api=True)
    response = api_attempt(client, citizen.email, PASSWORD)
    assert response.status_code == 429
    assert THROTTLED in response.json()["detail"]
    assert response.headers["retry-after"] == str(15 * 60)
    assert "access_token" not in response.json()
    assert api_attempt(client, other_citizen.email, PASSWORD).status_code == 200


def test_pages_and_api_share_one_count(client, citizen):
    fail_times(client, citizen.email, 5)
    fail_times(client, citizen.email, 5, api=True)
    assert api_attempt(client, citizen.email, PASSWORD).status_code == 429
    assert_page_throttled(page_attempt(client, citizen.email, PASSWORD))


def test_the_api_opens_again_after_the_cooloff(client, citizen, db):
    fail_times(client, citizen.email, 10, api=True)
    assert api_attempt(client, citizen.email, PASSWORD).status_code == 429
    move_attempts_back(db, 16)
    assert api_attempt(client, citizen.email, PASSWORD).status_code == 200


def test_unknown_accounts_are_throttled_too(client):
    """The same answer for accounts that do not exist, so throttling reveals nothing."""
    fail_times(client, "nobody@example.org", 10)
    response = page_attempt(client, "nobody@example.org", WRONG)
    assert response.status_code == 429


# --- per address -------------------------------------------------------------------------------


@pytest.fixture()
def strict_address_app(settings, engine, session_factory):
    strict = settings.model_copy(update={"login_max_failures_per_address": 3})
    return create_app(strict, engine=engine, session_factory=session_factory)


def test_the_per_address_limit_refuses_even_a_different_account(strict_address_app, citizen, other_citizen, linker):
    with TestClient(strict_address_app, client=("198.51.100.7", 40000)) as attacker:
        fail_times(attacker, other_citizen.email, 1)
        fail_times(attacker, linker.email, 1)
        fail_times(attacker, "nobody@example.org", 1)
        # The citizen's account has no failures at all, yet this address is refused.
        assert_page_throttled(page_attempt(attacker, citizen.email, PASSWORD))
        assert api_attempt(attacker, citizen.email, PASSWORD).status_code == 429
    # Someone at another address signs in normally.
    with TestClient(strict_address_app, client=("203.0.113.20", 40000)) as neighbour:
        sign_in(neighbour, citizen)
        assert neighbour.get("/account", follow_redirects=False).status_code == 200


def test_the_default_per_address_limit_is_higher_than_the_per_account_one(settings):
    assert settings.login_max_failures_per_address > settings.login_max_failures_per_account == 10
    assert settings.login_window_minutes == 5


# --- the counts live in the database -----------------------------------------------------------


def test_two_app_instances_share_the_count(settings, engine, session_factory, citizen, db):
    first = create_app(settings, engine=engine, session_factory=session_factory)
    second = create_app(settings, engine=engine, session_factory=session_factory)
    assert first is not second
    with TestClient(first) as one, TestClient(second) as two:
        fail_times(one, citizen.email, 5)
        fail_times(two, citizen.email, 5)
        assert_page_throttled(page_attempt(one, citizen.email, PASSWORD))
        assert_page_throttled(page_attempt(two, citizen.email, PASSWORD))
    assert len(attempts_in_db(db)) == 10


def test_the_database_keeps_keyed_hashes_not_emails_or_addresses(client, citizen, db):
    fail_times(client, citizen.email, 2)
    rows = attempts_in_db(db)
    assert len(rows) == 2
    for row in rows:
        for value in (row.account_key, row.address_key):
            assert len(value) == 64
            assert citizen.email not in value and "testclient" not in value
    assert len({row.account_key for row in rows}) == 1


def test_clearing_the_rows_in_the_database_opens_it(client, citizen, db):
    fail_times(client, citizen.email, 10)
    assert page_attempt(client, citizen.email, PASSWORD).status_code == 429
    for row in attempts_in_db(db):
        db.delete(row)
    db.commit()
    assert db.execute(select(func.count()).select_from(LoginAttempt)).scalar_one() == 0
    sign_in(client, citizen)
