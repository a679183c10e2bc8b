"""Defects found by reading and by a new user, fixed with the seams."""

from __future__ import annotations

import html

from sqlalchemy import func, select

from app.core import changes
from app.core.validation import parse
from app.registry import service as registry
from app.registry.models import Offer, Person, Skill
from tests.conftest import post_form, sign_in
from tests.registry.conftest import OFFER_BODY, REQUEST_BODY


def person_of(db, account) -> Person:
    return registry.person_for_account(db, account=account)


def test_items_follow_their_owner_to_a_new_postcode(client, db, resident):
    person = person_of(db, resident)
    offer = registry.create_item(db, kind=registry.OFFER, person=person, data=parse(registry.OFFER.create_model, OFFER_BODY))
    elsewhere = registry.create_item(
        db, kind=registry.REQUEST, person=person,
        data=parse(registry.REQUEST.create_model, REQUEST_BODY | {"postcode": "AB10 1BR"}),
    )
    db.commit()
    stamp = changes.current(db, registry.MATCHING_STAMP)
    sign_in(client, resident)
    moved = post_form(
        client, "/profile", {"name": "Rhian Evans", "preferred_contact": "email", "postcode": "AB10 1DU"}, token_from="/profile"
    )
    assert moved.status_code == 303
    db.expire_all()
    offer, elsewhere = db.get(Offer, offer.id), db.get(registry.REQUEST.model, elsewhere.id)
    new_place = db.get(Person, person.id)
    assert offer.postcode == "AB10 1DU" and (offer.latitude, offer.longitude) == (new_place.latitude, new_place.longitude)
    assert elsewhere.postcode == "AB10 1BR", "an item placed somewhere else on purpose stays there"
    assert changes.current(db, registry.MATCHING_STAMP) != stamp, "matching must see the move"


def test_the_distance_change_link_leads_to_the_postcode(client, db, resident):
    offer = registry.create_item(db, kind=registry.OFFER, person=person_of(db, resident), data=parse(registry.OFFER.create_model, OFFER_BODY))
    db.commit()
    sign_in(client, resident)
    check = client.get(f"/offers/{offer.id}/check").text
    assert f'/offers/{offer.id}/steps/travel?change=1' in check
    travel = client.get(f"/offers/{offer.id}/steps/travel?change=1").text
    assert 'name="postcode"' in travel and 'value="AB10 1AB"' in travel
    changed = post_form(
        client, f"/offers/{offer.id}/steps/travel",
        {"mode": "in_person", "max_distance_km": "3", "postcode": "ab10 1bR", "capacity": "2", "change": "1"},
        token_from="/my",
    )
    assert changed.status_code == 303
    db.refresh(offer)
    assert offer.postcode == "AB10 1BR" and offer.max_distance_km == 3
    unknown = post_form(
        client, f"/offers/{offer.id}/steps/travel",
        {"mode": "in_person", "max_distance_km": "3", "postcode": "ZZ99 9ZZ", "capacity": "2"}, token_from="/my",
    )
    assert unknown.status_code == 422 and "We cannot find the postcode ZZ99 9ZZ" in unknown.text


def test_a_refused_status_change_keeps_the_consent_notice_and_the_suggestions(client, db, settings, resident):
    from app.main import build_plugins
    from app.privacy.models import ConsentPurpose

    person = person_of(db, resident)
    offer = registry.create_item(db, kind=registry.OFFER, person=person, data=parse(registry.OFFER.create_model, OFFER_BODY))
    registry.set_person_consent(
        db, settings, build_plugins(), person=person, purpose=ConsentPurpose.matching, given=False, account=resident
    )
    db.commit()
    sign_in(client, resident)
    page = client.get(f"/offers/{offer.id}")
    assert "We are not suggesting this to anyone" in page.text
    assert f"/offers/{offer.id}/suggestions" in page.text
    refused = post_form(client, f"/offers/{offer.id}/status", {"action": "reopen"}, token_from="/my")
    assert refused.status_code == 422
    # The page after a refusal is the same page with the error, not a poorer one.
    assert "We are not suggesting this to anyone" in refused.text
    assert f"/offers/{offer.id}/suggestions" in refused.text
    assert "It is active, so it cannot be changed that way" in html.unescape(refused.text)


def test_two_skills_cannot_share_a_name(client, db, admin):
    sign_in(client, admin)
    existing = db.execute(select(Skill).where(Skill.code == "gardening")).scalar_one()
    for typed in (existing.name, existing.name.upper(), f"  {existing.name.lower()}  "):
        refused = post_form(client, "/admin/skills", {"name": typed, "category": "home_garden"}, token_from="/admin/skills")
        assert refused.status_code == 422, typed
        assert f"There is already a skill called {existing.name}" in html.unescape(refused.text)
    other = db.execute(select(Skill).where(Skill.code != "gardening").order_by(Skill.id)).scalars().first()
    renamed = post_form(client, f"/admin/skills/{other.id}", {"name": existing.name.lower(), "category": "home_garden", "active": "yes"}, token_from="/admin/skills")
    assert renamed.status_code == 422
    assert db.execute(select(func.count()).select_from(Skill).where(func.lower(Skill.name) == existing.name.lower())).scalar_one() == 1


def test_a_long_paste_gets_a_field_error_and_keeps_the_text(client, db, resident):
    sign_in(client, resident)
    pasted = "Happy to help with the garden. " * 650  # about 20,000 characters
    response = post_form(client, "/offers/new", {"title": "Gardening", "description": pasted}, token_from="/offers/new")
    assert response.status_code == 422
    assert "Use 2000 characters or fewer (you used" in response.text
    assert 'href="#description"' in response.text
    assert pasted.strip() in html.unescape(response.text), "what was typed is kept"
    assert db.execute(select(func.count()).select_from(Offer)).scalar_one() == 0
    long_title = post_form(client, "/offers/new", {"title": "x" * 20_000}, token_from="/offers/new")
    assert long_title.status_code == 422 and "Use 120 characters or fewer (you used 20000)" in long_title.text
