"""The register's JSON API: the contract integrations rely on, ownership and bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.accounts.models import Account
from app.privacy.models import ConsentRecord
from app.registry.models import Offer, Person
from tests.conftest import PASSWORD, api_token
from tests.registry.conftest import HOME, OFFER_BODY, REQUEST_BODY


def register_body(**overrides):
    body = {
        "email": "api.person@example.org",
        "password": PASSWORD,
        "name": "Api Person",
        "postcode": "ab101ab",
        "consents": {"profile": True, "matching": True, "share_contact": False},
    }
    body.update(overrides)
    return body


def count(db, model) -> int:
    return db.execute(select(func.count()).select_from(model)).scalar_one()


def test_register_contract(client, db, places):
    response = client.post("/api/v1/auth/register", json=register_body())
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "email", "name", "role"}
    assert body["role"] == "citizen" and body["email"] == "api.person@example.org"
    person = db.execute(select(Person).where(Person.account_id == body["id"])).scalar_one()
    assert person.postcode == HOME and person.ward_code == "S13002483"
    records = db.execute(select(ConsentRecord).where(ConsentRecord.person_id == person.id)).scalars().all()
    assert {r.purpose.value for r in records} == {"profile", "matching"}
    assert all(r.method.value == "online" and r.notice_version == "1.1" and len(r.notice_hash) == 64 for r in records)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"postcode": "not a postcode"}, "postcode"),
        ({"postcode": "ZZ9 9ZZ"}, "postcode"),
        ({"consents": {"profile": False, "matching": True}}, "consent_profile"),
        ({"password": "password1234"}, "password"),
        ({"email": "nope"}, "email"),
        ({"name": ""}, "name"),
    ],
)
def test_register_refuses_bad_input_and_writes_nothing(client, db, places, overrides, field):
    before = (count(db, Account), count(db, Person), count(db, ConsentRecord))
    response = client.post("/api/v1/auth/register", json=register_body(**overrides))
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json()["errors"]}
    assert (count(db, Account), count(db, Person), count(db, ConsentRecord)) == before


def test_register_refuses_unknown_fields(client, places):
    response = client.post("/api/v1/auth/register", json=register_body(role="admin"))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "role"


def test_skills_are_public_with_synonyms(client):
    skills = client.get("/api/v1/skills").json()
    assert 60 <= len(skills) <= 100
    it_help = next(s for s in skills if s["code"] == "it_help")
    assert set(it_help) == {"code", "name", "category", "synonyms"}
    assert "computer" in it_help["synonyms"]


def test_offer_lifecycle(client, db, resident):
    headers = api_token(client, resident)
    created = client.post("/api/v1/offers", json=OFFER_BODY, headers=headers)
    assert created.status_code == 201, created.text
    offer = created.json()
    assert offer["status"] == "active" and offer["capacity"] == 2
    assert offer["skills"] == ["gardening"] and offer["availability"] == ["tue-am", "sat-pm"]
    assert offer["postcode"] == HOME  # defaults to the person's

    listed = client.get("/api/v1/offers", headers=headers).json()
    assert [o["id"] for o in listed] == [offer["id"]]

    patched = client.patch(
        f"/api/v1/offers/{offer['id']}", json={"availability": ["wed-eve"], "status": "paused"}, headers=headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["availability"] == ["wed-eve"] and patched.json()["status"] == "paused"
    reopened = client.patch(f"/api/v1/offers/{offer['id']}", json={"status": "active"}, headers=headers)
    assert reopened.json()["status"] == "active"

    closed = client.delete(f"/api/v1/offers/{offer['id']}", headers=headers)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert db.get(Offer, offer["id"]) is not None  # closing keeps the record


def test_help_request_lifecycle(client, resident):
    headers = api_token(client, resident)
    created = client.post("/api/v1/help-requests", json=REQUEST_BODY, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["urgency"] == "high" and "capacity" not in body
    assert client.get(f"/api/v1/help-requests/{body['id']}", headers=headers).json()["title"] == REQUEST_BODY["title"]
    assert client.delete(f"/api/v1/help-requests/{body['id']}", headers=headers).json()["status"] == "closed"


def test_someone_elses_item_is_404_for_every_method(client, resident, neighbour):
    owner = api_token(client, resident)
    offer_id = client.post("/api/v1/offers", json=OFFER_BODY, headers=owner).json()["id"]
    other = api_token(client, neighbour)
    assert client.get(f"/api/v1/offers/{offer_id}", headers=other).status_code == 404
    assert client.patch(f"/api/v1/offers/{offer_id}", json={"title": "Mine now"}, headers=other).status_code == 404
    assert client.delete(f"/api/v1/offers/{offer_id}", headers=other).status_code == 404
    assert client.get("/api/v1/offers", headers=other).json() == []
    assert client.get(f"/api/v1/offers/{offer_id}", headers=owner).json()["title"] == OFFER_BODY["title"]


def test_other_roles_cannot_use_the_citizen_api(client, linker):
    headers = api_token(client, linker)
    assert client.get("/api/v1/offers", headers=headers).status_code == 403
    assert client.post("/api/v1/offers", json=OFFER_BODY, headers=headers).status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"skills": ["juggling_chainsaws"]}, "skills"),
        ({"skills": []}, "skills"),
        ({"availability": ["someday-am"]}, "availability"),
        ({"availability": []}, "availability"),
        ({"mode": "telepathy"}, "mode"),
        ({"max_distance_km": -1}, "max_distance_km"),
        ({"max_distance_km": 1e9}, "max_distance_km"),
        ({"capacity": 0}, "capacity"),
        ({"title": ""}, "title"),
        ({"title": "x" * 121}, "title"),
        ({"title": "nul\x00byte"}, "title"),
        ({"postcode": "SW1A 1AA"}, "postcode"),
        ({"expires_on": "2001-01-01"}, "expires_on"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_offer_bad_input_is_422_and_nothing_is_saved(client, db, resident, change, field):
    headers = api_token(client, resident)
    response = client.post("/api/v1/offers", json={**OFFER_BODY, **change}, headers=headers)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert field in {e["field"].split(".")[0] for e in errors}
    assert all(e["message"] for e in errors)
    assert count(db, Offer) == 0


def test_request_with_unknown_urgency_is_refused(client, resident):
    headers = api_token(client, resident)
    response = client.post("/api/v1/help-requests", json={**REQUEST_BODY, "urgency": "yesterday"}, headers=headers)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "urgency"


def test_patch_that_breaks_a_live_item_is_refused_whole(client, db, resident):
    headers = api_token(client, resident)
    offer_id = client.post("/api/v1/offers", json=OFFER_BODY, headers=headers).json()["id"]
    response = client.patch(f"/api/v1/offers/{offer_id}", json={"title": "New title", "skills": ["nope"]}, headers=headers)
    assert response.status_code == 422
    assert client.get(f"/api/v1/offers/{offer_id}", headers=headers).json()["title"] == OFFER_BODY["title"]


def test_welsh_emoji_and_rtl_text_round_trip(client, resident):
    headers = api_token(client, resident)
    title = "Sgwrs Gymraeg ☕ – محادثة <b>bold</b>"
    created = client.post("/api/v1/offers", json={**OFFER_BODY, "title": title}, headers=headers).json()
    assert client.get(f"/api/v1/offers/{created['id']}", headers=headers).json()["title"] == title


def test_consents_can_be_listed_and_changed(client, resident):
    headers = api_token(client, resident)
    consents = {c["purpose"]: c for c in client.get("/api/v1/me/consents", headers=headers).json()}
    # Current records only: share_contact was never asked about, so it has none.
    assert consents["matching"]["given"] is True and "share_contact" not in consents
    response = client.put("/api/v1/me/consents/matching", json={"given": False}, headers=headers)
    assert response.status_code == 200
    after = {c["purpose"]: c for c in response.json()}
    assert after["matching"]["given"] is False and after["matching"]["withdrawn_at"] is not None
    assert client.put("/api/v1/me/consents/share_contact", json={"given": True}, headers=headers).status_code == 200
    assert client.put("/api/v1/me/consents/marketing", json={"given": True}, headers=headers).status_code == 422
    assert client.put("/api/v1/me/consents/matching", json={"given": "maybe"}, headers=headers).status_code == 422
