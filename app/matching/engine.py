"""The matching engine: pure functions from plain data to ranked, explained candidates.

No database and no request here. The service loads sides (offers and help requests) into
columnar `SideTable`s; the engine gathers candidates through a skill index, applies the hard
rules, scores what survives with numpy, and explains each score in words a person can read.
The same code scores one pair, one item's suggestions and a whole borough's allocation.

Scores are integers from 0 to 1000, so totals are exact and comparable between solvers.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from app.registry.availability import describe

SCORE_SCALE = 1000
EARTH_RADIUS_KM = 6371.0088
# Slightly under the true length of a degree of latitude, so the box never cuts a real pair.
KM_PER_DEGREE_LAT = 110.5
IN_PERSON, REMOTE, EITHER = "in_person", "remote", "either"
MODE_CODES = {IN_PERSON: 0, REMOTE: 1, EITHER: 2}


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each part of a score counts (settings MARKETPLACE_MATCH_WEIGHT_*; see the README)."""

    skills: float = 0.45
    distance: float = 0.25
    time: float = 0.20
    fresh: float = 0.10
    # A skill in the same category (another language, say) counts this fraction of a shared
    # skill; 0 means only shared skills can make a pair.
    category: float = 0.0
    # The distance part for a pair that can only meet by phone or online.
    remote_distance_part: float = 0.5

    @property
    def total(self) -> float:
        return self.skills + self.distance + self.time + self.fresh


@dataclass(frozen=True, slots=True)
class Side:
    """An offer or a help request as matching sees it."""

    id: int
    person_id: int
    skills: frozenset[int]
    mode: str
    latitude: float | None
    longitude: float | None
    max_distance_km: float
    slots: int
    categories: frozenset[int] = frozenset()
    active: bool = True  # status active and not expired
    consents: bool = True  # the person holds `matching` consent
    capacity: int = 1  # offers: people at once
    used: int = 0  # offers: open matches already held
    expires: float = math.inf  # when it stops being live (seconds since the epoch)


@dataclass(frozen=True, slots=True)
class Candidate:
    offer_id: int
    request_id: int
    score: int
    parts: Mapping[str, float]
    distance_km: float | None  # None when the pair can only meet remotely
    shared_skills: frozenset[int]
    shared_slots: int
    remote: bool

    def rounded_distance(self) -> float | None:
        return round_distance(self.distance_km)


@dataclass(slots=True)
class Context:
    """What the rules need beyond the two sides."""

    declined: frozenset[tuple[int, int]] = frozenset()  # (offer_id, request_id) pairs once declined
    now: float = -math.inf  # seconds since the epoch: sides that expired by then are not live


class KeySpace:
    """Dense bit positions for skill (or category) ids, shared by the offer and request tables."""

    def __init__(self, keys: Iterable[int]):
        self.bit = {key: i for i, key in enumerate(sorted(set(keys)))}
        self.words = max(1, -(-len(self.bit) // 64))

    def words_for(self, sides: Sequence[Side], attribute: str) -> np.ndarray:
        out = np.zeros((len(sides), self.words), np.uint64)
        for row, side in enumerate(sides):
            for key in getattr(side, attribute):
                bit = self.bit.get(key)
                if bit is not None:
                    out[row, bit // 64] |= np.uint64(1 << (bit % 64))
        return out

    def below(self, key: int) -> np.ndarray:
        """Per word, the bits of every key ordered before `key`."""
        bit = self.bit[key]
        out = np.zeros(self.words, np.uint64)
        out[: bit // 64] = np.uint64(0xFFFFFFFFFFFFFFFF)
        out[bit // 64] = np.uint64((1 << (bit % 64)) - 1)
        return out


    def words_of(self, rows: np.ndarray, keys: np.ndarray, n: int) -> np.ndarray:
        """The same as `words_for`, from (row, key) pairs: the bits of n rows."""
        out = np.zeros((n, self.words), np.uint64)
        if len(keys) == 0 or not self.bit:
            return out
        known = np.fromiter(self.bit, np.int64, len(self.bit))  # sorted
        at = np.minimum(np.searchsorted(known, keys), len(known) - 1)
        found = known[at] == keys
        # A key's bit is its place in sorted order; each (row, key) pair once, so adding sets.
        rows, bits = _unique_pairs(rows[found], at[found])
        np.add.at(out, (rows, bits // 64), np.left_shift(np.uint64(1), (bits % 64).astype(np.uint64)))
        return out


def key_spaces(*groups: Sequence[Side]) -> tuple[KeySpace, KeySpace]:
    sides = [side for group in groups for side in group]
    return KeySpace(k for s in sides for k in s.skills), KeySpace(k for s in sides for k in s.categories)


@dataclass(slots=True)
class SideColumns:
    """Many sides as they come from the database, column by column (rows in id order), with
    their skills as (row, skill) pairs: what `SideTable.from_columns` needs, without a `Side`
    object per row."""

    ids: np.ndarray
    person_ids: np.ndarray
    mode: np.ndarray  # MODE_CODES
    lat: np.ndarray  # nan where unknown
    lon: np.ndarray
    max_km: np.ndarray
    slots: np.ndarray
    capacity: np.ndarray
    used: np.ndarray
    expires: np.ndarray  # seconds since the epoch; inf when never
    skill_rows: np.ndarray
    skill_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def category_pairs(self, categories: Mapping[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(row, category) pairs, each once, for the skills that have a category."""
        if not categories or len(self.skill_ids) == 0:
            empty = np.empty(0, np.int64)
            return empty, empty
        skills = np.fromiter(categories, np.int64, len(categories))
        order = np.argsort(skills)
        skills, of = skills[order], np.fromiter(categories.values(), np.int64, len(categories))[order]
        at = np.minimum(np.searchsorted(skills, self.skill_ids), len(skills) - 1)
        found = skills[at] == self.skill_ids
        return _unique_pairs(self.skill_rows[found], of[at[found]])


def _unique_pairs(rows: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each (row, key) pair once, ordered by row then key."""
    rows, keys = np.asarray(rows, np.int64), np.asarray(keys, np.int64)
    if len(rows) == 0:
        return rows, keys
    low = int(keys.min())
    span = int(keys.max()) - low + 1
    packed = np.unique(rows * span + (keys - low))
    return packed // span, packed % span + low


def key_spaces_of(*groups: SideColumns, categories: Mapping[int, int]) -> tuple[KeySpace, KeySpace]:
    """`key_spaces` for sides held as columns."""
    skills = np.unique(np.concatenate([g.skill_ids for g in groups])) if groups else np.empty(0, np.int64)
    cats = sorted({categories[k] for k in skills.tolist() if k in categories})
    return KeySpace(skills.tolist()), KeySpace(cats)


def _index_of(rows: np.ndarray, keys: np.ndarray) -> dict[int, np.ndarray]:
    """`_index` from (row, key) pairs: each key's rows, ascending."""
    if len(keys) == 0:
        return {}
    order = np.lexsort((rows, keys))
    rows, keys = rows[order].astype(np.int64), keys[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    return {int(keys[a]): rows[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)}


class SideTable:
    """Many sides as columns, with an index from skill (and category) to rows (ordered by row)."""

    def __init__(self, sides: Sequence[Side], spaces: tuple[KeySpace, KeySpace] | None = None):
        self._sides = list(sides)
        self._columns: tuple[SideColumns, Mapping[int, int]] | None = None
        sides = self._sides
        self.skill_space, self.category_space = spaces or key_spaces(self._sides)
        n = len(self.sides)
        self.ids = np.fromiter((s.id for s in sides), np.int64, n)
        self.person_ids = np.fromiter((s.person_id for s in sides), np.int64, n)
        self.mode = np.fromiter((MODE_CODES[s.mode] for s in sides), np.int8, n)
        self.lat = np.fromiter((np.nan if s.latitude is None else s.latitude for s in sides), np.float64, n)
        self.lon = np.fromiter((np.nan if s.longitude is None else s.longitude for s in sides), np.float64, n)
        self.max_km = np.fromiter((s.max_distance_km for s in sides), np.float64, n)
        self.slots = np.fromiter((s.slots for s in sides), np.int64, n)
        self.skill_count = np.fromiter((len(s.skills) for s in sides), np.int64, n)
        self.category_count = np.fromiter((len(s.categories) for s in sides), np.int64, n)
        self.capacity = np.fromiter((s.capacity for s in sides), np.int64, n)
        self.used = np.fromiter((s.used for s in sides), np.int64, n)
        self.eligible = np.fromiter((s.active and s.consents for s in sides), np.bool_, n)
        self.expires = np.fromiter((s.expires for s in sides), np.float64, n)
        self.row_of = {s.id: i for i, s in enumerate(sides)}
        self.by_skill = _index(sides, lambda s: s.skills)
        self.by_category = _index(sides, lambda s: s.categories)
        self.skill_words = self.skill_space.words_for(self._sides, "skills")
        self.category_words = self.category_space.words_for(self._sides, "categories")

    @classmethod
    def from_columns(cls, columns: SideColumns, spaces: tuple[KeySpace, KeySpace], categories: Mapping[int, int]) -> SideTable:
        """The same table as `SideTable(sides, spaces)` for the same sides, built from columns
        without a Python object per side (the `Side`s are made only if `sides` is read). The
        sides are live (active, consenting), as the loader reads them."""
        table = cls.__new__(cls)
        table._sides = None
        table._columns = (columns, categories)
        table.skill_space, table.category_space = spaces
        n = len(columns)
        table.ids = columns.ids.astype(np.int64)
        table.person_ids = columns.person_ids.astype(np.int64)
        table.mode = columns.mode.astype(np.int8)
        table.lat = columns.lat.astype(np.float64)
        table.lon = columns.lon.astype(np.float64)
        table.max_km = columns.max_km.astype(np.float64)
        table.slots = columns.slots.astype(np.int64)
        table.capacity = columns.capacity.astype(np.int64)
        table.used = columns.used.astype(np.int64)
        table.eligible = np.ones(n, np.bool_)
        table.expires = columns.expires.astype(np.float64)
        skill_rows, skill_ids = _unique_pairs(columns.skill_rows, columns.skill_ids)
        category_rows, category_ids = columns.category_pairs(categories)
        table.skill_count = np.bincount(skill_rows, minlength=n).astype(np.int64)
        table.category_count = np.bincount(category_rows, minlength=n).astype(np.int64)
        table.row_of = dict(zip(table.ids.tolist(), range(n), strict=True))
        table.by_skill = _index_of(skill_rows, skill_ids)
        table.by_category = _index_of(category_rows, category_ids)
        table.skill_words = table.skill_space.words_of(skill_rows, skill_ids, n)
        table.category_words = table.category_space.words_of(category_rows, category_ids, n)
        return table

    @property
    def sides(self) -> list[Side]:
        if self._sides is None:
            assert self._columns is not None
            columns, categories = self._columns
            codes = {code: mode for mode, code in MODE_CODES.items()}
            skills: list[set[int]] = [set() for _ in range(len(columns))]
            for row, skill in zip(columns.skill_rows.tolist(), columns.skill_ids.tolist(), strict=True):
                skills[row].add(skill)
            self._sides = [
                Side(
                    id=int(self.ids[row]),
                    person_id=int(self.person_ids[row]),
                    skills=frozenset(skills[row]),
                    categories=frozenset(categories[k] for k in skills[row] if k in categories),
                    mode=codes[int(self.mode[row])],
                    latitude=None if math.isnan(self.lat[row]) else float(self.lat[row]),
                    longitude=None if math.isnan(self.lon[row]) else float(self.lon[row]),
                    max_distance_km=float(self.max_km[row]),
                    slots=int(self.slots[row]),
                    capacity=int(self.capacity[row]),
                    used=int(self.used[row]),
                    expires=float(self.expires[row]),
                )
                for row in range(len(columns))
            ]
        return self._sides

    def __len__(self) -> int:
        return len(self.ids)


def _index(sides: Sequence[Side], keys) -> dict[int, np.ndarray]:
    rows: dict[int, list[int]] = {}
    for row, side in enumerate(sides):
        for key in keys(side):
            rows.setdefault(key, []).append(row)
    return {key: np.asarray(value, dtype=np.int64) for key, value in rows.items()}


def distance_km(lat1, lon1, lat2, lon2):
    """Great-circle distance (haversine), on numbers or arrays; symmetric by construction."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))


def round_distance(km: float | None) -> float | None:
    """What citizens see: to the nearest 0.5 km and never under 0.5, so nobody can be located."""
    if km is None:
        return None
    return max(0.5, round(km * 2) / 2)


@dataclass(slots=True)
class Scored:
    """Aligned arrays for the pairs that passed every hard rule."""

    offer_rows: np.ndarray
    request_rows: np.ndarray
    scores: np.ndarray
    skill_part: np.ndarray
    distance_part: np.ndarray
    time_part: np.ndarray
    fresh_part: np.ndarray
    km: np.ndarray  # nan where the pair meets remotely
    shared_slots: np.ndarray


def o_early_of(o: np.ndarray, oo: np.ndarray, early: np.ndarray) -> np.ndarray:
    """Per pair, whether its offer holds an earlier key (looked up from the block's offers)."""
    flags = np.zeros(int(oo.max()) + 1, np.bool_)
    flags[oo] = early
    return flags[o]


r_early_of = o_early_of


def _block_pairs(offers: SideTable, oo: np.ndarray, requests: SideTable, rr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pairs of one key block that could possibly meet, pruned by latitude before anything else.

    Pairs that can both meet remotely are kept whole. Every other pair must meet in person within
    the request's travel limit, so only offers inside the request's band of latitude are taken
    (offers sorted by latitude, two binary searches per request).
    """
    o_remote = offers.mode[oo] != 0  # remote or either
    r_remote = requests.mode[rr] != 0
    parts_o, parts_r = [], []
    # 1. both could meet remotely: no distance limit applies.
    oo_rc, rr_rc = oo[o_remote], rr[r_remote]
    if len(oo_rc) and len(rr_rc):
        parts_o.append(np.tile(oo_rc, len(rr_rc)))
        parts_r.append(np.repeat(rr_rc, len(oo_rc)))
    # 2. requests that can meet remotely, with offers that can only meet in person: within the band.
    # 3. requests that can only meet in person, with any offer able to meet in person: within the band.
    for requests_part, offers_part in (
        (rr_rc, oo[~o_remote]),
        (rr[~r_remote], oo[offers.mode[oo] != 1]),
    ):
        if len(requests_part) == 0 or len(offers_part) == 0:
            continue
        order = np.argsort(offers.lat[offers_part], kind="stable")
        sorted_offers = offers_part[order]
        sorted_lat = offers.lat[sorted_offers]
        half = requests.max_km[requests_part] / KM_PER_DEGREE_LAT
        lat = requests.lat[requests_part]
        starts = np.searchsorted(sorted_lat, lat - half, side="left")
        ends = np.searchsorted(sorted_lat, lat + half, side="right")
        counts = np.where(np.isnan(lat), 0, ends - starts)
        total = int(counts.sum())
        if total == 0:
            continue
        first = np.repeat(starts - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
        parts_o.append(sorted_offers[first + np.arange(total)])
        parts_r.append(np.repeat(requests_part, counts))
    if not parts_o:
        empty = np.empty(0, np.int64)
        return empty, empty
    return np.concatenate(parts_o), np.concatenate(parts_r)


def popcount(words: np.ndarray) -> np.ndarray:
    return np.bitwise_count(words).sum(axis=1, dtype=np.int64)


def pairs_sharing_a_key(
    offers: SideTable,
    offer_rows: np.ndarray | None,
    requests: SideTable,
    request_rows: np.ndarray,
    weights: Weights,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every (offer, request) pair sharing a skill (or, when the weights allow, a category),
    found through the index rather than by scanning every pair, each pair once.

    `offer_rows` limits the offers considered (None: all). Returns aligned arrays: offer rows,
    request rows, shared skills and shared categories.
    """
    by_category = weights.category > 0
    index = offers.by_category if by_category else offers.by_skill
    request_index = requests.by_category if by_category else requests.by_skill
    space = offers.category_space if by_category else offers.skill_space
    o_words = offers.category_words if by_category else offers.skill_words
    r_words = requests.category_words if by_category else requests.skill_words
    wanted = np.sort(request_rows)
    key_attr = "categories" if by_category else "skills"
    few_offers = offer_rows is not None and len(offer_rows) <= 64
    few_requests = len(wanted) <= 64
    # One item's suggestions touch only that item's keys; a whole area touches them all.
    if few_offers:
        keys = sorted({k for row in offer_rows.tolist() for k in getattr(offers.sides[row], key_attr)})
    elif few_requests:
        keys = sorted({k for row in wanted.tolist() for k in getattr(requests.sides[row], key_attr)})
    else:
        keys = sorted(request_index)
    blocks_o, blocks_r = [], []
    for key in keys:
        if key not in index or key not in request_index:
            continue
        if few_requests:
            rr = np.asarray([row for row in wanted.tolist() if key in getattr(requests.sides[row], key_attr)], np.int64)
        elif len(wanted) < len(requests):
            rows_with_key = request_index[key]
            rr = rows_with_key[np.isin(rows_with_key, wanted, assume_unique=True)]
        else:
            rr = request_index[key]
        if len(rr) == 0:
            continue
        if few_offers:
            oo = np.asarray([row for row in offer_rows.tolist() if key in getattr(offers.sides[row], key_attr)], np.int64)
        else:
            oo = index[key]
            if offer_rows is not None:
                oo = oo[np.isin(oo, offer_rows)]
        if len(oo) == 0:
            continue
        # Keep a pair only under the first key both sides share, so each pair appears once. Only
        # sides holding an earlier key can share one, which spares most pairs the check.
        below = space.below(key)
        o_early = (o_words[oo] & below).any(axis=1)
        r_early = (r_words[rr] & below).any(axis=1)
        o, r = _block_pairs(offers, oo, requests, rr)
        check = np.flatnonzero(o_early_of(o, oo, o_early) & r_early_of(r, rr, r_early))
        if len(check):
            again = (o_words[o[check]] & r_words[r[check]] & below).any(axis=1)
            drop = np.zeros(len(o), np.bool_)
            drop[check[again]] = True
            o, r = o[~drop], r[~drop]
        blocks_o.append(o)
        blocks_r.append(r)
    if not blocks_o:
        empty = np.empty(0, np.int64)
        return empty, empty, empty, empty
    o = np.concatenate(blocks_o)
    r = np.concatenate(blocks_r)
    shared_skills = popcount(offers.skill_words[o] & requests.skill_words[r])
    shared_categories = popcount(offers.category_words[o] & requests.category_words[r])
    return o, r, shared_skills, shared_categories


def score_pairs(
    offers: SideTable,
    offer_rows: np.ndarray,
    requests: SideTable,
    request_rows: np.ndarray,
    shared_skills: np.ndarray,
    shared_categories: np.ndarray,
    weights: Weights,
    context: Context,
) -> Scored:
    """Hard rules, then the score, for aligned pairs of rows. Every rule is applied here.

    The cheap rules run first and the arrays shrink before distances are computed.
    """
    o, r = offer_rows, request_rows
    shared_slots = offers.slots[o] & requests.slots[r]
    om, rm = offers.mode[o], requests.mode[r]
    remote_ok = (om != 0) & (rm != 0)
    person_ok = (om != 1) & (rm != 1)
    keep = offers.eligible[o] & requests.eligible[r]
    keep &= (offers.expires[o] > context.now) & (requests.expires[r] > context.now)
    keep &= offers.person_ids[o] != requests.person_ids[r]
    keep &= shared_slots != 0
    keep &= remote_ok | person_ok
    if weights.category > 0:
        keep &= (shared_skills > 0) | (shared_categories > 0)
    else:
        keep &= shared_skills > 0
    idx = np.flatnonzero(keep)
    o, r, shared_slots, remote_ok, person_ok = o[idx], r[idx], shared_slots[idx], remote_ok[idx], person_ok[idx]
    shared_skills, shared_categories = shared_skills[idx], shared_categories[idx]

    # Prune by distance with a bounding box before any trigonometry.
    limit = np.minimum(offers.max_km[o], requests.max_km[r])
    lat_o, lat_r = offers.lat[o], requests.lat[r]
    with np.errstate(invalid="ignore"):
        box = (np.abs(lat_o - lat_r) * KM_PER_DEGREE_LAT <= limit) & (
            # east-west, measured at the side nearer a pole, where degrees of longitude are shortest
            np.abs(offers.lon[o] - requests.lon[r]) * KM_PER_DEGREE_LAT * np.cos(np.radians(np.maximum(np.abs(lat_o), np.abs(lat_r))))
            <= limit
        )
    keep = (person_ok & box) | remote_ok
    idx = np.flatnonzero(keep)
    o, r, shared_slots, remote_ok, person_ok, limit = o[idx], r[idx], shared_slots[idx], remote_ok[idx], person_ok[idx], limit[idx]
    shared_skills, shared_categories = shared_skills[idx], shared_categories[idx]
    km = distance_km(offers.lat[o], offers.lon[o], requests.lat[r], requests.lon[r])
    with np.errstate(invalid="ignore"):
        in_person = person_ok & (km <= limit)  # nan (no location) is never within a limit
    keep = in_person | remote_ok
    if context.declined and keep.any():
        keep &= ~np.fromiter(
            ((int(a), int(b)) in context.declined for a, b in zip(offers.ids[o], requests.ids[r], strict=True)),
            np.bool_,
            len(o),
        )
    idx = np.flatnonzero(keep)
    o, r, shared_slots, in_person, km, limit = o[idx], r[idx], shared_slots[idx], in_person[idx], km[idx], limit[idx]
    shared_skills, shared_categories = shared_skills[idx], shared_categories[idx]

    covered = shared_skills / np.maximum(1, requests.skill_count[r])
    skill_part = covered
    if weights.category > 0:
        # Similar skills fill part of what shared skills leave uncovered, so a shared skill
        # always counts for more than a similar one (the weight is below 1).
        similar = shared_categories / np.maximum(1, requests.category_count[r])
        skill_part = covered + weights.category * similar * (1.0 - covered)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        distance_part = np.where(in_person, np.where(limit > 0, 1.0 - km / limit, 1.0), weights.remote_distance_part)
    time_part = np.minimum(1.0, np.bitwise_count(shared_slots) / np.maximum(1, np.bitwise_count(requests.slots[r])))
    fresh_part = 1.0 - np.minimum(1.0, offers.used[o] / np.maximum(1, offers.capacity[o]))
    weighted = (
        weights.skills * skill_part + weights.distance * distance_part + weights.time * time_part + weights.fresh * fresh_part
    ) / weights.total
    scores = np.maximum(1, np.rint(SCORE_SCALE * weighted)).astype(np.int64)
    return Scored(o, r, scores, skill_part, distance_part, time_part, fresh_part, np.where(in_person, km, np.nan), shared_slots)


def score_chosen_pairs(
    offers: SideTable, o: np.ndarray, requests: SideTable, r: np.ndarray, weights: Weights, context: Context
) -> Scored:
    """Score given (offer row, request row) pairs, e.g. the pairs an allocation chose."""
    shared = popcount(offers.skill_words[o] & requests.skill_words[r])
    same_category = popcount(offers.category_words[o] & requests.category_words[r])
    return score_pairs(offers, o, requests, r, shared, same_category, weights, context)


def offers_for_request(offers: SideTable, requests: SideTable, request_row: int, weights: Weights, context: Context) -> Scored:
    o, r, shared, same_category = pairs_sharing_a_key(offers, None, requests, np.array([request_row]), weights)
    return score_pairs(offers, o, requests, r, shared, same_category, weights, context)


def requests_for_offer(offers: SideTable, requests: SideTable, offer_row: int, weights: Weights, context: Context) -> Scored:
    o, r, shared, same_category = pairs_sharing_a_key(
        offers, np.array([offer_row]), requests, np.arange(len(requests)), weights
    )
    return score_pairs(offers, o, requests, r, shared, same_category, weights, context)


def top(scored: Scored, k: int, by_offer: bool) -> np.ndarray:
    """Positions of the k best pairs, best first; ties go to the earlier row (tables are loaded in
    id order), so results are stable."""
    if len(scored.scores) == 0 or k <= 0:
        return np.empty(0, np.int64)
    tie = scored.offer_rows if by_offer else scored.request_rows
    order = np.lexsort((tie, -scored.scores))
    return order[:k]


def candidates(scored: Scored, positions: np.ndarray, offers: SideTable, requests: SideTable) -> list[Candidate]:
    out = []
    for p in positions.tolist():
        o, r = int(scored.offer_rows[p]), int(scored.request_rows[p])
        km = float(scored.km[p])
        out.append(
            Candidate(
                offer_id=int(offers.ids[o]),
                request_id=int(requests.ids[r]),
                score=int(scored.scores[p]),
                parts={
                    "skills": round(float(scored.skill_part[p]), 4),
                    "distance": round(float(scored.distance_part[p]), 4),
                    "time": round(float(scored.time_part[p]), 4),
                    "fresh": round(float(scored.fresh_part[p]), 4),
                },
                distance_km=None if np.isnan(km) else km,
                shared_skills=offers.sides[o].skills & requests.sides[r].skills,
                shared_slots=int(scored.shared_slots[p]),
                remote=bool(np.isnan(km)),
            )
        )
    return out


def rank_offers_for_request(
    request: Side, offers: Sequence[Side], weights: Weights, context: Context, k: int
) -> list[Candidate]:
    """The best k offers for one help request, best first."""
    spaces = key_spaces(offers, [request])
    offer_table, request_table = SideTable(offers, spaces), SideTable([request], spaces)
    scored = offers_for_request(offer_table, request_table, 0, weights, context)
    return candidates(scored, top(scored, k, by_offer=True), offer_table, request_table)


def rank_requests_for_offer(
    offer: Side, requests: Sequence[Side], weights: Weights, context: Context, k: int
) -> list[Candidate]:
    """The best k help requests for one offer, best first."""
    spaces = key_spaces([offer], requests)
    offer_table, request_table = SideTable([offer], spaces), SideTable(requests, spaces)
    scored = requests_for_offer(offer_table, request_table, 0, weights, context)
    return candidates(scored, top(scored, k, by_offer=False), offer_table, request_table)


def evaluate(offer: Side, request: Side, weights: Weights, context: Context) -> Candidate | None:
    """One pair: a scored candidate, or None when a hard rule refuses it."""
    found = rank_offers_for_request(request, [offer], weights, context, 1)
    return found[0] if found else None


@dataclass(slots=True)
class Graph:
    """The candidate pairs for allocation, as aligned arrays of rows and exact scores."""

    offer_rows: np.ndarray
    request_rows: np.ndarray
    scores: np.ndarray


def candidate_graph_by_pairs(
    offers: SideTable,
    requests: SideTable,
    weights: Weights,
    context: Context,
    per_request: int,
    chunk_pairs: int = 2_000_000,
    workers: int = os.cpu_count() or 1,
) -> Graph:
    """The reference for `candidate_graph`: the same graph through the suggestion path
    (`pairs_sharing_a_key`, then `score_pairs` on every pair as a list). About ten times slower
    on a borough; the tests check that both give the same graph.

    Requests are taken in chunks so that the pair arrays stay within memory.
    """
    eligible = np.flatnonzero(requests.eligible)
    # Rough pairs per request, to size the chunks: the offers sharing its keys.
    sizes = np.zeros(len(requests), np.int64)
    for key, rows in requests.by_skill.items():
        sizes[rows] += len(offers.by_skill.get(key, ()))
    chunks = []
    start = 0
    while start < len(eligible):
        budget, stop = 0, start
        while stop < len(eligible) and (stop == start or budget + sizes[eligible[stop]] <= chunk_pairs):
            budget += sizes[eligible[stop]]
            stop += 1
        chunks.append(eligible[start:stop])
        start = stop

    def one_chunk(chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        o, r, shared, same_category = pairs_sharing_a_key(offers, None, requests, chunk, weights)
        scored = score_pairs(offers, o, requests, r, shared, same_category, weights, context)
        if per_request <= 0:
            return scored.offer_rows, scored.request_rows, scored.scores
        keep = _best_per_request(scored.request_rows, scored.offer_rows, scored.scores, per_request)
        return scored.offer_rows[keep], scored.request_rows[keep], scored.scores[keep]

    # numpy releases the GIL in its loops, so chunks run side by side on the available cores.
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(chunks)))) as pool:
        parts = list(pool.map(one_chunk, chunks))
    if not parts:
        empty = np.empty(0, np.int64)
        return Graph(empty, empty, empty)
    return Graph(*(np.concatenate([part[i] for part in parts]) for i in range(3)))


# --- the whole-area candidate graph, by key blocks ---------------------------------------------
#
# A borough's requests share a skill with about 70 million (offer, request) pairs, a third of
# them feasible, and the graph keeps 25 of them per request. Listing every pair as index arrays
# and gathering each column per pair (the suggestion path above) spends its time moving memory.
# Here each key (skill) is a block: the live requests holding it against the live offers holding
# it, in parts by how the pairs can meet.
#
# - In person only (one side will not call): requests are grouped with their neighbours, and each
#   group meets only the offers inside the box its travel limits allow. A group against its
#   offers is a small matrix, computed by broadcasting a column of request values against a row
#   of offer values: the shared free time and the box of `score_pairs` on every pair, then the
#   distance and the score only for the pairs inside the box (about one in eight).
# - By phone or online, or either way: every pair with a shared free time is feasible, so the
#   score is computed on the whole matrix; distances only where a pair might be near enough.
#
# Each part keeps what could be among a request's best, and one sort at the end picks exactly
# the pairs the reference picks: each request's best `per_request` by score, then offer row.
# Every score is computed with the same floating-point operations, in the same order, as
# `score_pairs`, so it is the same integer; the tests compare the two graphs pair for pair.

_TILE_PAIRS = 1 << 17  # pairs per matrix of the remote parts
_FORK_PAIRS = 20_000_000  # pairs sharing a key above which a second process is worth forking
_CHILD_PATIENCE_SECONDS = 60.0
_GROUP_ROWS = 48  # requests per in-person group, near one another
_STRIPE_GROUPS = 8  # in-person groups per band of latitude (then cut by longitude)
_REACH_CLASSES_KM = np.array([1.0, 2.0, 3.0, 5.0, 8.0, 15.0])  # offers' travel limits, in classes
# Lower bounds of the great-circle distance, to skip it where it cannot be within a limit: at
# least R·|Δlatitude| (111.19 km a degree) and, while |Δlongitude| <= 28°, at least 110.08 km a
# degree of longitude times the cosine of the latitude nearer a pole. Both are taken a little
# smaller again, far beyond any rounding.
_KM_PER_DEGREE_LAT_AT_LEAST = 111.0
_KM_PER_DEGREE_LON_AT_LEAST = 109.0
_LON_BOUND_DEGREES = 28.0
# Positions are multiplied out per side (y = latitude * 111.0) and subtracted per pair, which
# rounds differently from multiplying the difference; this slack covers that many times over.
_SLACK_KM = 1e-6


@dataclass(slots=True)
class _Columns:
    """Per-row columns the graph reads, each derived once with the operation `score_pairs`
    applies per pair (a radian, a cosine, a count), so that what is computed is bit for bit the
    same."""

    offers: SideTable
    requests: SideTable
    weights: Weights
    by_category: bool
    o_live: np.ndarray
    r_live: np.ndarray
    o_rad: np.ndarray
    r_rad: np.ndarray
    o_cos: np.ndarray
    r_cos: np.ndarray
    o_abs: np.ndarray
    r_abs: np.ndarray
    o_cos_box: np.ndarray  # cos(radians(|latitude|)): the box's cosine when this side is nearer a pole
    r_cos_box: np.ndarray
    r_slot_count: np.ndarray
    r_skill_count: np.ndarray
    r_category_count: np.ndarray
    r_single_skill_term: np.ndarray  # weights.skills * the skill part when the pair shares one skill
    o_fresh_term: np.ndarray  # weights.fresh * the offer's fresh part
    excluded: np.ndarray  # sorted request_row * len(offers) + offer_row: declined, or one person
    r_excluded: np.ndarray  # rows in an excluded pair
    o_excluded: np.ndarray
    r_slots32: np.ndarray  # the free times again, in 32 bits when they fit (faster to combine)
    o_slots32: np.ndarray
    fresh_values: np.ndarray | None  # the offers' distinct weights.fresh * fresh part (None: too many)
    o_fresh_class: np.ndarray  # each offer's place in fresh_values
    # Positions in km along lower bounds (see above): y = latitude * 111.0, and x = longitude *
    # 109.0 * the smallest box cosine of all, usable while every longitude is within 28°.
    o_y: np.ndarray
    r_y: np.ndarray
    o_x: np.ndarray
    r_x: np.ndarray
    x_bound: bool
    # The same for the box of `score_pairs`: latitude * 110.5, longitude * 110.5 * that cosine.
    o_box_y: np.ndarray
    r_box_y: np.ndarray
    o_box_x: np.ndarray
    r_box_x: np.ndarray

    @classmethod
    def of(cls, offers: SideTable, requests: SideTable, weights: Weights, context: Context) -> _Columns:
        o_rad, r_rad = np.radians(offers.lat), np.radians(requests.lat)
        o_abs, r_abs = np.abs(offers.lat), np.abs(requests.lat)
        r_skill_count = np.maximum(1, requests.skill_count)
        fresh_part = 1.0 - np.minimum(1.0, offers.used / np.maximum(1, offers.capacity))
        excluded = _excluded_pairs(offers, requests, context)
        r_excluded = np.zeros(len(requests), np.bool_)
        o_excluded = np.zeros(len(offers), np.bool_)
        r_excluded[excluded // max(1, len(offers))] = True
        o_excluded[excluded % max(1, len(offers))] = True
        fresh_terms = weights.fresh * fresh_part
        fresh_values, fresh_class = np.unique(fresh_terms, return_inverse=True)
        slots_fit = max(int(offers.slots.max(initial=0)), int(requests.slots.max(initial=0))) < 2**31 and min(
            int(offers.slots.min(initial=0)), int(requests.slots.min(initial=0))
        ) >= 0
        slot_type = np.int32 if slots_fit else np.int64
        cos_all = np.concatenate([np.cos(np.radians(o_abs)), np.cos(np.radians(r_abs))])
        lon_all = np.concatenate([offers.lon, requests.lon])
        lon_all = lon_all[~np.isnan(lon_all)]
        cos_min = float(np.nanmin(cos_all)) if len(cos_all) and not np.isnan(cos_all).all() else 0.0
        x_bound = len(lon_all) > 0 and float(lon_all.max() - lon_all.min()) <= _LON_BOUND_DEGREES and cos_min > 0
        x_scale = _KM_PER_DEGREE_LON_AT_LEAST * cos_min
        return cls(
            offers=offers,
            requests=requests,
            weights=weights,
            by_category=weights.category > 0,
            o_live=offers.eligible & (offers.expires > context.now),
            r_live=requests.eligible & (requests.expires > context.now),
            o_rad=o_rad,
            r_rad=r_rad,
            o_cos=np.cos(o_rad),
            r_cos=np.cos(r_rad),
            o_abs=o_abs,
            r_abs=r_abs,
            o_cos_box=np.cos(np.radians(o_abs)),
            r_cos_box=np.cos(np.radians(r_abs)),
            r_slot_count=np.maximum(1, np.bitwise_count(requests.slots)),
            r_skill_count=r_skill_count,
            r_category_count=np.maximum(1, requests.category_count),
            r_single_skill_term=weights.skills * (1 / r_skill_count),
            o_fresh_term=weights.fresh * fresh_part,
            excluded=excluded,
            r_excluded=r_excluded,
            o_excluded=o_excluded,
            r_slots32=requests.slots.astype(slot_type),
            o_slots32=offers.slots.astype(slot_type),
            fresh_values=fresh_values if len(fresh_values) <= 16 else None,
            o_fresh_class=fresh_class.reshape(-1).astype(np.int32),
            o_y=offers.lat * _KM_PER_DEGREE_LAT_AT_LEAST,
            r_y=requests.lat * _KM_PER_DEGREE_LAT_AT_LEAST,
            o_x=offers.lon * x_scale,
            r_x=requests.lon * x_scale,
            x_bound=x_bound,
            o_box_y=offers.lat * KM_PER_DEGREE_LAT,
            r_box_y=requests.lat * KM_PER_DEGREE_LAT,
            o_box_x=offers.lon * (KM_PER_DEGREE_LAT * cos_min),
            r_box_x=requests.lon * (KM_PER_DEGREE_LAT * cos_min),
        )


def _excluded_pairs(offers: SideTable, requests: SideTable, context: Context) -> np.ndarray:
    """The pairs a hard rule refuses whatever else holds (declined before, or one person on both
    sides), as sorted request_row * len(offers) + offer_row."""
    n_offers = len(offers)
    found = []
    if context.declined:
        pairs = [
            r * n_offers + o
            for offer_id, request_id in context.declined
            if (o := offers.row_of.get(offer_id)) is not None and (r := requests.row_of.get(request_id)) is not None
        ]
        found.append(np.array(pairs, np.int64))
    order = np.argsort(offers.person_ids, kind="stable")
    people = offers.person_ids[order]
    lo = np.searchsorted(people, requests.person_ids, side="left")
    counts = np.searchsorted(people, requests.person_ids, side="right") - lo
    total = int(counts.sum())
    if total:
        first = np.repeat(lo - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
        o = order[first + np.arange(total)]
        r = np.repeat(np.arange(len(requests), dtype=np.int64), counts)
        found.append(r * n_offers + o)
    if not found:
        return np.empty(0, np.int64)
    return np.unique(np.concatenate(found))


def _refused(c: _Columns, r: np.ndarray, o: np.ndarray) -> np.ndarray | None:
    """Of listed pairs, those excluded whatever else holds, as a mask (None: none)."""
    if len(c.excluded) == 0:
        return None
    maybe = np.flatnonzero(c.r_excluded[r] & c.o_excluded[o])
    if len(maybe) == 0:
        return None
    key = r[maybe] * len(c.offers) + o[maybe]
    hit = c.excluded[np.minimum(np.searchsorted(c.excluded, key), len(c.excluded) - 1)] == key
    if not hit.any():
        return None
    refuse = np.zeros(len(r), np.bool_)
    refuse[maybe[hit]] = True
    return refuse


def _pair_counts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bits shared by every row of `a` with every row of `b` (rows of 64-bit words), as a matrix."""
    out = np.bitwise_count(a[:, None, 0] & b[None, :, 0]).astype(np.int64)
    for word in range(1, a.shape[1]):
        out += np.bitwise_count(a[:, None, word] & b[None, :, word])
    return out


def _skill_terms(c: _Columns, r: np.ndarray, o: np.ndarray) -> np.ndarray:
    """weights.skills * the skill part, as `score_pairs` computes it, of listed pairs sharing a key."""
    requests, offers, w = c.requests, c.offers, c.weights
    if c.by_category:
        covered = popcount(requests.skill_words[r] & offers.skill_words[o]) / c.r_skill_count[r]
        similar = popcount(requests.category_words[r] & offers.category_words[o]) / c.r_category_count[r]
        return w.skills * (covered + w.category * similar * (1.0 - covered))
    terms = c.r_single_skill_term[r]
    # Only sides holding more than one skill can share more than the block's.
    many = np.flatnonzero((requests.skill_count[r] > 1) & (offers.skill_count[o] > 1))
    if len(many):
        rm, om = r[many], o[many]
        terms[many] = w.skills * (popcount(requests.skill_words[rm] & offers.skill_words[om]) / c.r_skill_count[rm])
    return terms


def _skill_terms_matrix(c: _Columns, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The same for every pair of a matrix of requests and offers sharing a key."""
    requests, offers, w = c.requests, c.offers, c.weights
    if c.by_category:
        covered = _pair_counts(requests.skill_words[rows], offers.skill_words[cols]) / c.r_skill_count[rows][:, None]
        similar = _pair_counts(requests.category_words[rows], offers.category_words[cols]) / c.r_category_count[rows][:, None]
        return w.skills * (covered + w.category * similar * (1.0 - covered))
    terms = np.broadcast_to(c.r_single_skill_term[rows][:, None], (len(rows), len(cols)))
    many_r = np.flatnonzero(requests.skill_count[rows] > 1)
    many_o = np.flatnonzero(offers.skill_count[cols] > 1)
    if len(many_r) and len(many_o):
        terms = terms.copy()
        shared = _pair_counts(requests.skill_words[rows[many_r]], offers.skill_words[cols[many_o]])
        terms[np.ix_(many_r, many_o)] = w.skills * (shared / c.r_skill_count[rows[many_r]][:, None])
    return terms


def _km(c: _Columns, r: np.ndarray, o: np.ndarray) -> np.ndarray:
    """`distance_km` of listed pairs, from the per-row radians and cosines."""
    p1, p2 = c.o_rad[o], c.r_rad[r]
    d_lon = c.requests.lon[r] - c.offers.lon[o]
    h = np.sin((p2 - p1) / 2) ** 2 + c.o_cos[o] * c.r_cos[r] * np.sin(np.radians(d_lon) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))


def _packed(request_rows: np.ndarray, offer_rows: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """One int64 per pair that sorts by request, then score descending, then offer row."""
    return (
        (request_rows.astype(np.int64) << 42)
        | ((SCORE_SCALE - scores).astype(np.int64) << 31)
        | offer_rows.astype(np.int64)
    )


def _best_of_packed(keys: np.ndarray, per_request: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each request's best `per_request` packed pairs (all when 0), each pair once, in packed
    order, as request rows, offer rows and scores. A plain sort of the packed integers (which
    numpy vectorises) rather than an argsort: the keys carry the pairs themselves."""
    keys = np.sort(keys)
    if len(keys) > 1:
        # A pair sharing two keys is found in both blocks, with the same score: keep it once.
        keys = keys[np.r_[True, keys[1:] != keys[:-1]]]
    request_rows = keys >> 42
    if per_request > 0 and len(keys) > per_request:
        counts = np.bincount(request_rows)
        starts = np.cumsum(counts) - counts
        keep = np.arange(len(keys)) - starts[request_rows] < per_request
        keys, request_rows = keys[keep], request_rows[keep]
    scores = SCORE_SCALE - ((keys >> 31) & ((1 << 11) - 1))
    return request_rows, keys & ((1 << 31) - 1), scores


def _in_person_groups(c: _Columns, rows: np.ndarray, cols: np.ndarray):
    """Groups of requests near one another, each with only the offers inside the box their travel
    limits allow (a box a little larger than `score_pairs` uses, so nothing is cut). Offers are
    taken in classes of travel limit, since a pair's limit is the smaller of the two."""
    offers, requests = c.offers, c.requests
    rows = rows[~np.isnan(requests.lat[rows]) & ~np.isnan(requests.lon[rows])]
    cols = cols[~np.isnan(offers.lat[cols]) & ~np.isnan(offers.lon[cols])]
    if len(rows) == 0 or len(cols) == 0:
        return
    classes = []
    col_class = np.searchsorted(_REACH_CLASSES_KM, offers.max_km[cols], side="left")
    for k in np.unique(col_class).tolist():
        members = cols[col_class == k]
        members = members[np.argsort(offers.lat[members], kind="stable")]
        classes.append(
            (members, offers.lat[members], offers.lon[members], float(c.o_cos_box[members].min()), float(offers.max_km[members].max()))
        )
    rows = rows[np.argsort(requests.lat[rows], kind="stable")]
    stripe = _GROUP_ROWS * _STRIPE_GROUPS
    for s in range(0, len(rows), stripe):
        band = rows[s : s + stripe]
        band = band[np.argsort(requests.lon[band], kind="stable")]
        for g in range(0, len(band), _GROUP_ROWS):
            group = band[g : g + _GROUP_ROWS]
            lat, lon = requests.lat[group], requests.lon[group]
            lat_lo, lat_hi, lon_lo, lon_hi = lat.min(), lat.max(), lon.min(), lon.max()
            group_reach = float(requests.max_km[group].max())
            group_cos = float(c.r_cos_box[group].min())
            windows = []
            for members, m_lat, m_lon, m_cos, m_reach in classes:
                reach = min(group_reach, m_reach)
                d_lat = reach / KM_PER_DEGREE_LAT * (1 + 1e-9) + 1e-9
                start = np.searchsorted(m_lat, lat_lo - d_lat, side="left")
                stop = np.searchsorted(m_lat, lat_hi + d_lat, side="right")
                if start >= stop:
                    continue
                # Degrees of longitude are shortest on the side nearer a pole.
                cos_min = min(m_cos, group_cos)
                if cos_min > 1e-6:
                    d_lon = reach / (KM_PER_DEGREE_LAT * cos_min) * (1 + 1e-9) + 1e-9
                    w_lon = m_lon[start:stop]
                    windows.append(members[start:stop][(w_lon >= lon_lo - d_lon) & (w_lon <= lon_hi + d_lon)])
                else:
                    windows.append(members[start:stop])
            window = np.concatenate(windows) if windows else cols[:0]
            if len(window):
                yield group, window


def _in_person_part(c: _Columns, rows: np.ndarray, cols: np.ndarray, per_request: int, out: list) -> None:
    """Pairs that can only meet in person, group by group: on every pair of the group's matrix
    the shared free time and a box a hair larger than the box of `score_pairs` (positions
    multiplied out per side); then, for the pairs inside, that box exactly, the distance and the
    score. Keeps each request's pairs scoring at least its `per_request`-th best (ties go to the
    final sort)."""
    offers, requests, w = c.offers, c.requests, c.weights
    for group, window in _in_person_groups(c, rows, cols):
        o_max, r_max = offers.max_km[window], requests.max_km[group]
        limit = np.minimum(o_max[None, :], r_max[:, None])
        with np.errstate(invalid="ignore"):
            inside = (c.r_slots32[group][:, None] & c.o_slots32[window][None, :]) != 0
            inside &= np.abs(c.o_box_y[window][None, :] - c.r_box_y[group][:, None]) <= limit + _SLACK_KM
            inside &= np.abs(c.o_box_x[window][None, :] - c.r_box_x[group][:, None]) <= limit + _SLACK_KM
        flat = np.flatnonzero(inside)
        if len(flat) == 0:
            continue
        i, j = np.divmod(flat, len(window))
        lim = limit.ravel()[flat]
        # The box of `score_pairs`, exactly.
        r_lat, o_lat, r_lon, o_lon = requests.lat[group][i], offers.lat[window][j], requests.lon[group][i], offers.lon[window][j]
        cos_box = np.where(c.o_abs[window][j] >= c.r_abs[group][i], c.o_cos_box[window][j], c.r_cos_box[group][i])
        box = np.abs(o_lat - r_lat) * KM_PER_DEGREE_LAT <= lim
        box &= np.abs(r_lon - o_lon) * KM_PER_DEGREE_LAT * cos_box <= lim
        # `distance_km`, from the per-row radians and cosines.
        p1, p2 = c.o_rad[window][j], c.r_rad[group][i]
        h = np.sin((p2 - p1) / 2) ** 2 + c.o_cos[window][j] * c.r_cos[group][i] * np.sin(np.radians(r_lon - o_lon) / 2) ** 2
        km = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))
        near = np.flatnonzero(box & (km <= lim))
        flat, i, j, km, lim = flat[near], i[near], j[near], km[near], lim[near]
        r, o = group[i], window[j]
        refuse = _refused(c, r, o)
        if refuse is not None:
            keep = ~refuse
            flat, i, j, r, o, km, lim = flat[keep], i[keep], j[keep], r[keep], o[keep], km[keep], lim[keep]
        with np.errstate(invalid="ignore", divide="ignore"):
            distance_terms = w.distance * np.where(lim > 0, 1.0 - km / lim, 1.0)
        time_part = np.bitwise_count(c.r_slots32[group][i] & c.o_slots32[window][j]) / c.r_slot_count[group][i]
        weighted = (
            _skill_terms_local(c, group, window, i, j) + distance_terms + w.time * time_part + c.o_fresh_term[window][j]
        ) / w.total
        scores = np.maximum(1, np.rint(SCORE_SCALE * weighted)).astype(np.int16)
        if per_request > 0 and len(window) > per_request and len(flat) > per_request:
            matrix = np.zeros(len(group) * len(window), np.int16)
            matrix[flat] = scores
            keep = scores >= _row_thresholds(matrix.reshape(len(group), len(window)), per_request)[i]
            r, o, scores = r[keep], o[keep], scores[keep]
        out.append(_packed(r, o, scores))


def _skill_terms_local(c: _Columns, group: np.ndarray, window: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """`_skill_terms` of the pairs (group[i], window[j]), reading the group's and the window's
    columns once."""
    if c.by_category:
        return _skill_terms(c, group[i], window[j])
    requests, offers, w = c.requests, c.offers, c.weights
    terms = c.r_single_skill_term[group][i]
    r_many, o_many = requests.skill_count[group] > 1, offers.skill_count[window] > 1
    if r_many.any() and o_many.any():
        many = np.flatnonzero(r_many[i] & o_many[j])
        if len(many):
            im, jm = i[many], j[many]
            r_words, o_words = requests.skill_words[group], offers.skill_words[window]
            shared = np.bitwise_count(r_words[:, 0][im] & o_words[:, 0][jm]).astype(np.int64)
            for word in range(1, r_words.shape[1]):
                shared += np.bitwise_count(r_words[:, word][im] & o_words[:, word][jm])
            terms[many] = w.skills * (shared / c.r_skill_count[group][im])
    return terms


def _row_thresholds(scores: np.ndarray, per_request: int) -> np.ndarray:
    """Per row of a matrix of scores (0: refused), its `per_request`-th best score (0 when it has
    fewer). Sorting short rows of small integers is vectorised in numpy; a partition is not, and
    slows down on the many zeros."""
    return np.sort(scores, axis=1)[:, scores.shape[1] - per_request]


def _remote_lut(c: _Columns, rows: np.ndarray) -> tuple[np.ndarray, int, int] | None:
    """Scores of remote pairs looked up rather than computed: for each request row, the score of
    every (shared skills, shared free times, offer's fresh part) there can be, computed with the
    very operations of `score_pairs` (so the same integers). Rows of the table, the stride of a
    shared skill and the stride of a shared time; None when the table would be too large."""
    if c.by_category or c.fresh_values is None:
        return None
    w = c.weights
    n_skills = int(c.requests.skill_count[rows].max())
    n_times = int(np.bitwise_count(c.requests.slots[rows]).max()) + 1
    n_fresh = len(c.fresh_values)
    if n_skills * n_times * n_fresh > 4096:
        return None
    shared = np.arange(1, n_skills + 1)
    skill_terms = w.skills * (shared[None, :] / c.r_skill_count[rows][:, None])
    time_terms = w.time * (np.arange(n_times)[None, :] / c.r_slot_count[rows][:, None])
    weighted = (
        skill_terms[:, :, None, None] + w.distance * w.remote_distance_part + time_terms[:, None, :, None]
        + c.fresh_values[None, None, None, :]
    ) / w.total  # fmt: skip
    table = np.maximum(1, np.rint(SCORE_SCALE * weighted)).astype(np.int16)
    table[:, :, 0, :] = 0  # no free time in common
    return table.reshape(len(rows), -1), n_times * n_fresh, n_fresh


def _remote_matrix(c: _Columns, rows: np.ndarray, cols: np.ndarray, both: bool, per_request: int, out: list) -> None:
    """Pairs that can meet by phone or online (and, when `both`, in person too where near enough,
    which then counts as in person): every pair with a shared free time is feasible. Keeps each
    request's best `per_request` (the offers are in row order, so ties go to the earlier row)."""
    offers, requests, w = c.offers, c.requests, c.weights
    slot_count = np.bitwise_count(c.r_slots32[rows][:, None] & c.o_slots32[cols][None, :])
    lut = _remote_lut(c, rows)
    if lut is not None:
        table, skill_stride, time_stride = lut
        index = np.multiply(slot_count, time_stride, dtype=np.int32)
        if time_stride > 1:
            index += c.o_fresh_class[cols][None, :]
        many_r = np.flatnonzero(requests.skill_count[rows] > 1)
        many_o = np.flatnonzero(offers.skill_count[cols] > 1)
        if len(many_r) and len(many_o):
            more = _pair_counts(requests.skill_words[rows[many_r]], offers.skill_words[cols[many_o]]) - 1
            index[np.ix_(many_r, many_o)] += (more * skill_stride).astype(np.int32)
        index += (np.arange(len(rows), dtype=np.int32) * table.shape[1])[:, None]
        scores = np.take(table, index)
    else:
        time_terms = w.time * (slot_count / c.r_slot_count[rows][:, None])
        weighted = (
            _skill_terms_matrix(c, rows, cols) + w.distance * w.remote_distance_part + time_terms + c.o_fresh_term[cols][None, :]
        ) / w.total
        scores = np.maximum(1, np.rint(SCORE_SCALE * weighted)).astype(np.int16)
        scores[slot_count == 0] = 0
    if both:
        # In person where near enough: first the pairs certainly farther apart than their limit
        # (see the lower bounds above) are set aside with two subtractions, then distances.
        limit = np.minimum(offers.max_km[cols][None, :], requests.max_km[rows][:, None])
        with np.errstate(invalid="ignore"):
            maybe = np.abs(c.o_y[cols][None, :] - c.r_y[rows][:, None]) <= limit + _SLACK_KM
            if c.x_bound:
                maybe &= np.abs(c.o_x[cols][None, :] - c.r_x[rows][:, None]) <= limit + _SLACK_KM
            maybe &= slot_count != 0
        flat = np.flatnonzero(maybe)
        if len(flat):
            i, j = np.divmod(flat, len(cols))
            r, o = rows[i], cols[j]
            km, lim = _km(c, r, o), limit.ravel()[flat]
            near = np.flatnonzero(km <= lim)
            if len(near):
                flat, r, o, km, lim = flat[near], r[near], o[near], km[near], lim[near]
                with np.errstate(invalid="ignore", divide="ignore"):
                    distance_terms = w.distance * np.where(lim > 0, 1.0 - km / lim, 1.0)
                time_part = np.bitwise_count(requests.slots[r] & offers.slots[o]) / c.r_slot_count[r]
                weighted = (_skill_terms(c, r, o) + distance_terms + w.time * time_part + c.o_fresh_term[o]) / w.total
                scores.ravel()[flat] = np.maximum(1, np.rint(SCORE_SCALE * weighted))
    if len(c.excluded):
        ti, tj = np.flatnonzero(c.r_excluded[rows]), np.flatnonzero(c.o_excluded[cols])
        if len(ti) and len(tj):
            refuse = _refused(c, np.repeat(rows[ti], len(tj)), np.tile(cols[tj], len(ti)))
            if refuse is not None:
                hit = np.flatnonzero(refuse)
                scores[ti[hit // len(tj)], tj[hit % len(tj)]] = 0
    n_cols = len(cols)
    if per_request > 0 and n_cols > per_request:
        threshold = np.maximum(1, _row_thresholds(scores, per_request))[:, None]
        above = scores > threshold
        at = scores == threshold
        # Of the pairs at the threshold, as many as are still wanted, earlier offers first.
        wanted = per_request - above.sum(axis=1, dtype=np.int32)
        keep = above | (at & (np.cumsum(at, axis=1, dtype=np.int32) <= wanted[:, None]))
    else:
        keep = scores > 0
    i, j = np.nonzero(keep)
    if len(i):
        out.append(_packed(rows[i], cols[j], scores[i, j]))


def _block(c: _Columns, key: int, per_request: int) -> list[np.ndarray]:
    """Packed pairs of one key's block that could be among their requests' best."""
    offers, requests = c.offers, c.requests
    o_index = offers.by_category if c.by_category else offers.by_skill
    r_index = requests.by_category if c.by_category else requests.by_skill
    rows, cols = r_index[key], o_index[key]
    rows, cols = rows[c.r_live[rows]], cols[c.o_live[cols]]
    out: list[np.ndarray] = []
    if len(rows) == 0 or len(cols) == 0:
        return out
    r_mode, o_mode = requests.mode[rows], offers.mode[cols]
    r_person, r_remote, r_either = (rows[r_mode == m] for m in (0, 1, 2))
    o_person, o_remote, o_either = (cols[o_mode == m] for m in (0, 1, 2))
    # In person only (one side will not call).
    for part_rows, part_cols in ((r_person, np.concatenate([o_person, o_either])), (r_either, o_person)):
        if len(part_rows) and len(part_cols):
            _in_person_part(c, part_rows, part_cols, per_request, out)
    # By phone or online only (one side will not meet), or either way.
    for part_rows, part_cols, both in (
        (r_remote, np.sort(np.concatenate([o_remote, o_either])), False),
        (r_either, o_remote, False),
        (r_either, o_either, True),
    ):
        if len(part_rows) and len(part_cols):
            step = max(1, _TILE_PAIRS // len(part_cols))
            for start in range(0, len(part_rows), step):
                _remote_matrix(c, part_rows[start : start + step], part_cols, both, per_request, out)
    return out


def candidate_graph(
    offers: SideTable,
    requests: SideTable,
    weights: Weights,
    context: Context,
    per_request: int,
    chunk_pairs: int = 2_000_000,
    workers: int = os.cpu_count() or 1,
) -> Graph:
    """Each live request's best `per_request` offers (every feasible offer when 0), ordered by
    request, score descending, offer row: the same graph as `candidate_graph_by_pairs`, by key
    blocks (see above). `chunk_pairs` is the reference's; here the blocks bound the memory.

    With `workers` > 1 and a borough-sized graph, a forked process takes half the blocks (the
    work is many small numpy steps, so threads would mostly wait for each other)."""
    if len(requests) >= 1 << 21 or len(offers) >= 1 << 31:
        raise ValueError("too many requests or offers for one allocation: run it ward by ward")
    columns = _Columns.of(offers, requests, weights, context)
    r_index = requests.by_category if columns.by_category else requests.by_skill
    o_index = offers.by_category if columns.by_category else offers.by_skill
    keys = [key for key in r_index if key in o_index]
    sizes = [len(r_index[k]) * len(o_index[k]) for k in keys]

    def best_of(some_keys: list[int]) -> np.ndarray:
        parts = [part for key in some_keys for part in _block(columns, key, per_request)]
        if not parts:
            return np.empty(0, np.int64)
        return _packed(*_best_of_packed(np.concatenate(parts), per_request))

    if workers > 1 and sum(sizes) >= _FORK_PAIRS and len(keys) > 1:
        # Largest blocks first, each to the lighter half.
        halves: tuple[list[int], list[int]] = ([], [])
        loads = [0, 0]
        for size, key in sorted(zip(sizes, keys, strict=True), reverse=True):
            lighter = int(loads[1] < loads[0])
            halves[lighter].append(key)
            loads[lighter] += size
        packed = _in_two_processes(lambda: best_of(halves[1]), lambda: best_of(halves[0]))
    else:
        packed = best_of(keys)
    r, o, s = _best_of_packed(packed, per_request)
    return Graph(o, r, s)


def _in_two_processes(theirs, mine) -> np.ndarray:
    """`mine()` here while a forked child computes `theirs()`: both packed pairs, concatenated.
    If the child cannot be had, or fails, its half is computed here as well."""
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:  # no fork on this system
        return np.concatenate([mine(), theirs()])
    reader, writer = context.Pipe(duplex=False)

    def child() -> None:
        # Nothing inherited may be finalised here (a database connection closed by the child
        # would be closed for the parent too): no collection runs, and the child leaves by
        # os._exit, as multiprocessing's forked processes do.
        gc.disable()
        try:
            writer.send_bytes(b"\x01" + theirs().tobytes())
        except BaseException as error:  # the parent computes the half itself
            writer.send_bytes(b"\x00" + repr(error).encode())
        finally:
            writer.close()

    try:
        process = context.Process(target=child, daemon=True)
        process.start()
    except OSError:
        reader.close()
        writer.close()
        return np.concatenate([mine(), theirs()])
    writer.close()
    message = b""
    try:
        started = time.perf_counter()
        here = mine()
        # The child's half is about as long as this one: if it is far later, it is stuck.
        if reader.poll(max(_CHILD_PATIENCE_SECONDS, 20 * (time.perf_counter() - started))):
            try:
                message = reader.recv_bytes()
            except EOFError:
                pass
    finally:
        reader.close()
        if not message:
            process.kill()
        process.join()
    if message[:1] != b"\x01":
        return np.concatenate([here, theirs()])
    return np.concatenate([here, np.frombuffer(message, np.int64, offset=1).copy()])


def _best_per_request(request_rows: np.ndarray, offer_rows: np.ndarray, scores: np.ndarray, per_request: int) -> np.ndarray:
    """Positions of each request's best `per_request` pairs (ties: earlier offer row), in the
    order request, score descending, offer row (all of them, in that order, when 0)."""
    n = len(scores)
    if n == 0:
        return np.arange(n)
    # One sort on a packed key: request, then score descending, then offer row.
    key = (
        (request_rows.astype(np.int64) << 42)
        | ((SCORE_SCALE - scores).astype(np.int64) << 31)
        | offer_rows.astype(np.int64)
    )
    order = np.argsort(key, kind="stable")
    if per_request <= 0:
        return order
    rows_sorted = request_rows[order]
    starts = np.flatnonzero(np.r_[True, rows_sorted[1:] != rows_sorted[:-1]])
    rank = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    return order[rank < per_request]


def reference_score(offer: Side, request: Side, weights: Weights, context: Context) -> int | None:
    """The rules and the score for one pair in plain Python: the oracle the tests compare the
    vectorised engine with, and the pair-by-pair scan the benchmark measures it against."""
    import math

    if not (offer.active and offer.consents and request.active and request.consents):
        return None
    if offer.expires <= context.now or request.expires <= context.now:
        return None
    if offer.person_id == request.person_id or (offer.id, request.id) in context.declined:
        return None
    shared_slots = offer.slots & request.slots
    if not shared_slots:
        return None
    shared = len(offer.skills & request.skills)
    similar = len(offer.categories & request.categories)
    if not shared and not (weights.category > 0 and similar):
        return None
    covered = shared / max(1, len(request.skills))
    skill_part = covered
    if weights.category > 0:
        skill_part = covered + weights.category * (similar / max(1, len(request.categories))) * (1.0 - covered)
    remote_ok = offer.mode != IN_PERSON and request.mode != IN_PERSON
    person_ok = offer.mode != REMOTE and request.mode != REMOTE
    in_person = False
    km = math.nan
    if person_ok and None not in (offer.latitude, offer.longitude, request.latitude, request.longitude):
        p1, p2 = math.radians(offer.latitude), math.radians(request.latitude)
        h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(request.longitude - offer.longitude) / 2) ** 2
        km = 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
        in_person = km <= min(offer.max_distance_km, request.max_distance_km)
    if not (in_person or remote_ok):
        return None
    limit = min(offer.max_distance_km, request.max_distance_km)
    distance_part = (1.0 - km / limit if limit > 0 else 1.0) if in_person else weights.remote_distance_part
    time_part = min(1.0, shared_slots.bit_count() / max(1, request.slots.bit_count()))
    fresh_part = 1.0 - min(1.0, offer.used / max(1, offer.capacity))
    weighted = (
        weights.skills * skill_part + weights.distance * distance_part + weights.time * time_part + weights.fresh * fresh_part
    ) / weights.total
    return max(1, round(SCORE_SCALE * weighted))


def explain(candidate: Candidate, skill_names: Mapping[int, str]) -> str:
    """'Shares Gardening · about 1.5 km apart · both free Tuesday mornings'."""
    return " · ".join(
        (
            _skills_phrase(candidate.shared_skills, skill_names),
            _distance_phrase(None if candidate.remote else round_distance(candidate.distance_km)),
            _slots_phrase(candidate.shared_slots),
        )
    )


def _skills_phrase(shared_skills: Iterable[int], skill_names: Mapping[int, str]) -> str:
    names = sorted(skill_names.get(s, "a skill") for s in shared_skills)
    return "Shares " + _and_list(names) if names else "A similar kind of help"


def _distance_phrase(rounded_km: float | None) -> str:
    return "by phone or online" if rounded_km is None else f"about {rounded_km:g} km apart"


def _slots_phrase(shared_slots: int) -> str:
    return "both free " + describe(shared_slots)


def explain_pairs(scored: Scored, offers: SideTable, requests: SideTable, skill_names: Mapping[int, str]) -> list[str]:
    """`explain` for every pair of `scored`, thousands at a time: each phrase is made once per
    distinct set of shared skills, rounded distance or shared times, and the same words come out."""
    o, r = scored.offer_rows, scored.request_rows
    n = len(o)
    if n == 0:
        return []
    shared = offers.skill_words[o] & requests.skill_words[r]
    distinct, which = np.unique(shared, axis=0, return_inverse=True)
    keys_by_bit = np.array(sorted(offers.skill_space.bit), np.int64)
    skill_phrases = []
    for words in distinct:
        bits = [w * 64 + b for w, word in enumerate(words.tolist()) for b in range(64) if word >> b & 1]
        skill_phrases.append(_skills_phrase(keys_by_bit[bits].tolist(), skill_names))
    remote = np.isnan(scored.km)
    # round_distance, on arrays: both round half to even.
    rounded = np.where(remote, np.nan, np.maximum(0.5, np.round(np.where(remote, 0.0, scored.km) * 2) / 2))
    distance_phrases: dict[float, str] = {}
    slot_phrases: dict[int, str] = {}
    out = []
    for p, (skill_index, km, slots) in enumerate(zip(which.ravel().tolist(), rounded.tolist(), scored.shared_slots.tolist(), strict=True)):
        key = -1.0 if remote[p] else km
        distance = distance_phrases.get(key)
        if distance is None:
            distance = distance_phrases[key] = _distance_phrase(None if remote[p] else km)
        slot = slot_phrases.get(slots)
        if slot is None:
            slot = slot_phrases[slots] = _slots_phrase(slots)
        out.append(f"{skill_phrases[skill_index]} · {distance} · {slot}")
    return out


def _and_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


__all__ = [
    "Candidate",
    "Context",
    "Side",
    "SideTable",
    "Weights",
    "Graph",
    "KeySpace",
    "candidate_graph",
    "key_spaces",
    "distance_km",
    "evaluate",
    "explain",
    "rank_offers_for_request",
    "rank_requests_for_offer",
    "round_distance",
]
