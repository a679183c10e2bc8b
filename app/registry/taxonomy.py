"""The skills taxonomy: find skills by what people type ("computer" finds IT help).

About 80 skills in a dozen categories, so one query and a filter in Python is plenty.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.registry.models import Skill, SkillCategory

__all__ = ["normalise_query", "search_skills", "search_skills_with_categories", "skill_matches", "skills_by_codes"]

MAX_QUERY_LENGTH = 100


def normalise_query(query: str | None) -> str:
    """Lower case, spaces collapsed, overlong input cut short."""
    if not query:
        return ""
    return " ".join(query[:MAX_QUERY_LENGTH].casefold().split())


def skill_matches(skill: Skill, category: SkillCategory, needle: str) -> bool:
    """Does `needle` (already normalised) appear in the skill's name, a synonym or its category?"""
    if not needle:
        return True
    if needle in " ".join(skill.name.casefold().split()) or needle in " ".join(category.name.casefold().split()):
        return True
    return any(needle in synonym for synonym in skill.synonyms.casefold().split("|"))


def search_skills_with_categories(
    db: Session, query: str | None = "", *, limit: int | None = None
) -> list[tuple[Skill, SkillCategory]]:
    """Active skills whose name, synonyms or category name contain `query` (case-insensitive),
    each with its category, ordered by category position then skill position.
    An empty query returns every active skill."""
    needle = normalise_query(query)
    rows = db.execute(
        select(Skill, SkillCategory)
        .join(SkillCategory, Skill.category_id == SkillCategory.id)
        .where(Skill.active.is_(True))
        .order_by(SkillCategory.position, SkillCategory.id, Skill.position, Skill.id)
    ).all()
    found = [(skill, category) for skill, category in rows if skill_matches(skill, category, needle)]
    return found[:limit] if limit is not None else found


def search_skills(db: Session, query: str | None = "", *, limit: int | None = None) -> list[Skill]:
    """Like `search_skills_with_categories`, skills only."""
    return [skill for skill, _category in search_skills_with_categories(db, query, limit=limit)]


def skills_by_codes(db: Session, codes: Iterable[str], *, include_inactive: bool = False) -> dict[str, Skill]:
    """The skills with these codes, keyed by code. Unknown codes are simply absent, so callers
    can refuse them: `unknown = set(codes) - found.keys()`. Retired (inactive) skills are left out
    unless `include_inactive`."""
    wanted = {code for code in codes if isinstance(code, str) and code}
    if not wanted:
        return {}
    statement = select(Skill).where(Skill.code.in_(sorted(wanted)))
    if not include_inactive:
        statement = statement.where(Skill.active.is_(True))
    return {skill.code: skill for skill in db.execute(statement).scalars()}
