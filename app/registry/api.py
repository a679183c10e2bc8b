"""JSON API for the register: registration, skills, offers, help requests and consents.

Bodies are the domain's `XCreate` / `XUpdate` models and responses its `XPublic` models, so the
OpenAPI document states exactly the rules the service applies.
"""

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request, Response
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict

from app.accounts import once
from app.accounts.models import Account, AccountPublic
from app.core.db import DbSession, atomic
from app.core.errors import API_ERROR_RESPONSES, FieldError, InvalidInput
from app.core.i18n import N_
from app.core.validation import YesNo
from app.privacy import service as privacy
from app.privacy.audit import AuditAction
from app.privacy.models import ConsentPurpose, ConsentRecordPublic
from app.registry import service, taxonomy
from app.registry.dependencies import ApiCitizenActor, ApiCitizenPerson, ItemAccess, load_item
from app.registry.models import (
    CitizenRegistration,
    HelpRequestCreate,
    HelpRequestPublic,
    HelpRequestUpdate,
    OfferCreate,
    OfferPublic,
    OfferUpdate,
    Person,
    SkillPublic,
)
from app.registry.service import OFFER, REQUEST, ItemKind

router = APIRouter(prefix="/api/v1", tags=["register"], responses=API_ERROR_RESPONSES)


class StatusChange(BaseModel):
    status: Literal["active", "paused"] | None = None


class OfferPatch(OfferUpdate, StatusChange):
    """An offer's changes; `status` pauses or reopens it."""


class HelpRequestPatch(HelpRequestUpdate, StatusChange):
    """A help request's changes; `status` pauses or reopens it."""


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    given: YesNo


@router.post("/auth/register", status_code=201, response_model=AccountPublic, name="api:register")
def register(request: Request, db: DbSession, body: CitizenRegistration) -> AccountPublic:
    with atomic(db):
        account, _person = service.register_citizen(db, request.app.state.settings, data=body)
    return AccountPublic.model_validate(account)


@router.get("/skills", response_model=list[SkillPublic], name="api:skills")
def skills(db: DbSession) -> list[SkillPublic]:
    return [
        SkillPublic(code=skill.code, name=skill.name, category=category.name, synonyms=skill.synonym_list)
        for skill, category in taxonomy.search_skills_with_categories(db, "")
    ]


# A client that may retry a create sends a key of its choosing; a repeat gets the first answer.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key", min_length=1, max_length=once.MAX_KEY_LENGTH,
        description="Any unique text (a UUID, say). Sent again with the same request, it returns the first answer and creates nothing more.",
    ),
]  # fmt: skip


def _journey(kind: ItemKind, actor, person: Person) -> ItemAccess:
    return ItemAccess(kind=kind, actor=actor, subject=person)


def _public(db, kind: ItemKind, item):
    return service.public_items(db, kind=kind, items=[item])[0]


def _item_routes(kind: ItemKind, path: str, create_body: type, patch_body: type, public: type, names: dict[str, str]) -> None:
    def create(request: Request, db: DbSession, actor: ApiCitizenActor, person: ApiCitizenPerson, body: create_body, idempotency_key: IdempotencyKey = None):  # type: ignore[valid-type]
        def run() -> once.Answer:
            with atomic(db):
                item = service.create_item(db, kind=kind, person=person, data=body)
            return once.Answer(201, json.dumps(jsonable_encoder(_public(db, kind, item))))

        if idempotency_key is None:
            answer = run()
        else:
            print_ = once.fingerprint("POST", request.url.path, body.model_dump(mode="json"))
            answer = once.once(db, account_id=actor.account_id, key=idempotency_key, print_=print_, run=run)
        return Response(answer.body, status_code=answer.status_code, media_type="application/json")

    def list_(db: DbSession, person: ApiCitizenPerson):
        return service.public_items(db, kind=kind, items=service.list_items(db, kind=kind, person=person))

    def read(request: Request, db: DbSession, actor: ApiCitizenActor, person: ApiCitizenPerson, item_id: int):
        item = load_item(request, db, _journey(kind, actor, person), item_id)
        return _public(db, kind, item)

    def patch(request: Request, db: DbSession, actor: ApiCitizenActor, person: ApiCitizenPerson, item_id: int, body: patch_body):  # type: ignore[valid-type]
        item = load_item(request, db, _journey(kind, actor, person), item_id, AuditAction.changed)
        changes = kind.update_model.model_validate(body.model_dump(exclude_unset=True, exclude={"status"}))
        with atomic(db):
            if changes.model_fields_set:
                service.update_item(db, kind=kind, item=item, person=person, data=changes)
            if body.status is not None and body.status != item.status.value:
                service.change_status(db, kind=kind, item=item, action="pause" if body.status == "paused" else "reopen")
        return _public(db, kind, item)

    def close(request: Request, db: DbSession, actor: ApiCitizenActor, person: ApiCitizenPerson, item_id: int):
        item = load_item(request, db, _journey(kind, actor, person), item_id, AuditAction.changed)
        if item.status.value != "closed":
            with atomic(db):
                service.change_status(db, kind=kind, item=item, action="close")
                request.app.state.plugins.item_was_closed(db, kind_key=kind.key, item_id=item.id)
        return _public(db, kind, item)

    base = f"/{path}"
    router.add_api_route(
        base, create, methods=["POST"], status_code=201, response_model=None, name=names["create"],
        responses={201: {"model": public, "description": "Created (or, for a repeated Idempotency-Key, the first answer again)"}},
    )  # fmt: skip
    router.add_api_route(base, list_, methods=["GET"], response_model=list[public], name=names["list"])
    router.add_api_route(base + "/{item_id}", read, methods=["GET"], response_model=public, name=names["read"])
    router.add_api_route(base + "/{item_id}", patch, methods=["PATCH"], response_model=public, name=names["update"])
    router.add_api_route(base + "/{item_id}", close, methods=["DELETE"], response_model=public, name=names["close"])


_item_routes(
    OFFER, "offers", OfferCreate, OfferPatch, OfferPublic,
    {"create": "api:offer_create", "list": "api:offer_list", "read": "api:offer_read",
     "update": "api:offer_update", "close": "api:offer_close"},
)
_item_routes(
    REQUEST, "help-requests", HelpRequestCreate, HelpRequestPatch, HelpRequestPublic,
    {"create": "api:request_create", "list": "api:request_list", "read": "api:request_read",
     "update": "api:request_update", "close": "api:request_close"},
)


def _consents_out(db, person: Person) -> list[ConsentRecordPublic]:
    """The current record of each purpose asked about (ISO/IEC TS 27560 fields, with `state`)."""
    records = privacy.current_records(db, person_id=person.id)
    return [privacy.public(records[purpose]) for purpose in privacy.CITIZEN_PURPOSES if records[purpose] is not None]


@router.get("/me/consents", response_model=list[ConsentRecordPublic], name="api:consents")
def my_consents(db: DbSession, person: ApiCitizenPerson) -> list[ConsentRecordPublic]:
    return _consents_out(db, person)


@router.get("/me/consents/history", response_model=list[ConsentRecordPublic], name="api:consent_history")
def my_consent_history(db: DbSession, person: ApiCitizenPerson) -> list[ConsentRecordPublic]:
    """Every consent record ever made for me, oldest first; none is ever deleted."""
    return [privacy.public(record) for record in privacy.history(db, person_id=person.id)]


@router.put("/me/consents/{purpose}", response_model=list[ConsentRecordPublic], name="api:consent_update")
def set_my_consent(
    request: Request, db: DbSession, actor: ApiCitizenActor, person: ApiCitizenPerson, purpose: str, body: ConsentIn
) -> list[ConsentRecordPublic]:
    if purpose not in {p.value for p in privacy.CITIZEN_PURPOSES}:
        raise InvalidInput(FieldError("purpose", N_("Choose profile, matching, share_contact or linker_contact")))
    account = db.get(Account, actor.account_id)
    with atomic(db):
        service.set_person_consent(
            db,
            request.app.state.settings,
            request.app.state.plugins,
            person=person,
            purpose=ConsentPurpose(purpose),
            given=body.given,
            account=account,
        )
    return _consents_out(db, person)
