"""JSON API: bearer tokens and the caller's own account."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from app.accounts import service, two_step
from app.accounts.dependencies import ApiAccount, bearer_token
from app.accounts.models import AccountPublic
from app.core.db import DbSession
from app.core.errors import API_ERROR_RESPONSES, api_message

router = APIRouter(prefix="/api/v1", tags=["accounts"], responses=API_ERROR_RESPONSES)


class TokenRequest(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    # Needed once two-step sign-in is on: the authenticator app's code, or a recovery code.
    code: str | None = Field(default=None, max_length=32)


class TotpKey(BaseModel):
    secret: str
    otpauth_uri: str


class TotpConfirm(BaseModel):
    code: str = Field(min_length=1, max_length=32)


class RecoveryCodes(BaseModel):
    recovery_codes: list[str]


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
    if two_step.is_on(account) and not two_step.check_code(db, account=account, code=body.code):
        service.second_step_refused(db, settings, account=account, address=address)
        return api_message(401, "Send the code from your authenticator app (or a recovery code) as \"code\"")
    if two_step.is_on(account):
        service.second_step_passed(db, settings, account=account)
    issued = service.issue_api_token(db, settings, account=account)
    return TokenResponse(access_token=issued.access_token, expires_in=issued.expires_in)


@router.delete("/auth/token", status_code=204, name="api:revoke_token")
def revoke_token(request: Request, db: DbSession, account: ApiAccount) -> Response:
    service.revoke_api_token(db, token=bearer_token(request) or "")
    return Response(status_code=204)


@router.get("/me", response_model=AccountPublic, name="api:me")
def me(account: ApiAccount) -> AccountPublic:
    return AccountPublic.model_validate(account)


@router.post("/me/mfa/totp", response_model=TotpKey, name="api:totp_begin")
def totp_begin(request: Request, db: DbSession, account: ApiAccount) -> TotpKey:
    """A new key for the authenticator app. Two-step sign-in is on once a code from it is confirmed."""
    key = two_step.begin(db, request.app.state.settings, account=account)
    return TotpKey(secret=key.secret, otpauth_uri=key.otpauth_uri)


@router.post("/me/mfa/totp/confirm", response_model=RecoveryCodes, name="api:totp_confirm")
def totp_confirm(db: DbSession, account: ApiAccount, body: TotpConfirm) -> RecoveryCodes:
    """Turn two-step sign-in on with the app's current code; the ten recovery codes are shown once."""
    return RecoveryCodes(recovery_codes=two_step.confirm(db, account=account, code=body.code))


class SessionOut(BaseModel):
    id: str
    created_at: datetime
    last_seen_at: datetime


@router.get("/me/sessions", response_model=list[SessionOut], name="api:my_sessions")
def my_sessions(request: Request, db: DbSession, account: ApiAccount) -> list[SessionOut]:
    """The browsers this account is signed in on (API tokens are not sessions: revoke with DELETE /auth/token)."""
    seen = service.sessions_of(db, request.app.state.settings, account_id=account.id)
    return [SessionOut(id=s.handle, created_at=s.created_at, last_seen_at=s.last_seen_at) for s in seen]


@router.delete("/me/sessions/{session_id}", status_code=204, name="api:end_my_session")
def end_my_session(db: DbSession, account: ApiAccount, session_id: str) -> Response:
    service.end_session_by_handle(db, account_id=account.id, handle=session_id)
    return Response(status_code=204)
