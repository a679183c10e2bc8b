"""JSON API for the register: registration, skills, offers, help requests and consents."""


from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app.accounts.deps import api_require_role
from app.accounts.models import Account, AccountPublic, Role
from app.core.db import DbSession, atomic
from app.core.errors import FieldError, InvalidInput
from app.privacy import service as privacy
from app.privacy.models import ConsentPurpose
from app.registry import availability, service, taxonomy
from app.registry.models import Person
from app.registry.service import OFFER, REQUEST, ItemKind

router = APIRouter(prefix="/api/v1", tags=["register"])

CitizenAccount = Annotated[Account, Depends(api_require_role(Role.citizen))]


def api_person(db: DbSession, account: CitizenAccount) -> Person:
    return service.person_for_account(db, account=account)


ApiPerson = Annotated[Person, Depends(api_person)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Consents(_Strict):
    profile: bool = False
    matching: bool = False
    share_contact: bool = False


class RegisterIn(_Strict):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    name: str = Field(max_length=1000)
    postcode: str = Field(max_length=20)
    consents: Consents = Consents()


class SkillOut(BaseModel):
    code: str
    name: str
    category: str
    synonyms: list[str]


class ItemIn(_Strict):
    title: str = Field(max_length=1000)
    description: str = Field(default="", max_length=10_000)
    skills: list[str] = Field(max_length=50)
    mode: str = Field(max_length=20)
    max_distance_km: float
    availability: list[str] = Field(max_length=50)
    postcode: str | None = Field(default=None, max_length=20)
    expires_on: date | None = None


class OfferIn(ItemIn):
    capacity: int = 1


class RequestIn(ItemIn):
    urgency: str = Field(default="normal", max_length=20)


class ItemPatch(_Strict):
    title: str | None = Field(default=None, max_length=1000)
    description: str | None = Field(default=None, max_length=10_000)
    skills: list[str] | None = Field(default=None, max_length=50)
    mode: str | None = Field(default=None, max_length=20)
    max_distance_km: float | None = None
    availability: list[str] | None = Field(default=None, max_length=50)
    postcode: str | None = Field(default=None, max_length=20)
    expires_on: date | None = None
    status: Literal["active", "paused"] | None = None


class OfferPatch(ItemPatch):
    capacity: int | None = None


class RequestPatch(ItemPatch):
    urgency: str | None = Field(default=None, max_length=20)


class ItemOut(BaseModel):
    id: int
    title: str
    description: str
    skills: list[str]
    mode: str
    max_distance_km: float
    availability: list[str]
    postcode: str | None
    status: str
    expires_at: datetime
    created_at: datetime
    updated_at: datetime


class OfferOut(ItemOut):
    capacity: int


class RequestOut(ItemOut):
    urgency: str


class ConsentIn(_Strict):
    given: bool


def _item_out(db, kind: ItemKind, item) -> dict:
    skills = service.skills_of(db, kind=kind, item_ids=[item.id])[item.id]
    out = {
        "id": item.id,
        "title": item.title,
        "description": item.description,
        "skills": [skill.code for skill in skills],
        "mode": item.mode.value,
        "max_distance_km": item.max_distance_km,
        "availability": availability.from_mask(item.availability),
        "postcode": item.postcode,
        "status": item.status.value,
        "expires_at": item.expires_at,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }
    if kind is OFFER:
        out["capacity"] = item.capacity
    else:
        out["urgency"] = item.urgency.value
    return (OfferOut if kind is OFFER else RequestOut)(**out).model_dump(mode="json")


@router.post("/auth/register", status_code=201, response_model=AccountPublic, name="api:register")
def register(request: Request, db: DbSession, body: RegisterIn) -> JSONResponse:
    with atomic(db):
        account, _person = service.register_citizen(
            db,
            request.app.state.settings,
            email=body.email,
            password=body.password,
            password_confirm=None,
            name=body.name,
            postcode=body.postcode,
            consents=body.consents.model_dump(),
        )
    return JSONResponse(AccountPublic.model_validate(account).model_dump(mode="json"), status_code=201)


@router.get("/skills", response_model=list[SkillOut], name="api:skills")
def skills(db: DbSession) -> list[SkillOut]:
    return [
        SkillOut(code=skill.code, name=skill.name, category=category.name, synonyms=skill.synonym_list)
        for skill, category in taxonomy.search_skills_with_categories(db, "")
    ]


def _item_routes(kind: ItemKind, path: str, body_in: type, patch_in: type, body_out: type) -> None:
    def create(db: DbSession, person: ApiPerson, body: body_in) -> JSONResponse:  # type: ignore[valid-type]
        raw = body.model_dump(exclude_none=True)
        with atomic(db):
            item = service.create_item(db, kind=kind, person=person, raw=raw, publish=True)
        return JSONResponse(_item_out(db, kind, item), status_code=201)

    def list_(db: DbSession, person: ApiPerson) -> list[dict]:
        return [_item_out(db, kind, item) for item in service.list_items(db, kind=kind, person=person)]

    def read(db: DbSession, person: ApiPerson, item_id: int) -> dict:
        return _item_out(db, kind, service.get_item(db, kind=kind, item_id=item_id, person=person))

    def patch(db: DbSession, person: ApiPerson, item_id: int, body: patch_in) -> dict:  # type: ignore[valid-type]
        item = service.get_item(db, kind=kind, item_id=item_id, person=person)
        raw = body.model_dump(exclude_unset=True)
        status = raw.pop("status", None)
        nulls = [name for name, value in raw.items() if value is None]
        if nulls:
            raise InvalidInput([FieldError(name, "This field cannot be empty") for name in nulls])
        with atomic(db):
            if raw:
                service.update_item(db, kind=kind, item=item, person=person, raw=raw)
            if status is not None and status != item.status.value:
                service.change_status(db, kind=kind, item=item, action="pause" if status == "paused" else "reopen")
        return _item_out(db, kind, item)

    def close(db: DbSession, person: ApiPerson, item_id: int) -> dict:
        item = service.get_item(db, kind=kind, item_id=item_id, person=person)
        if item.status.value != "closed":
            with atomic(db):
                service.change_status(db, kind=kind, item=item, action="close")
        return _item_out(db, kind, item)

    base = f"/{path}"
    router.add_api_route(base, create, methods=["POST"], status_code=201, response_model=body_out, name=f"api:{kind.key}_create")
    router.add_api_route(base, list_, methods=["GET"], response_model=list[body_out], name=f"api:{kind.key}_list")
    router.add_api_route(base + "/{item_id}", read, methods=["GET"], response_model=body_out, name=f"api:{kind.key}_read")
    router.add_api_route(base + "/{item_id}", patch, methods=["PATCH"], response_model=body_out, name=f"api:{kind.key}_update")
    router.add_api_route(base + "/{item_id}", close, methods=["DELETE"], response_model=body_out, name=f"api:{kind.key}_close")


_item_routes(OFFER, "offers", OfferIn, OfferPatch, OfferOut)
_item_routes(REQUEST, "help-requests", RequestIn, RequestPatch, RequestOut)


class ConsentOut(BaseModel):
    purpose: str
    given: bool
    notice_version: str | None
    method: str | None
    recorded_at: datetime | None
    withdrawn_at: datetime | None


def _consents_out(db, person: Person) -> list[dict]:
    records = privacy.current_records(db, person_id=person.id)
    out = []
    for purpose in privacy.CITIZEN_PURPOSES:
        record = records[purpose]
        out.append(
            ConsentOut(
                purpose=purpose.value,
                given=bool(record and record.state.value == "given"),
                notice_version=record.notice_version if record else None,
                method=record.method.value if record else None,
                recorded_at=record.recorded_at if record else None,
                withdrawn_at=record.withdrawn_at if record else None,
            ).model_dump(mode="json")
        )
    return out


@router.get("/me/consents", response_model=list[ConsentOut], name="api:consents")
def my_consents(db: DbSession, person: ApiPerson) -> list[dict]:
    return _consents_out(db, person)


@router.put("/me/consents/{purpose}", response_model=list[ConsentOut], name="api:consent_update")
def set_my_consent(
    request: Request, db: DbSession, account: CitizenAccount, person: ApiPerson, purpose: str, body: ConsentIn
) -> list[dict]:
    if purpose not in {p.value for p in privacy.CITIZEN_PURPOSES}:
        raise InvalidInput(FieldError("purpose", "Choose profile, matching or share_contact"))
    with atomic(db):
        service.set_person_consent(
            db, request.app.state.settings, person=person, purpose=ConsentPurpose(purpose), given=body.given, account=account
        )
    return _consents_out(db, person)
