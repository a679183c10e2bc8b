"""Reading the register for matching: live sides, skill names, places in use, declined pairs.

Both the in-process index (`matching.index`) and the service's allocation read through here, so
neither reaches into the other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from app.matching.engine import Side
from app.matching.models import OPEN_STATUSES, Match, MatchStatus
from app.registry.models import ItemMode, Skill
from app.registry.service import OFFER, ItemKind, in_matching_clause


@dataclass(frozen=True)
class SkillMaps:
    codes: dict[int, str]
    names: dict[int, str]
    categories: dict[int, int]


def skill_maps(db: Session) -> SkillMaps:
    rows = db.connection().execute(select(Skill.id, Skill.code, Skill.name, Skill.category_id)).all()
    return SkillMaps(
        codes={r.id: r.code for r in rows},
        names={r.id: r.name for r in rows},
        categories={r.id: r.category_id for r in rows},
    )


def open_counts(db: Session, offer_ids: Sequence[int] | None = None) -> dict[int, int]:
    """How many open matches each offer holds (its places in use)."""
    statement = select(Match.offer_id, func.count()).where(Match.status.in_(OPEN_STATUSES)).group_by(Match.offer_id)
    if offer_ids is not None:
        statement = statement.where(Match.offer_id.in_(offer_ids))
    return dict(db.connection().execute(statement).all())


def item_ids_of_people(db: Session, kind: ItemKind, person_ids: set[int]) -> set[int]:
    """Every item of these people, live or not (a consent change may retire or restore any)."""
    model = kind.model
    return set(db.connection().execute(select(model.id).where(model.person_id.in_(sorted(person_ids)))).scalars())


def declined_pairs(
    db: Session, *, offer_ids: Sequence[int] | None = None, request_ids: Sequence[int] | None = None
) -> frozenset[tuple[int, int]]:
    statement = select(Match.offer_id, Match.request_id).where(Match.status == MatchStatus.declined)
    if offer_ids is not None:
        statement = statement.where(Match.offer_id.in_(offer_ids))
    if request_ids is not None:
        statement = statement.where(Match.request_id.in_(request_ids))
    return frozenset((int(a), int(b)) for a, b in db.connection().execute(statement).all())


def load_sides(
    db: Session,
    kind: ItemKind,
    conditions: list,
    categories: dict[int, int],
    *,
    live: bool = True,
    through_skills: Sequence[int] | None = None,
) -> list[Side]:
    """Sides for the items matching `conditions` (and live for matching), in id order, with skills.

    One query returns each item once per skill; Core execution skips the ORM's row handling,
    which matters when a popular skill brings thousands of rows.
    """
    model = kind.model
    link, link_column = kind.link, kind.link_item_column
    columns = [
        model.id, model.person_id, model.mode, model.latitude, model.longitude,
        model.max_distance_km, model.availability, link.skill_id, model.expires_at,
    ]
    if kind is OFFER:
        columns.append(model.capacity)
    where = and_(*conditions, in_matching_clause(kind)) if live else and_(*conditions)
    if through_skills is not None:
        # Start from the skill index, so the database reads only items that share a skill.
        hit = aliased(link)
        hit_column = getattr(hit, kind.link_item_field)
        statement = (
            select(*columns)
            .select_from(hit)
            .join(model, model.id == hit_column)
            .join(link, link_column == model.id)
            .where(hit.skill_id.in_(list(through_skills)), where)
        )
    else:
        statement = select(*columns).join(link, link_column == model.id).where(where).order_by(model.id)
    rows = db.connection().execute(statement).all()
    if not rows:
        return []
    rows.sort(key=lambda row: row[0])
    is_offer = kind is OFFER
    items: dict[int, tuple] = {}
    skills: dict[int, set[int]] = {}
    for row in rows:
        if row[0] not in items:
            items[row[0]] = row
            skills[row[0]] = set()
        skills[row[0]].add(row[7])
    used = open_counts(db, list(items) if len(items) < 1000 else None) if is_offer else {}
    modes = {mode: mode.value for mode in ItemMode} | {mode.value: mode.value for mode in ItemMode}
    return [
        Side(
            id=item_id,
            person_id=row[1],
            skills=frozenset(skills[item_id]),
            categories=frozenset(categories[k] for k in skills[item_id] if k in categories),
            mode=modes[row[2]],
            latitude=row[3],
            longitude=row[4],
            max_distance_km=row[5],
            slots=row[6],
            capacity=row[9] if is_offer else 1,
            used=used.get(item_id, 0),
            expires=row[8].timestamp() if row[8] is not None else math.inf,
        )
        for item_id, row in items.items()
    ]
