"""The linkers' access rules. Deny by default:

- `caseload_rule` (registered on `Plugins.person_access`) lets a linker act for a person on
  their own caseload, and nobody else through this domain. So every loader of the seams
  (`load_item`, `load_match`) answers 404 for another linker's person.
- `load_person` is the object-level check for `/linkers/people/{id}` and the API: the person,
  or 404 (also when they are on another caseload), with every read or change recorded in the
  audit trail as allowed or refused.
- The pool shows any linker a name and a ward only (`service.pool`); picking someone up is the
  only way to see more.
"""

from typing import Annotated, Any

from fastapi import Depends, Request
from sqlmodel import Session

from app.accounts.dependencies import Actor, api_require_actor, require_actor
from app.accounts.models import Role
from app.core.db import DbSession
from app.core.errors import NotFound
from app.linkers import service
from app.privacy.audit import AuditAction, AuditOutcome
from app.registry.dependencies import JourneyRoutes, audit
from app.registry.models import Person


def caseload_rule(db: Session, actor: Actor, person_id: int) -> bool:
    if actor.role is not Role.linker:
        return False
    return service.on_caseload(db, linker_id=actor.account_id, person_id=person_id)


linker_actor = require_actor(Role.linker)
api_linker_actor = api_require_actor(Role.linker)
LinkerActor = Annotated[Actor, Depends(linker_actor)]
ApiLinkerActor = Annotated[Actor, Depends(api_linker_actor)]


def load_person(request: Request, db: Session, actor: Actor, person_id: int, action: AuditAction = AuditAction.viewed) -> Person:
    person = db.get(Person, person_id)
    if person is None:
        raise NotFound()
    if not caseload_rule(db, actor, person.id):
        audit(request, actor, person.id, action, AuditOutcome.refused)
        raise NotFound()
    audit(request, actor, person, action, AuditOutcome.allowed)
    return person


def load_person_for_admin(
    request: Request, db: Session, actor: Actor, person_id: int, action: AuditAction = AuditAction.viewed
) -> Person:
    """An admin may see a person to move them between caseloads; every such read is audited."""
    person = db.get(Person, person_id)
    if person is None or actor.role is not Role.admin:
        raise NotFound()
    audit(request, actor, person, action, AuditOutcome.allowed)
    return person


def linker_journey_subject(
    request: Request, db: DbSession, actor: LinkerActor, person_id: int
) -> tuple[Actor, Any, dict[str, Any]]:
    """The registry's offer and request pages, mounted for a person on my caseload."""
    return actor, load_person(request, db, actor, person_id), {"person_id": person_id}


# Spelled out, like the citizen's, so that every route name can be found by searching the code.
LINKER_OFFER_ROUTES = JourneyRoutes(
    new="linkers:offers_new",
    new_submit="linkers:offers_new_submit",
    step="linkers:offers_step",
    step_submit="linkers:offers_step_submit",
    check="linkers:offers_check",
    item="linkers:offers_item",
    status="linkers:offers_status",
    suggestions="linkers:offer_suggestions",
    back="linkers:person",
    ask="linkers:ask",
    on_behalf=True,
)
LINKER_REQUEST_ROUTES = JourneyRoutes(
    new="linkers:requests_new",
    new_submit="linkers:requests_new_submit",
    step="linkers:requests_step",
    step_submit="linkers:requests_step_submit",
    check="linkers:requests_check",
    item="linkers:requests_item",
    status="linkers:requests_status",
    suggestions="linkers:request_suggestions",
    back="linkers:person",
    ask="linkers:ask",
    on_behalf=True,
)
