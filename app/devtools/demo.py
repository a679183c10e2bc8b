"""A fictional demo borough: wards, postcodes, people, consent, offers and help requests.

`generate_borough(session, people=N, seed=S)` fills the register with data that has the shape of a
real borough, so that pages, matching and benchmarks can be tried without anybody's real data:

- 20 named wards with codes "Z05000001".."Z05000020" and local authority "Z09000001": ONS (GSS)
  codes begin with E, W, S or N (K, L, M for the UK-wide and island areas), never Z, so these
  cannot collide with a real code (N05000001 is a real constituency and N09000001 a real Northern
  Ireland district, Antrim and Newtownabbey);
- postcodes in the area "NB", which does not exist in the UK ("NB7 3QD"), one district per ward,
  clustered around each ward's centre in a borough about 12 km across (inland England);
  about one postcode per 25 people, at least 50;
- people without accounts (people on the register, as if registered by a linker or on paper),
  with names from many of the UK's communities, fictional contact details (`@demo.example`
  addresses and Ofcom's drama numbers "07700 900xxx"), some access and language needs;
- consent records for every person (profile always; matching ~92%; share_contact ~70%);
- offers for about half of the people and help requests for about half, with 1-3 skills from the
  seeded taxonomy (popular ones far more common), realistic weekly availability, modes, travel
  distances, statuses, expiry dates, capacities and urgencies.

Deterministic: the same seed (and the same `now` and skills taxonomy) gives the same data. All
randomness comes from one `random.Random(seed)`; skills are read from the database sorted by code.
Primary keys are the only thing that depends on what is already in the database.

Fast: rows are built in Python with primary keys assigned here (so that link rows need no round
trips), then written in bulk: Core executemany in chunks of 5,000 on SQLite, COPY on PostgreSQL.
100,000 people (about 660,000 rows) take well under a minute on either.

Re-running replaces the previous demo data (see `delete_demo_data`); `replace=False` refuses
instead. The function only executes statements; the caller commits.

The words (ward names, people's names, access needs, titles and sentences) and the skill weights
are data, in `data/demo_words.json` beside this file, read once when the module is imported.

`DEMO_ACCOUNTS` are the demo sign-ins `marketplace seed-demo` creates (`ensure_demo_accounts`);
the demo citizen gets a profile in the borough (`ensure_demo_person`).
"""

from __future__ import annotations

import json
import math
import random
import re
import time
import unicodedata
from bisect import bisect
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from importlib import resources
from itertools import accumulate
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, text, update
from sqlmodel import Session

from app.core.config import get_settings
from app.core.db import utcnow
from app.privacy.models import ConsentRecord
from app.privacy.notices import Notice, notice
from app.privacy.service import HOW_TO_WITHDRAW, LEGAL_BASIS, ConsentTerms, terms_for
from app.registry.availability import describe
from app.registry.models import (
    HelpRequest,
    HelpRequestSkill,
    Offer,
    OfferSkill,
    Person,
    PostcodeLocation,
    Skill,
    SkillCategory,
    Ward,
)

__all__ = [
    "DEMO_ACCOUNTS",
    "DEMO_EMAIL_DOMAIN",
    "DEMO_LOCAL_AUTHORITY_CODE",
    "DEMO_POSTCODE_AREA",
    "DEMO_WARD_CODE_PREFIX",
    "delete_demo_data",
    "ensure_borough",
    "ensure_demo_accounts",
    "ensure_demo_person",
    "generate_borough",
]

DEMO_POSTCODE_AREA = "NB"  # not a UK postcode area
DEMO_WARD_CODE_PREFIX = "Z05"  # no GSS code starts with Z (real wards: E05, W05, S13, N08)
DEMO_LOCAL_AUTHORITY_CODE = "Z09000001"
DEMO_EMAIL_DOMAIN = "demo.example"  # .example is reserved (RFC 2606): never a real mailbox

CHUNK = 5_000
CENTRE_LAT = 52.95
CENTRE_LON = -1.15
KM_PER_DEG_LAT = 111.32
KM_PER_DEG_LON = KM_PER_DEG_LAT * math.cos(math.radians(CENTRE_LAT))
BOROUGH_RADIUS_KM = 6.0  # about 12 km across
WARD_CENTRE_RADIUS_KM = 4.8
POSTCODE_SPREAD_KM = 0.6  # standard deviation around a ward's centre
PEOPLE_PER_POSTCODE = 25
MIN_POSTCODES = 50
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the letters Royal Mail uses in inward codes
INWARD_CODES_PER_DISTRICT = 10 * len(INWARD_LETTERS) ** 2  # 4,000


# --- words: app/devtools/data/demo_words.json, read once --------------------------------------


def _load_words() -> dict[str, Any]:
    source = resources.files("app.devtools").joinpath("data", "demo_words.json")
    return json.loads(source.read_text(encoding="utf-8"))


_WORDS = _load_words()

WARD_NAMES: tuple[str, ...] = tuple(_WORDS["wards"])

# (weight, first names, surnames, languages people in this group may prefer, chance of a
# language need). Weights give a mixed Midlands-like borough; names are common, not anybody's.
NAME_GROUPS: tuple[tuple[float, tuple[str, ...], tuple[str, ...], tuple[str, ...], float], ...] = tuple(
    (
        group["weight"],
        tuple(group["first_names"]),
        tuple(group["surnames"]),
        tuple(group["languages"]),
        group["language_need_rate"],
    )
    for group in _WORDS["name_groups"]
)

ACCESS_NEEDS: tuple[str, ...] = tuple(_WORDS["access_needs"])
ACCESS_NEEDS_RATE = 0.09
BSL_RATE = 0.004

# Personas drive availability (and a little of the wording).
PERSONAS = ("retired", "working", "parent", "flexible")
PERSONA_WEIGHTS = (30, 45, 15, 10)


def _slots(days: Iterable[int], parts: Iterable[int]) -> tuple[int, ...]:
    return tuple(day * 3 + part for day in days for part in parts)


WEEKDAYS, WEEKEND = range(5), (5, 6)
AM, PM, EVE = 0, 1, 2
SLOT_POOLS = {
    "retired": _slots(WEEKDAYS, (AM, PM)) + _slots((5,), (AM,)),
    "working": _slots(WEEKDAYS, (EVE,)) + _slots(WEEKEND, (AM, PM, EVE)),
    "parent": _slots(WEEKDAYS, (AM, PM)) + _slots((1, 3), (EVE,)) + _slots((6,), (AM,)),
    "flexible": tuple(range(21)),
}
SLOT_COUNTS = (2, 3, 4, 5, 6, 7, 8)
SLOT_COUNT_CUM = tuple(accumulate((12, 20, 22, 17, 12, 9, 8)))

DISTANCES = (1.0, 2.0, 3.0, 5.0, 8.0, 10.0, 15.0)
DISTANCE_CUM = tuple(accumulate((18, 26, 20, 16, 9, 7, 4)))
SKILL_COUNT_CUM = tuple(accumulate((50, 35, 15)))  # 1, 2 or 3 skills
CAPACITY_CUM = tuple(accumulate((76, 17, 7)))  # 1, 2 or 3 people at once
URGENCIES = ("low", "normal", "high")
URGENCY_CUM = tuple(accumulate((25, 60, 15)))
STATUSES = ("active", "paused", "draft", "closed")
STATUS_CUM = tuple(accumulate((90, 4, 3, 3)))


# --- skills ---------------------------------------------------------------------------------------

# How often people offer and ask for each skill of the seeded taxonomy (migrations/data/skills_v1.json),
# relative to an ordinary skill (1.0): (offer weight, request weight). Popular: befriending,
# shopping, lifts, IT help, gardening. Rare: the specific languages, sports coaching. Skills that
# admins add later weigh 1.0 (or as a language, when their code starts with "language_").
SKILL_WEIGHTS: dict[str, tuple[float, float]] = {
    code: (weights[0], weights[1]) for code, weights in _WORDS["skill_weights"].items()
}
LANGUAGE_WEIGHTS = (0.5, 0.4)  # a "language_..." skill not listed above
# Someone who speaks a language (its name is in the skill's name) is far more likely to offer it,
# and someone with a language need is more likely to ask for it, or for English practice.
OWN_LANGUAGE_BOOST = 40.0
LANGUAGE_NEED_BOOST = 15.0
LANGUAGE_NEED_SKILLS = frozenset(_WORDS["language_need_skills"])
# Skills that work by phone or video; items with none of them are never remote-only.
REMOTE_FRIENDLY = frozenset(_WORDS["remote_friendly_skills"])
# Words that stay capitalised inside a sentence ("help with Polish conversation").
PROPER_WORDS = frozenset(_WORDS["proper_words"])

# --- sentences ------------------------------------------------------------------------------------

# {A}/{a}: a skill's name as a noun ("IT and computer help"); {h}: after "help with", without a
# second "help" ("help with IT and computer"); {b}/{hb}: the last skill; {list_*}: all of them.
OFFER_TITLES_1: tuple[str, ...] = tuple(_WORDS["offer_titles_one_skill"])
OFFER_TITLES_N: tuple[str, ...] = tuple(_WORDS["offer_titles_more_skills"])
REQUEST_TITLES_1: tuple[str, ...] = tuple(_WORDS["request_titles_one_skill"])
REQUEST_TITLES_N: tuple[str, ...] = tuple(_WORDS["request_titles_more_skills"])
OFFER_OPENERS: tuple[str, ...] = tuple(_WORDS["offer_openers"])
REQUEST_OPENERS: tuple[str, ...] = tuple(_WORDS["request_openers"])
# Per kind ("offer", "request") and persona, a line about the person ("" for none).
PERSONA_LINES: dict[str, dict[str, tuple[str, ...]]] = {
    kind: {persona: tuple(lines) for persona, lines in by_persona.items()}
    for kind, by_persona in _WORDS["persona_lines"].items()
}
# Per mode, how the person can meet ({km}, {ward}).
CLOSERS: dict[str, tuple[str, ...]] = {mode: tuple(lines) for mode, lines in _WORDS["closers"].items()}


# --- the generator --------------------------------------------------------------------------------


def generate_borough(
    session: Session,
    *,
    people: int,
    seed: int,
    now: datetime | None = None,
    replace: bool = True,
    templates_dir: str | None = None,
) -> dict[str, Any]:
    """Generate a fictional borough; return {"people","offers","requests","wards","postcodes","seconds"}.

    Previous demo data is deleted first (`delete_demo_data`); with `replace=False` a ValueError is
    raised instead when demo wards or postcodes already exist. Executes statements only (Core
    statements, so ORM objects already loaded in the session are not refreshed): the caller commits.
    `now` fixes the clock for creation and expiry times (tests pass one to compare runs).
    """
    started = time.perf_counter()
    if not isinstance(people, int) or people < 0:
        raise ValueError("people must be a whole number, 0 or more")
    now = utcnow() if now is None else now
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    now = now.replace(microsecond=0)

    if replace:
        delete_demo_data(session)
    elif _demo_borough_exists(session):
        raise ValueError(
            "a demo borough already exists: delete it first, or call with replace=True"
        )

    skills = _load_skills(session)
    rng = random.Random(seed)
    wards = _make_wards(rng)
    postcodes = _make_postcodes(rng, wards, max(MIN_POSTCODES, round(people / PEOPLE_PER_POSTCODE)))
    ward_names = {ward["code"]: ward["name"] for ward in wards}
    settings = get_settings()
    built = _Builder(
        rng, skills, postcodes, ward_names, now,
        notice=notice(templates_dir or str(settings.templates_dir)), consent_terms=terms_for(settings),
        recorder_id=_demo_account_id(session, "linker"),
    )  # fmt: skip
    built.people(people)

    _insert(session, Ward, [{"code": w["code"], "name": w["name"]} for w in wards])
    _insert(
        session,
        PostcodeLocation,
        [
            {
                "postcode": p["postcode"],
                "latitude": p["latitude"],
                "longitude": p["longitude"],
                "local_authority_code": DEMO_LOCAL_AUTHORITY_CODE,
                "ward_code": p["ward_code"],
            }
            for p in postcodes
        ],
    )
    # Primary keys: reserved now, so that link rows can point at them without any round trip.
    person_base = _reserve_ids(session, Person, len(built.person_rows))
    offer_base = _reserve_ids(session, Offer, len(built.offer_rows))
    request_base = _reserve_ids(session, HelpRequest, len(built.request_rows))
    consent_base = _reserve_ids(session, ConsentRecord, len(built.consent_rows))

    for index, row in enumerate(built.person_rows):
        row["id"] = person_base + index
    for index, row in enumerate(built.consent_rows):
        row["id"] = consent_base + index
        row["person_id"] += person_base
    for base, rows in ((offer_base, built.offer_rows), (request_base, built.request_rows)):
        for index, row in enumerate(rows):
            row["id"] = base + index
            row["person_id"] += person_base
    offer_skill_rows = [{"offer_id": offer_base + i, "skill_id": s} for i, s in built.offer_skills]
    request_skill_rows = [
        {"request_id": request_base + i, "skill_id": s} for i, s in built.request_skills
    ]

    _insert(session, Person, built.person_rows)
    _insert(session, ConsentRecord, built.consent_rows)
    _insert(session, Offer, built.offer_rows)
    _insert(session, OfferSkill, offer_skill_rows)
    _insert(session, HelpRequest, built.request_rows)
    _insert(session, HelpRequestSkill, request_skill_rows)
    from app.core import changes

    changes.bump(session, "matching")

    return {
        "people": len(built.person_rows),
        "offers": len(built.offer_rows),
        "requests": len(built.request_rows),
        "wards": len(wards),
        "postcodes": len(postcodes),
        "seconds": round(time.perf_counter() - started, 3),
    }


def delete_demo_data(session: Session) -> None:
    """Delete the demo borough: its wards ("Z05…"), postcodes ("NB…") and the people on them.

    Demo people are those with an "NB" postcode and no account; their consent records, offers,
    requests and skill links go with them. People with an account (someone who registered on a
    demo site) are kept.
    """
    demo_people = select(Person.id).where(
        Person.postcode.like(f"{DEMO_POSTCODE_AREA}%"), Person.account_id.is_(None)
    )
    demo_offers = select(Offer.id).where(Offer.person_id.in_(demo_people))
    demo_requests = select(HelpRequest.id).where(HelpRequest.person_id.in_(demo_people))
    # Nothing cascades from a person (people are anonymised, never deleted, in the service), so
    # the demo's own matches and casework go first, explicitly.
    from app.linkers.models import (
        AccountClaim,
        CaseAssignment,
        CaseNote,
        ContactAttempt,
        FollowUp,
        MatchIntroduction,
    )
    from app.matching.models import Match, MatchMessage, WellbeingAnswer
    from app.privacy.models import ErasureRecord

    demo_matches = select(Match.id).where(or_(Match.offer_id.in_(demo_offers), Match.request_id.in_(demo_requests)))
    for statement in (
        delete(MatchIntroduction).where(MatchIntroduction.match_id.in_(demo_matches)),
        delete(MatchMessage).where(MatchMessage.match_id.in_(demo_matches)),
        delete(WellbeingAnswer).where(WellbeingAnswer.match_id.in_(demo_matches)),
        update(CaseNote).where(CaseNote.match_id.in_(demo_matches)).values(match_id=None),
        delete(Match).where(Match.id.in_(demo_matches)),
        *(delete(model).where(model.person_id.in_(demo_people))
          for model in (CaseNote, ContactAttempt, FollowUp, AccountClaim, CaseAssignment, ErasureRecord)),
        delete(OfferSkill).where(OfferSkill.offer_id.in_(demo_offers)),
        delete(HelpRequestSkill).where(HelpRequestSkill.request_id.in_(demo_requests)),
        delete(Offer).where(Offer.id.in_(demo_offers)),
        delete(HelpRequest).where(HelpRequest.id.in_(demo_requests)),
        delete(ConsentRecord).where(ConsentRecord.person_id.in_(demo_people)),
        delete(Person).where(Person.id.in_(demo_people)),
        delete(PostcodeLocation).where(PostcodeLocation.postcode.like(f"{DEMO_POSTCODE_AREA}%")),
        delete(Ward).where(Ward.code.like(f"{DEMO_WARD_CODE_PREFIX}%")),
    ):
        session.execute(statement.execution_options(synchronize_session=False))


def _demo_borough_exists(session: Session) -> bool:
    wards = select(Ward.code).where(Ward.code.like(f"{DEMO_WARD_CODE_PREFIX}%")).limit(1)
    postcodes = (
        select(PostcodeLocation.postcode)
        .where(PostcodeLocation.postcode.like(f"{DEMO_POSTCODE_AREA}%"))
        .limit(1)
    )
    return (
        session.execute(wards).first() is not None or session.execute(postcodes).first() is not None
    )


# --- database helpers -----------------------------------------------------------------------------


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Write rows in bulk. Every row of one call has the same keys.

    PostgreSQL: COPY on the session's own connection (so inside its transaction): psycopg's
    executemany sends one Bind/Execute per row, about five times slower. The values are already
    plain database values (strings for enums, aware UTC datetimes for timestamptz).
    Elsewhere: Core executemany in chunks (no ORM unit of work, no RETURNING).
    """
    if not rows:
        return
    table = model.__table__
    connection = session.connection()
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        columns = list(rows[0])
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        driver_connection = connection.connection.driver_connection
        with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[column] for column in columns])
        return
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(table), rows[start : start + CHUNK])


def _reserve_ids(session: Session, model: Any, count: int) -> int:
    """The first of `count` consecutive free ids for `model`'s table.

    On PostgreSQL the block is taken from the table's sequence *before* inserting (setval moves it
    past the block at once, outside the transaction), so that nobody else's insert can collide
    with the explicit ids while the seeding runs; the sequence then already points past MAX(id).
    On SQLite the next rowid is MAX(id) + 1 anyway.
    """
    table = model.__table__.name
    if session.connection().dialect.name == "postgresql":
        if count == 0:
            return 1
        statement = text(
            "SELECT setval(pg_get_serial_sequence(:table, 'id'),"
            f" GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}) + 1,"
            " nextval(pg_get_serial_sequence(:table, 'id'))) + :count - 1)"
        )
        last = session.execute(statement, {"table": table, "count": count}).scalar_one()
        return last - count + 1
    current = session.execute(select(func.max(model.__table__.c.id))).scalar_one()
    return (current or 0) + 1


def _load_skills(session: Session) -> list[dict[str, Any]]:
    statement = (
        select(Skill.id, Skill.code, Skill.name, SkillCategory.code)
        .join(SkillCategory, SkillCategory.id == Skill.category_id)
        .where(Skill.active.is_(True))
    )
    # Sorted here, not by ORDER BY: PostgreSQL's collation may order "it_help" and "items"
    # differently from SQLite, and the same seed must give the same borough on both.
    rows = sorted(session.execute(statement).all(), key=lambda row: row[1])
    if not rows:
        raise ValueError(
            "no skills in the database: run the migrations (they seed the taxonomy) first"
        )
    return [{"id": r[0], "code": r[1], "name": r[2], "category": r[3]} for r in rows]


# --- geography ------------------------------------------------------------------------------------


def _to_latlon(x_km: float, y_km: float) -> tuple[float, float]:
    return round(CENTRE_LAT + y_km / KM_PER_DEG_LAT, 6), round(
        CENTRE_LON + x_km / KM_PER_DEG_LON, 6
    )


def _make_wards(rng: random.Random) -> list[dict[str, Any]]:
    """Twenty ward centres spread over the borough, about 2 km apart or more."""
    centres: list[tuple[float, float]] = []
    separation = 1.9
    while len(centres) < len(WARD_NAMES):
        for _attempt in range(2_000):
            radius = WARD_CENTRE_RADIUS_KM * math.sqrt(rng.random())
            angle = rng.random() * 2 * math.pi
            x, y = radius * math.cos(angle), radius * math.sin(angle)
            if all((x - cx) ** 2 + (y - cy) ** 2 >= separation**2 for cx, cy in centres):
                centres.append((x, y))
                break
        else:
            separation *= 0.9  # crowded: relax a little (deterministically)
    wards = []
    for index, (name, (x, y)) in enumerate(zip(WARD_NAMES, centres, strict=True), start=1):
        # Denser towards the middle, and unevenly so.
        weight = rng.uniform(0.6, 1.6) * (1.35 - 0.6 * math.hypot(x, y) / WARD_CENTRE_RADIUS_KM)
        wards.append(
            {
                "code": f"{DEMO_WARD_CODE_PREFIX}{index:06d}",
                "name": name,
                "district": f"{DEMO_POSTCODE_AREA}{index}",
                "x": x,
                "y": y,
                "weight": weight,
            }
        )
    return wards


def _make_postcodes(
    rng: random.Random, wards: list[dict[str, Any]], count: int
) -> list[dict[str, Any]]:
    """`count` unique postcodes, shared among the wards by weight, scattered around each centre."""
    count = min(count, int(len(wards) * INWARD_CODES_PER_DISTRICT * 0.6))
    total = sum(w["weight"] for w in wards)
    spare = count - len(wards)  # every ward has at least one postcode; the rest go by weight
    shares = [1 + int(spare * w["weight"] / total) for w in wards]
    for index in range(count - sum(shares)):  # hand out what rounding left over
        shares[index % len(wards)] += 1
    postcodes = []
    for ward, share in zip(wards, shares, strict=True):
        for code in rng.sample(range(INWARD_CODES_PER_DISTRICT), share):
            digit, rest = divmod(code, len(INWARD_LETTERS) ** 2)
            first, second = divmod(rest, len(INWARD_LETTERS))
            inward = f"{digit}{INWARD_LETTERS[first]}{INWARD_LETTERS[second]}"
            while True:
                x = rng.gauss(ward["x"], POSTCODE_SPREAD_KM)
                y = rng.gauss(ward["y"], POSTCODE_SPREAD_KM)
                if x * x + y * y <= BOROUGH_RADIUS_KM**2:
                    break
            latitude, longitude = _to_latlon(x, y)
            postcodes.append(
                {
                    "postcode": f"{ward['district']} {inward}",
                    "latitude": latitude,
                    "longitude": longitude,
                    "ward_code": ward["code"],
                }
            )
    return postcodes


# --- text helpers ---------------------------------------------------------------------------------


def _ascii(text_: str) -> str:
    """For e-mail addresses: "Łukasz" -> "lukasz", "O'Brien" -> "obrien", "Ní Bhriain" -> "nibhriain"."""
    text_ = text_.replace("Ł", "L").replace("ł", "l").replace("ı", "i")
    decomposed = unicodedata.normalize("NFKD", text_)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


def _in_sentence(name: str) -> str:
    """A skill's name inside a sentence: "befriending", but "IT help" and "Polish conversation"."""
    first = name.split(" ", 1)[0]
    if first in PROPER_WORDS or any(c.isupper() for c in first[1:]):  # "IT", "CVs", "BSL"
        return name
    return name[:1].lower() + name[1:]


_WITHOUT_HELP = re.compile(r" help\b")


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _pick(cumulative: Sequence[float], rng: random.Random) -> int:
    return bisect(cumulative, rng.random() * cumulative[-1])


# --- rows -----------------------------------------------------------------------------------------


class _Builder:
    """Builds every row in memory; ids are 0-based offsets, rebased once the ids are reserved."""

    def __init__(
        self,
        rng: random.Random,
        skills: list[dict[str, Any]],
        postcodes: list[dict[str, Any]],
        ward_names: dict[str, str],
        now: datetime,
        *,
        notice: Notice,
        consent_terms: ConsentTerms,
        recorder_id: int,
    ):
        self.notice = notice
        self.consent_terms = consent_terms
        self.recorder_id = recorder_id
        self.rng = rng
        self.skills = skills
        self.postcodes = postcodes
        self.ward_names = ward_names
        self.now = now
        self.person_rows: list[dict[str, Any]] = []
        self.consent_rows: list[dict[str, Any]] = []
        self.offer_rows: list[dict[str, Any]] = []
        self.request_rows: list[dict[str, Any]] = []
        self.offer_skills: list[tuple[int, int]] = []
        self.request_skills: list[tuple[int, int]] = []
        self.group_cum = tuple(accumulate(group[0] for group in NAME_GROUPS))
        self.persona_cum = tuple(accumulate(PERSONA_WEIGHTS))
        self.described: dict[int, str] = {}
        self._prepare_skills()

    # skills: weights per kind, per speaker's languages and per category
    def _prepare_skills(self) -> None:
        """Cumulative weights for picking skills: per kind, per speaker's languages, per category."""
        offer_weights, request_weights = [], []
        for skill in self.skills:
            code = skill["code"]
            default = LANGUAGE_WEIGHTS if code.startswith("language_") else (1.0, 1.0)
            offer_w, request_w = SKILL_WEIGHTS.get(code, default)
            offer_weights.append(float(offer_w))
            request_weights.append(float(request_w))
        self.remote_ok = [
            skill["code"] in REMOTE_FRIENDLY or skill["code"].startswith("language_")
            for skill in self.skills
        ]
        names = [f" {skill['name'].lower()} " for skill in self.skills]

        def speaks(index: int, languages: Sequence[str]) -> bool:
            return any(
                f" {language.split(' ')[0].lower()} " in names[index] for language in languages
            )

        self.offer_weights = offer_weights
        self.request_weights = request_weights
        self.offer_cum_by_group = []
        self.request_cum_by_group = []  # for people with a language need
        for group in NAME_GROUPS:
            languages = group[3]
            boosted_offers = [
                w * OWN_LANGUAGE_BOOST if speaks(i, languages) else w
                for i, w in enumerate(offer_weights)
            ]
            boosted_requests = [
                w * LANGUAGE_NEED_BOOST
                if speaks(i, languages) or self.skills[i]["code"] in LANGUAGE_NEED_SKILLS
                else w
                for i, w in enumerate(request_weights)
            ]
            self.offer_cum_by_group.append(tuple(accumulate(boosted_offers)))
            self.request_cum_by_group.append(tuple(accumulate(boosted_requests)))
        self.request_cum = tuple(accumulate(request_weights))
        self.by_category: dict[str, list[int]] = {}
        for index, skill in enumerate(self.skills):
            self.by_category.setdefault(skill["category"], []).append(index)
        # Cumulative weights within each category, for the second and third skill of an item.
        self.family_cum = {
            kind: {
                category: tuple(accumulate(weights[i] for i in members))
                for category, members in self.by_category.items()
            }
            for kind, weights in (("offer", offer_weights), ("request", request_weights))
        }

    def _choose_skills(self, cumulative: Sequence[float], kind: str) -> list[int]:
        rng = self.rng
        wanted = _pick(SKILL_COUNT_CUM, rng) + 1
        chosen = [_pick(cumulative, rng)]
        attempts = 0
        while len(chosen) < wanted and attempts < 10:
            attempts += 1
            if rng.random() < 0.6:  # people's skills come in families: often the same category
                category = self.skills[chosen[0]]["category"]
                candidate = self.by_category[category][_pick(self.family_cum[kind][category], rng)]
            else:
                candidate = _pick(cumulative, rng)
            if candidate not in chosen:
                chosen.append(candidate)
        return chosen

    def _describe(self, mask: int) -> str:
        words = self.described.get(mask)
        if words is None:
            words = self.described[mask] = describe(mask)
        return words

    def _availability(self, persona: str) -> int:
        rng = self.rng
        pool = SLOT_POOLS[persona]
        count = SLOT_COUNTS[_pick(SLOT_COUNT_CUM, rng)]
        slots = rng.sample(pool, count)
        if count > 2 and rng.random() < 0.15:  # one time outside the usual pattern
            extra = rng.randrange(21)
            if extra not in slots:
                slots[-1] = extra
        mask = 0
        for slot in slots:
            mask |= 1 << slot
        return mask

    def people(self, count: int) -> None:
        rng = self.rng
        for ordinal in range(count):
            self._person(ordinal, rng)

    def _person(self, index: int, rng: random.Random) -> None:
        group_index = _pick(self.group_cum, rng)
        _weight, firsts, lasts, languages, language_rate = NAME_GROUPS[group_index]
        first = rng.choice(firsts)
        if rng.random() < 0.1:  # families mix
            lasts = NAME_GROUPS[_pick(self.group_cum, rng)][2]
        last = rng.choice(lasts)
        persona = PERSONAS[_pick(self.persona_cum, rng)]
        postcode = self.postcodes[rng.randrange(len(self.postcodes))]
        created_at = self.now - timedelta(seconds=rng.randrange(400 * 86_400))

        email = phone = None
        if rng.random() < 0.5:
            email = f"{_ascii(first)}.{_ascii(last)}.{index + 1}@{DEMO_EMAIL_DOMAIN}"
            preferred = "email"
            if rng.random() < 0.2:
                phone = f"07700 900{rng.randrange(1000):03d}"
        else:
            # Ofcom's range for drama: never a real line.
            phone = f"07700 900{rng.randrange(1000):03d}"
            preferred = "phone"
        access_needs = rng.choice(ACCESS_NEEDS) if rng.random() < ACCESS_NEEDS_RATE else None
        language_needs = None
        needs_language = bool(languages) and rng.random() < language_rate
        if needs_language:
            language_needs = f"Prefers {rng.choice(languages)}"
        elif rng.random() < BSL_RATE:
            language_needs = "British Sign Language"

        self.person_rows.append(
            {
                "name": f"{first} {last}",
                "email": email,
                "phone": phone,
                "preferred_contact": preferred,
                "postcode": postcode["postcode"],
                "latitude": postcode["latitude"],
                "longitude": postcode["longitude"],
                "ward_code": postcode["ward_code"],
                "access_needs": access_needs,
                "language_needs": language_needs,
                "created_at": created_at,
                "updated_at": created_at,
                # One in four registered with a linker's help (by index, so the random sequence,
                # and with it every other figure of a seed, stays as it was).
                "created_by_account_id": self.recorder_id if index % 4 == 0 else None,
            }
        )
        self._consents(index, created_at, rng)

        roll = rng.random()  # offer only, request only, both, neither: offers ~ requests ~ 50%
        has_offer = roll < 0.47 or 0.94 <= roll < 0.97
        has_request = 0.47 <= roll < 0.97
        if has_offer:
            self._item(
                index,
                persona,
                postcode,
                created_at,
                self.offer_cum_by_group[group_index],
                offer=True,
            )
        if has_request:
            request_cum = (
                self.request_cum_by_group[group_index] if needs_language else self.request_cum
            )
            self._item(index, persona, postcode, created_at, request_cum, offer=False)

    def _consents(self, person: int, at: datetime, rng: random.Random) -> None:
        # Demo people have no accounts: as if a linker took their consent by phone, in person or
        # on a paper form, and recorded it as the demo linker, under the real demo notice.
        method = "verbal" if rng.random() < 0.7 else "paper"
        purposes = [("profile", None)]
        if rng.random() < 0.92:
            purposes.append(("matching", None))
            # 0.92 * 0.76 = 70% share contact (only people who may be matched are asked).
            if rng.random() < 0.76:
                purposes.append(("share_contact", None))
        elif rng.random() < 0.35:  # some said yes once, then changed their mind
            withdrawn = at + timedelta(
                seconds=rng.randrange(max(1, int((self.now - at).total_seconds())))
            )
            purposes.append(("matching", withdrawn))
        for purpose, withdrawn_at in purposes:
            given = self._consent_row(person, purpose, "given", method, at)
            self.consent_rows.append(given)
            if withdrawn_at is not None:
                given["superseded_at"] = withdrawn_at
                withdrawal = self._consent_row(person, purpose, "withdrawn", method, withdrawn_at)
                withdrawal["withdrawn_at"] = withdrawn_at
                self.consent_rows.append(withdrawal)

    def _consent_row(self, person: int, purpose: str, state: str, method: str, at: datetime) -> dict[str, Any]:
        terms, notice = self.consent_terms, self.notice
        return {
            "person_id": person,
            "purpose": purpose,
            "state": state,
            "notice_version": notice.version,
            "notice_hash": notice.text_hash,
            "language": notice.language,
            "method": method,
            "recorder": "linker",
            "recorded_by_account_id": self.recorder_id,
            "recorded_at": at,
            "withdrawn_at": None,
            "superseded_at": None,
            "controller": terms.controller,
            "legal_basis": LEGAL_BASIS,
            "retention": terms.retention,
            "how_to_withdraw": HOW_TO_WITHDRAW,
        }

    def _item(
        self,
        person: int,
        persona: str,
        postcode: dict[str, Any],
        person_created: datetime,
        skill_cum: Sequence[float],
        *,
        offer: bool,
    ) -> None:
        rng = self.rng
        chosen = self._choose_skills(skill_cum, "offer" if offer else "request")
        names = [self.skills[i]["name"] for i in chosen]
        remote_ok = any(self.remote_ok[i] for i in chosen)
        roll = rng.random()
        if remote_ok:
            mode = "in_person" if roll < 0.47 else "either" if roll < 0.80 else "remote"
        else:
            mode = "in_person" if roll < 0.62 else "either"
        km = DISTANCES[_pick(DISTANCE_CUM, rng)]
        availability = self._availability(persona)
        status = STATUSES[_pick(STATUS_CUM, rng)]
        expires_at = self.now + timedelta(days=30, seconds=rng.randrange(153 * 86_400))
        created_at = max(person_created, expires_at - timedelta(days=183))
        closed_at = None
        if status == "closed":
            closed_at = created_at + timedelta(
                seconds=rng.randrange(max(1, int((self.now - created_at).total_seconds())))
            )
        ward = self.ward_names[postcode["ward_code"]]

        nouns = [_in_sentence(n) for n in names]
        helps = [_WITHOUT_HELP.sub("", n) for n in nouns]
        fields = {
            "A": names[0], "a": nouns[0], "b": nouns[-1], "h": helps[0], "hb": helps[-1], "ward": ward,
            "list_A": _join([names[0], *nouns[1:]]), "list_a": _join(nouns), "list_h": _join(helps),
        }  # fmt: skip
        kind = "offer" if offer else "request"
        if offer:
            title = rng.choice(OFFER_TITLES_1 if len(names) == 1 else OFFER_TITLES_N).format(
                **fields
            )
            opener = rng.choice(OFFER_OPENERS)
        else:
            title = rng.choice(REQUEST_TITLES_1 if len(names) == 1 else REQUEST_TITLES_N).format(
                **fields
            )
            opener = rng.choice(REQUEST_OPENERS)
        sentences = [
            opener.format(**fields),
            rng.choice(PERSONA_LINES[kind][persona]),
            f"Usually free {self._describe(availability)}.",
            # "Either" for gardening means the person simply did not mind: talk about travel only.
            rng.choice(CLOSERS[mode if remote_ok else "in_person"]).format(km=f"{km:g}", ward=ward),
        ]
        if len(title) > 120:
            title = names[0][:120]
        row = {
            "person_id": person,
            "title": title,
            "description": " ".join(s for s in sentences if s)[:2000],
            "mode": mode,
            "max_distance_km": km,
            "availability": availability,
            "status": status,
            "postcode": postcode["postcode"],
            "latitude": postcode["latitude"],
            "longitude": postcode["longitude"],
            "ward_code": postcode["ward_code"],
            "expires_at": expires_at,
            "created_at": created_at,
            "updated_at": closed_at or created_at,
            "closed_at": closed_at,
            "published_at": None if status == "draft" else created_at,
        }
        if offer:
            row["capacity"] = _pick(CAPACITY_CUM, rng) + 1
            self.offer_skills.extend((len(self.offer_rows), self.skills[i]["id"]) for i in chosen)
            self.offer_rows.append(row)
        else:
            row["urgency"] = URGENCIES[_pick(URGENCY_CUM, rng)]
            self.request_skills.extend(
                (len(self.request_rows), self.skills[i]["id"]) for i in chosen
            )
            self.request_rows.append(row)


def ensure_demo_person(session: Session, *, account: Any, templates_dir: str) -> Any:
    """Give the demo citizen sign-in a profile in the demo borough, with consents, if it has none."""
    from app.privacy import service as privacy
    from app.privacy.models import ConsentMethod
    from app.privacy.notices import notice
    from app.registry.models import ContactMethod, Person, PostcodeLocation

    person = session.execute(select(Person).where(Person.account_id == account.id)).scalars().first()
    if person is not None:
        return person
    place = session.execute(
        select(PostcodeLocation).where(PostcodeLocation.postcode.like(f"{DEMO_POSTCODE_AREA}%")).order_by(PostcodeLocation.postcode)
    ).scalars().first()
    if place is None:
        place = PostcodeLocation(
            postcode=f"{DEMO_POSTCODE_AREA}1 1AA", latitude=52.95, longitude=-1.15,
            local_authority_code=DEMO_LOCAL_AUTHORITY_CODE, ward_code=None,
        )
        session.add(place)
        session.flush()
    person = Person(
        account_id=account.id, name=account.name, email=account.email, preferred_contact=ContactMethod.email,
        postcode=place.postcode, latitude=place.latitude, longitude=place.longitude, ward_code=place.ward_code,
    )
    session.add(person)
    session.flush()
    current = notice(templates_dir)
    # Not linker_contact: the demo citizen manages online and would otherwise sit in the linkers' pool.
    for purpose in privacy.CITIZEN_PURPOSES[:3]:
        privacy.give(session, person_id=person.id, purpose=purpose, notice=current, method=ConsentMethod.online,
                     recorded_by_account_id=account.id, terms=privacy.terms_for(get_settings()))
    return person


# --- demo sign-ins --------------------------------------------------------------------------------

DEMO_ACCOUNTS = (
    # email, name, role, password (demo only: production refuses to start while these exist)
    ("citizen@demo.example", "Cara Citizen", "citizen", "demo-citizen-teapot-meadow"),
    ("linker@demo.example", "Lee Linker", "linker", "demo-linker-lantern-harbour"),
    ("staff@demo.example", "Sam Staff", "staff", "demo-staff-walnut-orchard"),
    ("admin@demo.example", "Ada Admin", "admin", "demo-admin-copper-kestrel"),
)


def ensure_demo_accounts(session: Session, *, templates_dir: str) -> None:
    """Create the demo sign-ins that do not exist yet (marked `is_demo`), and the demo citizen's
    profile. Flushes; the caller commits."""
    from app.accounts import service as accounts
    from app.accounts.models import Role

    for email, name, role, password in DEMO_ACCOUNTS:
        account = accounts.find_account_by_email(session, email=email)
        if account is None:
            account = accounts.create_account(
                session, email=email, name=name, role=Role(role), password=password, is_demo=True
            )
        if account.role is Role.citizen:
            ensure_demo_person(session, account=account, templates_dir=templates_dir)


def _demo_account_id(session: Session, role: str) -> int:
    """The demo sign-in with this role, created if it does not exist yet (no profile: that needs
    the borough's postcodes)."""
    from app.accounts import service as accounts
    from app.accounts.models import Role

    email, name, _role, password = next(row for row in DEMO_ACCOUNTS if row[2] == role)
    account = accounts.find_account_by_email(session, email=email)
    if account is None:
        account = accounts.create_account(session, email=email, name=name, role=Role(role), password=password, is_demo=True)
    return account.id


def demo_linker_id(session: Session) -> int:
    from app.accounts import service as accounts

    linker_email = next(email for email, _name, role, _password in DEMO_ACCOUNTS if role == "linker")
    return accounts.find_account_by_email(session, email=linker_email).id


def ensure_borough(session_factory: Any, people: int, seed: int) -> dict[str, Any]:
    """For the benchmarks: generate the demo borough (and commit) unless the register already has
    at least `people` people. Returns the summary, with "generated" saying which it was."""
    with session_factory() as db:
        existing = db.execute(select(func.count()).select_from(Person)).scalar_one()
        if existing >= people:
            return {"generated": False, "people": existing}
        summary = generate_borough(db, people=people, seed=seed)
        db.commit()
        return {"generated": True, **summary}
