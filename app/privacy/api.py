"""The privacy rights in the API: my export, who has looked at my record, erasing my account."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from app.accounts.dependencies import Actor, api_require_actor
from app.accounts.models import Account, Role
from app.core.db import DbSession
from app.core.errors import API_ERROR_RESPONSES, FieldError, InvalidInput
from app.core.i18n import N_
from app.core.security import verify_password
from app.privacy import rights
from app.privacy.dependencies import erase_own, export_for, own_subject
from app.privacy.models import Export

router = APIRouter(prefix="/api/v1", tags=["privacy"], responses=API_ERROR_RESPONSES)

api_citizen_actor = api_require_actor(Role.citizen)
ApiCitizenActor = Annotated[Actor, Depends(api_citizen_actor)]


class AccessLogEntry(BaseModel):
    when: datetime
    role: str
    organisation: str | None
    action: str
    route: str


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(max_length=1024)


@router.get("/me/export", response_model=Export, name="api:my_export")
def my_export(request: Request, db: DbSession, actor: ApiCitizenActor) -> Export:
    return Export(**export_for(request, db, actor, own_subject(request, db, actor)))


@router.get("/me/access-log", response_model=list[AccessLogEntry], name="api:my_access_log")
def my_access_log(request: Request, db: DbSession, actor: ApiCitizenActor) -> list[AccessLogEntry]:
    subject = own_subject(request, db, actor)
    controller = request.app.state.settings.council_name
    return [AccessLogEntry(**rights.access_entry(event, controller))
            for event in rights.access_log(db, person_id=subject.person_id, own_account_id=actor.account_id)]  # fmt: skip


@router.delete("/me", status_code=204, name="api:erase_me")
def erase_me(request: Request, db: DbSession, actor: ApiCitizenActor, body: ErasureRequest) -> Response:
    subject = own_subject(request, db, actor)
    account = db.get(Account, actor.account_id)
    if not verify_password(body.password, account.password_hash):
        raise InvalidInput(FieldError("password", N_("Enter your password correctly to delete your account")))
    erase_own(request, db, actor, subject)
    return Response(status_code=204)
