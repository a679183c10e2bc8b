"""Accounts, their server-side sessions, API tokens, sign-in attempts and reset links."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, enum_column, utcnow
from app.core.i18n import N_


class Role(str, enum.Enum):
    citizen = "citizen"
    linker = "linker"
    staff = "staff"
    admin = "admin"

    @property
    def label(self) -> str:
        """An English message id (translate it where it is shown, e.g. `role.label | translate`)."""
        return {
            "citizen": N_("Citizen"),
            "linker": N_("Community linker"),
            "staff": N_("Council staff"),
            "admin": N_("Administrator"),
        }[self.value]


def _utc(**kwargs) -> object:
    return Field(sa_type=UTCDateTime, **kwargs)


class Account(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(max_length=200)
    role: Role = Field(sa_type=enum_column(Role, 16), default=Role.citizen)
    password_hash: str | None = Field(default=None, max_length=255)
    is_active: bool = True
    is_demo: bool = Field(default=False, index=True)
    # The language of this person's pages and mail (a code from app.core.i18n.SUPPORTED_LANGUAGES).
    language: str = Field(default="en", max_length=16, sa_column_kwargs={"server_default": "en"})
    # Mail about their matches (proposed, answered, messages...); the pages always show them.
    match_emails: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    created_at: datetime = _utc(default_factory=utcnow)
    password_changed_at: datetime | None = _utc(default=None)
    last_signed_in_at: datetime | None = _utc(default=None)  # retention: who still uses the service
    deactivated_at: datetime | None = _utc(default=None)
    # Two-step sign-in (TOTP, RFC 6238): the shared key, set when setting up begins; on once the
    # first code is confirmed. The last time step used, so a code cannot be used twice.
    totp_secret: str | None = Field(default=None, max_length=64)
    totp_confirmed_at: datetime | None = _utc(default=None)
    totp_last_step: int | None = Field(default=None, sa_type=sa.BigInteger)


class UserSession(SQLModel, table=True):
    __tablename__ = "user_session"

    # The SHA-256 of the cookie's random value: the table never holds a usable session id.
    id: str = Field(primary_key=True, max_length=64)
    account_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    created_at: datetime = _utc(default_factory=utcnow)
    last_seen_at: datetime = _utc(default_factory=utcnow)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    token_digest: str = Field(max_length=64, unique=True)
    created_at: datetime = _utc(default_factory=utcnow)
    expires_at: datetime = _utc()
    revoked_at: datetime | None = _utc(default=None)


class LoginAttempt(SQLModel, table=True):
    """Failed sign-ins, counted per account and per address; both kept as keyed hashes."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        sa.Index("ix_login_attempt_account_key_attempted_at", "account_key", "attempted_at"),
        sa.Index("ix_login_attempt_address_key_attempted_at", "address_key", "attempted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_key: str = Field(max_length=64)
    address_key: str = Field(max_length=64)
    attempted_at: datetime = _utc(default_factory=utcnow)


class PasswordResetToken(SQLModel, table=True):
    __tablename__ = "password_reset_token"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    token_digest: str = Field(max_length=64, unique=True)
    created_at: datetime = _utc(default_factory=utcnow)
    expires_at: datetime = _utc()
    used_at: datetime | None = _utc(default=None)


class AccountPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    role: Role


class OnceOnly(SQLModel, table=True):
    """The answer to a request that must take effect once: an API call with an `Idempotency-Key`
    header, or a page form with its single-use form token. A repeat with the same key gets the
    same answer instead of a second record. Kept for a day (the retention purge removes older)."""

    __tablename__ = "once_only"
    __table_args__ = (sa.UniqueConstraint("account_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE")
    key: str = Field(max_length=255)
    # SHA-256 of the method, path and body: the same key sent with a different request is refused.
    fingerprint: str = Field(max_length=64)
    status_code: int = 0
    # The answer as sent: JSON for the API, the address to go to for a page.
    answer: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = _utc(default_factory=utcnow, index=True)


class RecoveryCode(SQLModel, table=True):
    """A one-time code for signing in when the authenticator app is lost; only its digest is kept."""

    __tablename__ = "recovery_code"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    code_digest: str = Field(max_length=64, unique=True)
    created_at: datetime = _utc(default_factory=utcnow)
    used_at: datetime | None = _utc(default=None)
