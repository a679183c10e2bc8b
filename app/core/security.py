"""Password hashing and policy, random tokens, and CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from passlib.context import CryptContext
from zxcvbn import zxcvbn

from app.core.i18n import N_

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
password_context = CryptContext(
    schemes=["argon2"],
    argon2__type="ID",
    argon2__memory_cost=19 * 1024,
    argon2__time_cost=2,
    argon2__parallelism=1,
)

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 256
# zxcvbn looks at this many characters: a long password is not weak because of its tail,
# and scoring a huge input would be slow.
_ZXCVBN_MAX_INPUT = 72  # zxcvbn refuses longer input outright
_ZXCVBN_MIN_SCORE = 3


def hash_password(password: str) -> str:
    return password_context.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if not password_hash:
        # Spend the same time as a real check so that timing does not reveal unknown accounts.
        password_context.dummy_verify()
        return False
    try:
        return password_context.verify(password, password_hash)
    except (ValueError, TypeError):
        return False


def password_refusal(password: str, *, user_inputs: list[str] = ()) -> tuple[str, dict[str, int] | None] | None:
    """Why a new password would be refused, as an English message id and its parameters
    (for a translatable `FieldError`); None when it is acceptable."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return N_("Your password must be at least %(min)s characters long"), {"min": PASSWORD_MIN_LENGTH}
    if len(password) > PASSWORD_MAX_LENGTH:
        return N_("Your password must be %(max)s characters or fewer"), {"max": PASSWORD_MAX_LENGTH}
    inputs = [part for value in user_inputs if value for part in _words(value)]
    result = zxcvbn(password[:_ZXCVBN_MAX_INPUT], user_inputs=inputs)
    if result["score"] < _ZXCVBN_MIN_SCORE:
        return (
            N_(
                "Choose a password that is harder to guess: avoid common words, names and patterns. "
                "Three or four random words together work well"
            ),
            None,
        )
    return None


def password_problem(password: str, *, user_inputs: list[str] = ()) -> str | None:
    """Why a new password would be refused, in plain English words; None when it is acceptable."""
    refusal = password_refusal(password, user_inputs=user_inputs)
    if refusal is None:
        return None
    template, params = refusal
    return template % params if params else template


def _words(value: str) -> list[str]:
    pieces = [value]
    for separator in ("@", ".", " ", "-", "_"):
        pieces = [part for piece in pieces for part in piece.split(separator)]
    return [value, *[p for p in pieces if len(p) >= 3]]


def new_token() -> str:
    """A URL-safe random token with 256 bits of entropy."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What the database stores of a bearer secret: a leaked table gives no usable tokens."""
    return hashlib.sha256(token.encode()).hexdigest()


def keyed_digest(secret: bytes, value: str) -> str:
    """A keyed hash for counting by e-mail or address without storing either."""
    return hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()


def csrf_token_for(secret: bytes, csrf_cookie: str) -> str:
    """The form token that goes with a CSRF cookie (a signed double-submit token)."""
    return hmac.new(secret, b"csrf:" + csrf_cookie.encode(), hashlib.sha256).hexdigest()


def csrf_token_valid(secret: bytes, csrf_cookie: str | None, submitted: str | None) -> bool:
    if not csrf_cookie or not submitted:
        return False
    return hmac.compare_digest(csrf_token_for(secret, csrf_cookie), submitted)
