"""Once-only requests in the database: the stored answer repeats, a refusal frees its key, old
answers are purged after a day, and erasure removes a person's (they repeat what they sent)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.accounts import once
from app.accounts.models import OnceOnly
from app.accounts.privacy import erase, purge_expired_secrets
from app.core.db import utcnow
from app.core.errors import FieldError, InvalidInput
from app.core.plugins import DataSubject


def count(db) -> int:
    return db.execute(select(func.count()).select_from(OnceOnly)).scalar_one()


def test_the_first_answer_is_stored_and_repeated_without_running_again(db, citizen):
    runs = []

    def run():
        runs.append(1)
        return once.Answer(201, '{"id": 7}')

    first = once.once(db, account_id=citizen.id, key="abc", print_="p", run=run)
    db.commit()
    second = once.once(db, account_id=citizen.id, key="abc", print_="p", run=run)
    assert (first.status_code, first.body, first.repeated) == (201, '{"id": 7}', False)
    assert (second.status_code, second.body, second.repeated) == (201, '{"id": 7}', True)
    assert len(runs) == 1


def test_a_refused_run_leaves_no_key_behind_even_when_the_transaction_commits(db, citizen):
    def refuse():
        raise InvalidInput(FieldError("title", "Enter a title"))

    with pytest.raises(InvalidInput):
        once.once(db, account_id=citizen.id, key="abc", print_="p", run=refuse)
    db.commit()
    assert count(db) == 0


@pytest.mark.parametrize("key", ["", "x" * 256])
def test_a_key_must_be_1_to_255_characters(db, citizen, key):
    with pytest.raises(InvalidInput):
        once.once(db, account_id=citizen.id, key=key, print_="p", run=lambda: once.Answer(201, "{}"))


def test_a_form_without_a_token_of_ours_just_runs(db, citizen):
    answers = [once.form_once(db, account_id=citizen.id, token="", run=lambda: once.Answer(303, "/x")) for _ in range(2)]
    assert [a.repeated for a in answers] == [False, False] and count(db) == 0


def test_answers_older_than_a_day_are_purged_and_erasure_removes_a_persons(db, settings, citizen, other_citizen):
    for account, key in ((citizen, "old"), (citizen, "new"), (other_citizen, "theirs")):
        once.once(db, account_id=account.id, key=key, print_="p", run=lambda: once.Answer(201, "{}"))
    db.execute(update(OnceOnly).where(OnceOnly.key == "old").values(created_at=utcnow() - timedelta(hours=25)))
    db.commit()
    dry = purge_expired_secrets(db, settings, now=utcnow(), dry_run=True)
    assert dry["once_only_answers"] == 1 and count(db) == 3
    assert purge_expired_secrets(db, settings, now=utcnow(), dry_run=False)["once_only_answers"] == 1
    assert count(db) == 2
    erase(db, DataSubject(person_id=None, account_id=citizen.id))
    assert db.execute(select(OnceOnly.key)).scalars().all() == ["theirs"]
