"""Register rules: people, their offers and help requests, and where they are.

Functions validate everything first and write only when all is well; they flush, never commit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlmodel import Session, SQLModel

from app.accounts import service as accounts
from app.accounts.models import Account
from app.core.config import Settings
from app.core import changes
from app.core.db import utcnow
from app.core.errors import FieldError, InvalidInput, NotFound
from app.privacy import service as privacy
from app.privacy.models import ConsentMethod, ConsentPurpose
from app.privacy.notices import notice
from app.registry import availability
from app.registry.models import (
    ContactMethod,
    HelpRequest,
    HelpRequestSkill,
    ItemMode,
    ItemStatus,
    Offer,
    OfferSkill,
    Person,
    PostcodeLocation,
    Skill,
    Urgency,
)
from app.registry.postcodes import InvalidPostcode, normalise_postcode

DEFAULT_LIFETIME = timedelta(days=182)
# Matching keeps an index of the register; every change it depends on moves this stamp.
MATCHING_STAMP = "matching"
# Called with (db, person_id) when someone withdraws consent to matching; the matching domain
# registers one that cancels their open suggestions (registry cannot import matching).
WITHDRAWAL_HOOKS: list = []
MAX_LIFETIME = timedelta(days=731)
TITLE_MAX = 120
DESCRIPTION_MAX = 2000
MAX_SKILLS = 10
MAX_DISTANCE_KM = 200


@dataclass(frozen=True)
class ItemKind:
    """What differs between offers and help requests, so the rules are written once."""

    key: str  # "offer" | "request"
    model: type[SQLModel]
    link: type[SQLModel]
    link_item_column: Any
    path: str  # URL segment
    noun: str

    @property
    def link_item_field(self) -> str:
        return self.link_item_column.key


OFFER = ItemKind("offer", Offer, OfferSkill, OfferSkill.offer_id, "offers", "offer")
REQUEST = ItemKind("request", HelpRequest, HelpRequestSkill, HelpRequestSkill.request_id, "requests", "help request")
KINDS = {"offer": OFFER, "request": REQUEST, "offers": OFFER, "requests": REQUEST}

Item = Offer | HelpRequest


# --- small cleaners: raw input in, clean value out, or InvalidInput with a plain message ----------


def _fail(field: str, message: str):
    raise InvalidInput(FieldError(field, message))


def _text(raw: Any, field: str, *, max_length: int, required: str | None = None, multiline: bool = False) -> str:
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        _fail(field, "Enter text")
    allowed = {"\n", "\r", "\t"} if multiline else {"\t"}
    if any((ord(ch) < 32 and ch not in allowed) or ord(ch) == 127 for ch in raw):
        _fail(field, "Remove the unusual invisible characters and try again")
    value = raw.strip() if multiline else " ".join(raw.split())
    if required and not value:
        _fail(field, required)
    if len(value) > max_length:
        _fail(field, f"Use {max_length} characters or fewer (you used {len(value)})")
    return value


def clean_postcode(raw: Any, field: str = "postcode") -> str:
    if not isinstance(raw, str) or not raw.strip():
        _fail(field, "Enter your postcode, like AB10 1AB")
    try:
        return normalise_postcode(raw)
    except InvalidPostcode as problem:
        _fail(field, str(problem))


def locate(db: Session, raw: Any, field: str = "postcode") -> PostcodeLocation:
    postcode = clean_postcode(raw, field)
    place = db.get(PostcodeLocation, postcode)
    if place is None:
        _fail(field, f"We cannot find the postcode {postcode}. Check it is right, or ask a community linker for help")
    return place


def clean_skills(db: Session, raw: Any, field: str = "skills") -> list[Skill]:
    if raw is None:
        raw = []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list | tuple) or not all(isinstance(code, str) for code in raw):
        _fail(field, "Choose skills from the list")
    codes = list(dict.fromkeys(code.strip() for code in raw if code.strip()))
    if not codes:
        _fail(field, "Choose at least one thing from the list")
    if len(codes) > MAX_SKILLS:
        _fail(field, f"Choose up to {MAX_SKILLS}")
    found = {s.code: s for s in db.execute(select(Skill).where(Skill.code.in_(codes), Skill.active.is_(True))).scalars()}
    unknown = [code for code in codes if code not in found]
    if unknown:
        _fail(field, f"We do not know the skill '{unknown[0][:40]}'. Choose skills from the list")
    return [found[code] for code in codes]


def clean_mode(raw: Any, field: str = "mode") -> ItemMode:
    try:
        return ItemMode(raw)
    except ValueError:
        _fail(field, "Choose in person, by phone or online, or either")


def clean_distance(raw: Any, field: str = "max_distance_km") -> float:
    if isinstance(raw, bool):
        _fail(field, "Enter a distance in kilometres, like 2 or 2.5")
    try:
        value = float(raw.strip()) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError):
        _fail(field, "Enter a distance in kilometres, like 2 or 2.5")
    if not math.isfinite(value) or value < 0 or value > MAX_DISTANCE_KM:
        _fail(field, f"Enter a distance between 0 and {MAX_DISTANCE_KM} kilometres")
    return round(value, 1)


def clean_availability(raw: Any, field: str = "availability") -> int:
    if raw is None:
        raw = []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list | tuple) or not all(isinstance(slot, str) for slot in raw):
        _fail(field, "Choose times from the grid, like mon-am")
    try:
        return availability.to_mask(raw)
    except availability.InvalidSlot as problem:
        _fail(field, str(problem))


def clean_int(raw: Any, field: str, *, low: int, high: int, message: str) -> int:
    if isinstance(raw, bool):
        _fail(field, message)
    try:
        value = int(raw.strip()) if isinstance(raw, str) else raw
        if not isinstance(value, int):
            raise ValueError
    except (TypeError, ValueError):
        _fail(field, message)
    if not low <= value <= high:
        _fail(field, message)
    return value


def clean_urgency(raw: Any, field: str = "urgency") -> Urgency:
    try:
        return Urgency(raw)
    except ValueError:
        _fail(field, "Choose how soon you need help: not urgent, normal or urgent")


def clean_expiry(raw: Any, field: str = "expires_on") -> datetime:
    if isinstance(raw, datetime):
        raw = raw.date()
    if isinstance(raw, str):
        try:
            raw = date.fromisoformat(raw.strip())
        except ValueError:
            _fail(field, "Enter a real date, like 2027-05-31")
    if not isinstance(raw, date):
        _fail(field, "Enter a real date, like 2027-05-31")
    moment = datetime.combine(raw, time(23, 59, 59), tzinfo=utcnow().tzinfo)
    now = utcnow()
    if moment <= now:
        _fail(field, "The end date must be in the future")
    if moment - now > MAX_LIFETIME:
        _fail(field, "The end date must be within two years")
    return moment


def _collect(checks: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    """Run each check; return the clean values and every problem at once."""
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name, check in checks.items():
        try:
            values[name] = check()
        except InvalidInput as problem:
            errors.extend(problem.errors)
    return values, errors


# --- people ----------------------------------------------------------------------------------


def register_citizen(
    db: Session,
    settings: Settings,
    *,
    email: str,
    password: str,
    password_confirm: str | None,
    name: str,
    postcode: str,
    consents: dict[str, bool],
) -> tuple[Account, Person]:
    """Create the account, the person and one consent record per answer, or nothing at all."""
    errors = accounts.registration_problems(
        db, email=email, password=password, password_confirm=password_confirm, name=name
    )
    values, more = _collect({"place": lambda: locate(db, postcode)})
    errors.extend(more)
    if not consents.get(ConsentPurpose.profile.value):
        errors.append(
            FieldError("consent_profile", "You need to agree to us keeping your details to create an account")
        )
    if errors:
        raise InvalidInput(errors)
    account = accounts.register_citizen(db, email=email, password=password, password_confirm=password_confirm, name=name)
    place: PostcodeLocation = values["place"]
    person = Person(
        account_id=account.id,
        name=account.name,
        email=account.email,
        preferred_contact=ContactMethod.email,
        postcode=place.postcode,
        latitude=place.latitude,
        longitude=place.longitude,
        ward_code=place.ward_code,
    )
    db.add(person)
    db.flush()
    current_notice = notice(str(settings.templates_dir))
    changes.bump(db, MATCHING_STAMP)
    for purpose in privacy.CITIZEN_PURPOSES:
        if consents.get(purpose.value):
            privacy.give(
                db,
                person_id=person.id,
                purpose=purpose,
                notice=current_notice,
                method=ConsentMethod.online,
                recorded_by_account_id=account.id,
            )
    return account, person


def person_for_account(db: Session, *, account: Account) -> Person:
    person = db.execute(select(Person).where(Person.account_id == account.id)).scalars().first()
    if person is None:
        raise NotFound()
    return person


def update_profile(db: Session, *, person: Person, raw: dict[str, Any]) -> Person:
    checks = {
        "name": lambda: _text(raw.get("name"), "name", max_length=200, required="Enter your name"),
        "phone": lambda: _clean_phone(raw.get("phone")),
        "preferred_contact": lambda: _clean_contact(raw.get("preferred_contact")),
        "place": lambda: locate(db, raw.get("postcode")),
        "access_needs": lambda: _text(raw.get("access_needs"), "access_needs", max_length=1000, multiline=True),
        "language_needs": lambda: _text(raw.get("language_needs"), "language_needs", max_length=200),
    }
    values, errors = _collect(checks)
    if not errors and values["preferred_contact"] is ContactMethod.phone and not values["phone"]:
        errors.append(FieldError("phone", "Enter a phone number, or choose email as the way to contact you"))
    if not errors and values["preferred_contact"] is ContactMethod.email and not person.email:
        errors.append(FieldError("preferred_contact", "We have no email address for you: choose phone"))
    if errors:
        raise InvalidInput(errors)
    place: PostcodeLocation = values.pop("place")
    for key, value in values.items():
        setattr(person, key, value or None if key in ("phone", "access_needs", "language_needs") else value)
    person.postcode, person.latitude, person.longitude, person.ward_code = (
        place.postcode,
        place.latitude,
        place.longitude,
        place.ward_code,
    )
    person.updated_at = utcnow()
    db.add(person)
    db.flush()
    return person


def _clean_phone(raw: Any) -> str:
    value = _text(raw, "phone", max_length=32)
    if value and (sum(ch.isdigit() for ch in value) < 10 or any(ch not in "0123456789 +()-" for ch in value)):
        _fail("phone", "Enter a phone number, like 01632 960 001 or 07700 900 982")
    return value


def _clean_contact(raw: Any) -> ContactMethod:
    try:
        return ContactMethod(raw)
    except ValueError:
        _fail("preferred_contact", "Choose how you would like us to contact you")


def set_person_consent(
    db: Session, settings: Settings, *, person: Person, purpose: ConsentPurpose, given: bool, account: Account
) -> None:
    privacy.set_consent(
        db,
        person_id=person.id,
        purpose=purpose,
        given=given,
        notice=notice(str(settings.templates_dir)),
        method=ConsentMethod.online,
        recorded_by_account_id=account.id,
    )
    changes.bump(db, MATCHING_STAMP)
    if not given and purpose in (ConsentPurpose.matching, ConsentPurpose.profile):
        for hook in WITHDRAWAL_HOOKS:
            hook(db, person.id)
    if purpose is ConsentPurpose.profile and not given:
        # Without consent to keep their details we stop using them: nothing stays live.
        for kind in (OFFER, REQUEST):
            for item in db.execute(
                select(kind.model).where(kind.model.person_id == person.id, kind.model.status == ItemStatus.active)
            ).scalars():
                item.status = ItemStatus.paused
                item.updated_at = utcnow()
                db.add(item)
    db.flush()


# --- offers and help requests ----------------------------------------------------------------


def get_item(db: Session, *, kind: ItemKind, item_id: int, person: Person) -> Item:
    """The item if it belongs to this person; otherwise NotFound (never 403: ids cannot be probed)."""
    item = db.get(kind.model, item_id)
    if item is None or item.person_id != person.id:
        raise NotFound()
    return item


def _STATUS_ORDER(model):  # noqa: N802 (reads like the constant it is)
    # Unfinished first, then live, paused and closed: the order people act on them.
    return case(
        {ItemStatus.draft: 0, ItemStatus.active: 1, ItemStatus.paused: 2, ItemStatus.closed: 3},
        value=model.status,
        else_=4,
    )


def list_items(db: Session, *, kind: ItemKind, person: Person) -> list[Item]:
    return list(
        db.execute(
            select(kind.model)
            .where(kind.model.person_id == person.id)
            .order_by(_STATUS_ORDER(kind.model), kind.model.updated_at.desc(), kind.model.id.desc())
        ).scalars()
    )


def skills_of(db: Session, *, kind: ItemKind, item_ids: list[int]) -> dict[int, list[Skill]]:
    result: dict[int, list[Skill]] = {item_id: [] for item_id in item_ids}
    if not item_ids:
        return result
    rows = db.execute(
        select(kind.link_item_column, Skill)
        .join(Skill, Skill.id == kind.link.skill_id)
        .where(kind.link_item_column.in_(item_ids))
        .order_by(Skill.position)
    ).all()
    for item_id, skill in rows:
        result[item_id].append(skill)
    return result


FIELD_CHECKS = {
    "title": lambda db, raw: _text(raw, "title", max_length=TITLE_MAX, required="Enter a few words about it"),
    "description": lambda db, raw: _text(raw, "description", max_length=DESCRIPTION_MAX, multiline=True),
    "skills": lambda db, raw: clean_skills(db, raw),
    "mode": lambda db, raw: clean_mode(raw),
    "max_distance_km": lambda db, raw: clean_distance(raw),
    "availability": lambda db, raw: clean_availability(raw),
    "capacity": lambda db, raw: clean_int(
        raw, "capacity", low=1, high=50, message="Enter how many people you could help at once, from 1 to 50"
    ),
    "urgency": lambda db, raw: clean_urgency(raw),
    "postcode": lambda db, raw: locate(db, raw),
    "expires_on": lambda db, raw: clean_expiry(raw),
}
KIND_FIELDS = {
    "offer": set(FIELD_CHECKS) - {"urgency"},
    "request": set(FIELD_CHECKS) - {"capacity"},
}


def _clean_fields(db: Session, kind: ItemKind, raw: dict[str, Any]) -> dict[str, Any]:
    unknown = set(raw) - KIND_FIELDS[kind.key]
    if unknown:
        field = sorted(unknown)[0]
        _fail(field, f"A {kind.noun} has no field called '{field[:40]}'")
    values, errors = _collect({name: (lambda name=name: FIELD_CHECKS[name](db, raw[name])) for name in raw})
    if errors:
        raise InvalidInput(errors)
    return values


def _apply(db: Session, kind: ItemKind, item: Item, values: dict[str, Any], person: Person) -> None:
    skills = values.pop("skills", None)
    place = values.pop("postcode", None)
    if "expires_on" in values:
        item.expires_at = values.pop("expires_on")
    for name, value in values.items():
        setattr(item, name, value)
    if place is not None:
        item.postcode, item.latitude, item.longitude, item.ward_code = (
            place.postcode,
            place.latitude,
            place.longitude,
            place.ward_code,
        )
    elif item.postcode is None and person.postcode is not None:
        item.postcode, item.latitude, item.longitude, item.ward_code = (
            person.postcode,
            person.latitude,
            person.longitude,
            person.ward_code,
        )
    item.updated_at = utcnow()
    db.add(item)
    db.flush()
    changes.bump(db, MATCHING_STAMP)
    if skills is not None:
        db.execute(delete(kind.link).where(kind.link_item_column == item.id))
        db.add_all(kind.link(**{kind.link_item_field: item.id, "skill_id": skill.id}) for skill in skills)
        db.flush()


def missing_for_publishing(db: Session, *, kind: ItemKind, item: Item) -> list[FieldError]:
    """What still has to be answered before an item can go live."""
    errors = []
    if not item.title:
        errors.append(FieldError("title", "Say in a few words what it is"))
    if not skills_of(db, kind=kind, item_ids=[item.id])[item.id]:
        errors.append(FieldError("skills", "Choose at least one thing from the list"))
    if not item.availability:
        errors.append(FieldError("availability", "Choose at least one time when you are usually free"))
    if item.latitude is None and item.mode is not ItemMode.remote:
        errors.append(FieldError("postcode", "Add your postcode on your profile, or choose help by phone or online"))
    return errors


def create_item(
    db: Session, *, kind: ItemKind, person: Person, raw: dict[str, Any], publish: bool = True
) -> Item:
    """A new offer or request: live at once (API), or a draft the journey fills in step by step."""
    values = _clean_fields(db, kind, raw)
    item = kind.model(person_id=person.id, status=ItemStatus.draft, expires_at=utcnow() + DEFAULT_LIFETIME)
    _apply(db, kind, item, values, person)
    if publish:
        errors = missing_for_publishing(db, kind=kind, item=item)
        if errors:
            raise InvalidInput(errors)
        item.status = ItemStatus.active
        db.add(item)
        db.flush()
    return item


def update_item(db: Session, *, kind: ItemKind, item: Item, person: Person, raw: dict[str, Any]) -> Item:
    if item.status is ItemStatus.closed:
        _fail("status", f"This {kind.noun} is closed. Reopen it to make changes")
    values = _clean_fields(db, kind, raw)
    _apply(db, kind, item, values, person)
    if item.status is ItemStatus.active:
        errors = missing_for_publishing(db, kind=kind, item=item)
        if errors:
            raise InvalidInput(errors)
    return item


STATUS_ACTIONS = {
    # action: (allowed from, becomes)
    "publish": ({ItemStatus.draft}, ItemStatus.active),
    "pause": ({ItemStatus.active}, ItemStatus.paused),
    "reopen": ({ItemStatus.paused, ItemStatus.closed}, ItemStatus.active),
    "close": ({ItemStatus.draft, ItemStatus.active, ItemStatus.paused}, ItemStatus.closed),
}


def change_status(db: Session, *, kind: ItemKind, item: Item, action: str) -> Item:
    if action not in STATUS_ACTIONS:
        _fail("status", "Choose publish, pause, reopen or close")
    allowed, target = STATUS_ACTIONS[action]
    if item.status not in allowed:
        _fail("status", f"A {item.status.value} {kind.noun} cannot be changed that way")
    now = utcnow()
    if target is ItemStatus.active:
        errors = missing_for_publishing(db, kind=kind, item=item)
        if errors:
            raise InvalidInput(errors)
        if item.expires_at <= now:
            item.expires_at = now + DEFAULT_LIFETIME  # reopening something old gives it a fresh six months
    item.status = target
    item.closed_at = now if target is ItemStatus.closed else None
    item.updated_at = now
    db.add(item)
    db.flush()
    changes.bump(db, MATCHING_STAMP)
    return item


def is_live(item: Item, now: datetime | None = None) -> bool:
    return item.status is ItemStatus.active and item.expires_at > (now or utcnow())


def in_matching_clause(kind: ItemKind, now: datetime | None = None):
    """SQL: items that matching may use now — active, not expired, and the owner consents."""
    model = kind.model
    return (
        (model.status == ItemStatus.active)
        & (model.expires_at > (now or utcnow()))
        & privacy.consent_clause(model.person_id, ConsentPurpose.matching)
    )


def in_matching(db: Session, *, kind: ItemKind, item_id: int) -> bool:
    model = kind.model
    return db.execute(select(func.count()).where(model.id == item_id, in_matching_clause(kind))).scalar_one() == 1



# --- the skills taxonomy, kept by administrators -----------------------------------------------


def _clean_synonyms(raw: Any) -> str:
    text = _text(raw, "synonyms", max_length=1000)
    words = [" ".join(word.casefold().split()) for word in text.replace("|", ",").split(",")]
    return "|".join(dict.fromkeys(word for word in words if word))


def _skill_code(name: str) -> str:
    code = "".join(ch if ch.isalnum() else "_" for ch in name.casefold()).strip("_")
    return "_".join(part for part in code.split("_") if part)[:60] or "skill"


def create_skill(db: Session, *, raw: dict[str, Any]) -> Skill:
    from app.registry.models import SkillCategory

    values, errors = _collect(
        {
            "name": lambda: _text(raw.get("name"), "name", max_length=80, required="Enter the skill's name"),
            "synonyms": lambda: _clean_synonyms(raw.get("synonyms")),
            "category": lambda: _category(db, raw.get("category")),
        }
    )
    if not errors:
        code = _skill_code(values["name"])
        if db.execute(select(Skill.id).where(Skill.code == code)).first() is not None:
            errors.append(FieldError("name", "There is already a skill with this name"))
    if errors:
        raise InvalidInput(errors)
    category: SkillCategory = values["category"]
    position = db.execute(select(func.coalesce(func.max(Skill.position), 0))).scalar_one() + 1
    skill = Skill(code=code, name=values["name"], synonyms=values["synonyms"], category_id=category.id, position=position)
    db.add(skill)
    db.flush()
    return skill


def update_skill(db: Session, *, skill: Skill, raw: dict[str, Any]) -> Skill:
    """Rename, change synonyms or category, or retire a skill. Its code never changes: the API uses it."""
    values, errors = _collect(
        {
            "name": lambda: _text(raw.get("name"), "name", max_length=80, required="Enter the skill's name"),
            "synonyms": lambda: _clean_synonyms(raw.get("synonyms")),
            "category": lambda: _category(db, raw.get("category")),
        }
    )
    if errors:
        raise InvalidInput(errors)
    skill.name = values["name"]
    skill.synonyms = values["synonyms"]
    skill.category_id = values["category"].id
    skill.active = raw.get("active") in (True, "yes", "on")
    db.add(skill)
    db.flush()
    return skill


def _category(db: Session, raw: Any):
    from app.registry.models import SkillCategory

    category = db.execute(select(SkillCategory).where(SkillCategory.code == raw)).scalars().first() if isinstance(raw, str) else None
    if category is None:
        _fail("category", "Choose a category")
    return category


def get_skill(db: Session, *, skill_id: int) -> Skill:
    skill = db.get(Skill, skill_id)
    if skill is None:
        raise NotFound()
    return skill


def create_person_for_account(db: Session, *, account: Account) -> Person:
    """The profile of a citizen account made without the registration form (`marketplace
    create-user --role citizen`): name and email from the account, no postcode and no consent
    records yet (the citizen gives those on their account page). Returns the existing profile if
    the account already has one. Flushes."""
    person = db.execute(select(Person).where(Person.account_id == account.id)).scalars().first()
    if person is not None:
        return person
    person = Person(
        account_id=account.id, name=account.name, email=account.email, preferred_contact=ContactMethod.email
    )
    db.add(person)
    db.flush()
    return person
