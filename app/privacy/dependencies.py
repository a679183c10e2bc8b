"""The audit hook of the access layer: record who touched whose data, in a transaction of its own;
and the data subject's own person, export and erasure, shared by the privacy pages and API.

The request's own unit of work may roll back (a refused probe raises `NotFound`), but the record
of the attempt must stay. So the event is written and committed through a separate short session
once the request's transaction has ended, whichever way it ended (`core.db.after_unit_of_work`),
as the session touch in `app.accounts.dependencies` is written before it begins.
"""

from __future__ import annotations

from fastapi import Request

from app.accounts.dependencies import Actor
from app.core.db import after_unit_of_work, atomic
from app.core.errors import NotFound
from app.core.plugins import DataSubject
from app.privacy import rights
from app.privacy.audit import AuditAction, AuditEvent, AuditOutcome
from app.privacy.models import ErasureChannel


def record_access(
    request: Request,
    *,
    actor: Actor | None,
    subject_person_id: int | None,
    action: AuditAction,
    outcome: AuditOutcome,
) -> None:
    route = request.scope.get("route")
    event = AuditEvent(
        actor_account_id=actor.account_id if actor else None,
        actor_role=actor.role.value if actor else "anonymous",
        subject_person_id=subject_person_id,
        action=action,
        outcome=outcome,
        route=(getattr(route, "name", None) or "unknown")[:100],
    )

    def write(session_factory) -> None:
        with session_factory() as audit_db:
            audit_db.add(event)
            audit_db.commit()

    after_unit_of_work(request, write)


# --- the data subject's own rights (pages and API alike) -----------------------------------------


def own_subject(request: Request, db, actor: Actor) -> DataSubject:
    """The signed-in citizen's own person (their account has one unless it was made without)."""
    person_id = request.app.state.plugins.person_of_account(db, actor.account_id)
    if person_id is None:
        raise NotFound()
    return DataSubject(person_id=person_id, account_id=actor.account_id)


def export_for(request: Request, db, actor: Actor, subject: DataSubject) -> dict:
    record_access(request, actor=actor, subject_person_id=subject.person_id, action=AuditAction.exported, outcome=AuditOutcome.allowed)
    return rights.export(db, request.app.state.plugins, request.app.state.settings, subject)


def erase_own(request: Request, db, actor: Actor, subject: DataSubject) -> None:
    with atomic(db):
        rights.erase(
            db, request.app.state.plugins, request.app.state.settings, subject,
            channel=ErasureChannel.online, recorded_by_account_id=None,
        )  # fmt: skip
    record_access(request, actor=actor, subject_person_id=subject.person_id, action=AuditAction.erased, outcome=AuditOutcome.allowed)
