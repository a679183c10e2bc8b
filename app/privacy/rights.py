"""The rights of a data subject (UK GDPR Articles 15, 17 and 20): see what is held, who looked at
it, take a copy, and have it erased. And the retention rule that erases, after a warning, what
nobody uses any more.

Each domain contributes through `Plugins`: an exporter and an eraser each (registered in
dependency order; erasers run from the highest domain down, so that matching can still read what
the register is about to anonymise), purgers for expired secrets, and activity rules for
retention. This module only assembles them; it never reads another domain's tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlmodel import Session

from app.core.db import utcnow
from app.core.plugins import DataSubject, Plugins
from app.privacy import service as consents
from app.privacy.audit import AuditAction, AuditEvent, AuditOutcome
from app.privacy.models import ErasureChannel, ErasureRecord
from app.privacy.notices import notice

EXPORT_KEYS = (
    "account", "person", "offers", "help_requests", "matches", "messages",
    "consents", "consent_history", "access_log", "generated_at",
)  # fmt: skip
# Who is shown as having looked, by role: the organisation behind each (the controller, for now:
# linkers' partner organisations arrive with the organisations issue).
ROLE_WORDS = {"linker": "community linker", "staff": "council staff", "admin": "administrator", "citizen": "member"}


# --- who has looked at my record ------------------------------------------------------------


def access_log(db: Session, *, person_id: int, own_account_id: int | None, limit: int | None = None) -> list[AuditEvent]:
    """What others did with the person's record (allowed accesses only, newest first); the
    person's own use of their record is not listed."""
    statement = (
        select(AuditEvent)
        .where(AuditEvent.subject_person_id == person_id, AuditEvent.outcome == AuditOutcome.allowed)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    )
    if own_account_id is not None:
        statement = statement.where((AuditEvent.actor_account_id != own_account_id) | AuditEvent.actor_account_id.is_(None))
    if limit is not None:
        statement = statement.limit(limit)
    return list(db.execute(statement).scalars())


def access_entry(event: AuditEvent, controller: str) -> dict:
    return {
        "when": event.occurred_at,
        "role": event.actor_role,
        "organisation": controller if event.actor_role != "anonymous" else None,
        "action": event.action.value,
        "route": event.route,
    }


def search_audit(db: Session, *, person_id: int | None = None, account_id: int | None = None, limit: int = 200) -> list[AuditEvent]:
    statement = select(AuditEvent).order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc()).limit(limit)
    if person_id is not None:
        statement = statement.where(AuditEvent.subject_person_id == person_id)
    if account_id is not None:
        statement = statement.where(AuditEvent.actor_account_id == account_id)
    return list(db.execute(statement).scalars())


def record_event(db: Session, *, actor_account_id: int | None, actor_role: str, subject_person_id: int | None,
                 action: AuditAction, route: str) -> None:  # fmt: skip
    """An audit event written in the caller's transaction (jobs and commands, which have no request)."""
    db.add(AuditEvent(actor_account_id=actor_account_id, actor_role=actor_role, subject_person_id=subject_person_id,
                      action=action, outcome=AuditOutcome.allowed, route=route[:100]))  # fmt: skip
    db.flush()


# --- export -----------------------------------------------------------------------------------


def export(db: Session, plugins: Plugins, settings, subject: DataSubject) -> dict:
    """Everything held about the person, as JSON-able data under `EXPORT_KEYS`."""
    found: dict = {key: [] for key in EXPORT_KEYS}
    found["account"] = None
    found["person"] = {}
    for exporter in plugins.exporters.values():
        for key, value in exporter(db, subject, settings).items():
            if isinstance(value, dict) and isinstance(found.get(key), dict):
                found[key].update(value)
            elif isinstance(value, list) and isinstance(found.get(key), list):
                found[key].extend(value)
            else:
                found[key] = value
    found["generated_at"] = utcnow()
    return found


def privacy_export(db: Session, subject: DataSubject, settings) -> dict:
    """The privacy domain's own part: consents (current and every record) and the access log."""
    current = [record for record in consents.current_records(db, person_id=subject.person_id).values() if record is not None]
    return {
        "consents": [consents.public(record).model_dump() for record in current],
        "consent_history": [consents.public(record).model_dump() for record in consents.history(db, person_id=subject.person_id)],
        "access_log": [access_entry(event, settings.council_name) for event in access_log(db, person_id=subject.person_id, own_account_id=subject.account_id)],
    }  # fmt: skip


# --- erasure ----------------------------------------------------------------------------------


def erase(
    db: Session, plugins: Plugins, settings, subject: DataSubject, *, channel: ErasureChannel,
    requested_on: datetime | None = None, recorded_by_account_id: int | None = None,
) -> ErasureRecord:  # fmt: skip
    """Remove or anonymise everything about the person, in the caller's transaction (one
    transaction: it all happens or none of it). Consent and audit records stay, as evidence,
    pointing at the anonymised person."""
    already = db.execute(select(ErasureRecord).where(ErasureRecord.person_id == subject.person_id)).scalars().first()
    if already is not None:
        return already
    for eraser in reversed(list(plugins.erasers.values())):
        eraser(db, subject, settings)
    record = ErasureRecord(
        person_id=subject.person_id, channel=channel, requested_on=requested_on or utcnow(),
        recorded_by_account_id=recorded_by_account_id,
    )  # fmt: skip
    db.add(record)
    db.flush()
    return record


def privacy_erase(db: Session, subject: DataSubject, settings) -> None:
    """Every consent still given ends, recorded by the service (the records themselves stay)."""
    consents.end_all(
        db, person_id=subject.person_id, terms=consents.terms_for(settings),
        notice=notice(str(settings.templates_dir)), recorded_by_account_id=None,
    )  # fmt: skip


# --- retention --------------------------------------------------------------------------------


@dataclass
class PurgeReport:
    dry_run: bool
    warned: int = 0
    erased: int = 0
    audit_events: int = 0
    removed: dict[str, int] = field(default_factory=dict)
    # The warnings to send once the purge's transaction has committed: (email, language).
    mail: list[tuple[str, str]] = field(default_factory=list)
    # Whom to erase: each in a transaction of its own (`erase_for_retention`), so that one
    # person's erasure is all or nothing and a long run never holds the database for long.
    to_erase: list[DataSubject] = field(default_factory=list)

    def lines(self) -> list[str]:
        verb = "would be" if self.dry_run else "were"
        out = [
            f"people warned that their record will be erased: {self.warned}" + (" (would be)" if self.dry_run else ""),
            f"people erased after the warning period: {self.erased}" + (" (would be)" if self.dry_run else ""),
            f"audit events past the audit retention period that {verb} removed: {self.audit_events}",
        ]
        out += [f"{what.replace('_', ' ')} that {verb} removed: {count}" for what, count in sorted(self.removed.items())]
        return out


def erase_for_retention(db: Session, plugins: Plugins, settings, subject: DataSubject, *, cutoff: datetime) -> bool:
    """Erase one person the retention rule reached, if they are still inactive now (they may have
    signed in since the list was made). The caller commits."""
    if subject.person_id not in {c.person_id for c in plugins.retention.candidates(db, cutoff=cutoff, person_id=subject.person_id)}:
        return False
    erase(db, plugins, settings, subject, channel=ErasureChannel.retention)
    record_event(db, actor_account_id=None, actor_role="service", subject_person_id=subject.person_id,
                 action=AuditAction.erased, route="privacy:retention_purge")  # fmt: skip
    return True


def months_before(now: datetime, months: int) -> datetime:
    # A month here is 30.44 days (a year / 12): retention periods are stated in whole months.
    return now - timedelta(days=months * 30.44)


def purge(db: Session, plugins: Plugins, settings, *, now: datetime | None = None, dry_run: bool = False) -> PurgeReport:
    """One pass of the retention rule. Idempotent: a second pass finds nothing new to do.

    - people inactive for `retention_months` are warned (once per spell of inactivity);
    - those warned at least `retention_warning_days` ago, and inactive since, are listed in
      `to_erase` (the caller erases each with `erase_for_retention`, one transaction each);
    - audit events older than `audit_retention_months` go; each domain's purger removes its
      expired secrets (sessions, tokens, reset links, claim codes).
    """
    now = now or utcnow()
    report = PurgeReport(dry_run=dry_run)
    cutoff = months_before(now, settings.retention_months)
    warned_before = now - timedelta(days=settings.retention_warning_days)
    for candidate in plugins.retention.candidates(db, cutoff=cutoff):
        # A warning from an earlier spell (before they came back and went quiet again) does not count.
        warned = candidate.warned_at is not None and candidate.warned_at >= cutoff
        if warned and candidate.warned_at <= warned_before:
            report.erased += 1
            report.to_erase.append(DataSubject(candidate.person_id, candidate.account_id))
        elif not warned:
            report.warned += 1
            if not dry_run:
                plugins.retention.mark_warned(db, person_id=candidate.person_id, now=now)
                if candidate.email:
                    report.mail.append((candidate.email, candidate.language))
    old_events = AuditEvent.occurred_at < months_before(now, settings.audit_retention_months)
    report.audit_events = db.execute(select(func.count()).select_from(AuditEvent).where(old_events)).scalar_one()
    if report.audit_events and not dry_run:
        db.execute(delete(AuditEvent).where(old_events))
    for purger in plugins.purgers.values():
        report.removed.update(purger(db, settings, now=now, dry_run=dry_run))
    db.flush()
    return report
