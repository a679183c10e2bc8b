"""Pages: register, sign in and out, forgotten password, account settings, admin accounts."""

from __future__ import annotations

from typing import Annotated

import segno
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict

from app.accounts import service, two_step
from app.accounts.dependencies import (
    AdminOnly,
    SignedIn,
    load_account,
    safe_next_path,
    sign_in_response,
)
from app.accounts.models import Role
from app.core import i18n
from app.core.db import DbSession, atomic
from app.core.errors import Conflict, FieldError, InvalidInput
from app.core.i18n import N_
from app.core.responses import see_other
from app.core.templating import render

router = APIRouter(dependencies=[Depends(load_account)], include_in_schema=False)


class _Form(BaseModel):
    # Every field is a string so that nothing is refused before our own friendly checks run.
    model_config = ConfigDict(extra="ignore", str_max_length=10_000)


class SignInForm(_Form):
    email: str = ""
    password: str = ""
    next: str = "/"


class CodeForm(_Form):
    ticket: str = ""
    code: str = ""
    next: str = "/"


class EmailForm(_Form):
    email: str = ""


class ResetForm(_Form):
    token: str = ""
    password: str = ""
    password_confirm: str = ""


class ChangePasswordForm(_Form):
    current_password: str = ""
    new_password: str = ""
    new_password_confirm: str = ""


class ChangeEmailForm(_Form):
    new_email: str = ""
    email_password: str = ""


class NewAccountForm(_Form):
    name: str = ""
    email: str = ""
    role: str = ""


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _form_page(request: Request, template: str, form: BaseModel, error: InvalidInput | None = None, **extra) -> Response:
    return render(
        request,
        template,
        {"form": form, "errors": error.errors if error else [], **extra},
        status_code=422 if error else 200,
    )


# --- sign in and out -------------------------------------------------------------------------


@router.get("/sign-in", name="accounts:sign_in")
def sign_in_page(request: Request, next: Annotated[str, Query(max_length=512)] = "/") -> Response:
    return _form_page(request, "accounts/sign_in.html", SignInForm(next=safe_next_path(next)))


@router.post("/sign-in", name="accounts:sign_in_submit")
def sign_in_submit(request: Request, db: DbSession, form: Annotated[SignInForm, Form()]) -> Response:
    settings = request.app.state.settings
    try:
        account = service.authenticate(
            db, settings, email=form.email, password=form.password, address=_client_address(request)
        )
    except (service.SignInRefused, service.SignInThrottled) as refusal:
        form.password = ""
        status = 429 if isinstance(refusal, service.SignInThrottled) else 422
        error = InvalidInput(refusal.field_error("email"))
        response = _form_page(request, "accounts/sign_in.html", form, error)
        response.status_code = status
        return response  # returned, not raised: the failed attempt must be committed
    if two_step.is_on(account):
        # The password was right; the session starts only after the code. No session, no cookie:
        # a signed ticket (this account, this password, these 5 minutes) carries the first step.
        ticket = service.second_step_ticket(settings, account)
        return _code_page(request, CodeForm(ticket=ticket, next=safe_next_path(form.next)))
    return sign_in_response(request, db, account, _landing(request, account, form.next))


def _landing(request: Request, account, next_path: str) -> str:
    target = safe_next_path(next_path)
    landing = request.app.state.plugins.landing_pages.get(account.role.value)
    if target == "/" and landing:
        target = request.url_for(landing).path
    return target


def _code_page(request: Request, form: CodeForm, error: InvalidInput | None = None, status_code: int | None = None):
    response = _form_page(request, "accounts/sign_in_code.html", form, error)
    if status_code:
        response.status_code = status_code
    return response


@router.post("/sign-in/code", name="accounts:sign_in_code")
def sign_in_code(request: Request, db: DbSession, form: Annotated[CodeForm, Form()]) -> Response:
    settings = request.app.state.settings
    account = service.account_for_ticket(db, settings, ticket=form.ticket)
    if account is None:  # too old, or the password changed meanwhile: start again
        return see_other(request, request.url_for("accounts:sign_in").path, flash="sign-in-again")
    address = _client_address(request)
    try:
        service.refuse_if_throttled(db, settings, account=account, address=address)
    except service.SignInThrottled as refusal:
        return _code_page(request, form, InvalidInput(refusal.field_error("code")), status_code=429)
    if not two_step.check_code(db, account=account, code=form.code):
        service.second_step_refused(db, settings, account=account, address=address)
        form.code = ""
        error = InvalidInput(FieldError("code", N_("Enter the 6-digit code your authenticator app shows now, or a recovery code")))
        return _code_page(request, form, error)  # returned, not raised: the failed attempt must be committed
    service.second_step_passed(db, settings, account=account)
    return sign_in_response(request, db, account, _landing(request, account, form.next))


@router.post("/sign-out", name="accounts:sign_out")
def sign_out(request: Request, db: DbSession) -> Response:
    settings = request.app.state.settings
    service.end_session(db, cookie_value=request.cookies.get(settings.session_cookie_name))
    response = see_other(request, request.url_for("pages:home").path, flash="signed-out")
    response.delete_cookie(settings.session_cookie_name, path="/", secure=settings.is_production, httponly=True)
    return response


# --- forgotten password ----------------------------------------------------------------------


@router.get("/forgotten-password", name="accounts:forgotten_password")
def forgotten_password_page(request: Request) -> Response:
    return _form_page(request, "accounts/forgotten_password.html", EmailForm())


@router.post("/forgotten-password", name="accounts:forgotten_password_submit")
def forgotten_password_submit(request: Request, db: DbSession, form: Annotated[EmailForm, Form()]) -> Response:
    settings = request.app.state.settings
    try:
        service.request_password_reset(db, settings, request.app.state.mailer, email=form.email)
    except InvalidInput as error:
        return _form_page(request, "accounts/forgotten_password.html", form, error)
    # The same answer whether or not the account exists.
    return render(request, "accounts/reset_sent.html")


@router.get("/reset-password", name="accounts:reset_password")
def reset_password_page(request: Request, db: DbSession, token: Annotated[str, Query(max_length=128)] = "") -> Response:
    if not service.reset_token_usable(db, token=token):
        return render(request, "accounts/reset_expired.html", status_code=400)
    return _form_page(request, "accounts/reset_password.html", ResetForm(token=token))


@router.post("/reset-password", name="accounts:reset_password_submit")
def reset_password_submit(request: Request, db: DbSession, form: Annotated[ResetForm, Form()]) -> Response:
    try:
        service.reset_password(db, token=form.token, password=form.password, password_confirm=form.password_confirm)
    except InvalidInput as error:
        if error.for_field("token"):
            return render(request, "accounts/reset_expired.html", status_code=400)
        return _form_page(request, "accounts/reset_password.html", ResetForm(token=form.token), error)
    return see_other(request, request.url_for("accounts:sign_in").path, flash="password-reset")


# --- account settings ------------------------------------------------------------------------


def _settings_page(request: Request, db, account, error: InvalidInput | None = None) -> Response:
    # Other domains add their own sections (for example privacy choices) without a dependency back.
    sections = [section for provider in request.app.state.plugins.account_sections if (section := provider(request, db, account))]
    settings = request.app.state.settings
    signed_in = service.sessions_of(db, settings, account_id=account.id, cookie_value=request.cookies.get(settings.session_cookie_name))
    return _form_page(request, "accounts/settings.html", ChangePasswordForm(), error, sections=sections, signed_in=signed_in)


class EndSessionForm(_Form):
    session: str = ""


@router.post("/account/sessions/end", name="accounts:end_session")
def end_session(request: Request, db: DbSession, account: SignedIn, form: Annotated[EndSessionForm, Form()]) -> Response:
    service.end_session_by_handle(db, account_id=account.id, handle=form.session)
    return see_other(request, request.url_for("accounts:settings").path, flash="session-ended")


@router.post("/account/sessions/end-others", name="accounts:end_other_sessions")
def end_other_sessions(request: Request, db: DbSession, account: SignedIn) -> Response:
    settings = request.app.state.settings
    service.end_other_sessions(db, account_id=account.id, cookie_value=request.cookies.get(settings.session_cookie_name))
    return see_other(request, request.url_for("accounts:settings").path, flash="sessions-ended")


@router.get("/account", name="accounts:settings")
def settings_page(request: Request, db: DbSession, account: SignedIn) -> Response:
    return _settings_page(request, db, account)


@router.post("/account/password", name="accounts:change_password")
def change_password(
    request: Request, db: DbSession, account: SignedIn, form: Annotated[ChangePasswordForm, Form()]
) -> Response:
    try:
        service.change_password(
            db,
            account=account,
            current_password=form.current_password,
            new_password=form.new_password,
            new_password_confirm=form.new_password_confirm,
        )
    except InvalidInput as error:
        return _settings_page(request, db, account, error)
    # Every session ended with the change; this device gets a fresh one.
    return sign_in_response(request, db, account, request.url_for("accounts:settings").path, flash="password-changed")


@router.post("/account/email", name="accounts:change_email")
def change_email(request: Request, db: DbSession, account: SignedIn, form: Annotated[ChangeEmailForm, Form()]) -> Response:
    try:
        with atomic(db):
            service.change_email(
                db, request.app.state.settings, request.app.state.mailer, account=account,
                new_email=form.new_email, password=form.email_password,
                email_changed=request.app.state.plugins.email_changed,
            )  # fmt: skip
    except InvalidInput as error:
        return _settings_page(request, db, account, error)
    # Every session ended with the change; this device gets a fresh one.
    return sign_in_response(request, db, account, request.url_for("accounts:settings").path, flash="email-changed")


# --- two-step sign-in ------------------------------------------------------------------------


def _two_step_page(request: Request, db, account, error: InvalidInput | None = None, codes: list[str] | None = None) -> Response:
    settings = request.app.state.settings
    context: dict = {"required": two_step.required_for(settings, account), "is_on": two_step.is_on(account), "codes": codes}
    if two_step.is_on(account):
        context["codes_left"] = two_step.recovery_codes_left(db, account_id=account.id)
    else:
        if not account.totp_secret:
            two_step.begin(db, settings, account=account)
        uri = two_step.otpauth_uri(settings, account)
        context |= {"secret": account.totp_secret, "qr_svg": Markup(segno.make(uri, error="m").svg_inline(scale=5, dark="#0b0c0c"))}
    return _form_page(request, "accounts/two_step.html", CodeForm(), error, **context)


@router.get("/account/two-step", name="accounts:two_step")
def two_step_page(request: Request, db: DbSession, account: SignedIn) -> Response:
    return _two_step_page(request, db, account)


@router.post("/account/two-step", name="accounts:two_step_confirm")
def two_step_confirm(request: Request, db: DbSession, account: SignedIn, form: Annotated[CodeForm, Form()]) -> Response:
    try:
        with atomic(db):
            codes = two_step.confirm(db, account=account, code=form.code)
    except InvalidInput as error:
        return _two_step_page(request, db, account, error)
    except Conflict:
        return see_other(request, request.url_for("accounts:two_step").path)
    return _two_step_page(request, db, account, codes=codes)


@router.post("/account/two-step/recovery-codes", name="accounts:recovery_codes")
def recovery_codes(request: Request, db: DbSession, account: SignedIn) -> Response:
    if not two_step.is_on(account):
        return see_other(request, request.url_for("accounts:two_step").path)
    with atomic(db):
        codes = two_step.new_recovery_codes(db, account=account)
    return _two_step_page(request, db, account, codes=codes)


# --- administration --------------------------------------------------------------------------

STAFF_ROLES = (Role.linker, Role.staff, Role.admin)


def _admin_page(request: Request, db, form: NewAccountForm, error: InvalidInput | None = None, page: int = 1) -> Response:
    accounts, total = service.list_accounts(db, page=page)
    gettext = i18n.request_gettext(request)
    return _form_page(
        request,
        "accounts/admin_accounts.html",
        form,
        error,
        accounts=accounts,
        total=total,
        page=page,
        role_items=[{"value": r.value, "text": gettext(r.label), "checked": form.role == r.value} for r in STAFF_ROLES],
    )


@router.get("/admin/accounts", name="accounts:admin_accounts")
def admin_accounts(
    request: Request, db: DbSession, admin: AdminOnly, page: Annotated[int, Query(ge=1, le=100_000)] = 1
) -> Response:
    return _admin_page(request, db, NewAccountForm(), page=page)


@router.post("/admin/accounts", name="accounts:admin_create")
def admin_create(request: Request, db: DbSession, admin: AdminOnly, form: Annotated[NewAccountForm, Form()]) -> Response:
    settings = request.app.state.settings
    try:
        role = Role(form.role) if form.role in {r.value for r in STAFF_ROLES} else None
        if role is None:
            raise InvalidInput(FieldError("role", N_("Choose community linker, council staff or administrator")))
        service.invite_account(
            db, settings, request.app.state.mailer, email=form.email, name=form.name, role=role, invited_by=admin
        )
    except InvalidInput as error:
        return _admin_page(request, db, form, error)
    return see_other(request, request.url_for("accounts:admin_accounts").path, flash="account-created")


@router.post("/admin/accounts/{account_id}/deactivate", name="accounts:admin_deactivate")
def admin_deactivate(request: Request, db: DbSession, admin: AdminOnly, account_id: int) -> Response:
    target = service.get_account(db, account_id=account_id)
    try:
        service.set_account_active(db, account=target, active=False, actor=admin)
    except InvalidInput as error:
        return _admin_page(request, db, NewAccountForm(), error)
    return see_other(request, request.url_for("accounts:admin_accounts").path, flash="account-deactivated")


@router.post("/admin/accounts/{account_id}/two-step-off", name="accounts:admin_two_step_off")
def admin_two_step_off(request: Request, db: DbSession, admin: AdminOnly, account_id: int) -> Response:
    """For someone who lost their phone and their recovery codes: they set it up again at their
    next sign-in. Every session and token of theirs ends, so nothing signed in with it lives on."""
    target = service.get_account(db, account_id=account_id)
    if target.id == admin.id:
        return _admin_page(request, db, NewAccountForm(), InvalidInput(FieldError("account", N_("Ask another administrator to do this for you"))))
    two_step.turn_off(db, account=target)
    service.end_all_sessions(db, account_id=target.id)
    service.revoke_all_api_tokens(db, account_id=target.id)
    service.logger.warning("two-step sign-in turned off for account %s by account %s", target.id, admin.id)
    return see_other(request, request.url_for("accounts:admin_accounts").path, flash="two-step-off")


@router.post("/admin/accounts/{account_id}/reactivate", name="accounts:admin_reactivate")
def admin_reactivate(request: Request, db: DbSession, admin: AdminOnly, account_id: int) -> Response:
    target = service.get_account(db, account_id=account_id)
    service.set_account_active(db, account=target, active=True, actor=admin)
    return see_other(request, request.url_for("accounts:admin_accounts").path, flash="account-reactivated")


# --- background jobs ----------------------------------------------------------------------------


@router.get("/admin/jobs", name="accounts:admin_jobs")
def admin_jobs(request: Request, db: DbSession, admin: AdminOnly) -> Response:
    """Recent background jobs and those that failed for good (names, times, error types only)."""
    from sqlalchemy import select

    from app.core.jobs import JobRun, JobStatus

    recent = db.execute(select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(50)).scalars().all()
    failed = (
        db.execute(
            select(JobRun).where(JobRun.status == JobStatus.failed).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(50)
        )
        .scalars()
        .all()
    )
    return render(request, "accounts/admin_jobs.html", {"recent": recent, "failed": failed})
