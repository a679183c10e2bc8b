"""The portal pages through HTTP: registration with consent, the journeys, status changes, profile."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.accounts.models import Account
from app.core.validation import parse
from app.privacy.models import ConsentRecord
from app.registry.models import HelpRequest, ItemStatus, Offer, Person
from tests.conftest import PASSWORD, post_form, sign_in


def register_form(**overrides):
    data = {
        "name": "Dafydd ap Gwilym",
        "email": "dafydd@example.org",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "postcode": "ab10 1ab",
        "consent_profile": "yes",
        "consent_matching": "yes",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_register_page_has_unticked_consent_boxes(client):
    page = client.get("/register").text
    for purpose in ("profile", "matching", "share_contact"):
        box = re.search(rf'<input[^>]*id="consent_{purpose}"[^>]*>', page).group(0)
        assert "checked" not in box


def test_register_records_each_consent(client, db, places):
    response = post_form(client, "/register", register_form(), token_from="/register")
    assert response.status_code == 303 and response.headers["location"] == "/my"
    person = db.execute(select(Person).where(Person.email == "dafydd@example.org")).scalar_one()
    purposes = {r.purpose.value for r in db.execute(select(ConsentRecord).where(ConsentRecord.person_id == person.id)).scalars()}
    assert purposes == {"profile", "matching"}
    assert "Your offers and requests" in client.get("/my").text


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"consent_profile": None}, "consent_profile"), ({"postcode": "nowhere"}, "postcode"), ({"postcode": "SW1A 1AA"}, "postcode")],
)
def test_register_refusals_write_nothing(client, db, places, overrides, field):
    response = post_form(client, "/register", register_form(**overrides), token_from="/register")
    assert response.status_code == 422 and f'href="#{field}"' in response.text
    assert db.execute(select(func.count()).select_from(Account)).scalar_one() == 0
    assert db.execute(select(func.count()).select_from(Person)).scalar_one() == 0


def test_offer_journey_with_save_and_return(client, db, resident):
    sign_in(client, resident)
    start = post_form(client, "/offers/new", {"title": "Gardening and a chat", "description": "I love roses"}, token_from="/offers/new")
    assert start.status_code == 303
    offer = db.execute(select(Offer)).scalar_one()
    assert offer.status is ItemStatus.draft
    assert start.headers["location"] == f"/offers/{offer.id}/steps/skills"

    # Save and come back later: the answer is kept, the person lands on the dashboard.
    saved = post_form(client, f"/offers/{offer.id}/steps/skills", {"skills": ["gardening"], "action": "save"}, token_from="/my")
    assert saved.headers["location"] == "/my"
    assert "Gardening and a chat" in client.get("/my").text

    times = post_form(client, f"/offers/{offer.id}/steps/times", {"availability": ["tue-am", "tue-pm"]}, token_from="/my")
    assert times.headers["location"] == f"/offers/{offer.id}/steps/travel"
    travel = post_form(client, f"/offers/{offer.id}/steps/travel", {"mode": "in_person", "max_distance_km": "2", "capacity": "1"}, token_from="/my")
    assert travel.headers["location"] == f"/offers/{offer.id}/check"
    check = client.get(f"/offers/{offer.id}/check").text
    assert "Tuesday mornings and afternoons" in check and "Gardening" in check
    published = post_form(client, f"/offers/{offer.id}/status", {"action": "publish"}, token_from="/my")
    assert published.status_code == 303
    db.refresh(offer)
    assert offer.status is ItemStatus.active


def test_step_errors_are_shown_and_nothing_changes(client, db, resident):
    sign_in(client, resident)
    post_form(client, "/offers/new", {"title": "Fixing bikes"}, token_from="/offers/new")
    offer = db.execute(select(Offer)).scalar_one()
    for step, data, field in [
        ("skills", {"skills": ["not_a_skill"]}, "skills"),
        ("skills", {}, "skills"),
        ("times", {"availability": ["mon-night"]}, "availability"),
        ("travel", {"mode": "teleport", "max_distance_km": "2", "capacity": "1"}, "mode"),
        ("travel", {"mode": "in_person", "max_distance_km": "far", "capacity": "1"}, "max_distance_km"),
        ("travel", {"mode": "in_person", "max_distance_km": "2", "capacity": "0"}, "capacity"),
        ("about", {"title": ""}, "title"),
    ]:
        response = post_form(client, f"/offers/{offer.id}/steps/{step}", data, token_from="/my")
        assert response.status_code == 422, (step, data)
        assert f'href="#{field}"' in response.text and f'id="{field}"' in response.text
    db.refresh(offer)
    assert offer.title == "Fixing bikes" and offer.availability == 0


def test_skill_search_without_javascript_keeps_ticks(client, db, resident):
    sign_in(client, resident)
    post_form(client, "/offers/new", {"title": "Computers"}, token_from="/offers/new")
    offer = db.execute(select(Offer)).scalar_one()
    page = post_form(client, f"/offers/{offer.id}/steps/skills", {"q": "computer", "action": "search", "skills": ["gardening"]}, token_from="/my")
    assert page.status_code == 200
    assert 'value="it_help"' in page.text
    assert 'value="cooking"' not in page.text
    assert '<input type="hidden" name="skills" value="gardening">' in page.text


def test_skill_picker_fragment_for_htmx(client, resident):
    sign_in(client, resident)
    fragment = client.get("/skills/picker", params={"q": "laptop"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and fragment.headers["vary"] == "HX-Request"
    assert 'id="skill-options"' in fragment.text and "<html" not in fragment.text
    assert 'value="it_help"' in fragment.text


def test_request_journey(client, db, resident):
    sign_in(client, resident)
    post_form(client, "/requests/new", {"title": "A lift to the shops"}, token_from="/requests/new")
    request_item = db.execute(select(HelpRequest)).scalar_one()
    post_form(client, f"/requests/{request_item.id}/steps/skills", {"skills": ["lifts", "shopping"]}, token_from="/my")
    post_form(client, f"/requests/{request_item.id}/steps/times", {"availability": ["fri-am"]}, token_from="/my")
    post_form(client, f"/requests/{request_item.id}/steps/travel", {"mode": "in_person", "max_distance_km": "3", "urgency": "high"}, token_from="/my")
    post_form(client, f"/requests/{request_item.id}/status", {"action": "publish"}, token_from="/my")
    db.refresh(request_item)
    assert request_item.status is ItemStatus.active and request_item.urgency.value == "high"


def test_change_availability_from_the_item_page(client, db, resident):
    sign_in(client, resident)
    post_form(client, "/offers/new", {"title": "Dog walking"}, token_from="/offers/new")
    offer = db.execute(select(Offer)).scalar_one()
    post_form(client, f"/offers/{offer.id}/steps/skills", {"skills": ["dog_walking"]}, token_from="/my")
    post_form(client, f"/offers/{offer.id}/steps/times", {"availability": ["sat-am"]}, token_from="/my")
    post_form(client, f"/offers/{offer.id}/steps/travel", {"mode": "in_person", "max_distance_km": "1", "capacity": "1"}, token_from="/my")
    post_form(client, f"/offers/{offer.id}/status", {"action": "publish"}, token_from="/my")
    changed = post_form(client, f"/offers/{offer.id}/steps/times", {"availability": ["sun-pm"], "change": "1"}, token_from="/my")
    assert changed.headers["location"] == f"/offers/{offer.id}/check"
    assert "Sunday afternoons" in client.get(f"/offers/{offer.id}").text


def test_pause_reopen_close(client, db, resident):
    from app.registry import service as registry
    from tests.registry.conftest import OFFER_BODY

    offer = registry.create_item(db, kind=registry.OFFER, person=registry.person_for_account(db, account=resident), data=parse(registry.OFFER.create_model, dict(OFFER_BODY)))
    db.commit()
    sign_in(client, resident)
    for action, status in (("pause", "paused"), ("reopen", "active"), ("close", "closed"), ("reopen", "active")):
        assert post_form(client, f"/offers/{offer.id}/status", {"action": action}, token_from="/my").status_code == 303
        db.refresh(offer)
        assert offer.status.value == status
    refused = post_form(client, f"/offers/{offer.id}/status", {"action": "explode"}, token_from="/my")
    assert refused.status_code == 422


def test_another_persons_items_are_404(client, db, resident, neighbour):
    from app.registry import service as registry
    from tests.registry.conftest import OFFER_BODY

    offer = registry.create_item(db, kind=registry.OFFER, person=registry.person_for_account(db, account=resident), data=parse(registry.OFFER.create_model, dict(OFFER_BODY)))
    db.commit()
    sign_in(client, neighbour)
    for path in (f"/offers/{offer.id}", f"/offers/{offer.id}/check", f"/offers/{offer.id}/steps/times", f"/requests/{offer.id}"):
        assert client.get(path).status_code == 404, path
    assert post_form(client, f"/offers/{offer.id}/status", {"action": "close"}, token_from="/my").status_code == 404
    assert post_form(client, f"/offers/{offer.id}/steps/about", {"title": "Stolen"}, token_from="/my").status_code == 404
    db.refresh(offer)
    assert offer.status.value == "active" and offer.title == OFFER_BODY["title"]


@pytest.mark.parametrize("persona", ["linker", "staff", "admin"])
def test_portal_is_for_citizens(client, request, persona):
    sign_in(client, request.getfixturevalue(persona))
    assert client.get("/my").status_code == 403
    assert client.get("/offers/new").status_code == 403


def test_withdraw_consent_on_the_account_page(client, db, resident):
    sign_in(client, resident)
    page = client.get("/account").text
    assert "How we use your details" in page and "Agreed" in page
    response = post_form(client, "/account/consents/matching", {"given": "no"}, token_from="/account")
    assert response.status_code == 303
    assert "we are not looking for matches for you" in client.get("/my").text
    assert post_form(client, "/account/consents/marketing", {"given": "yes"}, token_from="/account").status_code == 404


def test_profile_update_and_errors(client, db, resident):
    sign_in(client, resident)
    ok = post_form(client, "/profile", {"name": "Rhian Evans", "phone": "07700 900982", "preferred_contact": "phone", "postcode": "AB10 1AF"}, token_from="/profile")
    assert ok.status_code == 303
    person = db.execute(select(Person).where(Person.account_id == resident.id)).scalar_one()
    db.refresh(person)
    assert person.preferred_contact.value == "phone" and person.postcode == "AB10 1AF"
    bad = post_form(client, "/profile", {"name": "Rhian", "phone": "", "preferred_contact": "phone", "postcode": "AB10 1AF"}, token_from="/profile")
    assert bad.status_code == 422 and 'href="#phone"' in bad.text


def test_privacy_notice_is_versioned(client):
    page = client.get("/privacy")
    assert page.status_code == 200 and "Version 1.0" in page.text
    assert client.get("/privacy/1.0").status_code == 200
    assert client.get("/privacy/9.9").status_code == 404


def test_nothing_goes_live_again_while_keep_my_details_is_withdrawn(client, db, settings, resident):
    """The reported bug: after withdrawing `profile`, "Reopen it" said "It is live again"."""
    from app.matching import service as matching
    from app.registry import service as registry
    from app.registry.models import ItemStatus
    from tests.registry.conftest import OFFER_BODY

    person = registry.person_for_account(db, account=resident)
    offer = registry.create_item(db, kind=registry.OFFER, person=person, data=parse(registry.OFFER.create_model, dict(OFFER_BODY)))
    db.commit()
    sign_in(client, resident)
    withdrawn = post_form(client, "/account/consents/profile", {"given": "no", "confirmed": "yes"}, token_from="/account")
    assert withdrawn.status_code == 303
    db.refresh(offer)
    assert offer.status is ItemStatus.paused

    refused = post_form(client, f"/offers/{offer.id}/status", {"action": "reopen"}, token_from="/my")
    assert refused.status_code == 422
    assert "You have asked us not to keep your details, so nothing of yours can be live." in refused.text
    assert '/account#privacy-choices"' in refused.text and 'href="#consent"' in refused.text and 'id="consent"' in refused.text
    db.refresh(offer)
    assert offer.status is ItemStatus.paused
    # Even an item left live by some other path is never matched without `profile`.
    offer.status = ItemStatus.active
    db.add(offer)
    db.commit()
    assert not registry.in_matching(db, kind=registry.OFFER, item_id=offer.id)
    assert matching.suggestions_for_offer(db, settings, offer_id=offer.id) == []

    assert post_form(client, "/account/consents/profile", {"given": "yes"}, token_from="/account").status_code == 303
    offer.status = ItemStatus.paused
    db.add(offer)
    db.commit()
    assert post_form(client, f"/offers/{offer.id}/status", {"action": "reopen"}, token_from="/my").status_code == 303
