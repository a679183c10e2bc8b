"""seed the skills taxonomy (version 1)

Revision ID: 0003
Revises: 0002

The categories and skills come from migrations/data/skills_v1.json, in file order. This is data,
not schema: admins edit the taxonomy afterwards, and later changes to it get their own migration
(a new skills_vN.json or an edit), so this file and its JSON must not change once released.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DATA_FILE = Path(__file__).resolve().parents[1] / "data" / "skills_v1.json"

# Lightweight tables as they are at this revision (not the application's models, which may move on).
skill_category = sa.table(
    "skill_category",
    sa.column("id", sa.Integer),
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("position", sa.Integer),
)
skill = sa.table(
    "skill",
    sa.column("id", sa.Integer),
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("category_id", sa.Integer),
    sa.column("synonyms", sa.String),
    sa.column("active", sa.Boolean),
    sa.column("position", sa.Integer),
)


def _taxonomy() -> list[dict]:
    with DATA_FILE.open(encoding="utf-8") as handle:
        return json.load(handle)["categories"]


def _rows() -> tuple[list[dict], list[dict]]:
    """Category and skill rows with explicit ids (1, 2, ... in file order) so that skills can
    point at their category in offline (--sql) mode too, where nothing can be read back."""
    categories: list[dict] = []
    skills: list[dict] = []
    for category_position, category in enumerate(_taxonomy(), start=1):
        categories.append(
            {"id": category_position, "code": category["code"], "name": category["name"], "position": category_position}
        )
        for skill_position, entry in enumerate(category["skills"], start=1):
            synonyms = [" ".join(s.lower().split()) for s in entry["synonyms"]]
            skills.append(
                {
                    "id": len(skills) + 1,
                    "code": entry["code"],
                    "name": entry["name"],
                    "category_id": category_position,
                    "synonyms": "|".join(s for s in synonyms if s),
                    "active": True,
                    "position": skill_position,
                }
            )
    return categories, skills


def upgrade() -> None:
    categories, skills = _rows()
    op.bulk_insert(skill_category, categories)
    op.bulk_insert(skill, skills)
    if op.get_context().dialect.name == "postgresql":
        # Explicit ids do not move PostgreSQL's sequences: move them on, so that the next
        # category or skill an admin adds gets a fresh id.
        for table in ("skill_category", "skill"):
            op.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            )


def downgrade() -> None:
    categories, skills = _rows()
    op.execute(skill.delete().where(skill.c.code.in_([row["code"] for row in skills])))
    op.execute(skill_category.delete().where(skill_category.c.code.in_([row["code"] for row in categories])))
