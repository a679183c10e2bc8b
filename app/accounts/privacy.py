"""The accounts domain's part in the privacy rights: what an account holds about its owner
(export), how it is anonymised (erasure), and the expired sign-in secrets the retention purge
removes."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlmodel import Session

from app.accounts import once
from app.accounts.models import Account, ApiToken, OnceOnly, PasswordResetToken, UserSession
from app.core.config import Settings
from app.core.db import utcnow
from app.core.plugins import DataSubject

FORMER_MEMBER = "A former member"


def export(db: Session, subject: DataSubject, settings=None) -> dict:
    account = db.get(Account, subject.account_id) if subject.account_id else None
    if account is None:
        return {"account": None}
    return {
        "account": {
            "id": account.id,
            "email": account.email,
            "name": account.name,
            "role": account.role.value,
            "language": account.language,
            "match_emails": account.match_emails,
            "created_at": account.created_at,
            "last_signed_in_at": account.last_signed_in_at,
            "password_changed_at": account.password_changed_at,
        }
    }


def erase(db: Session, subject: DataSubject, settings=None) -> None:
    """The account stays (others' records point at it) but says nothing and opens nothing: no
    name or address, no password, every session, token and reset link gone."""
    if subject.account_id is None:
        return
    account = db.get(Account, subject.account_id)
    if account is None:
        return
    for model in (UserSession, ApiToken, PasswordResetToken, OnceOnly):
        db.execute(delete(model).where(model.account_id == account.id))
    account.email = f"erased-{account.id}@erased.invalid"
    account.name = FORMER_MEMBER
    account.password_hash = None
    account.is_active = False
    account.deactivated_at = account.deactivated_at or utcnow()
    db.add(account)
    db.flush()


def purge_expired_secrets(db: Session, settings: Settings, *, now: datetime, dry_run: bool) -> dict:
    """Sessions past their lifetime, API tokens expired or revoked, reset links used or expired."""
    idle = now - timedelta(minutes=settings.session_idle_minutes)
    absolute = now - timedelta(hours=settings.session_absolute_hours)
    found = {
        "sessions": (UserSession, or_(UserSession.last_seen_at < idle, UserSession.created_at < absolute)),
        "api_tokens": (ApiToken, or_(ApiToken.expires_at < now, ApiToken.revoked_at.is_not(None))),
        "reset_links": (PasswordResetToken, or_(PasswordResetToken.expires_at < now, PasswordResetToken.used_at.is_not(None))),
        # Stored answers to once-only requests repeat what was sent; a retry comes within minutes.
        "once_only_answers": (OnceOnly, OnceOnly.created_at < now - once.KEEP_FOR),
    }
    counts = {}
    for what, (model, condition) in found.items():
        counts[what] = db.execute(select(func.count()).select_from(model).where(condition)).scalar_one()
        if not dry_run and counts[what]:
            db.execute(delete(model).where(condition))
    return counts
