"""The linkers' API over the real app and database: assisted registration with recorded consents,
the caseload and the pool, handover, notes, contact attempts, follow-ups, claim codes, and
brokering matches for people on the caseload."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from app.linkers.models import CaseAssignment, FollowUp
from app.matching.models import Match, MatchStatus
from app.privacy.audit import AuditAction, AuditEvent
from app.privacy.models import ConsentRecord
from app.registry.models import Person
from tests.conftest import api_token, sign_in
from tests.linkers.conftest import PERSON_BODY, assisted, consents
from tests.matching.conftest import TWO_KM, citizen, offer, request
from tests.registry.conftest import OFFER_BODY


def test_a_linker_registers_a_person_with_consent_recorded_as_taken(client, db, places, linker):
    headers = api_token(client, linker)
    response = client.post("/api/v1/linker/people", json=PERSON_BODY, headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "name", "postcode", "ward_code", "on_caseload_of"}
    assert body["on_caseload_of"] == linker.id and body["ward_code"] == "S13002483"
    person = db.get(Person, body["id"])
    assert person.account_id is None and person.created_by_account_id == linker.id

    records = client.get(f"/api/v1/linker/people/{person.id}/consents", headers=headers).json()
    by_purpose = {r["purpose"]: r for r in records}
    assert set(by_purpose) == {"profile", "matching"}
    for record in records:
        assert record["state"] == "given" and record["method"] == "verbal"
        assert record["recorded_by_account_id"] == linker.id and record["notice_version"] == "1.1"
        assert {"recorded_at", "withdrawn_at"} <= set(record)


def test_profile_consent_is_required_and_online_is_not_a_method_a_linker_can_record(client, db, places, linker):
    headers = api_token(client, linker)
    before = db.execute(select(Person)).scalars().all()
    refused = client.post("/api/v1/linker/people", json=PERSON_BODY | {"consents": consents(profile=False)}, headers=headers)
    assert refused.status_code == 422
    assert "consent_profile" in {e["field"] for e in refused.json()["errors"]}
    online = client.post("/api/v1/linker/people", json=PERSON_BODY | {"consents": consents(method="online")}, headers=headers)
    assert online.status_code == 422
    no_phone = client.post("/api/v1/linker/people", json=PERSON_BODY | {"phone": ""}, headers=headers)
    assert no_phone.status_code == 422 and no_phone.json()["errors"][0]["field"] == "phone"
    assert db.execute(select(Person)).scalars().all() == before  # nothing half-written


def test_caseload_and_person_are_only_mine(client, db, settings, places, linker, second_linker):
    mine = assisted(db, settings, linker, "Mary Mine")
    theirs = assisted(db, settings, second_linker, "Tom Theirs")
    headers = api_token(client, linker)
    people = client.get("/api/v1/linker/people", headers=headers).json()
    assert [p["name"] for p in people] == ["Mary Mine"]
    assert people[0]["next_need"] == "not_contacted"
    assert client.get(f"/api/v1/linker/people/{mine.id}", headers=headers).status_code == 200
    for path in (f"/people/{theirs.id}", f"/people/{theirs.id}/consents", f"/people/{theirs.id}/notes", "/people/999999"):
        assert client.get("/api/v1/linker" + path, headers=headers).status_code == 404, path
    assert client.post(f"/api/v1/linker/people/{theirs.id}/notes", json={"body": "x"}, headers=headers).status_code == 404
    refused = db.execute(
        select(AuditEvent).where(AuditEvent.subject_person_id == theirs.id, AuditEvent.outcome == "refused")
    ).scalars().all()
    assert refused and all(e.actor_account_id == linker.id for e in refused)
    viewed = db.execute(
        select(AuditEvent).where(AuditEvent.subject_person_id == mine.id, AuditEvent.action == AuditAction.viewed)
    ).scalars().all()
    assert viewed, "a linker's read of a person's record is audited"


def test_other_roles_never_reach_the_linker_api(client, db, settings, places, citizen, staff, admin, linker):
    person = assisted(db, settings, linker)
    for account in (citizen, staff, admin):
        headers = api_token(client, account)
        assert client.get("/api/v1/linker/people", headers=headers).status_code == 403
        assert client.get(f"/api/v1/linker/people/{person.id}", headers=headers).status_code == 403
    assert client.get("/api/v1/linker/people").status_code == 401


def test_the_pool_and_picking_up_and_handing_over_with_history(client, db, settings, places, linker, second_linker):
    waiting = citizen(db, settings, "Wendy Waiting")
    headers = api_token(client, linker)
    assert client.get("/api/v1/linker/pool", headers=headers).json() == []
    wants = client.put("/api/v1/me/consents/linker_contact", json={"given": True}, headers=api_token(client, waiting.account))
    assert wants.status_code == 200, wants.text
    pool = client.get("/api/v1/linker/pool", headers=headers).json()
    assert [set(p) for p in pool] == [{"id", "name", "ward_code", "waiting_since"}]
    assert pool[0]["name"] == "Wendy Waiting"
    assert client.get(f"/api/v1/linker/people/{waiting.person.id}", headers=headers).status_code == 404

    picked = client.post(f"/api/v1/linker/people/{waiting.person.id}/assign", headers=headers)
    assert picked.status_code == 200 and picked.json()["on_caseload_of"] == linker.id
    assert client.get("/api/v1/linker/pool", headers=headers).json() == []
    other = api_token(client, second_linker)
    assert client.post(f"/api/v1/linker/people/{waiting.person.id}/assign", headers=other).status_code == 409

    handed = client.post(
        f"/api/v1/linker/people/{waiting.person.id}/handover",
        json={"to_account_id": second_linker.id, "note": "Prefers calls after 10"}, headers=headers,
    )  # fmt: skip
    assert handed.status_code == 200 and handed.json()["on_caseload_of"] == second_linker.id
    assert client.get(f"/api/v1/linker/people/{waiting.person.id}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/linker/people/{waiting.person.id}", headers=other).status_code == 200
    history = db.execute(select(CaseAssignment).where(CaseAssignment.person_id == waiting.person.id).order_by(CaseAssignment.id)).scalars().all()
    assert [(a.linker_account_id, a.ended_at is None) for a in history] == [(linker.id, False), (second_linker.id, True)][:0] or [
        (a.linker_account_id, a.ended_at is None) for a in history
    ] == [(linker.id, False), (second_linker.id, True)]
    assert history[1].note == "Prefers calls after 10"
    bad = client.post(f"/api/v1/linker/people/{waiting.person.id}/handover", json={"to_account_id": waiting.account.id}, headers=other)
    assert bad.status_code == 422


def test_a_person_whose_linker_left_returns_to_the_pool(client, db, settings, places, linker, second_linker):
    person = assisted(db, settings, linker, "Olive Orphan")
    assignment = db.execute(select(CaseAssignment).where(CaseAssignment.person_id == person.id)).scalar_one()
    linker.is_active = False
    assignment.ended_at = assignment.started_at
    db.add_all([linker, assignment])
    db.commit()
    pool = client.get("/api/v1/linker/pool", headers=api_token(client, second_linker)).json()
    assert [p["name"] for p in pool] == ["Olive Orphan"]


def test_notes_sensitive_and_corrections(client, db, settings, places, linker, second_linker):
    person = assisted(db, settings, linker)
    headers = api_token(client, linker)
    plain = client.post(f"/api/v1/linker/people/{person.id}/notes", json={"body": "Called, keen to garden"}, headers=headers)
    assert plain.status_code == 201
    secret = client.post(f"/api/v1/linker/people/{person.id}/notes", json={"body": "Carer stress", "sensitive": True}, headers=headers)
    fixed = client.post(
        f"/api/v1/linker/people/{person.id}/notes", json={"body": "Keen to garden on Tuesdays", "corrects_note_id": plain.json()["id"]},
        headers=headers,
    )  # fmt: skip
    assert fixed.json()["corrects_note_id"] == plain.json()["id"]
    assert len(client.get(f"/api/v1/linker/people/{person.id}/notes", headers=headers).json()) == 3
    client.post(f"/api/v1/linker/people/{person.id}/handover", json={"to_account_id": second_linker.id}, headers=headers)
    other = api_token(client, second_linker)
    seen = client.get(f"/api/v1/linker/people/{person.id}/notes", headers=other).json()
    assert secret.json()["id"] in {n["id"] for n in seen}, "the current linker reads sensitive notes"
    empty = client.post(f"/api/v1/linker/people/{person.id}/notes", json={"body": "   "}, headers=other)
    assert empty.status_code == 422


def test_three_failed_attempts_raise_a_follow_up_and_follow_ups_finish_once(client, db, settings, places, linker):
    person = assisted(db, settings, linker)
    headers = api_token(client, linker)
    path = f"/api/v1/linker/people/{person.id}/contact-attempts"
    outcomes = [client.post(path, json={"outcome": o}, headers=headers).json() for o in ("no_answer", "left_message", "wrong_number")]
    assert [o["follow_up_raised"] is not None for o in outcomes] == [False, False, True]
    raised = client.get("/api/v1/linker/follow-ups?when=due", headers=headers).json()
    assert len(raised) == 1 and raised[0]["state"] in ("due_soon", "overdue")
    assert client.post(path, json={"outcome": "no_answer"}, headers=headers).json()["follow_up_raised"] is None

    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    created = client.post(f"/api/v1/linker/people/{person.id}/follow-ups", json={"due_on": tomorrow, "what": "Ring about the lift"}, headers=headers)
    assert created.status_code == 201, created.text
    past = client.post(f"/api/v1/linker/people/{person.id}/follow-ups", json={"due_on": "2020-01-01", "what": "x"}, headers=headers)
    assert past.status_code == 422
    follow_up = created.json()["id"]
    refused = client.post(f"/api/v1/linker/follow-ups/{follow_up}/done", json={"done": False}, headers=headers)
    assert refused.status_code == 422  # not done needs a note
    done = client.post(f"/api/v1/linker/follow-ups/{follow_up}/done", json={"note": "Booked"}, headers=headers)
    assert done.status_code == 200 and done.json()["state"] == "done"
    again = client.post(f"/api/v1/linker/follow-ups/{follow_up}/done", json={}, headers=headers)
    assert again.status_code == 422
    db.expire_all()
    assert db.get(FollowUp, follow_up).result_note == "Booked"


def test_a_linker_records_an_offer_and_brokers_a_match_for_someone(client, other_client, db, settings, places, linker):
    person = assisted(db, settings, linker, consents=consents(share_contact=False))
    headers = api_token(client, linker)
    created = client.post(
        f"/api/v1/linker/people/{person.id}/offers",
        json=OFFER_BODY | {"skills": ["gardening"], "max_distance_km": 5, "availability": ["tue-am", "sat-pm"]}, headers=headers,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    offer_id = created.json()["id"]
    seeker = citizen(db, settings, "Sid Seeker", TWO_KM)
    wanted = request(db, seeker)

    proposed = client.post("/api/v1/matches", json={"offer_id": offer_id, "request_id": wanted.id}, headers=headers)
    assert proposed.status_code == 201, proposed.text
    match = proposed.json()
    assert match["my_side"] == "offer" and match["status"] == "proposed"
    assert db.get(Match, match["id"]).brokered_by_account_id == linker.id
    listed = client.get("/api/v1/matches", headers=headers).json()
    assert [m["id"] for m in listed] == [match["id"]]

    citizen_headers = api_token(client, seeker.account)
    accepted = client.post(f"/api/v1/matches/{match['id']}/accept", json={"version": match["version"]}, headers=citizen_headers)
    assert accepted.json()["status"] == "accepted"
    sign_in(other_client, seeker.account)  # the other person's match page names the linker who arranged it
    assert f"{linker.name}, a community linker" in other_client.get(f"/matches/{match['id']}").text
    # The seeker did not agree to share contact: the broker sees both, and that is audited.
    contacts = client.post(f"/api/v1/linker/matches/{match['id']}/contacts", headers=headers)
    assert contacts.status_code == 200, contacts.text
    assert {c["side"] for c in contacts.json()} == {"offer", "request"}
    revealed = db.execute(select(AuditEvent).where(AuditEvent.action == AuditAction.contact_revealed)).scalars().all()
    assert {e.subject_person_id for e in revealed} == {person.id, seeker.person.id}

    version = accepted.json()["version"]
    started = client.post(f"/api/v1/matches/{match['id']}/start", json={"version": version, "on_behalf_of": "offer"}, headers=headers)
    assert started.status_code == 200, started.text
    wrong_side = client.post(
        f"/api/v1/matches/{match['id']}/complete", json={"version": started.json()["version"], "minutes_given": 90, "on_behalf_of": "request"},
        headers=headers,
    )  # fmt: skip
    assert wrong_side.status_code == 422
    done = client.post(
        f"/api/v1/matches/{match['id']}/complete", json={"version": started.json()["version"], "minutes_given": 90, "on_behalf_of": "offer"},
        headers=headers,
    )  # fmt: skip
    assert done.status_code == 200 and done.json()["status"] == "completed"


def test_a_linker_answers_for_someone_and_another_linker_cannot_see_the_match(client, db, settings, places, linker, second_linker):
    person = assisted(db, settings, linker, "Rita Request")
    from app.core.validation import parse
    from app.registry import service as registry
    from app.registry.service import REQUEST

    wanted = registry.create_item(db, kind=REQUEST, person=person, data=parse(REQUEST.create_model, {
        "title": "Help with my garden", "skills": ["gardening"], "mode": "in_person", "max_distance_km": 3,
        "availability": ["tue-am"], "urgency": "normal"}))  # fmt: skip
    db.commit()
    giver = citizen(db, settings, "Gail Giver", TWO_KM)
    garden = offer(db, giver)
    asked = client.post("/api/v1/matches", json={"offer_id": garden.id, "request_id": wanted.id}, headers=api_token(client, giver.account))
    match = asked.json()
    other = api_token(client, second_linker)
    assert client.get(f"/api/v1/matches/{match['id']}", headers=other).status_code == 404
    headers = api_token(client, linker)
    answered = client.post(f"/api/v1/matches/{match['id']}/accept", json={"version": match["version"], "on_behalf_of": "request"}, headers=headers)
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "accepted" and answered.json()["my_side"] == "request"
    assert db.get(Match, match["id"]).brokered_by_account_id == linker.id


def test_claiming_an_account_with_a_one_time_code(client, db, settings, places, linker):
    person = assisted(db, settings, linker, "Cathy Claim")
    headers = api_token(client, linker)
    code = client.post(f"/api/v1/linker/people/{person.id}/claim-code", json={}, headers=headers).json()["code"]
    from tests.conftest import PASSWORD, post_form

    wrong = post_form(client, "/claim", {"code": "AAAA-BBBB-CCCC", "email": "cathy@example.org", "password": PASSWORD, "password_confirm": PASSWORD}, token_from="/claim")
    assert wrong.status_code == 422
    claimed = post_form(client, "/claim", {"code": code.lower(), "email": "cathy@example.org", "password": PASSWORD, "password_confirm": PASSWORD}, token_from="/claim")
    assert claimed.status_code == 303, claimed.text
    db.expire_all()
    person = db.get(Person, person.id)
    assert person.account_id is not None
    page = client.get("/account")
    assert "Cathy" in page.text and "Lee Linker" in page.text  # who recorded their consent
    client.cookies.clear()
    reused = post_form(client, "/claim", {"code": code, "email": "cathy2@example.org", "password": PASSWORD, "password_confirm": PASSWORD}, token_from="/claim")
    assert reused.status_code == 422
    records = db.execute(select(ConsentRecord).where(ConsentRecord.person_id == person.id)).scalars().all()
    assert records and all(r.recorded_by_account_id == linker.id for r in records)


def test_an_unanswered_proposal_expires_and_frees_the_pair(db, settings, places, linker):
    from datetime import timedelta as td

    from app.core.db import utcnow
    from app.matching import service as matching
    from app.matching.models import MatchSide

    giver = citizen(db, settings, "Gail Giver")
    seeker = citizen(db, settings, "Sid Seeker", TWO_KM)
    garden, wanted = offer(db, giver), request(db, seeker)
    match = matching.propose_match(db, settings, offer_id=garden.id, request_id=wanted.id, side=MatchSide.offer)
    db.commit()
    assert matching.expire_unanswered(db, settings, now=utcnow()) == 0
    assert matching.expire_unanswered(db, settings, now=utcnow() + td(days=settings.match_answer_days, minutes=1)) == 1
    db.commit()
    db.refresh(match)
    assert match.status is MatchStatus.cancelled and match.cancel_reason == "expired"


def test_after_a_handover_the_new_linker_can_put_the_two_in_touch(client, db, settings, places, linker, second_linker):
    person = assisted(db, settings, linker, consents=consents(share_contact=False))
    headers = api_token(client, linker)
    created = client.post(f"/api/v1/linker/people/{person.id}/offers", headers=headers,
                          json=OFFER_BODY | {"skills": ["gardening"], "max_distance_km": 5, "availability": ["tue-am", "sat-pm"]})  # fmt: skip
    seeker = citizen(db, settings, "Sid Seeker", TWO_KM)
    wanted = request(db, seeker)
    match = client.post("/api/v1/matches", json={"offer_id": created.json()["id"], "request_id": wanted.id}, headers=headers).json()
    client.post(f"/api/v1/matches/{match['id']}/accept", json={"version": match["version"]}, headers=api_token(client, seeker.account))
    # The match API never carries contact for a linker: only the audited contacts route does.
    assert client.get(f"/api/v1/matches/{match['id']}", headers=headers).json()["contact"] is None
    assert client.post(f"/api/v1/linker/matches/{match['id']}/contacts", headers=headers).status_code == 200

    moved = client.post(f"/api/v1/linker/people/{person.id}/handover", json={"to_account_id": second_linker.id, "note": "Over to you"}, headers=headers)
    assert moved.status_code == 200, moved.text
    theirs = api_token(client, second_linker)
    taken = client.post(f"/api/v1/linker/matches/{match['id']}/contacts", headers=theirs)
    assert taken.status_code == 200, taken.text
    assert db.get(Match, match["id"]).brokered_by_account_id == second_linker.id
    assert client.post(f"/api/v1/linker/matches/{match['id']}/contacts", headers=headers).status_code == 404, "no longer theirs"


def test_a_note_about_a_match_outlives_the_match(client, db, settings, places, linker):
    from sqlalchemy import delete

    from app.linkers import service
    from app.linkers.models import CaseNote
    from app.matching.models import Match

    person = assisted(db, settings, linker, "Rita Request")
    wanted = registry_request_for(db, person)
    giver = citizen(db, settings, "Gail Giver", TWO_KM)
    garden = offer(db, giver)
    asked = client.post("/api/v1/matches", json={"offer_id": garden.id, "request_id": wanted.id}, headers=api_token(client, giver.account))
    note = service.add_note(db, person_id=person.id, author_id=linker.id, body="Rang about the garden", match_id=asked.json()["id"])
    db.commit()
    # A match is never deleted by the service; if one ever goes (by hand), the note stays.
    db.execute(delete(Match).where(Match.id == asked.json()["id"]))
    db.commit()
    db.expire_all()
    kept = db.get(CaseNote, note.id)
    assert kept is not None and kept.match_id is None and kept.body == "Rang about the garden"


def registry_request_for(db, person):
    from app.core.validation import parse
    from app.registry import service as registry
    from app.registry.service import REQUEST

    made = registry.create_item(db, kind=REQUEST, person=person, data=parse(REQUEST.create_model, {
        "title": "Help with my garden", "skills": ["gardening"], "mode": "in_person", "max_distance_km": 3,
        "availability": ["tue-am"], "urgency": "normal"}))  # fmt: skip
    db.commit()
    return made
