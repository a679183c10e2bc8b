"""The access layer for people's data: "may this actor act for this person?", and the loaders
that every page and API route uses to reach a person or their items.

- `may_act_for` asks every domain's person-access rule (`Plugins.person_access`): the registry's
  own rule lets a citizen act for their own person; the linkers domain will add "a person on my
  caseload". Staff and admins have no rule, so they never pass.
- A `Journey` is the offer or request journey mounted for one person (the subject): a citizen's
  own, or later a person on a linker's caseload. It carries the route names it was mounted with,
  so templates build links with `journey.url(...)` and never guess a name.
- `load_item` is the object-level check: another person's item answers 404, exactly like one that
  does not exist, and the refused attempt is recorded in the audit trail. A read or change by
  anyone other than the subject themself is recorded as allowed.
"""


from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import select
from sqlmodel import Session

from app.accounts.dependencies import Actor, api_require_actor, require_actor
from app.accounts.models import Role
from app.core.db import DbSession
from app.core.errors import NotFound
from app.privacy.audit import AuditAction, AuditOutcome
from app.privacy.dependencies import record_access
from app.registry import service
from app.registry.models import Person
from app.registry.service import ItemKind


def own_person_rule(db: Session, actor: Actor, person_id: int) -> bool:
    if actor.role is not Role.citizen:
        return False
    return db.execute(select(Person.id).where(Person.id == person_id, Person.account_id == actor.account_id)).first() is not None


def own_person_ids(db: Session, actor: Actor):
    if actor.role is not Role.citizen:
        return None
    return select(Person.id).where(Person.account_id == actor.account_id)


def may_act_for(request: Request, db: Session, actor: Actor, person_id: int) -> bool:
    return any(rule(db, actor, person_id) for rule in request.app.state.plugins.person_access)


def audit(request: Request, actor: Actor, subject: Person | int, action: AuditAction, outcome: AuditOutcome) -> None:
    record_access(
        request,
        actor=actor,
        subject_person_id=subject if isinstance(subject, int) else subject.id,
        action=action,
        outcome=outcome,
    )


def is_self(actor: Actor, person: Person) -> bool:
    return person.account_id is not None and person.account_id == actor.account_id


# One dependency each, so FastAPI resolves a route's actor once however many loaders ask for it.
citizen_actor = require_actor(Role.citizen)
api_citizen_actor = api_require_actor(Role.citizen)


def _own_person(db: Session, actor: Actor) -> Person:
    return service.person_for_account(db, account=actor.account_id)


def citizen_person(db: DbSession, actor: Annotated[Actor, Depends(citizen_actor)]) -> Person:
    return _own_person(db, actor)


def api_citizen_person(db: DbSession, actor: Annotated[Actor, Depends(api_citizen_actor)]) -> Person:
    return _own_person(db, actor)


CitizenActor = Annotated[Actor, Depends(citizen_actor)]
ApiCitizenActor = Annotated[Actor, Depends(api_citizen_actor)]
CitizenPerson = Annotated[Person, Depends(citizen_person)]
ApiCitizenPerson = Annotated[Person, Depends(api_citizen_person)]


@dataclass(frozen=True)
class JourneyRoutes:
    """The names one mounting of the offer or request pages was registered with."""

    new: str
    new_submit: str
    step: str
    step_submit: str
    check: str
    item: str
    status: str
    suggestions: str
    back: str  # where "Back to your offers and requests" goes
    ask: str = "matching:ask"  # where "Ask to be put in touch" on a suggestion posts
    # Someone (a linker) goes through it with the person: the pages name the person instead of
    # saying "your", and the first offer question adds prompts and ideas from the skills
    # taxonomy for the conversation about what they could give.
    on_behalf: bool = False


@dataclass
class ItemAccess:
    """Acting on one kind of item for one subject person: what the object-level check needs."""

    kind: ItemKind
    actor: Actor
    subject: Person


@dataclass
class Journey(ItemAccess):
    """The offer or request pages, mounted for one subject person with their own route names."""

    routes: JourneyRoutes = None  # type: ignore[assignment]
    path_params: dict[str, Any] = field(default_factory=dict)

    def url(self, request: Request, action: str, **params: Any) -> str:
        return request.url_for(getattr(self.routes, action), **self.path_params, **params).path


def load_item(request: Request, db: Session, journey: ItemAccess, item_id: int, action: AuditAction = AuditAction.viewed):
    """The subject's item, or 404 (also for another person's item, and that refusal is recorded)."""
    item = service.find_item(db, kind=journey.kind, item_id=item_id)
    if item is None:
        raise NotFound()
    if item.person_id != journey.subject.id:
        audit(request, journey.actor, item.person_id, action, AuditOutcome.refused)
        raise NotFound()
    if not is_self(journey.actor, journey.subject):
        audit(request, journey.actor, journey.subject, action, AuditOutcome.allowed)
    return item


def citizen_journey_subject(
    db: DbSession, actor: Annotated[Actor, Depends(citizen_actor)]
) -> tuple[Actor, Person, dict[str, Any]]:
    """A citizen's own journeys: they act for themself, and the URLs carry no person."""
    return actor, _own_person(db, actor), {}


CITIZEN_OFFER_ROUTES = JourneyRoutes(
    new="registry:offers_new",
    new_submit="registry:offers_new_submit",
    step="registry:offers_step",
    step_submit="registry:offers_step_submit",
    check="registry:offers_check",
    item="registry:offers_item",
    status="registry:offers_status",
    suggestions="matching:offer_suggestions",
    back="registry:dashboard",
)
CITIZEN_REQUEST_ROUTES = JourneyRoutes(
    new="registry:requests_new",
    new_submit="registry:requests_new_submit",
    step="registry:requests_step",
    step_submit="registry:requests_step_submit",
    check="registry:requests_check",
    item="registry:requests_item",
    status="registry:requests_status",
    suggestions="matching:request_suggestions",
    back="registry:dashboard",
)
