"""Reading the register for matching: live sides, skill names, places in use, declined pairs.

Both the in-process index (`matching.index`) and the service's allocation read through here, so
neither reaches into the other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import String, and_, func, select, type_coerce
from sqlalchemy.orm import aliased
from sqlmodel import Session

from app.matching.engine import MODE_CODES, Side, SideColumns
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


def load_columns(db: Session, kind: ItemKind, conditions: list) -> SideColumns:
    """The live items matching `conditions`, as columns in id order, for the whole-area
    allocation: what `load_sides` reads, without an object per row.

    Two plain queries (the items, then every item-skill link, kept for the items read), whose
    columns carry no result conversion, so the rows go straight into arrays.
    """
    model, link = kind.model, kind.link
    is_offer = kind is OFFER
    columns = [
        model.id, model.person_id, type_coerce(model.mode, String), model.latitude, model.longitude,
        model.max_distance_km, model.availability, type_coerce(model.expires_at, String),
    ]  # fmt: skip
    if is_offer:
        columns.append(model.capacity)
    connection = db.connection()
    statement = select(*columns).where(and_(*conditions, in_matching_clause(kind))).order_by(model.id)
    rows = connection.execute(statement).all()
    n = len(rows)
    values = [[row[k] for row in rows] for k in range(len(columns))]
    ids = np.array(values[0], np.int64)
    modes = {mode.value: MODE_CODES[mode.value] for mode in ItemMode} | {mode.name: MODE_CODES[mode.value] for mode in ItemMode}
    links = connection.execute(select(kind.link_item_column, link.skill_id)).all()
    link_items = np.array([row[0] for row in links], np.int64)
    link_skills = np.array([row[1] for row in links], np.int64)
    at = np.minimum(np.searchsorted(ids, link_items), max(0, n - 1))
    kept = (ids[at] == link_items) if n else np.zeros(len(links), np.bool_)
    used = np.zeros(n, np.int64)
    if is_offer and n:
        counts = open_counts(db)
        if counts:
            held = np.fromiter(counts, np.int64, len(counts))
            where = np.minimum(np.searchsorted(ids, held), n - 1)
            found = ids[where] == held
            used[where[found]] = np.fromiter(counts.values(), np.int64, len(counts))[found]
    return SideColumns(
        ids=ids,
        person_ids=np.array(values[1], np.int64),
        mode=np.fromiter((modes[m] for m in values[2]), np.int8, n),
        lat=np.array(values[3], np.float64),  # None becomes nan
        lon=np.array(values[4], np.float64),
        max_km=np.array(values[5], np.float64),
        slots=np.array(values[6], np.int64),
        capacity=np.array(values[8], np.int64) if is_offer else np.ones(n, np.int64),
        used=used,
        expires=_epochs(values[7]),
        skill_rows=at[kept].astype(np.int64),
        skill_ids=link_skills[kept],
    )


def _epochs(values: list) -> np.ndarray:
    """Stored UTC times in seconds since the epoch, as `datetime.timestamp` gives them (inf for
    none): SQLite keeps naive UTC text, which numpy reads in one go; PostgreSQL gives aware
    datetimes."""
    if values and all(isinstance(v, str) for v in values):
        micros = np.array(values, dtype="datetime64[us]").astype(np.int64)
        return micros.astype(np.float64) / 1e6  # exact microseconds, divided as timestamp() does
    out = np.empty(len(values), np.float64)
    for k, value in enumerate(values):
        if value is None:
            out[k] = math.inf
            continue
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        out[k] = (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return out
