"""Consent that means what it says: complete ISO/IEC TS 27560 records, a change is a new record,
nothing goes live or is suggested without both `profile` and `matching`, and withdrawing `profile`
asks first, then pauses items and ends matches (telling the other person neutrally)."""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select

from app.matching.models import Match, MatchStatus
from app.privacy.models import ConsentRecord
from app.privacy.notices import CURRENT_NOTICE_VERSION
from app.registry.models import ItemStatus, Offer
from tests.conftest import api_token, post_form, sign_in
from tests.linkers.conftest import assisted
from tests.matching.conftest import citizen

RECORD_FIELDS = {
    "id", "subject", "purpose", "state", "notice_version", "notice_hash", "language", "method", "recorded_by",
    "recorded_by_account_id", "recorded_at", "controller", "legal_basis", "retention", "how_to_withdraw",
    "withdrawn_at", "superseded_at", "given",
}  # fmt: skip


def _notice_hash(settings) -> str:
    path = settings.templates_dir / "privacy" / "notices" / f"{CURRENT_NOTICE_VERSION}.en.html"
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_consent_record_carries_every_field(client, db, settings, places):
    rhian = citizen(db, settings, "Rhian Evans")
    records = client.get("/api/v1/me/consents", headers=api_token(client, rhian.account)).json()
    assert {r["purpose"] for r in records} == {"profile", "matching"}
    for record in records:
        assert set(record) == RECORD_FIELDS
        assert record["subject"] == rhian.person.id and record["state"] == "given" and record["given"] is True
        assert record["notice_version"] == CURRENT_NOTICE_VERSION and record["notice_hash"] == _notice_hash(settings)
        assert record["language"] == "en" and record["method"] == "online" and record["recorded_by"] == "self"
        assert record["recorded_by_account_id"] == rhian.account.id
        assert record["controller"] == settings.council_name
        assert "Article 6(1)(a)" in record["legal_basis"]
        assert f"{settings.retention_months} months" in record["retention"]
        assert "account page" in record["how_to_withdraw"]
        assert record["withdrawn_at"] is None and record["superseded_at"] is None


def test_a_consent_a_linker_took_names_the_linker_and_the_method(client, db, settings, places, linker):
    peggy = assisted(db, settings, linker)
    records = client.get(f"/api/v1/linker/people/{peggy.id}/consents", headers=api_token(client, linker)).json()
    assert records and all(set(r) == RECORD_FIELDS for r in records)
    assert all(r["recorded_by"] == "linker" and r["recorded_by_account_id"] == linker.id and r["method"] == "verbal" for r in records)


def test_a_change_is_a_new_record_and_the_history_keeps_every_one(client, db, settings, places):
    rhian = citizen(db, settings, "Rhian Evans")
    headers = api_token(client, rhian.account)
    before = db.execute(select(ConsentRecord).where(ConsentRecord.person_id == rhian.person.id, ConsentRecord.purpose == "matching")).scalar_one()
    snapshot = {c: getattr(before, c) for c in ("state", "recorded_at", "notice_hash", "method", "withdrawn_at")}

    assert client.put("/api/v1/me/consents/matching", json={"given": False}, headers=headers).status_code == 200
    assert client.put("/api/v1/me/consents/matching", json={"given": True}, headers=headers).status_code == 200
    assert client.put("/api/v1/me/consents/matching", json={"given": False}, headers=headers).status_code == 200

    current = {r["purpose"]: r for r in client.get("/api/v1/me/consents", headers=headers).json()}
    assert current["matching"]["state"] == "withdrawn" and current["matching"]["given"] is False
    assert current["matching"]["withdrawn_at"] is not None and current["profile"]["state"] == "given"
    history = [r for r in client.get("/api/v1/me/consents/history", headers=headers).json() if r["purpose"] == "matching"]
    assert [r["state"] for r in history] == ["given", "withdrawn", "given", "withdrawn"]
    assert [r["superseded_at"] is None for r in history] == [False, False, False, True]
    db.expire_all()
    kept = db.get(ConsentRecord, before.id)
    # The first record says exactly what it said; it only learnt that it is no longer current.
    assert {c: getattr(kept, c) for c in snapshot} == snapshot and kept.superseded_at is not None


def test_nothing_goes_live_without_agreement_to_be_suggested(client, db, settings, places):
    from app.core.validation import parse
    from app.registry import service as registry

    quiet = citizen(db, settings, "Quentin Quiet", matching=False)
    body = {"title": "Knitting", "skills": ["gardening"], "mode": "remote", "max_distance_km": 2, "availability": ["mon-am"]}
    refused = client.post("/api/v1/offers", json=body, headers=api_token(client, quiet.account))
    assert refused.status_code == 422 and "suggest these details to others" in refused.text
    assert db.execute(select(func.count()).select_from(Offer).where(Offer.person_id == quiet.person.id)).scalar_one() == 0

    draft = registry.create_draft(db, kind=registry.OFFER, person=quiet.person, data=parse(registry.OFFER.update_model, body))
    db.commit()
    sign_in(client, quiet.account)
    refused = post_form(client, f"/offers/{draft.id}/status", {"action": "publish"}, token_from="/my")
    assert refused.status_code == 422
    assert "you have not agreed to us suggesting you to others" in refused.text
    assert '/account#privacy-choices"' in refused.text and 'id="consent"' in refused.text
    db.refresh(draft)
    assert draft.status is ItemStatus.draft


def test_withdrawing_keep_my_details_asks_first_and_explains(client, db, settings, places):
    rhian = citizen(db, settings, "Rhian Evans")
    sign_in(client, rhian.account)
    asked = post_form(client, "/account/consents/profile", {"given": "no"}, token_from="/account")
    assert asked.status_code == 200 and "Stop keeping your details?" in asked.text
    assert "paused" in asked.text and "the other person is told only that it cannot go ahead" in asked.text
    current = client.get("/api/v1/me/consents", headers=api_token(client, rhian.account)).json()
    assert {r["purpose"]: r["state"] for r in current}["profile"] == "given"  # nothing changed yet


def test_withdrawing_keep_my_details_pauses_items_ends_matches_and_tells_the_other_person(api, smtp, db, settings, garden):
    proposed = api.post("/api/v1/matches", json={"offer_id": garden.bryn_offer.id, "request_id": garden.need.id},
                        headers=api_token(api, garden.rhian.account))  # fmt: skip
    assert proposed.status_code == 201
    smtp.inbox.wait_for(1)
    smtp.inbox.messages.clear()
    sign_in(api, garden.bryn.account)
    done = post_form(api, "/account/consents/profile", {"given": "no", "confirmed": "yes"}, token_from="/account")
    assert done.status_code == 303
    db.expire_all()
    assert db.get(Offer, garden.bryn_offer.id).status is ItemStatus.paused
    assert db.get(Match, proposed.json()["id"]).status is MatchStatus.cancelled
    [mail] = smtp.inbox.wait_for(1)
    assert mail["To"] == garden.rhian.email
    text = mail.get_content()
    assert "Bryn" not in text and "consent" not in text.lower()  # neutral: it cannot go ahead, not why


def test_withdrawing_keep_my_details_stops_them_appearing_on_the_very_next_call(client, db, settings, garden):
    headers = api_token(client, garden.rhian.account)
    path = f"/api/v1/help-requests/{garden.need.id}/suggestions"
    assert garden.bryn_offer.id in {s["offer_id"] for s in client.get(path, headers=headers).json()}
    bryn = api_token(client, garden.bryn.account)
    assert client.put("/api/v1/me/consents/profile", json={"given": False}, headers=bryn).status_code == 200
    assert garden.bryn_offer.id not in {s["offer_id"] for s in client.get(path, headers=headers).json()}
    assert client.get(f"/api/v1/offers/{garden.bryn_offer.id}/suggestions", headers=bryn).json() == []
