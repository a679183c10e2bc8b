"""Account rules: registration, sign-in with throttling, sessions, passwords, tokens and roles.

Functions flush and never commit: the request (or CLI command) owns the transaction.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, select, update
from sqlmodel import Session

from app.accounts.models import (
    Account,
    ApiToken,
    LoginAttempt,
    PasswordResetToken,
    Role,
    UserSession,
)
from app.accounts.throttle import locked_until, minutes_to_wait
from app.core import i18n
from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import FieldError, InvalidInput, NotFound
from app.core.i18n import N_
from app.core.mail import Mailer, render_mail, send_after_commit
from app.core.security import (
    hash_password,
    keyed_digest,
    new_token,
    password_refusal,
    token_digest,
    verify_password,
)

NAME_MAX_LENGTH = 200
INVITATION_DAYS = 3
# Account ids only: never an email address, a name or a network address.
logger = logging.getLogger("marketplace.accounts")


class SignInRefused(Exception):
    """Wrong e-mail or password, or an inactive account: one message for all, to reveal nothing."""

    template = N_("Enter a correct email address and password")
    params = None
    message = template

    def field_error(self, field: str) -> FieldError:
        return FieldError(field, self.template)


class SignInThrottled(Exception):
    def __init__(self, minutes: int):
        self.minutes = minutes
        # Two whole sentences rather than a plural form: the figure is spelt out only when it is not 1.
        if minutes == 1:
            self.template = N_(
                "There have been too many attempts to sign in. For your security, please wait "
                "1 minute and try again, or reset your password."
            )
            self.params = None
        else:
            self.template = N_(
                "There have been too many attempts to sign in. For your security, please wait "
                "%(minutes)s minutes and try again, or reset your password."
            )
            self.params = {"minutes": minutes}
        self.message = self.template % self.params if self.params else self.template
        super().__init__(self.message)

    def field_error(self, field: str) -> FieldError:
        return FieldError(field, self.template, self.params)


# --- validation ------------------------------------------------------------------------------


def normalise_email(raw: str) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise InvalidInput(
            FieldError("email", N_("Enter an email address in the correct format, like name@example.com"))
        ) from None


def clean_name(raw: str, field: str = "name") -> str:
    name = " ".join(raw.split())
    if not name:
        return _fail(field, N_("Enter your name"))
    if len(name) > NAME_MAX_LENGTH:
        return _fail(field, N_("Your name must be %(max)s characters or fewer"), {"max": NAME_MAX_LENGTH})
    if any(ord(ch) < 32 for ch in name):
        return _fail(field, N_("Your name must not contain control characters"))
    return name


def _fail(field: str, message: str, params: dict | None = None):
    """Refuse with a message id marked with `N_` (translated where it is shown)."""
    raise InvalidInput(FieldError(field, message, params))


def check_new_password(password: str, confirm: str | None, *, field: str, user_inputs: list[str]) -> None:
    refusal = password_refusal(password, user_inputs=user_inputs)
    if refusal:
        _fail(field, *refusal)
    if confirm is not None and confirm != password:
        _fail(f"{field}_confirm", N_("The passwords do not match"))


# --- accounts --------------------------------------------------------------------------------


def get_account(db: Session, *, account_id: int) -> Account:
    account = db.get(Account, account_id)
    if account is None:
        raise NotFound()
    return account


def find_account_by_email(db: Session, *, email: str) -> Account | None:
    return db.execute(select(Account).where(Account.email == email)).scalars().first()


def _email_free(db: Session, email: str) -> None:
    if find_account_by_email(db, email=email) is not None:
        _fail("email", N_("An account with this email address already exists. Sign in, or reset your password"))


def registration_problems(
    db: Session, *, email: str, password: str, password_confirm: str | None, name: str
) -> list[FieldError]:
    """Everything wrong with a registration's account fields, without writing anything."""
    errors: list[FieldError] = []
    checks = (
        lambda: clean_name(name),
        lambda: _email_free(db, normalise_email(email)),
        lambda: check_new_password(password, password_confirm, field="password", user_inputs=[email, name]),
    )
    for check in checks:
        try:
            check()
        except InvalidInput as problem:
            errors.extend(problem.errors)
    return errors


def register_citizen(
    db: Session,
    *,
    email: str,
    password: str,
    password_confirm: str | None,
    name: str,
    language: str = i18n.DEFAULT_LANGUAGE,
) -> Account:
    errors = registration_problems(db, email=email, password=password, password_confirm=password_confirm, name=name)
    if errors:
        raise InvalidInput(errors)
    account = Account(
        email=normalise_email(email),
        name=clean_name(name),
        role=Role.citizen,
        password_hash=hash_password(password),
        password_changed_at=utcnow(),
        language=i18n.supported(language) or i18n.DEFAULT_LANGUAGE,
    )
    db.add(account)
    db.flush()
    return account


def create_account(
    db: Session,
    *,
    email: str,
    name: str,
    role: Role,
    password: str | None = None,
    is_demo: bool = False,
) -> Account:
    """An account made by an administrator or the CLI. Without a password, the owner sets one by email link."""
    errors: list[FieldError] = []
    clean_email = clean_name_value = None
    try:
        clean_name_value = clean_name(name)
    except InvalidInput as problem:
        errors.extend(problem.errors)
    try:
        clean_email = normalise_email(email)
        _email_free(db, clean_email)
    except InvalidInput as problem:
        errors.extend(problem.errors)
    if password is not None:
        try:
            check_new_password(password, None, field="password", user_inputs=[email, name])
        except InvalidInput as problem:
            errors.extend(problem.errors)
    if errors:
        raise InvalidInput(errors)
    account = Account(
        email=clean_email,
        name=clean_name_value,
        role=role,
        password_hash=hash_password(password) if password is not None else None,
        password_changed_at=utcnow() if password is not None else None,
        is_demo=is_demo,
    )
    db.add(account)
    db.flush()
    return account


def invite_account(
    db: Session,
    settings: Settings,
    mailer: Mailer,
    *,
    email: str,
    name: str,
    role: Role,
    invited_by: Account | None = None,
    language: str | None = None,
) -> Account:
    """An account for a linker, staff member or administrator, who chooses a password from the
    emailed invitation. The mail goes only once the account is committed."""
    if role not in (Role.linker, Role.staff, Role.admin):
        _fail("role", N_("Choose community linker, council staff or administrator"))
    account = create_account(db, email=email, name=name, role=role)
    if language is not None:
        set_language(db, account=account, language=language)
    token = _new_reset_token(db, settings, account=account, lifetime=timedelta(days=INVITATION_DAYS))
    message = render_mail(
        settings,
        "invitation",
        to=account.email,
        language=account.language,
        name=account.name,
        role=role.value,
        invited_by=invited_by.name if invited_by is not None else None,
        link=_reset_link(settings, token),
        days=INVITATION_DAYS,
    )
    send_after_commit(db, mailer, message)
    logger.warning(
        "account %s given the %s role by %s", account.id, role.value,
        f"account {invited_by.id}" if invited_by is not None else "the command line",
    )  # fmt: skip
    return account


def set_language(db: Session, *, account: Account, language: str) -> Account:
    """The language of the person's pages and mail."""
    if i18n.supported(language) is None:
        _fail("language", N_("Choose English or Welsh"))
    account.language = language
    db.add(account)
    db.flush()
    return account


def _reset_link(settings: Settings, token: str) -> str:
    return f"{settings.base_url.rstrip('/')}/reset-password?token={token}"


def set_account_active(db: Session, *, account: Account, active: bool, actor: Account) -> Account:
    if account.id == actor.id and not active:
        _fail("account", N_("You cannot deactivate your own account"))
    account.is_active = active
    account.deactivated_at = None if active else utcnow()
    db.add(account)
    logger.warning("account %s %s by account %s", account.id, "reactivated" if active else "deactivated", actor.id)
    if not active:
        end_all_sessions(db, account_id=account.id)
        revoke_all_api_tokens(db, account_id=account.id)
    db.flush()
    return account


def list_accounts(db: Session, *, page: int = 1, per_page: int = 50) -> tuple[list[Account], int]:
    total = db.execute(select(func.count()).select_from(Account)).scalar_one()
    rows = db.execute(
        select(Account).order_by(Account.role, Account.email).offset((page - 1) * per_page).limit(per_page)
    ).scalars().all()
    return list(rows), total


# --- sign-in and throttling ------------------------------------------------------------------


def _throttle_keys(settings: Settings, email: str, address: str) -> tuple[str, str]:
    secret = settings.secret_bytes
    return keyed_digest(secret, "account:" + email.strip().lower()), keyed_digest(secret, "address:" + address)


def authenticate(db: Session, settings: Settings, *, email: str, password: str, address: str) -> Account:
    """Check the e-mail and password, with throttling per account and per address.

    Failures are recorded in the database, so the limits hold across server processes. The
    caller must commit even when this raises SignInRefused, so that the failure is counted.
    """
    now = utcnow()
    account_key, address_key = _throttle_keys(settings, email, address)
    _refuse_if_throttled(db, settings, account_key, address_key, now)

    account = find_account_by_email(db, email=email.strip().lower())
    if account is None or not verify_password(password, account.password_hash) or not account.is_active:
        db.add(LoginAttempt(account_key=account_key, address_key=address_key, attempted_at=now))
        db.flush()
        logger.info("sign-in refused")
        raise SignInRefused()
    # A success clears this account's failures (with two steps, only once the code is right too,
    # or the password would buy unlimited guesses at the code); the address keeps its count.
    if account.totp_confirmed_at is None:
        db.execute(delete(LoginAttempt).where(LoginAttempt.account_key == account_key))
    account.last_signed_in_at = now  # retention counts from the last sign-in
    db.add(account)
    logger.info("password accepted for account %s", account.id)
    return account


TICKET_MINUTES = 5


def second_step_ticket(settings: Settings, account: Account, *, now: datetime | None = None) -> str:
    """Proof, for a few minutes, that this account's password was just given on this form."""
    issued = int((now or utcnow()).timestamp())
    return f"{account.id}.{issued}.{_ticket_mac(settings, account, issued)}"


def _ticket_mac(settings: Settings, account: Account, issued: int) -> str:
    # The password hash is in it, so changing the password voids any ticket already out.
    return keyed_digest(settings.secret_bytes, f"second-step:{account.id}:{issued}:{account.password_hash}")


def account_for_ticket(db: Session, settings: Settings, *, ticket: str) -> Account | None:
    parts = ticket.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit() or len(ticket) > 200:
        return None
    account = db.get(Account, int(parts[0]))
    issued = int(parts[1])
    if account is None or not account.is_active:
        return None
    if not secrets.compare_digest(parts[2], _ticket_mac(settings, account, issued)):
        return None
    age = utcnow().timestamp() - issued
    return account if 0 <= age <= TICKET_MINUTES * 60 else None


def second_step_refused(db: Session, settings: Settings, *, account: Account, address: str) -> None:
    """A wrong sign-in code counts against the same limits as a wrong password."""
    account_key, address_key = _throttle_keys(settings, account.email, address)
    db.add(LoginAttempt(account_key=account_key, address_key=address_key, attempted_at=utcnow()))
    db.flush()
    logger.info("sign-in code refused for account %s", account.id)


def second_step_passed(db: Session, settings: Settings, *, account: Account) -> None:
    account_key, _ = _throttle_keys(settings, account.email, "")
    db.execute(delete(LoginAttempt).where(LoginAttempt.account_key == account_key))
    logger.info("sign-in code accepted for account %s", account.id)


def refuse_if_throttled(db: Session, settings: Settings, *, account: Account, address: str) -> None:
    account_key, address_key = _throttle_keys(settings, account.email, address)
    _refuse_if_throttled(db, settings, account_key, address_key, utcnow())


def _refuse_if_throttled(db: Session, settings: Settings, account_key: str, address_key: str, now: datetime) -> None:
    window = timedelta(minutes=settings.login_window_minutes)
    cooloff = timedelta(minutes=settings.login_cooloff_minutes)
    since = now - window - cooloff
    for key_column, key, limit in (
        (LoginAttempt.account_key, account_key, settings.login_max_failures_per_account),
        (LoginAttempt.address_key, address_key, settings.login_max_failures_per_address),
    ):
        failures = db.execute(
            select(LoginAttempt.attempted_at).where(key_column == key, LoginAttempt.attempted_at >= since)
        ).scalars().all()
        until = locked_until(failures, limit=limit, window=window, cooloff=cooloff, now=now)
        if until is not None:
            logger.info("sign-in throttled")
            raise SignInThrottled(minutes_to_wait(until, now))


# --- browser sessions ------------------------------------------------------------------------


def start_session(db: Session, settings: Settings, *, account: Account) -> str:
    """A fresh session id at every sign-in (no fixation); returns the cookie value."""
    _prune_sessions(db, settings, account_id=account.id)
    token = new_token()
    db.add(UserSession(id=token_digest(token), account_id=account.id))
    db.flush()
    return token


def _session_expired(settings: Settings, session: UserSession, now: datetime) -> bool:
    idle = timedelta(minutes=settings.session_idle_minutes)
    absolute = timedelta(hours=settings.session_absolute_hours)
    return now - session.last_seen_at > idle or now - session.created_at > absolute


def _prune_sessions(db: Session, settings: Settings, *, account_id: int) -> None:
    now = utcnow()
    for session in db.execute(select(UserSession).where(UserSession.account_id == account_id)).scalars():
        if _session_expired(settings, session, now):
            db.delete(session)


@dataclass(frozen=True)
class SessionCheck:
    """What a session cookie stands for, read without writing: the live account (None when the
    session is dead) and the upkeep the session needs (`"end"` when dead, `"touch"` when its idle
    clock is over a minute old, else None)."""

    digest: str
    account: Account | None
    upkeep: str | None
    now: datetime


def read_session(db: Session, settings: Settings, *, cookie_value: str | None) -> SessionCheck | None:
    """The session behind a cookie and its account, in one query; None for an unknown cookie."""
    if not cookie_value or len(cookie_value) > 128:
        return None
    digest = token_digest(cookie_value)
    row = db.execute(
        select(UserSession, Account)
        .join(Account, Account.id == UserSession.account_id, isouter=True)
        .where(UserSession.id == digest)
    ).first()
    if row is None:
        return None
    session, account = row
    now = utcnow()
    if _session_expired(settings, session, now) or account is None or not account.is_active:
        return SessionCheck(digest, None, "end", now)
    # Sliding idle timeout, written at most once a minute to spare the database.
    touch = now - session.last_seen_at > timedelta(seconds=60)
    return SessionCheck(digest, account, "touch" if touch else None, now)


def keep_session(db: Session, check: SessionCheck) -> None:
    """Do a session's upkeep. Callers give it a transaction that begins with this write: on SQLite
    a transaction that reads and then writes cannot wait for another writer ("database is locked"
    at once), while one that begins by writing waits its turn (the busy timeout)."""
    if check.upkeep == "end":
        db.execute(delete(UserSession).where(UserSession.id == check.digest))
    elif check.upkeep == "touch":
        db.execute(update(UserSession).where(UserSession.id == check.digest).values(last_seen_at=check.now))


def check_session(db: Session, settings: Settings, *, cookie_value: str | None) -> int | None:
    """The account id behind a session cookie, applying the idle and absolute timeouts; a dead
    session (expired, or its account deactivated) is deleted and answers None. The reads end
    their transaction before the upkeep writes (see `keep_session`)."""
    check = read_session(db, settings, cookie_value=cookie_value)
    db.commit()  # the read transaction ends here
    if check is None:
        return None
    if check.upkeep:
        keep_session(db, check)
        db.commit()
    return check.account.id if check.account is not None else None


def end_session(db: Session, *, cookie_value: str | None) -> None:
    if cookie_value:
        db.execute(delete(UserSession).where(UserSession.id == token_digest(cookie_value)))


def end_all_sessions(db: Session, *, account_id: int) -> None:
    db.execute(delete(UserSession).where(UserSession.account_id == account_id))


@dataclass(frozen=True)
class SessionSeen:
    """One of an account's signed-in browsers, as its owner sees it."""

    handle: str  # the first 16 characters of the stored digest: enough to name it, nothing to use
    created_at: datetime
    last_seen_at: datetime
    current: bool


HANDLE_LENGTH = 16


def sessions_of(db: Session, settings: Settings, *, account_id: int, cookie_value: str | None = None) -> list[SessionSeen]:
    now = utcnow()
    current = token_digest(cookie_value) if cookie_value else None
    rows = db.execute(
        select(UserSession).where(UserSession.account_id == account_id).order_by(UserSession.last_seen_at.desc())
    ).scalars()
    return [
        SessionSeen(row.id[:HANDLE_LENGTH], row.created_at, row.last_seen_at, row.id == current)
        for row in rows
        if not _session_expired(settings, row, now)
    ]


def end_session_by_handle(db: Session, *, account_id: int, handle: str) -> None:
    """End one of this account's own sessions; any other handle is a 404, like a missing one."""
    if len(handle) != HANDLE_LENGTH or any(c not in "0123456789abcdef" for c in handle):
        raise NotFound()
    ended = db.execute(
        delete(UserSession).where(UserSession.account_id == account_id, UserSession.id.startswith(handle, autoescape=True))
    ).rowcount
    if not ended:
        raise NotFound()
    logger.info("a session of account %s ended by its owner", account_id)


def end_other_sessions(db: Session, *, account_id: int, cookie_value: str | None) -> None:
    keep = token_digest(cookie_value) if cookie_value else ""
    db.execute(delete(UserSession).where(UserSession.account_id == account_id, UserSession.id != keep))


# --- passwords -------------------------------------------------------------------------------


def change_password(
    db: Session, *, account: Account, current_password: str, new_password: str, new_password_confirm: str
) -> None:
    """Change the password and end every session and API token of the account."""
    if not verify_password(current_password, account.password_hash):
        _fail("current_password", N_("Your current password is not correct"))
    check_new_password(
        new_password, new_password_confirm, field="new_password", user_inputs=[account.email, account.name]
    )
    if verify_password(new_password, account.password_hash):
        _fail("new_password", N_("Your new password must be different from your current one"))
    _set_password(db, account=account, password=new_password)


def change_email(
    db: Session, settings: Settings, mailer: Mailer, *, account: Account, new_email: str, password: str,
    email_changed=(),
) -> None:
    """A new sign-in address, with the password again (a session left open on a shared computer
    must not be enough to take the account). The old address is told, in case it was not them;
    every other session and API token ends."""
    if not verify_password(password, account.password_hash):
        _fail("email_password", N_("Your password is not correct"))
    try:
        clean = normalise_email(new_email)
    except InvalidInput:
        _fail("new_email", N_("Enter an email address in the correct format, like name@example.com"))
    if clean == account.email:
        _fail("new_email", N_("That is already your email address"))
    if find_account_by_email(db, email=clean) is not None:
        _fail("new_email", N_("An account with this email address already exists"))
    old = account.email
    account.email = clean
    db.add(account)
    db.flush()
    for follow in email_changed:
        follow(db, account.id, clean)
    end_all_sessions(db, account_id=account.id)
    revoke_all_api_tokens(db, account_id=account.id)
    message = render_mail(settings, "email_changed", to=old, language=account.language, name=account.name, new_email=clean)
    send_after_commit(db, mailer, message)
    logger.info("email address changed for account %s", account.id)


def _set_password(db: Session, *, account: Account, password: str) -> None:
    account.password_hash = hash_password(password)
    account.password_changed_at = utcnow()
    db.add(account)
    end_all_sessions(db, account_id=account.id)
    revoke_all_api_tokens(db, account_id=account.id)
    db.flush()


def _new_reset_token(db: Session, settings: Settings, *, account: Account, lifetime: timedelta | None = None) -> str:
    token = new_token()
    now = utcnow()
    db.add(
        PasswordResetToken(
            account_id=account.id,
            token_digest=token_digest(token),
            created_at=now,
            expires_at=now + (lifetime or timedelta(minutes=settings.password_reset_minutes)),
        )
    )
    db.flush()
    return token


def request_password_reset(db: Session, settings: Settings, mailer: Mailer, *, email: str) -> None:
    """Email a reset link if the account exists; the caller says the same thing either way.
    The mail goes only once the new link is committed."""
    clean_email = normalise_email(email)
    account = find_account_by_email(db, email=clean_email)
    if account is None or not account.is_active:
        return
    token = _new_reset_token(db, settings, account=account)
    message = render_mail(
        settings,
        "password_reset",
        to=account.email,
        language=account.language,
        name=account.name,
        link=_reset_link(settings, token),
        minutes=settings.password_reset_minutes,
    )
    send_after_commit(db, mailer, message)


def _valid_reset_token(db: Session, token: str) -> PasswordResetToken | None:
    if not token or len(token) > 128:
        return None
    row = db.execute(
        select(PasswordResetToken).where(PasswordResetToken.token_digest == token_digest(token))
    ).scalars().first()
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row


def reset_token_usable(db: Session, *, token: str) -> bool:
    return _valid_reset_token(db, token) is not None


def reset_password(db: Session, *, token: str, password: str, password_confirm: str) -> Account:
    row = _valid_reset_token(db, token)
    if row is None:
        _fail("token", N_("This link has expired or has already been used. Ask for a new one"))
    account = db.get(Account, row.account_id)
    if account is None or not account.is_active:
        _fail("token", N_("This link has expired or has already been used. Ask for a new one"))
    check_new_password(password, password_confirm, field="password", user_inputs=[account.email, account.name])
    _set_password(db, account=account, password=password)
    # One use only, and any other outstanding links die with it.
    db.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.account_id == account.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    return account


# --- API tokens ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


def issue_api_token(db: Session, settings: Settings, *, account: Account) -> IssuedToken:
    token = new_token()
    lifetime = timedelta(minutes=settings.api_token_minutes)
    now = utcnow()
    db.add(ApiToken(account_id=account.id, token_digest=token_digest(token), created_at=now, expires_at=now + lifetime))
    db.flush()
    return IssuedToken(access_token=token, expires_in=int(lifetime.total_seconds()))


def account_for_api_token(db: Session, *, token: str) -> Account | None:
    if not token or len(token) > 128:
        return None
    row = db.execute(select(ApiToken).where(ApiToken.token_digest == token_digest(token))).scalars().first()
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    account = db.get(Account, row.account_id)
    return account if account is not None and account.is_active else None


def revoke_api_token(db: Session, *, token: str) -> None:
    db.execute(
        update(ApiToken)
        .where(ApiToken.token_digest == token_digest(token), ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_all_api_tokens(db: Session, *, account_id: int) -> None:
    db.execute(
        update(ApiToken).where(ApiToken.account_id == account_id, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
