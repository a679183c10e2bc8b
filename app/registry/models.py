"""The register: people, what they offer, what they seek, the skills taxonomy and places."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, enum_column, utcnow
from app.core.validation import YesNo


class ContactMethod(str, enum.Enum):
    email = "email"
    phone = "phone"
    # For people a linker registered: a letter, or a visit or drop-in (the linker connects them).
    post = "post"
    in_person = "in_person"


class ItemMode(str, enum.Enum):
    in_person = "in_person"
    remote = "remote"
    either = "either"


class ItemStatus(str, enum.Enum):
    draft = "draft"
    active = "active"
    paused = "paused"
    closed = "closed"


class Urgency(str, enum.Enum):
    low = "low"
    normal = "normal"
    high = "high"


class Person(SQLModel, table=True):
    """A citizen's profile. It may have no account, when a linker registers someone."""

    id: int | None = Field(default=None, primary_key=True)
    account_id: int | None = Field(default=None, foreign_key="account.id", unique=True, ondelete="SET NULL")
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    preferred_contact: ContactMethod = Field(sa_type=enum_column(ContactMethod, 16), default=ContactMethod.email)
    postcode: str | None = Field(default=None, max_length=8)
    latitude: float | None = None
    longitude: float | None = None
    ward_code: str | None = Field(default=None, max_length=9, index=True)
    address: str | None = Field(default=None, max_length=300)
    contact_times: str | None = Field(default=None, max_length=200)  # "weekday mornings", in their words
    access_needs: str | None = Field(default=None, max_length=1000)
    language_needs: str | None = Field(default=None, max_length=200)
    created_by_account_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow, index=True)
    updated_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    # Retention: when we wrote to say the record would be erased for lack of use; and when it was
    # erased (the row stays, anonymised, as the subject of the evidence others rely on).
    retention_warned_at: datetime | None = Field(sa_type=UTCDateTime, default=None)
    erased_at: datetime | None = Field(sa_type=UTCDateTime, default=None, index=True)


class SkillCategory(SQLModel, table=True):
    __tablename__ = "skill_category"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=80)
    position: int = 0


class Skill(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=60, unique=True)
    name: str = Field(max_length=80)
    category_id: int = Field(foreign_key="skill_category.id", index=True)
    # Lower-case words and phrases people might type instead of the name, separated by "|".
    synonyms: str = Field(default="", max_length=1000)
    active: bool = True
    position: int = 0

    @property
    def synonym_list(self) -> list[str]:
        return [s for s in self.synonyms.split("|") if s]


class Ward(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=9)
    name: str = Field(max_length=100)


class PostcodeLocation(SQLModel, table=True):
    """One row of the ONS Postcode Directory: where a postcode is, and its ward."""

    __tablename__ = "postcode_location"

    postcode: str = Field(primary_key=True, max_length=8)
    latitude: float
    longitude: float
    local_authority_code: str | None = Field(default=None, max_length=9)
    ward_code: str | None = Field(default=None, max_length=9)


def _item_table_args(table: str) -> tuple:
    return (
        sa.Index(f"ix_{table}_status_expires_at", "status", "expires_at"),
        sa.Index(f"ix_{table}_latitude_longitude", "latitude", "longitude"),
        sa.CheckConstraint("availability >= 0 AND availability < 2097152", name="availability_21_slots"),
        sa.CheckConstraint("max_distance_km >= 0 AND max_distance_km <= 200", name="max_distance_range"),
    )


class ItemFields(SQLModel):
    """What offers and help requests share (not a table itself)."""

    id: int | None = Field(default=None, primary_key=True)
    # RESTRICT: people are anonymised, never deleted (a deletion must not reach their matches).
    person_id: int = Field(foreign_key="person.id", index=True, ondelete="RESTRICT")
    title: str = Field(default="", max_length=120)
    description: str = Field(default="", max_length=2000)
    mode: ItemMode = Field(sa_type=enum_column(ItemMode, 16), default=ItemMode.either)
    max_distance_km: float = 2.0
    availability: int = 0
    status: ItemStatus = Field(sa_type=enum_column(ItemStatus, 16), default=ItemStatus.draft)
    postcode: str | None = Field(default=None, max_length=8)
    latitude: float | None = None
    longitude: float | None = None
    ward_code: str | None = Field(default=None, max_length=9)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    updated_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    closed_at: datetime | None = Field(sa_type=UTCDateTime, default=None)
    # When it first went live (reports count from here; reopening keeps the first date).
    published_at: datetime | None = Field(sa_type=UTCDateTime, default=None, index=True)


class Offer(ItemFields, table=True):
    """A capability offer: what someone can give."""

    __table_args__ = _item_table_args("offer") + (sa.CheckConstraint("capacity >= 1 AND capacity <= 50", name="capacity_range"),)

    capacity: int = 1


class HelpRequest(ItemFields, table=True):
    """A help request: what someone is looking for."""

    __tablename__ = "help_request"
    __table_args__ = _item_table_args("help_request")

    urgency: Urgency = Field(sa_type=enum_column(Urgency, 16), default=Urgency.normal)


class OfferSkill(SQLModel, table=True):
    __tablename__ = "offer_skill"

    offer_id: int = Field(foreign_key="offer.id", primary_key=True, ondelete="CASCADE")
    skill_id: int = Field(foreign_key="skill.id", primary_key=True, index=True)


class HelpRequestSkill(SQLModel, table=True):
    __tablename__ = "help_request_skill"

    request_id: int = Field(foreign_key="help_request.id", primary_key=True, ondelete="CASCADE")
    skill_id: int = Field(foreign_key="skill.id", primary_key=True, index=True)


# --- the edges: what forms and API bodies parse into, and what the API returns ------------------
# Limits and messages live in `app.registry.fields`; services take these models, never raw dicts.


from pydantic import BaseModel, ConfigDict

from app.core.i18n import N_
from app.registry import fields as f

Title = f.Text(f.TITLE_MAX, required=N_("Enter a few words about it"))
Description = f.Text(f.DESCRIPTION_MAX, multiline=True)
Mode = f.Choice(ItemMode, N_("Choose in person, by phone or online, or either"))
UrgencyChoice = f.Choice(Urgency, N_("Choose how soon you need help: not urgent, normal or urgent"))
ContactChoice = f.Choice(ContactMethod, N_("Choose how you would like us to contact you"))
PersonName = f.Text(200, required=N_("Enter your name"))
SkillName = f.Text(80, required=N_("Enter the skill's name"))
CategoryCode = f.Text(40, required=N_("Choose a category"))


class _Edge(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemCreate(_Edge):
    title: Title
    description: Description = ""
    skills: f.SkillCodes
    mode: Mode
    max_distance_km: f.Distance
    availability: f.Slots
    postcode: f.Postcode | None = None
    expires_on: f.EndDate | None = None


class OfferCreate(ItemCreate):
    capacity: f.Capacity = 1


class HelpRequestCreate(ItemCreate):
    urgency: UrgencyChoice = Urgency.normal


class ItemUpdate(_Edge):
    """Only the fields that are set change; an explicit null is refused ("cannot be empty")."""

    title: Title = None
    description: Description = None
    skills: f.SkillCodes = None
    mode: Mode = None
    max_distance_km: f.Distance = None
    availability: f.Slots = None
    postcode: f.Postcode = None
    expires_on: f.EndDate = None


class OfferUpdate(ItemUpdate):
    capacity: f.Capacity = None


class HelpRequestUpdate(ItemUpdate):
    urgency: UrgencyChoice = None


class ItemPublic(BaseModel):
    id: int
    title: str
    description: str
    skills: list[str]
    mode: ItemMode
    max_distance_km: float
    availability: list[str]
    postcode: str | None
    status: ItemStatus
    expires_at: datetime
    created_at: datetime
    updated_at: datetime


class OfferPublic(ItemPublic):
    capacity: int


class HelpRequestPublic(ItemPublic):
    urgency: Urgency


class PersonUpdate(_Edge):
    name: PersonName
    phone: f.Phone = ""
    preferred_contact: ContactChoice
    postcode: f.Postcode
    access_needs: f.Text(1000, multiline=True) = ""  # type: ignore[valid-type]
    language_needs: f.Text(200) = ""  # type: ignore[valid-type]


class PersonPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    email: str | None
    phone: str | None
    preferred_contact: ContactMethod
    postcode: str | None
    ward_code: str | None
    access_needs: str | None
    language_needs: str | None


class RegistrationConsents(_Edge):
    profile: YesNo = False
    matching: YesNo = False
    share_contact: YesNo = False


class CitizenRegistration(_Edge):
    """An online registration: the account, the person and the consents, together or not at all.

    Email and password rules (format, strength, an account already there) are the accounts
    domain's and need the database, so they are checked by the service.
    """

    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    password_confirm: str | None = Field(default=None, max_length=1024)
    name: PersonName
    postcode: f.Postcode
    consents: RegistrationConsents = RegistrationConsents()


class SkillCreate(_Edge):
    name: SkillName
    synonyms: f.Synonyms = ""
    category: CategoryCode


class SkillUpdate(SkillCreate):
    active: f.Ticked = False


class SkillPublic(BaseModel):
    code: str
    name: str
    category: str
    synonyms: list[str]
