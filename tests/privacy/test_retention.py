"""The retention rule (`marketplace purge`, and the daily job): inactive people are warned, then
erased after the warning period unless they sign in; expired secrets and old audit events go; the
dry run changes nothing; a second pass does nothing new."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from app.accounts.models import Account, ApiToken
from app.core.db import utcnow
from app.main import create_app
from app.privacy import jobs as privacy_jobs
from app.privacy.audit import AuditAction, AuditEvent, AuditOutcome
from app.privacy.models import ErasureRecord
from app.registry.models import HelpRequest, ItemStatus, Offer, Person
from tests.matching.conftest import citizen, offer
from tests.privacy.conftest import where_text_appears


@pytest.fixture()
def context(settings, engine, session_factory, smtp):
    mail_settings = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_starttls": False})
    app = create_app(mail_settings, engine=engine, session_factory=session_factory)
    with TestClient(app, raise_server_exceptions=False):
        yield app.state.jobs.context


def _gone_quiet(db, who, months: int = 25) -> None:
    """As if they last did anything `months` months ago."""
    then = utcnow() - timedelta(days=months * 31)
    db.execute(update(Account).where(Account.id == who.account.id).values(created_at=then, last_signed_in_at=then))
    db.execute(update(Person).where(Person.id == who.person.id).values(created_at=then, updated_at=then))
    db.commit()


def _state(db) -> dict:
    return {
        "people": sorted(db.execute(select(Person.id, Person.name, Person.retention_warned_at, Person.erased_at)).all()),
        "tokens": db.execute(select(func.count()).select_from(ApiToken)).scalar_one(),
        "audit": db.execute(select(func.count()).select_from(AuditEvent)).scalar_one(),
        "erasures": db.execute(select(func.count()).select_from(ErasureRecord)).scalar_one(),
    }


def test_inactive_people_are_warned_then_erased_and_the_dry_run_changes_nothing(context, smtp, db, settings, places):
    olive = citizen(db, settings, "Olive Oldhamshire")
    nora = citizen(db, settings, "Nora Newbold")
    busy = citizen(db, settings, "Barnaby Busyworth")
    offer(db, busy)  # a live offer: still taking part, however long since they signed in
    for quiet in (olive, busy):
        _gone_quiet(db, quiet)
    db.add(ApiToken(account_id=nora.account.id, token_digest="e" * 64, expires_at=utcnow() - timedelta(hours=1)))
    db.add(AuditEvent(actor_account_id=None, actor_role="linker", subject_person_id=nora.person.id, action=AuditAction.viewed,
                      outcome=AuditOutcome.allowed, route="x", occurred_at=utcnow() - timedelta(days=73 * 31)))  # fmt: skip
    db.commit()
    before = _state(db)

    dry = privacy_jobs.run_purge(context, dry_run=True)
    assert (dry.warned, dry.erased, dry.audit_events, dry.removed["api_tokens"]) == (1, 0, 1, 1)
    db.expire_all()
    assert _state(db) == before and smtp.inbox.messages == []

    first = privacy_jobs.run_purge(context)
    assert (first.warned, first.erased, first.audit_events, first.removed["api_tokens"]) == (1, 0, 1, 1)
    [mail] = smtp.inbox.wait_for(1)
    assert mail["To"] == olive.email and "sign in" in mail.get_content()
    again = privacy_jobs.run_purge(context)  # idempotent: nothing new to do
    assert (again.warned, again.erased, again.audit_events, again.removed["api_tokens"]) == (0, 0, 0, 0)

    too_soon = privacy_jobs.run_purge(context, now=utcnow() + timedelta(days=settings.retention_warning_days - 1))
    assert too_soon.erased == 0
    later = privacy_jobs.run_purge(context, now=utcnow() + timedelta(days=settings.retention_warning_days + 1))
    assert (later.warned, later.erased) == (0, 1)
    db.expire_all()
    assert db.get(Person, olive.person.id).erased_at is not None and where_text_appears(db, "Oldhamshire") == []
    assert db.get(Person, nora.person.id).name == "Nora Newbold" and db.get(Person, busy.person.id).name == "Barnaby Busyworth"
    record = db.execute(select(ErasureRecord).where(ErasureRecord.person_id == olive.person.id)).scalar_one()
    assert record.channel.value == "retention"
    assert db.execute(select(AuditEvent).where(AuditEvent.subject_person_id == olive.person.id,
                                               AuditEvent.action == AuditAction.erased)).scalars().one().actor_role == "service"  # fmt: skip
    assert len(smtp.inbox.messages) == 1  # erased people are not written to again


def test_signing_in_after_the_warning_keeps_the_record(context, smtp, client, db, settings, places):
    from tests.conftest import api_token

    sid = citizen(db, settings, "Sid Signalby")
    _gone_quiet(db, sid)
    assert privacy_jobs.run_purge(context).warned == 1
    api_token(client, sid.account)  # they sign in
    later = privacy_jobs.run_purge(context, now=utcnow() + timedelta(days=settings.retention_warning_days + 1))
    assert (later.warned, later.erased) == (0, 0)
    db.expire_all()
    assert db.get(Person, sid.person.id).name == "Sid Signalby"


def test_the_purge_command_prints_counts_only(fresh_database, marketplace):
    code, out, err = marketplace(["purge", "--dry-run"], fresh_database)
    assert code == 0, err
    assert "dry run, nothing changed" in out and "people warned that their record will be erased: 0" in out
    code, out, err = marketplace(["purge"], fresh_database)
    assert code == 0 and "sessions that were removed: 0" in out


def test_someone_registered_by_a_linker_without_an_account_is_in_the_rule_too(context, smtp, client, db, settings, places, linker):
    from tests.conftest import api_token
    from tests.linkers.conftest import assisted
    from tests.matching.conftest import request

    # Two others in an open match, both quiet for years: the match keeps them (and only them) in.
    giver, seeker = citizen(db, settings, "Gethin Giver"), citizen(db, settings, "Seren Seeker")
    proposed = client.post("/api/v1/matches", json={"offer_id": offer(db, giver).id, "request_id": request(db, seeker).id},
                           headers=api_token(client, seeker.account))  # fmt: skip
    assert proposed.status_code == 201
    for quiet in (giver, seeker):
        _gone_quiet(db, quiet)
    for model in (Offer, HelpRequest):
        db.execute(update(model).values(status=ItemStatus.paused, updated_at=utcnow() - timedelta(days=800)))
    peggy = assisted(db, settings, linker, name="Peggy Pennyworth")
    db.execute(update(Person).where(Person.id == peggy.id).values(created_at=utcnow() - timedelta(days=800), updated_at=utcnow() - timedelta(days=800)))
    db.commit()
    first = privacy_jobs.run_purge(context)
    assert first.warned == 1 and first.mail == []  # no email address: nobody to write to
    later = privacy_jobs.run_purge(context, now=utcnow() + timedelta(days=settings.retention_warning_days + 1))
    assert later.erased == 1
    db.expire_all()
    assert db.get(Person, peggy.id).erased_at is not None and where_text_appears(db, "Pennyworth") == []
    assert db.get(Person, giver.person.id).erased_at is None and db.get(Person, seeker.person.id).erased_at is None
