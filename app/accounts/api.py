"""JSON API: bearer tokens and the caller's own account."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from app.accounts import service
from app.accounts.dependencies import ApiAccount, bearer_token
from app.accounts.models import AccountPublic
from app.core.db import DbSession
from app.core.errors import api_message

router = APIRouter(prefix="/api/v1", tags=["accounts"])


class TokenRequest(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    responses={401: {"description": "Wrong email or password"}, 429: {"description": "Too many attempts"}},
    name="api:token",
)
def create_token(request: Request, db: DbSession, body: TokenRequest) -> TokenResponse | Response:
    settings = request.app.state.settings
    address = request.client.host if request.client else "unknown"
    try:
        account = service.authenticate(db, settings, email=body.email, password=body.password, address=address)
    except service.SignInThrottled as refusal:
        return api_message(429, refusal.message, headers={"Retry-After": str(refusal.minutes * 60)})
    except service.SignInRefused as refusal:
        return api_message(401, refusal.message)  # returned, not raised: the failure is committed
    issued = service.issue_api_token(db, settings, account=account)
    return TokenResponse(access_token=issued.access_token, expires_in=issued.expires_in)


@router.delete("/auth/token", status_code=204, name="api:revoke_token")
def revoke_token(request: Request, db: DbSession, account: ApiAccount) -> Response:
    service.revoke_api_token(db, token=bearer_token(request) or "")
    return Response(status_code=204)


@router.get("/me", response_model=AccountPublic, name="api:me")
def me(account: ApiAccount) -> AccountPublic:
    return AccountPublic.model_validate(account)
