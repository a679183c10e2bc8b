"""The typed edges: one set of models for forms, API bodies and the OpenAPI document."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from app.core.errors import InvalidInput
from app.core.validation import parse
from app.registry.models import HelpRequestCreate, OfferCreate, OfferUpdate, Offer, PersonUpdate, SkillCreate
from tests.conftest import api_token
from tests.registry.conftest import OFFER_BODY


def schema(client, name: str) -> dict:
    return client.get("/api/v1/openapi.json").json()["components"]["schemas"][name]


def test_the_openapi_document_states_the_real_rules(client):
    offer = schema(client, "OfferCreate")
    assert offer["properties"]["title"]["maxLength"] == 120
    assert offer["properties"]["description"]["maxLength"] == 2000
    assert offer["properties"]["skills"]["maxItems"] == 10
    assert offer["properties"]["capacity"]["maximum"] == 50
    assert offer["additionalProperties"] is False
    modes = schema(client, "ItemMode")["enum"]
    assert modes == ["in_person", "remote", "either"]
    assert schema(client, "Urgency")["enum"] == ["low", "normal", "high"]
    slots = offer["properties"]["availability"]["items"]["enum"]
    assert len(slots) == 21 and slots[0] == "mon-am" and slots[-1] == "sun-eve"


def test_api_responses_are_the_public_models(client):
    document = client.get("/api/v1/openapi.json").json()
    read = document["paths"]["/api/v1/offers/{item_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert read == {"$ref": "#/components/schemas/OfferPublic"}
    created = document["paths"]["/api/v1/help-requests"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/HelpRequestCreate"}


@pytest.mark.parametrize(
    ("model", "data", "field", "message"),
    [
        (OfferCreate, OFFER_BODY | {"title": "x" * 121}, "title", "Use 120 characters or fewer (you used 121)"),
        (OfferCreate, OFFER_BODY | {"title": "   "}, "title", "Enter a few words about it"),
        (OfferCreate, OFFER_BODY | {"mode": "by car"}, "mode", "Choose in person, by phone or online, or either"),
        (OfferCreate, OFFER_BODY | {"capacity": 0}, "capacity", "Enter how many people you could help at once, from 1 to 50"),
        (OfferCreate, OFFER_BODY | {"availability": ["noon"]}, "availability", "'noon' is not a time of the week we know, like mon-am or sat-eve"),
        (OfferCreate, OFFER_BODY | {"max_distance_km": "far"}, "max_distance_km", "Enter a distance in kilometres, like 2 or 2.5"),
        (OfferCreate, OFFER_BODY | {"skills": []}, "skills", "Choose at least one thing from the list"),
        (OfferCreate, OFFER_BODY | {"title": "bell\x07"}, "title", "Remove the unusual invisible characters and try again"),
        (HelpRequestCreate, {**OFFER_BODY, "capacity": None, "urgency": "tomorrow"}, "urgency", "Choose how soon you need help: not urgent, normal or urgent"),
        (OfferUpdate, {"title": None}, "title", "This field cannot be empty"),
        (OfferUpdate, {"colour": "blue"}, "colour", "There is no field called 'colour'"),
        (PersonUpdate, {"name": "Rhian", "preferred_contact": "pigeon", "postcode": "AB10 1AB"}, "preferred_contact", "Choose how you would like us to contact you"),
        (PersonUpdate, {"name": "Rhian", "preferred_contact": "email", "postcode": "nowhere"}, "postcode", "Enter a real postcode, like AB10 1AB"),
        (SkillCreate, {"name": "", "category": "garden"}, "name", "Enter the skill's name"),
    ],
)
def test_each_limit_has_a_plain_english_message(model, data, field, message):
    with pytest.raises(InvalidInput) as refused:
        parse(model, {k: v for k, v in data.items() if not (k == "capacity" and v is None)})
    assert refused.value.for_field(field) == message


def test_a_partial_update_knows_which_fields_were_given():
    data = parse(OfferUpdate, {"title": "  Reading   together ", "availability": "tue-eve"})
    assert data.model_fields_set == {"title", "availability"}
    assert data.title == "Reading together" and data.availability == ["tue-eve"]


def test_the_api_and_the_model_give_the_same_message(client, resident):
    headers = api_token(client, resident)
    refused = client.post("/api/v1/offers", json=OFFER_BODY | {"title": "x" * 121}, headers=headers)
    assert refused.status_code == 422
    assert refused.json() == {"errors": [{"field": "title", "message": "Use 120 characters or fewer (you used 121)"}]}


def test_the_item_lists_read_skills_in_one_query_whatever_the_number_of_items(client, db, engine, resident):
    headers = api_token(client, resident)
    for number in range(6):
        assert client.post("/api/v1/offers", json=OFFER_BODY | {"title": f"Offer {number}"}, headers=headers).status_code == 201
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if "skill" in statement.lower() and "select" in statement.lower():
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        listed = client.get("/api/v1/offers", headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert listed.status_code == 200 and len(listed.json()) == 6
    assert all(offer["skills"] == ["gardening"] for offer in listed.json())
    assert len(statements) == 1, statements
    assert db.execute(select(func.count()).select_from(Offer)).scalar_one() == 6
