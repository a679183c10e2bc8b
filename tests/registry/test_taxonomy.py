"""The skills taxonomy: seeded by migration 0003, found by the words people actually type."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, select
from sqlmodel import Session

from app.core.db import make_engine
from app.migrations_support import alembic_config, upgrade_to_head
from app.registry.models import Skill, SkillCategory
from app.registry.taxonomy import search_skills, search_skills_with_categories, skills_by_codes

DATA_FILE = Path(__file__).resolve().parents[2] / "migrations" / "data" / "skills_v1.json"


def codes(skills) -> list[str]:
    return [skill.code for skill in skills]


# --- the seeded data -----------------------------------------------------------------------------


def test_the_migration_seeds_about_80_skills_in_about_12_categories(db):
    categories = db.execute(select(SkillCategory).order_by(SkillCategory.position)).scalars().all()
    skills = db.execute(select(Skill)).scalars().all()
    assert 10 <= len(categories) <= 14
    assert 70 <= len(skills) <= 90
    assert len({s.code for s in skills}) == len(skills)
    assert len({c.code for c in categories}) == len(categories)
    assert [c.position for c in categories] == list(range(1, len(categories) + 1))
    for skill in skills:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", skill.code), skill.code
        assert skill.active and skill.name.strip()
        synonyms = skill.synonym_list
        assert 3 <= len(synonyms) <= 8, skill.code
        assert all(s == s.lower() and s.strip() == s and s for s in synonyms), skill.code
        assert len(set(synonyms)) == len(synonyms), skill.code


def test_the_database_holds_what_the_file_says_in_file_order(db):
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))["categories"]
    rows = search_skills_with_categories(db, "")
    expected = [(c["code"], s["code"], s["name"], "|".join(s["synonyms"])) for c in data for s in c["skills"]]
    assert [(c.code, s.code, s.name, s.synonyms) for s, c in rows] == expected
    for category in data:
        positions = [s.position for s, c in rows if c.code == category["code"]]
        assert positions == list(range(1, len(category["skills"]) + 1))


def test_the_file_fits_the_columns():
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))["categories"]
    for category in data:
        assert len(category["code"]) <= 40 and len(category["name"]) <= 80
        for skill in category["skills"]:
            assert len(skill["code"]) <= 60 and len(skill["name"]) <= 80
            assert len("|".join(skill["synonyms"])) <= 1000
            assert not any("|" in s for s in skill["synonyms"])


def test_the_taxonomy_covers_what_the_papers_and_the_issue_ask_for(db):
    every = {s.code for s in search_skills(db, "")}
    assert {
        "befriending", "gardening", "diy_repairs", "it_help", "cooking", "lifts", "accompanying",
        "shopping", "music", "sports_coaching", "arts_crafts", "form_filling", "homework_help",
        "dog_walking", "pet_sitting", "events", "recycling", "litter_picking",
        "language_welsh", "language_polish", "language_urdu", "language_punjabi", "language_arabic",
        "language_somali", "language_romanian", "language_bsl",
    } <= every


# --- search --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("computer", "it_help"),
        ("Computer", "it_help"),
        ("  LAPTOP ", "it_help"),
        ("email", "it_help"),
        ("garden", "gardening"),
        ("Polish", "language_polish"),
        ("polski", "language_polish"),
        ("cymraeg", "language_welsh"),
        ("sign language", "language_bsl"),
        ("lonely", "befriending"),
        ("listening ear", "befriending"),
        ("lift", "lifts"),
        ("groceries", "shopping"),
        ("forms", "form_filling"),
        ("homework", "homework_help"),
        ("dog", "dog_walking"),
        ("guitar", "music"),
        ("football", "sports_coaching"),
        ("litter", "litter_picking"),
        ("pets and animals", "pet_sitting"),  # the category's name
        ("languages", "language_somali"),  # the category's name
    ],
)
def test_search_finds_skills_by_name_synonym_or_category(db, query, expected):
    assert expected in codes(search_skills(db, query))


def test_computer_finds_it_help_first_of_all(db):
    found = codes(search_skills(db, "computer"))
    assert found[0] == "it_help"


def test_polish_finds_the_polish_language_skill_in_its_category(db):
    found = search_skills_with_categories(db, "Polish")
    assert any(skill.code == "language_polish" and category.code == "languages" for skill, category in found)


@pytest.mark.parametrize("query", ["xyzzyplugh", "qwertyuiop", "<script>alert(1)</script>", "%", "_", "' OR 1=1 --", "a" * 5000])
def test_nonsense_finds_nothing(db, query):
    assert search_skills(db, query) == []


@pytest.mark.parametrize("query", ["", "   ", None])
def test_an_empty_query_returns_every_active_skill(db, query):
    every = search_skills(db, query)
    total = db.execute(select(func.count()).select_from(Skill).where(Skill.active.is_(True))).scalar_one()
    assert len(every) == total


def test_results_are_ordered_by_category_then_skill_position(db):
    rows = search_skills_with_categories(db, "")
    keys = [(category.position, skill.position) for skill, category in rows]
    assert keys == sorted(keys)
    garden = search_skills_with_categories(db, "garden")
    assert len(garden) >= 2
    assert [(c.position, s.position) for s, c in garden] == sorted((c.position, s.position) for s, c in garden)


def test_a_limit_cuts_the_list(db):
    assert len(search_skills(db, "", limit=5)) == 5
    assert codes(search_skills(db, "", limit=3)) == codes(search_skills(db, ""))[:3]


def test_retired_skills_are_not_offered(db):
    gardening = skills_by_codes(db, ["gardening"])["gardening"]
    gardening.active = False
    db.flush()
    assert "gardening" not in codes(search_skills(db, "garden"))
    assert "gardening" not in codes(search_skills(db, ""))
    assert skills_by_codes(db, ["gardening"]) == {}
    assert set(skills_by_codes(db, ["gardening"], include_inactive=True)) == {"gardening"}
    db.rollback()


def test_an_admin_edit_to_synonyms_is_searchable_at_once(db):
    music = skills_by_codes(db, ["music"])["music"]
    music.synonyms += "|theremin"
    db.flush()
    assert codes(search_skills(db, "theremin")) == ["music"]
    db.rollback()


# --- looking up by code --------------------------------------------------------------------------


def test_skills_by_codes_returns_known_skills_and_leaves_out_unknown_ones(db):
    found = skills_by_codes(db, ["it_help", "gardening", "no_such_skill", "it_help", ""])
    assert set(found) == {"it_help", "gardening"}
    assert found["it_help"].name == "IT and computer help"
    assert skills_by_codes(db, []) == {}
    assert skills_by_codes(db, iter(["cooking"])).keys() == {"cooking"}


# --- the migration itself ------------------------------------------------------------------------


def test_the_seed_migration_goes_down_and_up_again_and_new_rows_get_fresh_ids(databases):
    url = databases.new("skills")
    upgrade_to_head(url)
    config = alembic_config(url)
    engine = make_engine(url)
    try:
        with Session(engine) as db:
            seeded = len(search_skills(db, ""))
        assert 70 <= seeded <= 90

        command.downgrade(config, "0002")
        with Session(engine) as db:
            assert db.execute(select(func.count()).select_from(Skill)).scalar_one() == 0
            assert db.execute(select(func.count()).select_from(SkillCategory)).scalar_one() == 0

        command.upgrade(config, "head")
        with Session(engine) as db:
            assert len(search_skills(db, "")) == seeded
            # An admin's new category and skill get ids after the seeded ones (PostgreSQL's
            # sequences were moved on past the explicit ids).
            category = SkillCategory(code="admin_added", name="Added by an admin", position=99)
            db.add(category)
            db.flush()
            skill = Skill(code="beekeeping", name="Beekeeping", category_id=category.id, synonyms="bees|honey|hives")
            db.add(skill)
            db.commit()
            assert category.id > 13 and skill.id > seeded
            assert codes(search_skills(db, "honey")) == ["beekeeping"]
    finally:
        engine.dispose()
