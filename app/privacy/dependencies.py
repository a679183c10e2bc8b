"""The audit hook of the access layer: record who touched whose data, in a transaction of its own.

The request's own unit of work may roll back (a refused probe raises `NotFound`), but the record
of the attempt must stay. So the event is written and committed through a separate short session
once the request's transaction has ended, whichever way it ended (`core.db.after_unit_of_work`),
as the session touch in `app.accounts.dependencies` is written before it begins.
"""

from __future__ import annotations

from fastapi import Request

from app.accounts.dependencies import Actor
from app.core.db import after_unit_of_work
from app.privacy.audit import AuditAction, AuditEvent, AuditOutcome

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
