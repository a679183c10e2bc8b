"""Who is asking: the signed-in account for pages (cookie) and for the API (bearer token).

Access is deny-by-default: every page router depends on `load_account`, and each route states the
roles it allows with `require_role` / `require_actor` (pages) or `api_require_role` /
`api_require_actor` (API). An `Actor` is the plain fact of who is asking (account id and role);
whether they may act for a particular person is answered by `app.registry.dependencies`, which
asks every domain's person-access rule (see `app.core.plugins`).
"""


import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.accounts import service, two_step
from app.accounts.models import Account, Role
from app.core.db import DbSession
from app.core.errors import Forbidden, SecondFactorRequired, SignInRequired
from app.core.responses import see_other

logger = logging.getLogger("marketplace.access")


def load_account(request: Request, db: DbSession) -> Account | None:
    """Resolve the session cookie once per request and share the account with the templates.

    The session and its account are read in the request's own session (one query); `load_account`
    runs before anything else touches it. Upkeep (touching the idle clock once a minute, or
    removing a dead session) is committed at once in a short transaction of its own, so a
    refused request cannot undo it.
    """
    state = request.scope.setdefault("state", {})
    if "account" not in state:
        settings = request.app.state.settings
        check = service.read_session(db, settings, cookie_value=request.cookies.get(settings.session_cookie_name))
        if check is not None and check.upkeep:
            # Reading the session is all this unit of work has done yet: end it, and let the
            # upkeep begin a transaction of its own on the same connection (a second connection
            # while holding this one could wait forever on a full pool).
            db.commit()
            service.keep_session(db, check)
            db.commit()
        account = check.account if check is not None else None
        state["account"] = account
        # Templates get a plain copy: an error page may render after the session rolled back.
        state["viewer"] = Viewer.of(account) if account else None
    return state["account"]


@dataclass(frozen=True)
class Viewer:
    id: int
    name: str
    email: str
    role: Role
    language: str = "en"

    @classmethod
    def of(cls, account: Account) -> "Viewer":
        return cls(id=account.id, name=account.name, email=account.email, role=account.role, language=account.language)


OptionalAccount = Annotated[Account | None, Depends(load_account)]


def safe_next_path(raw: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw and len(raw) < 512:
        return raw
    return "/"


def _refused(request: Request, account: Account) -> None:
    # Who (an account id and role) and where (a route name): no personal data, no address.
    route = request.scope.get("route")
    logger.warning("refused account %s (%s) on %s", account.id, account.role.value, getattr(route, "name", "?"))
    raise Forbidden()


def _second_factor_first(request: Request, account: Account) -> None:
    """Linkers, staff and admins go no further than their own account until two-step sign-in is on."""
    if two_step.blocks(request.app.state.settings, account):
        raise SecondFactorRequired()


def require_role(*roles: Role, before_second_factor: bool = False) -> Callable[..., Account]:
    """`before_second_factor`: the account's own pages, which everyone reaches (setting up the
    second step is one of them); every other page waits for it where it is required."""

    # Pure checks are `async`: FastAPI runs them on the event loop instead of a worker thread.
    async def dependency(request: Request, account: OptionalAccount) -> Account:
        if account is None:
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise SignInRequired(safe_next_path(path) if request.method == "GET" else "/")
        if account.role not in roles:
            _refused(request, account)
        if not before_second_factor:
            _second_factor_first(request, account)
        return account

    return dependency


SignedIn = Annotated[Account, Depends(require_role(*Role, before_second_factor=True))]
AdminOnly = Annotated[Account, Depends(require_role(Role.admin))]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def api_account(request: Request, db: DbSession) -> Account:
    token = bearer_token(request)
    account = service.account_for_api_token(db, token=token) if token else None
    if account is None:
        raise SignInRequired()
    return account


def api_require_role(*roles: Role) -> Callable[..., Account]:
    async def dependency(request: Request, account: Annotated[Account, Depends(api_account)]) -> Account:
        if account.role not in roles:
            _refused(request, account)
        _second_factor_first(request, account)
        return account

    return dependency


ApiAccount = Annotated[Account, Depends(api_account)]


@dataclass(frozen=True)
class Actor:
    """The signed-in account and its role: who is acting, whoever they act for."""

    account_id: int
    role: Role

    @classmethod
    def of(cls, account: Account) -> "Actor":
        return cls(account_id=account.id, role=account.role)


def require_actor(*roles: Role) -> Callable[..., Actor]:
    check = require_role(*roles)

    async def dependency(account: Annotated[Account, Depends(check)]) -> Actor:
        return Actor.of(account)

    return dependency


def api_require_actor(*roles: Role) -> Callable[..., Actor]:
    check = api_require_role(*roles)

    async def dependency(account: Annotated[Account, Depends(check)]) -> Actor:
        return Actor.of(account)

    return dependency


def sign_in_response(request: Request, db, account: Account, url: str, flash: str | None = None):
    """Start a fresh session for `account` (ending any old one on this device), then go to `url`."""
    settings = request.app.state.settings
    service.end_session(db, cookie_value=request.cookies.get(settings.session_cookie_name))
    cookie_value = service.start_session(db, settings, account=account)
    response = see_other(request, url, flash=flash)
    response.set_cookie(
        settings.session_cookie_name,
        cookie_value,
        max_age=settings.session_absolute_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.is_production,
    )
    return response
