"""Erasure: the person's data is removed or anonymised in one transaction; what others rely on
stays (the other side's match, reading "a former member"), consent and audit evidence stay, report
totals do not move; no foreign key lets a person's deletion reach anyone else's records."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.accounts.models import Account, ApiToken, UserSession
from app.core.db import utcnow
from app.linkers.timeliness import local_date
from app.matching.models import Match, MatchMessage, MatchSide, MatchStatus
from app.models import metadata
from app.privacy.audit import AuditEvent
from app.privacy.models import ConsentRecord, ErasureRecord
from app.registry.models import HelpRequest, ItemStatus, Offer, Person
from tests.conftest import PASSWORD, api_token, post_form, sign_in
from tests.linkers.conftest import assisted
from tests.privacy.conftest import where_text_appears
from tests.privacy.test_export import _matched_pair


def _report_totals(db) -> dict:
    """What the council's reports count: people and items by ward, matches by status, time given."""
    return {
        "people_by_ward": sorted(db.execute(select(Person.ward_code, func.count()).group_by(Person.ward_code)).all()),
        "offers_by_ward": sorted(db.execute(select(Offer.ward_code, func.count()).group_by(Offer.ward_code)).all()),
        "requests_by_ward": sorted(db.execute(select(HelpRequest.ward_code, func.count()).group_by(HelpRequest.ward_code)).all()),
        "matches": db.execute(select(func.count()).select_from(Match)).scalar_one(),
        "minutes": db.execute(select(func.coalesce(func.sum(Match.minutes_given), 0))).scalar_one(),
    }


def test_erasing_my_account_leaves_no_trace_of_my_name_and_keeps_what_others_rely_on(client, db, settings, places, linker):
    rhian, bryn, need, gift, match = _matched_pair(client, db, settings)
    bryn_headers = api_token(client, bryn.account)
    client.get("/api/v1/me", headers=bryn_headers)
    sign_in(client, linker)  # a linker's note about Bryn's match, naming him, on Rhian's side of it
    consents_before = db.execute(select(func.count()).select_from(ConsentRecord).where(ConsentRecord.person_id == bryn.person.id)).scalar_one()
    audit_before = db.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    totals_before = _report_totals(db)
    assert where_text_appears(db, "Zephaniah")  # the check can see the name before

    wrong = client.request("DELETE", "/api/v1/me", json={"password": "not the password"}, headers=bryn_headers)
    assert wrong.status_code == 422 and db.get(Person, bryn.person.id).name == "Bryn Zephaniah"
    done = client.request("DELETE", "/api/v1/me", json={"password": PASSWORD}, headers=bryn_headers)
    assert done.status_code == 204, done.text
    db.expire_all()

    assert where_text_appears(db, "Zephaniah") == [] and where_text_appears(db, "Bryn") == []
    assert where_text_appears(db, bryn.email) == [] and where_text_appears(db, "my gate is blue") == []
    # Signed out everywhere, and cannot come back.
    assert client.get("/api/v1/me", headers=bryn_headers).status_code == 401
    assert client.post("/api/v1/auth/token", json={"email": bryn.email, "password": PASSWORD}).status_code == 401
    assert db.execute(select(func.count()).select_from(UserSession).where(UserSession.account_id == bryn.account.id)).scalar_one() == 0
    assert db.execute(select(func.count()).select_from(ApiToken).where(ApiToken.account_id == bryn.account.id)).scalar_one() == 0
    # Rhian's side: the match is still hers to see, ended, with "a former member" on the other side.
    kept = db.get(Match, match["id"])
    assert kept.status is MatchStatus.cancelled
    seen = client.get(f"/api/v1/matches/{match['id']}", headers=api_token(client, rhian.account)).json()
    assert "Bryn" not in str(seen) and seen["status"] == "cancelled"
    messages = db.execute(select(MatchMessage).where(MatchMessage.match_id == match["id"]).order_by(MatchMessage.id)).scalars().all()
    assert messages[0].body == "Thank you [a former member], Tuesday suits" and "removed" in messages[1].body
    assert db.get(Offer, gift.id).status is ItemStatus.closed and db.get(HelpRequest, need.id).status is ItemStatus.active
    # The evidence stays, pointing at the anonymous subject; the counts do not move.
    consents = db.execute(select(ConsentRecord).where(ConsentRecord.person_id == bryn.person.id)).scalars().all()
    assert len(consents) == consents_before + 2  # each consent still given ends with an `expired` record
    assert {c.state.value for c in consents if c.superseded_at is None} == {"expired"}
    assert db.execute(select(func.count()).select_from(AuditEvent)).scalar_one() >= audit_before + 1
    assert _report_totals(db) == totals_before
    erased = db.execute(select(ErasureRecord).where(ErasureRecord.person_id == bryn.person.id)).scalar_one()
    assert erased.channel.value == "online"
    assert db.get(Person, bryn.person.id).ward_code is not None and db.get(Person, bryn.person.id).postcode is None


def test_deleting_my_account_on_the_page_asks_for_the_password_and_explains(client, db, settings, places):
    from tests.matching.conftest import citizen

    rhian = citizen(db, settings, "Rhian Evans")
    sign_in(client, rhian.account)
    page = client.get("/account/delete")
    assert page.status_code == 200 and "a former member" in page.text and "cannot be brought back" in page.text
    wrong = post_form(client, "/account/delete", {"password": "nope"}, token_from="/account/delete")
    assert wrong.status_code == 422 and "Enter your password correctly" in wrong.text and 'href="#password"' in wrong.text
    assert db.get(Person, rhian.person.id).name == "Rhian Evans"
    done = post_form(client, "/account/delete", {"password": PASSWORD}, token_from="/account/delete")
    assert done.status_code == 303 and done.headers["location"].endswith("/account/deleted")
    signed_out = client.get("/account", follow_redirects=False)
    assert signed_out.status_code == 303 and "/sign-in" in signed_out.headers["location"]
    db.expire_all()
    assert db.get(Account, rhian.account.id).is_active is False and where_text_appears(db, "Rhian") == []


def test_a_linker_erases_a_person_at_their_request_and_the_request_is_recorded(client, db, settings, places, linker):
    peggy = assisted(db, settings, linker, name="Peggy Quillfeather")
    sign_in(client, linker)
    missing = post_form(client, f"/linkers/people/{peggy.id}/erase", {}, token_from=f"/linkers/people/{peggy.id}/erase")
    assert missing.status_code == 422 and "Choose how they asked" in missing.text and "Confirm that they asked" in missing.text
    done = post_form(
        client, f"/linkers/people/{peggy.id}/erase", {"channel": "phone", "requested_on": local_date(utcnow()).isoformat(), "confirmed": "yes"},
        token_from=f"/linkers/people/{peggy.id}/erase",
    )  # fmt: skip
    assert done.status_code == 303
    db.expire_all()
    record = db.execute(select(ErasureRecord).where(ErasureRecord.person_id == peggy.id)).scalar_one()
    assert record.channel.value == "phone" and record.recorded_by_account_id == linker.id
    assert where_text_appears(db, "Quillfeather") == []
    assert client.get(f"/linkers/people/{peggy.id}").status_code == 404  # off the caseload
    assert "Quillfeather" not in client.get("/linkers/pool").text


def test_no_foreign_key_lets_a_persons_deletion_reach_anyone_elses_records():
    # A cascade is allowed only inside one owner's own things: an item's skill links, an account's
    # sessions, tokens, reset links, digest days, once-only keys (its own replies, kept to answer a
    # retry) and two-step recovery codes.
    allowed = {("offer_skill", "offer"), ("help_request_skill", "help_request"), ("user_session", "account"),
               ("api_token", "account"), ("password_reset_token", "account"), ("digest_sent", "account"),
               ("once_only", "account"), ("recovery_code", "account")}  # fmt: skip
    cascades = {
        (table.name, fk.column.table.name)
        for table in metadata.sorted_tables for fk in table.foreign_keys if (fk.ondelete or "").upper() == "CASCADE"
    }  # fmt: skip
    assert cascades <= allowed, cascades - allowed


def test_the_database_refuses_to_delete_a_person_who_has_records(client, db, settings, places):
    rhian, bryn, _need, _gift, _match = _matched_pair(client, db, settings)
    for person_id in (rhian.person.id, bryn.person.id):
        with pytest.raises(IntegrityError), db.begin_nested():
            db.execute(sa.delete(Person).where(Person.id == person_id))
    db.expire_all()
    assert db.get(Person, bryn.person.id) is not None
    assert db.execute(select(func.count()).select_from(ConsentRecord).where(ConsentRecord.person_id == bryn.person.id)).scalar_one() > 0


def test_erasure_takes_the_name_out_of_what_linkers_wrote_about_others_and_the_persons_own_outcome(client, db, settings, places, linker):
    from app.linkers import service as linkers
    from app.linkers.models import CaseNote, FollowUp

    _rhian, bryn, _need, _gift, match = _matched_pair(client, db, settings)
    peggy = assisted(db, settings, linker)
    note = linkers.add_note(db, person_id=peggy.id, author_id=linker.id, body="Peggy knows Bryn Zephaniah from chapel; will ask him")
    follow_up = linkers.add_follow_up(db, person_id=peggy.id, by_id=linker.id, due_on=utcnow().date() + timedelta(days=3),
                                      what="Ask Bryn about the ladder")  # fmt: skip
    kept = db.get(Match, match["id"])
    kept.outcome, kept.ended_by = "Bryn left his number: 01632 960 123", MatchSide.offer
    db.add(kept)
    db.commit()

    done = client.request("DELETE", "/api/v1/me", json={"password": PASSWORD}, headers=api_token(client, bryn.account))
    assert done.status_code == 204
    db.expire_all()
    assert db.get(CaseNote, note.id).body == "Peggy knows [a former member] from chapel; will ask him"
    assert db.get(FollowUp, follow_up.id).what == "Ask [a former member] about the ladder"
    assert db.get(Match, match["id"]).outcome is None and where_text_appears(db, "960 123") == []
    assert where_text_appears(db, "Zephaniah") == []


def test_a_refused_erasure_form_is_not_logged_as_an_erasure(client, db, settings, places, linker):
    peggy = assisted(db, settings, linker)
    sign_in(client, linker)
    refused = post_form(
        client, f"/linkers/people/{peggy.id}/erase", {"channel": "phone", "requested_on": "2001-01-01", "confirmed": "yes"},
        token_from=f"/linkers/people/{peggy.id}/erase",
    )  # fmt: skip
    assert refused.status_code == 422 and "before they were registered" in refused.text
    actions = db.execute(select(AuditEvent.action).where(AuditEvent.subject_person_id == peggy.id)).scalars().all()
    assert "erased" not in {a.value for a in actions}
    assert db.get(Person, peggy.id).erased_at is None
