"""The privacy pages: the notice; "Your data" (who has looked at my record, download my data,
delete my account) for citizens; and the admins' audit search.

The privacy domain sits below the register, so it finds a citizen's person through the hook the
register fills (`Plugins.person_of_account`), and each domain's data through its exporter and
eraser (`app.privacy.rights`)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from app.accounts.dependencies import Actor, AdminOnly, load_account, require_actor
from app.accounts.models import Account, Role
from app.core.db import DbSession
from app.core.errors import FieldError, InvalidInput, NotFound
from app.core.i18n import N_
from app.core.responses import see_other
from app.core.security import verify_password
from app.core.templating import render
from app.privacy import rights
from app.privacy.audit import AuditAction, AuditOutcome
from app.privacy.dependencies import erase_own, export_for, own_subject, record_access
from app.privacy.notices import CURRENT_NOTICE_VERSION, known_versions, notice

router = APIRouter(dependencies=[Depends(load_account)], include_in_schema=False)
LARGEST_ID = 2**31 - 1

citizen_actor = require_actor(Role.citizen)
CitizenActor = Annotated[Actor, Depends(citizen_actor)]


def _notice_page(request: Request, version: str) -> Response:
    templates_dir = str(request.app.state.settings.templates_dir)
    try:
        current = notice(templates_dir, version)
    except LookupError:
        raise NotFound() from None
    return render(
        request,
        "privacy/notice.html",
        {"notice": current, "is_current": version == CURRENT_NOTICE_VERSION, "versions": known_versions(templates_dir)},
    )


@router.get("/privacy", name="privacy:notice")
def privacy_notice(request: Request) -> Response:
    return _notice_page(request, CURRENT_NOTICE_VERSION)


@router.get("/privacy/{version}", name="privacy:notice_version")
def privacy_notice_version(request: Request, version: str) -> Response:
    if version not in known_versions(str(request.app.state.settings.templates_dir)):
        raise NotFound()
    return _notice_page(request, version)


# --- your data ----------------------------------------------------------------------------------


def account_data_section(request: Request, db, account: Account) -> dict | None:
    """On the account page: where to see, download or delete what we hold."""
    if account.role is not Role.citizen:
        return None
    return {"template": "privacy/_account_data.html"}


@router.get("/account/data", name="privacy:my_data")
def my_data(request: Request, db: DbSession, actor: CitizenActor) -> Response:
    subject = own_subject(request, db, actor)
    settings = request.app.state.settings
    events = rights.access_log(db, person_id=subject.person_id, own_account_id=actor.account_id, limit=100)
    return render(request, "privacy/my_data.html", {"events": events, "controller": settings.council_name})


def export_json_response(data: dict, filename: str) -> Response:
    body = json.dumps(data, default=str, ensure_ascii=False, indent=2)
    return Response(
        body, media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )  # fmt: skip


@router.get("/account/data/export.json", name="privacy:export_json")
def export_json(request: Request, db: DbSession, actor: CitizenActor) -> Response:
    subject = own_subject(request, db, actor)
    return export_json_response(export_for(request, db, actor, subject), "my-data.json")


@router.get("/account/data/export", name="privacy:export_page")
def export_page(request: Request, db: DbSession, actor: CitizenActor) -> Response:
    subject = own_subject(request, db, actor)
    response = render(request, "privacy/export.html", {"data": export_for(request, db, actor, subject)})
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/account/delete", name="privacy:delete_account")
def delete_account_page(request: Request, db: DbSession, actor: CitizenActor) -> Response:
    own_subject(request, db, actor)
    return render(request, "privacy/delete_account.html", {"errors": None})


@router.post("/account/delete", name="privacy:delete_account_submit")
def delete_account_submit(
    request: Request, db: DbSession, actor: CitizenActor, password: Annotated[str, Form(max_length=1024)] = ""
) -> Response:
    subject = own_subject(request, db, actor)
    account = db.get(Account, actor.account_id)
    if not verify_password(password, account.password_hash):
        error = InvalidInput(FieldError("password", N_("Enter your password correctly to delete your account")))
        response = render(request, "privacy/delete_account.html", {"errors": error.errors})
        response.status_code = 422
        return response
    erase_own(request, db, actor, subject)
    settings = request.app.state.settings
    response = see_other(request, request.url_for("privacy:deleted").path)
    response.delete_cookie(settings.session_cookie_name, path="/", secure=settings.is_production, httponly=True)
    return response


@router.get("/account/deleted", name="privacy:deleted")
def deleted(request: Request) -> Response:
    return render(request, "privacy/deleted.html", {})


# --- the admins' audit search ---------------------------------------------------------------------


@router.get("/admin/audit", name="privacy:admin_audit")
def admin_audit(
    request: Request,
    db: DbSession,
    admin: AdminOnly,
    person: Annotated[str, Query(max_length=12)] = "",
    account: Annotated[str, Query(max_length=12)] = "",
) -> Response:
    from app.core.validation import id_from_text

    errors = []
    def number(text: str) -> int | None:
        found = id_from_text(text)
        return found if found is not None and found <= LARGEST_ID else None  # ids are 32-bit on PostgreSQL

    person_id = number(person) if person.strip() else None
    account_id = number(account) if account.strip() else None
    if person.strip() and person_id is None:
        errors.append(FieldError("person", N_("Enter a person's number, like 1234")))
    if account.strip() and account_id is None:
        errors.append(FieldError("account", N_("Enter an account's number, like 1234")))
    events = []
    searched = not errors and (person_id is not None or account_id is not None)
    if searched:
        events = rights.search_audit(db, person_id=person_id, account_id=account_id)
        # Looking through the trail is itself an access to the record.
        record_access(request, actor=Actor.of(admin), subject_person_id=person_id, action=AuditAction.viewed, outcome=AuditOutcome.allowed)
    response = render(
        request, "privacy/admin_audit.html",
        {"events": events, "searched": searched, "person": person, "account": account, "errors": errors or None},
    )  # fmt: skip
    if errors:
        response.status_code = 422
    return response
