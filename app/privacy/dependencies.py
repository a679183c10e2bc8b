"""The audit hook of the access layer: record who touched whose data, in a transaction of its own.

The request's own unit of work may roll back (a refused probe raises `NotFound`), but the record
of the attempt must stay, so it is written and committed through a separate short session, as
the session touch in `app.accounts.dependencies` is.
"""

from __future__ import annotations

import logging

from fastapi import Request

from app.accounts.dependencies import Actor
from app.privacy.audit import AuditAction, AuditEvent, AuditOutcome

logger = logging.getLogger("marketplace.audit")


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
    with request.app.state.session_factory() as audit_db:
        audit_db.add(event)
        audit_db.commit()
