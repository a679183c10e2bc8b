"""The capabilities conversation: the citizen's own offer journey, mounted for a person on a
linker's caseload, opens with prompts and ideas from the skills taxonomy; the citizen's does not."""

from __future__ import annotations

from sqlalchemy import select

from app.registry.models import Offer, Skill, SkillCategory
from tests.conftest import post_form, sign_in
from tests.linkers.conftest import assisted
from tests.matching.conftest import citizen

PROMPT = "What do people thank you for?"


def test_the_mounted_offer_journey_opens_with_prompts_and_ideas(client, other_client, db, settings, places, linker):
    person = assisted(db, settings, linker)
    sign_in(client, linker)
    first = client.get(f"/linkers/people/{person.id}/offers/new")
    assert first.status_code == 200
    assert PROMPT in first.text and "What did you do at work or at home that you enjoyed?" in first.text
    category, skill = db.execute(
        select(SkillCategory.name, Skill.name).join(Skill, Skill.category_id == SkillCategory.id)
        .where(Skill.active.is_(True)).order_by(SkillCategory.position, SkillCategory.id, Skill.position, Skill.id)
    ).first()  # fmt: skip
    assert "Ideas of what people give" in first.text and skill in first.text and category in first.text

    # The same journey, not a copy: the answer is saved as the person's offer, not the linker's.
    started = post_form(client, f"/linkers/people/{person.id}/offers/new", {"title": "Knitting"},
                        token_from=f"/linkers/people/{person.id}/offers/new")  # fmt: skip
    assert started.status_code == 303
    offer = db.execute(select(Offer).where(Offer.title == "Knitting")).scalar_one()
    assert offer.person_id == person.id
    assert started.headers["location"].startswith(f"/linkers/people/{person.id}/offers/{offer.id}/")
    # The pages speak of the person, not of "you" (the linker has no offers of their own).
    step = client.get(started.headers["location"])
    assert f"Back to {person.name}" in step.text and "Back to your offers and requests" not in step.text
    assert f'href="/linkers/people/{person.id}"' in step.text

    # A request has no "what can you give" prompts; nor does a citizen's own journey.
    assert PROMPT not in client.get(f"/linkers/people/{person.id}/requests/new").text
    owner = citizen(db, settings, "Cath Citizen")
    sign_in(other_client, owner.account)
    own = other_client.get("/offers/new")
    assert own.status_code == 200 and "Everyone has something to give" in own.text and PROMPT not in own.text
