"""The register's field types: `Annotated` limits and validators with plain-English messages.

Each type states its real rule twice over in one place: to pydantic (so the OpenAPI document says
it) and to people (a `Plain` message from the validator, shown beside the field or in a 422).
Checks that need the database (does this postcode exist, is this a skill we know) stay in the
service.
"""

from __future__ import annotations

import enum
import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo

from app.core.i18n import N_
from app.core.validation import Plain
from app.registry import availability
from app.registry.postcodes import InvalidPostcode, normalise_postcode

TITLE_MAX = 120
DESCRIPTION_MAX = 2000
MAX_SKILLS = 10
MAX_DISTANCE_KM = 200
MAX_CAPACITY = 50
MAX_LIFETIME = timedelta(days=731)
EMPTY = N_("This field cannot be empty")


def clean_text(raw: Any, *, max_length: int, required: str | None = None, multiline: bool = False) -> str:
    if raw is None:
        raise Plain(EMPTY)
    if not isinstance(raw, str):
        raise Plain(N_("Enter text"))
    allowed = {"\n", "\r", "\t"} if multiline else {"\t"}
    if any((ord(ch) < 32 and ch not in allowed) or ord(ch) == 127 for ch in raw):
        raise Plain(N_("Remove the unusual invisible characters and try again"))
    value = raw.strip() if multiline else " ".join(raw.split())
    if required and not value:
        raise Plain(required)
    if len(value) > max_length:
        raise Plain(N_("Use %(max)s characters or fewer (you used %(used)s)"), max=max_length, used=len(value))
    return value


def Text(max_length: int, *, required: str | None = None, multiline: bool = False) -> Any:  # noqa: N802
    """A text field: trimmed (and single-spaced unless `multiline`), no control characters."""
    return Annotated[
        str,
        BeforeValidator(lambda raw: clean_text(raw, max_length=max_length, required=required, multiline=multiline)),
        Field(max_length=max_length),
    ]


def Choice(enum_type: type[enum.Enum], message: str) -> Any:  # noqa: N802
    """One of an enum's values; anything else gets `message`."""

    def check(raw: Any) -> Any:
        if isinstance(raw, enum_type):
            return raw
        try:
            return enum_type(raw.strip() if isinstance(raw, str) else raw)
        except ValueError:
            raise Plain(message) from None

    return Annotated[enum_type, BeforeValidator(check)]


def clean_postcode(raw: Any) -> str:
    if raw is None:
        raise Plain(EMPTY)
    if not isinstance(raw, str) or not raw.strip():
        raise Plain(N_("Enter your postcode, like AB10 1AB"))
    try:
        return normalise_postcode(raw)
    except InvalidPostcode:
        raise Plain(N_("Enter a real postcode, like AB10 1AB")) from None


def known_postcode(value: str, info: ValidationInfo) -> str:
    """With a database to ask (pages pass `service.lookups(db)` as the context), an unknown
    postcode is reported together with every other problem; the service checks again anyway."""
    lookups = (info.context or {}).get("lookups")
    if lookups is not None and not lookups.postcode_known(value):
        raise Plain(N_("We cannot find the postcode %(postcode)s. Check it is right, or ask a community linker for help"), postcode=value)
    return value


Postcode = Annotated[
    str, BeforeValidator(clean_postcode), AfterValidator(known_postcode), Field(max_length=8, examples=["AB10 1AB"])
]


def clean_skill_codes(raw: Any) -> list[str]:
    if raw is None:
        raise Plain(EMPTY)
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list | tuple) or not all(isinstance(code, str) for code in raw):
        raise Plain(N_("Choose skills from the list"))
    codes = list(dict.fromkeys(code.strip() for code in raw if code.strip()))
    if not codes:
        raise Plain(N_("Choose at least one thing from the list"))
    if len(codes) > MAX_SKILLS:
        raise Plain(N_("Choose up to %(max)s"), max=MAX_SKILLS)
    # A code is a short printable word from the taxonomy: anything else (a NUL, which PostgreSQL
    # cannot even compare) names no skill.
    if any(len(code) > 60 or not code.isprintable() for code in codes):
        raise Plain(N_("Choose skills from the list"))
    return codes


def known_skills(codes: list[str], info: ValidationInfo) -> list[str]:
    lookups = (info.context or {}).get("lookups")
    unknown = lookups.unknown_skills(codes) if lookups is not None else []
    if unknown:
        raise Plain(N_("We do not know the skill '%(code)s'. Choose skills from the list"), code=unknown[0][:40])
    return codes


SkillCodes = Annotated[
    list[Annotated[str, Field(max_length=60)]],
    BeforeValidator(clean_skill_codes),
    AfterValidator(known_skills),
    Field(min_length=1, max_length=MAX_SKILLS, examples=[["gardening"]]),
]

SlotCode = Literal[availability.SLOTS]  # type: ignore[valid-type]


def clean_slots(raw: Any) -> list[str]:
    if raw is None:
        raise Plain(EMPTY)
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list | tuple) or not all(isinstance(slot, str) for slot in raw):
        raise Plain(N_("Choose times from the grid, like mon-am"))
    slots = [slot.strip().lower() for slot in raw]
    for slot, typed in zip(slots, raw, strict=True):
        if slot not in availability.SLOT_BITS:
            raise Plain(N_("'%(slot)s' is not a time of the week we know, like mon-am or sat-eve"), slot=typed[:20])
    return availability.from_mask(availability.to_mask(slots))


Slots = Annotated[list[SlotCode], BeforeValidator(clean_slots), Field(max_length=len(availability.SLOTS))]


def clean_distance(raw: Any) -> float:
    if raw is None:
        raise Plain(EMPTY)
    message = N_("Enter a distance in kilometres, like 2 or 2.5")
    if isinstance(raw, bool):
        raise Plain(message)
    try:
        value = float(raw.strip()) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError):
        raise Plain(message) from None
    if not math.isfinite(value) or value < 0 or value > MAX_DISTANCE_KM:
        raise Plain(N_("Enter a distance between 0 and %(max)s kilometres"), max=MAX_DISTANCE_KM)
    return round(value, 1)


# Numeric limits go before the validator, or pydantic leaves them out of the JSON schema.
Distance = Annotated[float, Field(ge=0, le=MAX_DISTANCE_KM), BeforeValidator(clean_distance)]


def whole_number(low: int, high: int, message: str):
    def check(raw: Any) -> int:
        if raw is None:
            raise Plain(EMPTY)
        if isinstance(raw, bool):
            raise Plain(message)
        try:
            value = int(raw.strip()) if isinstance(raw, str) else raw
        except ValueError:
            raise Plain(message) from None
        if not isinstance(value, int) or not low <= value <= high:
            raise Plain(message)
        return value

    return check


Capacity = Annotated[
    int,
    Field(ge=1, le=MAX_CAPACITY),
    BeforeValidator(whole_number(1, MAX_CAPACITY, N_("Enter how many people you could help at once, from 1 to 50"))),
]


def clean_end_date(raw: Any) -> date:
    message = N_("Enter a real date, like 2027-05-31")
    if raw is None:
        raise Plain(EMPTY)
    if isinstance(raw, datetime):
        raw = raw.date()
    if isinstance(raw, str):
        try:
            raw = date.fromisoformat(raw.strip())
        except ValueError:
            raise Plain(message) from None
    if not isinstance(raw, date):
        raise Plain(message)
    moment, now = end_of(raw), datetime.now(UTC)
    if moment <= now:
        raise Plain(N_("The end date must be in the future"))
    if moment - now > MAX_LIFETIME:
        raise Plain(N_("The end date must be within two years"))
    return raw


def end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


EndDate = Annotated[date, BeforeValidator(clean_end_date)]


def clean_phone(raw: Any) -> str:
    value = clean_text(raw, max_length=32)
    if value and (sum(ch.isdigit() for ch in value) < 10 or any(ch not in "0123456789 +()-" for ch in value)):
        raise Plain(N_("Enter a phone number, like 01632 960 001 or 07700 900 982"))
    return value


Phone = Annotated[str, BeforeValidator(clean_phone), Field(max_length=32)]


def clean_synonyms(raw: Any) -> str:
    text = clean_text(raw if raw is not None else "", max_length=1000)
    words = [" ".join(word.casefold().split()) for word in text.replace("|", ",").split(",")]
    return "|".join(dict.fromkeys(word for word in words if word))


Synonyms = Annotated[str, BeforeValidator(clean_synonyms), Field(max_length=1000)]


def yes(raw: Any) -> bool:
    """A checkbox or a JSON boolean."""
    if isinstance(raw, bool):
        return raw
    return raw in ("yes", "on", "true", "1")


Ticked = Annotated[bool, BeforeValidator(yes)]


def clean_optional_email(raw: Any) -> str:
    from email_validator import EmailNotValidError, validate_email

    value = clean_text(raw, max_length=254)
    if not value:
        return ""
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise Plain(N_("Enter an email address in the correct format, like name@example.com")) from None


OptionalEmail = Annotated[str, BeforeValidator(clean_optional_email), Field(max_length=254)]
