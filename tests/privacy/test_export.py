"""Who has looked at my record, and a copy of everything held about me: the JSON export (the
contract's keys), the readable page, a linker's export for a person on their caseload, and the
admins' audit search (itself audited)."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.linkers import service as linkers
from app.privacy.audit import AuditAction, AuditEvent, AuditOutcome
from tests.conftest import api_token, sign_in
from tests.linkers.conftest import assisted
from tests.matching.conftest import citizen, offer, request

EXPORT_KEYS = {"account", "person", "offers", "help_requests", "matches", "messages", "consents", "consent_history",
               "access_log", "generated_at"}  # fmt: skip


def _matched_pair(client, db, settings):
    """Rhian asks for help, Bryn offers it; they agree and write to each other."""
    rhian, bryn = citizen(db, settings, "Rhian Evans"), citizen(db, settings, "Bryn Zephaniah")
    need, gift = request(db, rhian), offer(db, bryn, title="Weeding on Tuesdays")
    rhian_h, bryn_h = api_token(client, rhian.account), api_token(client, bryn.account)
    match = client.post("/api/v1/matches", json={"offer_id": gift.id, "request_id": need.id}, headers=rhian_h).json()
    accepted = client.post(f"/api/v1/matches/{match['id']}/accept", json={"version": match["version"]}, headers=bryn_h)
    assert accepted.status_code == 200, accepted.text
    for who, body in ((rhian_h, "Thank you Bryn, Tuesday suits"), (bryn_h, "See you then, my gate is blue")):
        assert client.post(f"/api/v1/matches/{match['id']}/messages", json={"body": body}, headers=who).status_code == 201
    return rhian, bryn, need, gift, match


def test_the_export_holds_each_kind_of_record_and_nothing_of_the_other_person(client, db, settings, places, linker):
    rhian, bryn, _need, _gift, match = _matched_pair(client, db, settings)
    client.put("/api/v1/me/consents/share_contact", json={"given": True}, headers=api_token(client, bryn.account))
    client.put("/api/v1/me/consents/share_contact", json={"given": False}, headers=api_token(client, bryn.account))
    db.add(AuditEvent(actor_account_id=linker.id, actor_role="linker", subject_person_id=bryn.person.id,
                      action=AuditAction.viewed, outcome=AuditOutcome.allowed, route="linkers:person"))  # fmt: skip
    db.commit()

    export = client.get("/api/v1/me/export", headers=api_token(client, bryn.account))
    assert export.status_code == 200
    data = export.json()
    assert set(data) == EXPORT_KEYS
    assert data["account"]["email"] == bryn.email and data["person"]["name"] == "Bryn Zephaniah"
    assert [o["title"] for o in data["offers"]] == ["Weeding on Tuesdays"] and data["help_requests"] == []
    [mine] = data["matches"]
    assert mine["id"] == match["id"] and mine["my_side"] == "offer" and mine["other_person"] == "another member"
    assert [m["body"] for m in data["messages"]] == ["See you then, my gate is blue"]
    assert {c["purpose"]: c["state"] for c in data["consents"]} == {"profile": "given", "matching": "given", "share_contact": "withdrawn"}
    assert [c["state"] for c in data["consent_history"] if c["purpose"] == "share_contact"] == ["given", "withdrawn"]
    assert [(e["role"], e["action"]) for e in data["access_log"]] == [("linker", "viewed")]
    text = json.dumps(data)
    assert "Rhian" not in text and rhian.email not in text and "Tuesday suits" not in text


def test_a_linkers_notes_are_exported_and_a_sensitive_one_is_listed_as_withheld_with_the_reason(client, db, settings, places, linker):
    peggy = assisted(db, settings, linker)
    linkers.add_note(db, person_id=peggy.id, author_id=linker.id, body="Likes a call after ten", sensitive=False)
    linkers.add_note(db, person_id=peggy.id, author_id=linker.id, body="Worried about her son", sensitive=True)
    db.commit()
    response = client.get(f"/api/v1/linker/people/{peggy.id}/export", headers=api_token(client, linker))
    assert response.status_code == 200
    data = response.json()
    assert set(data) == EXPORT_KEYS and data["account"] is None
    assert [n["body"] for n in data["person"]["case_notes"]] == ["Likes a call after ten"]
    [withheld] = data["person"]["withheld"]
    assert withheld["what"] == "case note" and "serious harm" in withheld["reason"]
    assert "Worried about her son" not in response.text
    exported = db.execute(select(AuditEvent).where(AuditEvent.subject_person_id == peggy.id, AuditEvent.action == AuditAction.exported)).scalars().all()
    assert [(e.actor_account_id, e.outcome, e.route) for e in exported] == [(linker.id, AuditOutcome.allowed, "api:linker_person_export")]


def test_another_linker_cannot_export_a_person_and_the_attempt_is_kept(client, db, settings, places, linker, second_linker):
    peggy = assisted(db, settings, linker)
    response = client.get(f"/api/v1/linker/people/{peggy.id}/export", headers=api_token(client, second_linker))
    assert response.status_code == 404
    refused = db.execute(select(AuditEvent).where(AuditEvent.subject_person_id == peggy.id, AuditEvent.outcome == AuditOutcome.refused)).scalars().all()
    assert [(e.actor_account_id, e.action) for e in refused] == [(second_linker.id, AuditAction.exported)]


def test_who_has_looked_lists_others_with_role_and_organisation_never_myself(client, db, settings, places, linker):
    rhian = citizen(db, settings, "Rhian Evans")
    for actor, role, action in ((rhian.account.id, "citizen", AuditAction.viewed), (linker.id, "linker", AuditAction.contact_revealed)):
        db.add(AuditEvent(actor_account_id=actor, actor_role=role, subject_person_id=rhian.person.id, action=action,
                          outcome=AuditOutcome.allowed, route="x"))  # fmt: skip
    db.commit()
    log = client.get("/api/v1/me/access-log", headers=api_token(client, rhian.account)).json()
    assert [(e["role"], e["action"], e["organisation"]) for e in log] == [("linker", "contact_revealed", settings.council_name)]
    assert {"when", "role", "action"} <= set(log[0])
    sign_in(client, rhian.account)
    page = client.get("/account/data")
    assert page.status_code == 200
    assert "Who has looked at my record" in page.text and "A community linker" in page.text and "Saw your contact details" in page.text


def test_the_readable_page_and_the_download_hold_the_same_record(client, db, settings, places):
    rhian = citizen(db, settings, "Rhian Evans")
    request(db, rhian, title="Help with my hedge")
    sign_in(client, rhian.account)
    page = client.get("/account/data/export")
    assert page.status_code == 200 and "Help with my hedge" in page.text and "Everything we hold about you" in page.text
    assert page.headers["cache-control"] == "no-store"
    download = client.get("/account/data/export.json")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert set(download.json()) == EXPORT_KEYS and download.json()["help_requests"][0]["title"] == "Help with my hedge"
    exports = db.execute(select(AuditEvent).where(AuditEvent.subject_person_id == rhian.person.id, AuditEvent.action == AuditAction.exported)).scalars().all()
    assert len(exports) == 2  # each copy made is on the record


def test_the_admins_audit_search_finds_by_person_and_by_account_and_is_itself_audited(client, db, settings, places, linker, admin):
    peggy = assisted(db, settings, linker)
    sign_in(client, linker)
    assert client.get(f"/linkers/people/{peggy.id}").status_code == 200
    sign_in(client, admin)
    by_person = client.get(f"/admin/audit?person={peggy.id}")
    assert by_person.status_code == 200 and "linkers:person" in by_person.text
    by_account = client.get(f"/admin/audit?account={linker.id}")
    assert by_account.status_code == 200 and "linkers:person" in by_account.text
    assert client.get("/admin/audit?person=twelve").status_code == 422
    assert client.get("/admin/audit?person=999999999999").status_code == 422
    searches = db.execute(select(AuditEvent).where(AuditEvent.route == "privacy:admin_audit")).scalars().all()
    assert [(e.actor_account_id, e.subject_person_id) for e in searches] == [(admin.id, peggy.id), (admin.id, None)]
    sign_in(client, linker)
    assert client.get(f"/admin/audit?person={peggy.id}").status_code in (403, 404)
