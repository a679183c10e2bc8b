"""Two-step sign-in: a time-based one-time code (TOTP, RFC 6238, with pyotp) after the password,
and ten one-time recovery codes for when the phone is lost.

Linkers, staff and admins must turn it on before they can see any personal data or report
(`required_for`); citizens may. Setting up: `begin` makes a key (shown once, as text and as a QR
code), `confirm` turns it on with the first code and returns the recovery codes. Each code works
once: the time step it belongs to is remembered, and a recovery code is marked used.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import pyotp
from sqlalchemy import delete, func, select, update
from sqlmodel import Session

from app.accounts.models import Account, RecoveryCode, Role
from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import Conflict, FieldError, InvalidInput
from app.core.i18n import N_

PRIVILEGED = (Role.linker, Role.staff, Role.admin)
RECOVERY_CODES = 10
# One step either side: a phone clock a little out, or a code typed as it changed.
DRIFT_STEPS = 1
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


def required_for(settings: Settings, account: Account) -> bool:
    return settings.second_factor_is_required and account.role in PRIVILEGED


def is_on(account: Account) -> bool:
    return account.totp_confirmed_at is not None


def blocks(settings: Settings, account: Account) -> bool:
    """True while this account must set up two-step sign-in before going further."""
    return required_for(settings, account) and not is_on(account)


@dataclass(frozen=True)
class NewKey:
    secret: str
    otpauth_uri: str


def begin(db: Session, settings: Settings, *, account: Account) -> NewKey:
    """A fresh key, not yet on: scanning an old QR code after this gives codes that fail."""
    if is_on(account):
        raise Conflict(N_("Two-step sign-in is already on for this account."))
    account.totp_secret = pyotp.random_base32()
    account.totp_last_step = None
    db.add(account)
    db.flush()
    return NewKey(account.totp_secret, otpauth_uri(settings, account))


def otpauth_uri(settings: Settings, account: Account) -> str:
    return pyotp.TOTP(account.totp_secret).provisioning_uri(name=account.email, issuer_name=settings.service_name)


def _clean(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _matching_step(account: Account, code: str) -> int | None:
    """The time step `code` belongs to, if it is a current code for this account's key."""
    digits = _clean(code)
    if not account.totp_secret or len(digits) != 6 or not digits.isdigit():
        return None
    totp = pyotp.TOTP(account.totp_secret)
    now_step = totp.timecode(utcnow())
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        if secrets.compare_digest(totp.generate_otp(step), digits):
            return step
    return None


def _use_step(db: Session, account: Account, step: int) -> bool:
    """Record `step` as used, once: a code already used (here, or by a racing request) fails."""
    if account.totp_last_step is not None and step <= account.totp_last_step:
        return False
    moved = db.execute(
        update(Account)
        .where(Account.id == account.id, (Account.totp_last_step.is_(None)) | (Account.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    account.totp_last_step = step
    return moved == 1


def _digest(code: str) -> str:
    return hashlib.sha256(_clean(code).encode()).hexdigest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def confirm(db: Session, *, account: Account, code: str) -> list[str]:
    """Turn two-step sign-in on with the first code; returns the recovery codes (shown once)."""
    if is_on(account):
        raise Conflict(N_("Two-step sign-in is already on for this account."))
    if not account.totp_secret:
        raise InvalidInput(FieldError("code", N_("Start setting up two-step sign-in first.")))
    step = _matching_step(account, code)
    if step is None or not _use_step(db, account, step):
        raise InvalidInput(FieldError("code", N_("Enter the 6-digit code your authenticator app shows now.")))
    account.totp_confirmed_at = utcnow()
    db.add(account)
    return new_recovery_codes(db, account=account)


def new_recovery_codes(db: Session, *, account: Account) -> list[str]:
    """Ten fresh codes; any earlier ones stop working."""
    db.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    db.add_all(RecoveryCode(account_id=account.id, code_digest=_digest(code)) for code in codes)
    db.flush()
    return codes


def recovery_codes_left(db: Session, *, account_id: int) -> int:
    return db.execute(
        select(func.count()).select_from(RecoveryCode).where(RecoveryCode.account_id == account_id, RecoveryCode.used_at.is_(None))
    ).scalar_one()


def check_code(db: Session, *, account: Account, code: str | None) -> bool:
    """The second step of a sign-in: a current authenticator code, or an unused recovery code."""
    if not code or len(code) > 32:
        return False
    step = _matching_step(account, code)
    if step is not None:
        return _use_step(db, account, step)
    used = db.execute(
        update(RecoveryCode)
        .where(RecoveryCode.account_id == account.id, RecoveryCode.code_digest == _digest(code), RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    return used == 1


def turn_off(db: Session, *, account: Account) -> None:
    """By an admin, for someone who lost both phone and codes (they set it up again at next sign-in)."""
    account.totp_secret = None
    account.totp_confirmed_at = None
    account.totp_last_step = None
    db.add(account)
    db.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))
    db.flush()
