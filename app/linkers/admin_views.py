"""Administrators look after the linkers' caseloads: how many people each linker has, who is on a
caseload (names and wards only), and moving a person to another linker with a note. Every person
an admin sees here, and every move, is in the audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from app.accounts.dependencies import Actor, load_account, require_actor
from app.accounts.models import Account, Role
from app.core.db import DbSession, writing
from app.core.errors import FieldError, InvalidInput, NotFound
from app.core.i18n import N_
from app.core.responses import see_other
from app.core.templating import render
from app.core.validation import id_from_text
from app.linkers import service
from app.linkers.dependencies import load_person_for_admin
from app.privacy.audit import AuditAction, AuditOutcome
from app.registry import service as registry
from app.registry.dependencies import audit
from app.registry.models import Person

router = APIRouter(dependencies=[Depends(load_account)], include_in_schema=False)
AdminActor = Annotated[Actor, Depends(require_actor(Role.admin))]

FLASH_MESSAGES = {"linker-reassigned": N_("The person is now on the new linker's caseload. We have kept the history.")}


@router.get("/linkers/admin", name="linkers:admin_caseloads")
def caseloads(request: Request, db: DbSession, actor: AdminActor) -> Response:
    return render(
        request, "linkers/admin_caseloads.html",
        {"caseloads": service.caseload_sizes(db), "pool_size": service.pool(db, page_size=1)[1]},
    )  # fmt: skip


@router.get("/linkers/admin/linkers/{account_id:int}", name="linkers:admin_caseload")
def caseload(request: Request, db: DbSession, actor: AdminActor, account_id: int, page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> Response:
    linker = db.get(Account, account_id)
    if linker is None or linker.role is not Role.linker:
        raise NotFound()
    people, total = service.caseload_of(db, linker_id=linker.id, page=page)
    for person in people:  # an admin reading names on a caseload is a read of each record
        audit(request, actor, person, AuditAction.viewed, AuditOutcome.allowed)
    pages = max(1, -(-total // service.PAGE_SIZE))
    return render(
        request, "linkers/admin_caseload.html",
        {"linker": linker, "people": people, "total": total, "page": page, "pages": pages, "wards": registry.ward_names(db)},
    )  # fmt: skip


def _reassign_page(request: Request, db, person: Person, form: dict, errors=None) -> Response:
    current = service.current_linker_id(db, person.id)
    linkers = service.other_linkers(db, besides=current)
    items = [{"value": str(a.id), "text": a.name, "checked": form.get("to_account_id") == str(a.id)} for a in linkers]
    return render(
        request, "linkers/handover.html",
        {
            "person": person, "linkers": linkers, "linker_items": items, "errors": errors or [], "form": form,
            "action": request.url_for("linkers:admin_reassign_submit", person_id=person.id).path,
            "back_url": request.url_for("linkers:admin_caseload", account_id=current).path if current else request.url_for("linkers:admin_caseloads").path,
            "history": service.assignment_history(db, person.id),
        },
        status_code=422 if errors else 200,
    )  # fmt: skip


@router.get("/linkers/admin/people/{person_id:int}/reassign", name="linkers:admin_reassign")
def reassign_page(request: Request, db: DbSession, actor: AdminActor, person_id: int) -> Response:
    return _reassign_page(request, db, load_person_for_admin(request, db, actor, person_id), {})


@router.post("/linkers/admin/people/{person_id:int}/reassign", name="linkers:admin_reassign_submit")
def reassign_submit(
    request: Request, db: DbSession, actor: AdminActor, person_id: int,
    to_account_id: Annotated[str, Form(max_length=12)] = "", note: Annotated[str, Form(max_length=1200)] = "",
) -> Response:  # fmt: skip
    person = load_person_for_admin(request, db, actor, person_id, AuditAction.changed)
    try:
        if len(note.strip()) > 1000:
            raise InvalidInput(FieldError("note", N_("The note must be 1,000 characters or fewer")))
        with writing(db):
            service.hand_over(
                db, person_id=person.id, to_account_id=id_from_text(to_account_id) or 0,
                by_id=actor.account_id, note=note,
            )  # fmt: skip
    except InvalidInput as error:
        return _reassign_page(request, db, person, {"to_account_id": to_account_id, "note": note}, error.errors)
    target = request.url_for("linkers:admin_caseload", account_id=id_from_text(to_account_id)).path
    return see_other(request, target, flash="linker-reassigned")
