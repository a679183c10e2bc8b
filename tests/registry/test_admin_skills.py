"""Administrators keep the skills taxonomy; nobody else may."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.registry.models import Skill
from tests.conftest import post_form, sign_in


def test_admin_adds_a_skill_that_search_then_finds(client, db, admin):
    sign_in(client, admin)
    assert client.get("/admin/skills").status_code == 200
    response = post_form(
        client, "/admin/skills", {"name": "Bee keeping", "synonyms": "bees, Honey , hives", "category": "environment"},
        token_from="/admin/skills",
    )
    assert response.status_code == 303
    skill = db.execute(select(Skill).where(Skill.code == "bee_keeping")).scalar_one()
    assert skill.synonym_list == ["bees", "honey", "hives"]
    assert any(s["code"] == "bee_keeping" for s in client.get("/api/v1/skills").json())
    client.cookies.clear()
    from app.registry import taxonomy

    assert [s.code for s in taxonomy.search_skills(db, "honey")] == ["bee_keeping"]


def test_admin_edits_synonyms_and_retires_a_skill(client, db, admin):
    sign_in(client, admin)
    skill = db.execute(select(Skill).where(Skill.code == "it_help")).scalar_one()
    response = post_form(
        client, f"/admin/skills/{skill.id}", {"name": "IT help", "synonyms": "computer, laptop, printer", "category": "digital"},
        token_from="/admin/skills",
    )
    assert response.status_code == 303
    db.refresh(skill)
    assert skill.synonym_list == ["computer", "laptop", "printer"] and skill.active is False
    assert all(s["code"] != "it_help" for s in client.get("/api/v1/skills").json())


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "", "category": "environment"}, "name"),
        ({"name": "Gardening", "category": "home_garden"}, "name"),
        ({"name": "Abseiling", "category": "nope"}, "category"),
    ],
)
def test_bad_skill_input_is_explained(client, db, admin, data, field):
    sign_in(client, admin)
    before = db.execute(select(Skill.id)).all()
    response = post_form(client, "/admin/skills", data, token_from="/admin/skills")
    assert response.status_code == 422 and f'href="#{field}"' in response.text
    assert db.execute(select(Skill.id)).all() == before


@pytest.mark.parametrize("persona", ["citizen", "linker", "staff"])
def test_only_admins_edit_skills(client, db, request, persona):
    sign_in(client, request.getfixturevalue(persona))
    assert client.get("/admin/skills").status_code == 403
    skill = db.execute(select(Skill).where(Skill.code == "gardening")).scalar_one()
    response = post_form(client, f"/admin/skills/{skill.id}", {"name": "Hacked", "category": "home_garden"}, token_from="/account")
    assert response.status_code == 403
    db.refresh(skill)
    assert skill.name != "Hacked"


def test_unknown_skill_is_404(client, admin):
    sign_in(client, admin)
    assert client.get("/admin/skills/999999").status_code == 404
