"""Register rules: people, their offers and help requests, skills, and where they are.

Functions take the typed models of `app.registry.models` (already checked for shape by pydantic),
check what needs the database, and write only when all is well; they flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlmodel import Session, SQLModel

from app.accounts import service as accounts
from app.accounts.models import Account
from app.core import changes
from app.core.changes import Change
from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import FieldError, InvalidInput, NotFound
from app.core.i18n import N_
from app.core.plugins import Plugins
from app.privacy import service as privacy
from app.privacy.models import ConsentMethod, ConsentPurpose
from app.privacy.notices import notice
from app.registry import availability
from app.registry.fields import end_of
from app.registry.models import (
    CitizenRegistration,
    ContactMethod,
    HelpRequest,
    HelpRequestCreate,
    HelpRequestPublic,
    HelpRequestSkill,
    HelpRequestUpdate,
    ItemMode,
    ItemStatus,
    Offer,
    OfferCreate,
    OfferPublic,
    OfferSkill,
    OfferUpdate,
    Person,
    PersonUpdate,
    PostcodeLocation,
    Skill,
    SkillCategory,
    SkillCreate,
    SkillUpdate,
    Ward,
)

DEFAULT_LIFETIME = timedelta(days=182)
# Matching keeps an index of the register; every change it depends on moves this stamp.
MATCHING_STAMP = "matching"


@dataclass(frozen=True)
class ItemKind:
    """What differs between offers and help requests, so the rules are written once."""

    key: str  # "offer" | "request"
    model: type[SQLModel]
    link: type[SQLModel]
    link_item_column: Any
    noun: str
    create_model: type[OfferCreate | HelpRequestCreate]
    update_model: type[OfferUpdate | HelpRequestUpdate]
    public_model: type[OfferPublic | HelpRequestPublic]

    @property
    def link_item_field(self) -> str:
        return self.link_item_column.key


OFFER = ItemKind("offer", Offer, OfferSkill, OfferSkill.offer_id, "offer", OfferCreate, OfferUpdate, OfferPublic)
REQUEST = ItemKind(
    "request", HelpRequest, HelpRequestSkill, HelpRequestSkill.request_id, "help request",
    HelpRequestCreate, HelpRequestUpdate, HelpRequestPublic,
)

Item = Offer | HelpRequest


# --- checks that need the database (the models have already checked the shape) --------------


def locate(db: Session, postcode: str, field: str = "postcode") -> PostcodeLocation:
    """Where a (normalised) postcode is; people can only use postcodes the service knows."""
    place = db.get(PostcodeLocation, postcode)
    if place is None:
        raise InvalidInput(
            FieldError(
                field,
                N_("We cannot find the postcode %(postcode)s. Check it is right, or ask a community linker for help"),
                {"postcode": postcode},
            )
        )
    return place


def _live_skills(db: Session, codes: list[str]) -> dict[str, Skill]:
    return {s.code: s for s in db.execute(select(Skill).where(Skill.code.in_(codes), Skill.active.is_(True))).scalars()}


def resolve_skills(db: Session, codes: list[str], field: str = "skills") -> list[Skill]:
    found = _live_skills(db, codes)
    unknown = [code for code in codes if code not in found]
    if unknown:
        raise InvalidInput(
            FieldError(field, N_("We do not know the skill '%(code)s'. Choose skills from the list"), {"code": unknown[0][:40]})
        )
    return [found[code] for code in codes]


@dataclass(frozen=True)
class Lookups:
    """What the edge models may ask the database while parsing a form (see `fields.known_*`)."""

    db: Session

    def postcode_known(self, postcode: str) -> bool:
        return self.db.get(PostcodeLocation, postcode) is not None

    def unknown_skills(self, codes: list[str]) -> list[str]:
        live = _live_skills(self.db, codes)
        return [code for code in codes if code not in live]


def lookups(db: Session) -> dict[str, Lookups]:
    """The validation context for `core.validation.parse` on the register's pages."""
    return {"lookups": Lookups(db)}


def _place_into(target: Any, place: PostcodeLocation | Person) -> None:
    target.postcode, target.latitude, target.longitude, target.ward_code = (
        place.postcode, place.latitude, place.longitude, place.ward_code,
    )


# --- people ----------------------------------------------------------------------------------


def registration_problems(
    db: Session, *, email: str, password: str, password_confirm: str | None, name: str, profile_consent: bool
) -> list[FieldError]:
    """The checks the registration model cannot make (they need the database or the accounts rules),
    so that a form with several mistakes shows them all at once."""
    errors = accounts.registration_problems(db, email=email, password=password, password_confirm=password_confirm, name=name)
    if not profile_consent:
        errors.append(
            FieldError("consent_profile", N_("You need to agree to us keeping your details to create an account"))
        )
    return errors


def register_citizen(
    db: Session, settings: Settings, *, data: CitizenRegistration, language: str = "en"
) -> tuple[Account, Person]:
    """Create the account, the person and one consent record per answer, or nothing at all.
    `language` is the one the person registered in: their pages and mail stay in it."""
    errors = registration_problems(
        db, email=data.email, password=data.password, password_confirm=data.password_confirm, name=data.name,
        profile_consent=data.consents.profile,
    )
    place = None
    try:
        place = locate(db, data.postcode)
    except InvalidInput as problem:
        errors.extend(problem.errors)
    if errors:
        raise InvalidInput(errors)
    account = accounts.register_citizen(
        db, email=data.email, password=data.password, password_confirm=data.password_confirm, name=data.name,
        language=language,
    )
    person = Person(account_id=account.id, name=account.name, email=account.email, preferred_contact=ContactMethod.email)
    _place_into(person, place)
    db.add(person)
    db.flush()
    current_notice = notice(str(settings.templates_dir))
    changes.record(db, MATCHING_STAMP, [Change("person", person.id)])
    answers = data.consents.model_dump()
    for purpose in privacy.CITIZEN_PURPOSES:
        if answers.get(purpose.value):
            privacy.give(
                db,
                person_id=person.id,
                purpose=purpose,
                notice=current_notice,
                method=ConsentMethod.online,
                recorded_by_account_id=account.id,
                terms=privacy.terms_for(settings),
            )
    return account, person


def person_for_account(db: Session, *, account: Account | int) -> Person:
    account_id = account if isinstance(account, int) else account.id
    person = db.execute(select(Person).where(Person.account_id == account_id)).scalars().first()
    if person is None:
        raise NotFound()
    return person


def follow_account_email(db: Session, account_id: int, new_email: str) -> None:
    """The person's contact address is their sign-in address (registration copies it): they move together."""
    person = db.execute(select(Person).where(Person.account_id == account_id)).scalars().first()
    if person is not None and person.erased_at is None:
        person.email = new_email
        person.updated_at = utcnow()
        db.add(person)
        db.flush()


def update_profile(db: Session, *, person: Person, data: PersonUpdate) -> Person:
    """Save a person's details. Items placed at their old postcode move with them."""
    if data.preferred_contact is ContactMethod.phone and not data.phone:
        raise InvalidInput(FieldError("phone", N_("Enter a phone number, or choose email as the way to contact you")))
    if data.preferred_contact is ContactMethod.email and not person.email:
        raise InvalidInput(FieldError("preferred_contact", N_("We have no email address for you: choose phone")))
    place = locate(db, data.postcode)
    old_postcode = person.postcode
    person.name = data.name
    person.phone = data.phone or None
    person.preferred_contact = data.preferred_contact
    person.access_needs = data.access_needs or None
    person.language_needs = data.language_needs or None
    _place_into(person, place)
    person.updated_at = utcnow()
    db.add(person)
    if old_postcode != place.postcode:
        _move_items_with_person(db, person=person, old_postcode=old_postcode)
    db.flush()
    return person


def _move_items_with_person(db: Session, *, person: Person, old_postcode: str | None) -> None:
    """Items that took their place from the profile (same postcode, or none) follow the person."""
    moved: list[Change] = []
    for kind in (OFFER, REQUEST):
        model = kind.model
        followers = select(model).where(
            model.person_id == person.id,
            model.status != ItemStatus.closed,
            (model.postcode.is_(None)) | (model.postcode == old_postcode) if old_postcode else model.postcode.is_(None),
        )
        for item in db.execute(followers).scalars():
            _place_into(item, person)
            item.updated_at = utcnow()
            db.add(item)
            moved.append(Change(kind.key, item.id))
    if moved:
        db.flush()
        changes.record(db, MATCHING_STAMP, [Change("person", person.id), *moved])


def set_person_consent(
    db: Session,
    settings: Settings,
    plugins: Plugins,
    *,
    person: Person,
    purpose: ConsentPurpose,
    given: bool,
    account: Account,
) -> None:
    privacy.set_consent(
        db,
        person_id=person.id,
        purpose=purpose,
        given=given,
        notice=notice(str(settings.templates_dir)),
        method=ConsentMethod.online,
        recorded_by_account_id=account.id,
        terms=privacy.terms_for(settings),
    )
    changes.record(db, MATCHING_STAMP, [Change("person", person.id)])
    if not given:
        plugins.consent_was_withdrawn(db, person_id=person.id, purpose=purpose)
    db.flush()


def pause_items_without_profile_consent(db: Session, *, person_id: int, purpose: ConsentPurpose) -> None:
    """Without consent to keep their details we stop using them: nothing stays live."""
    if purpose is not ConsentPurpose.profile:
        return
    for kind in (OFFER, REQUEST):
        for item in db.execute(
            select(kind.model).where(kind.model.person_id == person_id, kind.model.status == ItemStatus.active)
        ).scalars():
            item.status = ItemStatus.paused
            item.updated_at = utcnow()
            db.add(item)
    db.flush()


# --- offers and help requests ----------------------------------------------------------------


def find_item(db: Session, *, kind: ItemKind, item_id: int) -> Item | None:
    return db.get(kind.model, item_id)


def _status_order(model):
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
            .order_by(_status_order(kind.model), kind.model.updated_at.desc(), kind.model.id.desc())
        ).scalars()
    )


def skills_of(db: Session, *, kind: ItemKind, item_ids: list[int]) -> dict[int, list[Skill]]:
    """Each item's skills, for any number of items, in one query."""
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


def public_items(db: Session, *, kind: ItemKind, items: list[Item]) -> list[OfferPublic | HelpRequestPublic]:
    """What the owner (or their linker) sees of their items through the API."""
    skills = skills_of(db, kind=kind, item_ids=[item.id for item in items])
    out = []
    for item in items:
        extra = {"capacity": item.capacity} if kind is OFFER else {"urgency": item.urgency}
        out.append(
            kind.public_model(
                id=item.id,
                title=item.title,
                description=item.description,
                skills=[skill.code for skill in skills[item.id]],
                mode=item.mode,
                max_distance_km=item.max_distance_km,
                availability=availability.from_mask(item.availability),
                postcode=item.postcode,
                status=item.status,
                expires_at=item.expires_at,
                created_at=item.created_at,
                updated_at=item.updated_at,
                **extra,
            )
        )
    return out


def _apply(db: Session, kind: ItemKind, item: Item, data: OfferCreate | HelpRequestCreate | OfferUpdate | HelpRequestUpdate, person: Person) -> None:
    given = data.model_fields_set if isinstance(data, OfferUpdate | HelpRequestUpdate) else set(type(data).model_fields)
    values = {name: getattr(data, name) for name in given}
    skills = resolve_skills(db, values.pop("skills")) if values.get("skills") is not None else None
    postcode = values.pop("postcode", None)
    place = locate(db, postcode) if postcode is not None else None
    expires_on = values.pop("expires_on", None)
    if expires_on is not None:
        item.expires_at = end_of(expires_on)
    if "availability" in values:
        values["availability"] = availability.to_mask(values["availability"])
    for name, value in values.items():
        setattr(item, name, value)
    if place is not None:
        _place_into(item, place)
    elif item.postcode is None and person.postcode is not None:
        _place_into(item, person)
    item.updated_at = utcnow()
    db.add(item)
    db.flush()
    changes.record(db, MATCHING_STAMP, [Change(kind.key, item.id)])
    if skills is not None:
        db.execute(delete(kind.link).where(kind.link_item_column == item.id))
        db.add_all(kind.link(**{kind.link_item_field: item.id, "skill_id": skill.id}) for skill in skills)
        db.flush()


def missing_for_publishing(db: Session, *, kind: ItemKind, item: Item) -> list[FieldError]:
    """What still has to be answered before an item can go live."""
    errors = []
    if not item.title:
        errors.append(FieldError("title", N_("Say in a few words what it is")))
    if not skills_of(db, kind=kind, item_ids=[item.id])[item.id]:
        errors.append(FieldError("skills", N_("Choose at least one thing from the list")))
    if not item.availability:
        errors.append(FieldError("availability", N_("Choose at least one time when you are usually free")))
    if item.latitude is None and item.mode is not ItemMode.remote:
        errors.append(FieldError("postcode", N_("Add your postcode on your profile, or choose help by phone or online")))
    if not privacy.has_consent(db, person_id=item.person_id, purpose=ConsentPurpose.profile):
        # Withdrawn: nothing of theirs may go live (or live again) until they agree once more.
        errors.append(FieldError("consent", N_("This cannot go live while we are asked not to keep these details")))
    elif not privacy.has_consent(db, person_id=item.person_id, purpose=ConsentPurpose.matching):
        # Live means suggested to others, which needs this consent too.
        errors.append(FieldError("consent", N_("This cannot go live until there is agreement to suggest these details to others")))
    return errors


def _new_item(kind: ItemKind, person: Person) -> Item:
    return kind.model(person_id=person.id, status=ItemStatus.draft, expires_at=utcnow() + DEFAULT_LIFETIME)


def create_item(db: Session, *, kind: ItemKind, person: Person, data: OfferCreate | HelpRequestCreate) -> Item:
    """A new offer or request, live at once (the API: every answer is given together)."""
    item = _new_item(kind, person)
    _apply(db, kind, item, data, person)
    errors = missing_for_publishing(db, kind=kind, item=item)
    if errors:
        raise InvalidInput(errors)
    item.status = ItemStatus.active
    item.published_at = utcnow()
    db.add(item)
    db.flush()
    return item


def create_draft(db: Session, *, kind: ItemKind, person: Person, data: OfferUpdate | HelpRequestUpdate) -> Item:
    """A draft that the journey fills in one question at a time."""
    item = _new_item(kind, person)
    _apply(db, kind, item, data, person)
    return item


def update_item(db: Session, *, kind: ItemKind, item: Item, person: Person, data: OfferUpdate | HelpRequestUpdate) -> Item:
    if item.status is ItemStatus.closed:
        raise InvalidInput(FieldError("status", N_("This is closed. Reopen it to make changes")))
    _apply(db, kind, item, data, person)
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
        raise InvalidInput(FieldError("status", N_("Choose publish, pause, reopen or close")))
    allowed, target = STATUS_ACTIONS[action]
    if item.status not in allowed:
        raise InvalidInput(FieldError("status", N_("It is %(status)s, so it cannot be changed that way"), {"status": item.status.value}))
    now = utcnow()
    if target is ItemStatus.active:
        errors = missing_for_publishing(db, kind=kind, item=item)
        if errors:
            raise InvalidInput(errors)
        if item.expires_at <= now:
            item.expires_at = now + DEFAULT_LIFETIME  # reopening something old gives it a fresh six months
    item.status = target
    if target is ItemStatus.active and item.published_at is None:
        item.published_at = now
    item.closed_at = now if target is ItemStatus.closed else None
    item.updated_at = now
    db.add(item)
    db.flush()
    changes.record(db, MATCHING_STAMP, [Change(kind.key, item.id)])
    return item


def is_live(item: Item, now: datetime | None = None) -> bool:
    return item.status is ItemStatus.active and item.expires_at > (now or utcnow())


def in_matching_clause(kind: ItemKind, now: datetime | None = None):
    """SQL: items that matching may use now — active, not expired, and the owner lets us keep
    their details (`profile`) and suggest them to others (`matching`)."""
    model = kind.model
    return (
        (model.status == ItemStatus.active)
        & (model.expires_at > (now or utcnow()))
        & privacy.consent_clause(model.person_id, ConsentPurpose.profile)
        & privacy.consent_clause(model.person_id, ConsentPurpose.matching)
    )


def in_matching(db: Session, *, kind: ItemKind, item_id: int) -> bool:
    model = kind.model
    return db.execute(select(func.count()).where(model.id == item_id, in_matching_clause(kind))).scalar_one() == 1


# --- the skills taxonomy, kept by administrators -----------------------------------------------


def _skill_code(name: str) -> str:
    code = "".join(ch if ch.isalnum() else "_" for ch in name.casefold()).strip("_")
    return "_".join(part for part in code.split("_") if part)[:60] or "skill"


def _category(db: Session, code: str) -> SkillCategory:
    category = db.execute(select(SkillCategory).where(SkillCategory.code == code)).scalars().first()
    if category is None:
        raise InvalidInput(FieldError("category", N_("Choose a category")))
    return category


def _refuse_a_second_name(db: Session, name: str, *, except_id: int | None = None) -> None:
    """Two skills may not share a name, whatever the case or spacing: people could not tell them apart."""
    wanted = " ".join(name.casefold().split())
    for skill_id, existing in db.execute(select(Skill.id, Skill.name)).all():
        if skill_id != except_id and " ".join(existing.casefold().split()) == wanted:
            raise InvalidInput(FieldError("name", N_("There is already a skill called %(name)s"), {"name": existing}))


def create_skill(db: Session, *, data: SkillCreate) -> Skill:
    category = _category(db, data.category)
    _refuse_a_second_name(db, data.name)
    code = base = _skill_code(data.name)
    suffix = 2
    while db.execute(select(Skill.id).where(Skill.code == code)).first() is not None:
        code = f"{base[:56]}_{suffix}"  # a retired skill's code is never reused for another
        suffix += 1
    position = db.execute(select(func.coalesce(func.max(Skill.position), 0))).scalar_one() + 1
    skill = Skill(code=code, name=data.name, synonyms=data.synonyms, category_id=category.id, position=position)
    db.add(skill)
    db.flush()
    changes.record(db, MATCHING_STAMP, [Change("skills")])
    return skill


def update_skill(db: Session, *, skill: Skill, data: SkillUpdate) -> Skill:
    """Rename, change synonyms or category, or retire a skill. Its code never changes: the API uses it."""
    category = _category(db, data.category)
    _refuse_a_second_name(db, data.name, except_id=skill.id)
    skill.name = data.name
    skill.synonyms = data.synonyms
    skill.category_id = category.id
    skill.active = data.active
    db.add(skill)
    db.flush()
    changes.record(db, MATCHING_STAMP, [Change("skills")])
    return skill


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


def ward_names(db: Session) -> dict[str, str]:
    """Ward code to name, for showing where something is without saying where exactly."""
    return dict(db.execute(select(Ward.code, Ward.name)).all())


def skill_ideas(db: Session, *, per_category: int = 2) -> list[tuple[str, list[str]]]:
    """A few skills from each category of the taxonomy, as prompts in a conversation about what
    someone could give: (category name, skill names), in the taxonomy's order."""
    rows = db.execute(
        select(SkillCategory.name, Skill.name)
        .join(Skill, Skill.category_id == SkillCategory.id)
        .where(Skill.active.is_(True))
        .order_by(SkillCategory.position, SkillCategory.id, Skill.position, Skill.id)
    ).all()
    ideas: dict[str, list[str]] = {}
    for category, skill in rows:
        picked = ideas.setdefault(category, [])
        if len(picked) < per_category:
            picked.append(skill)
    return list(ideas.items())
