"""The explicit wiring between domains: what each domain adds to the others, registered at start.

Each domain package has a `plugin.py` with `register(plugins)` (hooks, no FastAPI) and
`routers(plugins)`.
`app.main.build_plugins()` calls every domain's `register` in dependency order (`app.main.DOMAINS`);
`create_app` uses it and then includes the routers, and a worker or script that needs the hooks
without a web server calls `build_plugins()` too. Nothing depends on import order, and a domain
never imports a higher one: it exposes a hook point here and the higher domain fills it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# (request, db, account) -> a section for the account page, or None
AccountSection = Callable[..., dict | None]
# (request, db, journey, item) -> a section for an offer or request page, or None
ItemSection = Callable[..., dict | None]
# (db, person_id, purpose) -> None: act at once on a withdrawn consent (in the same transaction)
ConsentWithdrawn = Callable[..., None]
# `(db, *, kind_key, item_id)`: an offer or help request was closed by its owner.
ItemClosed = Callable[..., None]
# (db, actor, person_id) -> True when this actor may act for this person
PersonAccessRule = Callable[..., bool]
# (db, actor) -> SQL selecting the ids of the people this actor acts for, or None for none
ActedFor = Callable[..., Any]
# (db, subject: DataSubject, settings) -> {export key: JSON-able data}: the domain's data about them
Exporter = Callable[..., dict]
# (db, subject: DataSubject, settings) -> None: remove or anonymise the domain's personal data,
# in the caller's transaction (erasers run from the highest domain down)
Eraser = Callable[..., None]
# (db, settings, *, now, dry_run) -> {what: count}: the retention purge's work in one domain (counts only)
Purger = Callable[..., dict]
# (person_id_column, cutoff) -> SQL: the person did something since `cutoff` (or has open business)
ActivityRule = Callable[..., Any]
# (kind, routes, subject, prefix) -> APIRouter: a domain's pages built for whoever `subject` resolves,
# so that a higher domain can mount them (a linker's caseload) without importing another's views
PageMount = Callable[..., Any]
# A background job (app.core.jobs.JobSpec): a unique name and func(context, *args, task=...)
Job = Any


@dataclass(frozen=True)
class DataSubject:
    """Whose data a privacy right is exercised on: a person, and their account if they have one."""

    person_id: int
    account_id: int | None


@dataclass
class Plugins:
    account_sections: list[AccountSection] = field(default_factory=list)
    item_sections: list[ItemSection] = field(default_factory=list)
    consent_withdrawn: list[ConsentWithdrawn] = field(default_factory=list)
    item_closed: list[ItemClosed] = field(default_factory=list)
    # (db, account_id, new_email): an account's sign-in address changed (the registry keeps the
    # person's contact address in step).
    email_changed: list[Callable[..., None]] = field(default_factory=list)
    # The application's mailer, for hooks that tell people what happened (set by `create_app`).
    mailer: Any = None
    person_access: list[PersonAccessRule] = field(default_factory=list)
    acted_for: list[ActedFor] = field(default_factory=list)
    # role value -> the route name of that role's home after sign-in (when no page was asked for)
    landing_pages: dict[str, str] = field(default_factory=dict)
    flash_messages: dict[str, str] = field(default_factory=dict)
    exporters: dict[str, Exporter] = field(default_factory=dict)
    erasers: dict[str, Eraser] = field(default_factory=dict)
    jobs: list[Job] = field(default_factory=list)
    purgers: dict[str, Purger] = field(default_factory=dict)
    # Retention: what counts as a person still using the service, beyond signing in (matching: an
    # open match; linkers: recent casework); the registry combines them with its own.
    activity_rules: list[ActivityRule] = field(default_factory=list)
    # (db, account_id) -> the person id of a citizen's account, or None (set by the registry), and
    # the registry's retention questions (`app.registry.service.Retention`).
    person_of_account: Callable[..., int | None] | None = None
    retention: Any = None
    # "journeys" (the registry's offer and request pages), "suggestions" (matching's)
    page_mounts: dict[str, PageMount] = field(default_factory=dict)

    def add_flash_messages(self, messages: dict[str, str]) -> None:
        """Flash messages travel as keys (never text) in a cookie; each key belongs to one domain."""
        clash = set(messages) & set(self.flash_messages)
        if clash:
            raise ValueError(f"flash message keys registered twice: {sorted(clash)}")
        self.flash_messages.update(messages)

    def add_exporter(self, domain: str, exporter: Exporter) -> None:
        if domain in self.exporters:
            raise ValueError(f"an exporter for {domain} is already registered")
        self.exporters[domain] = exporter

    def add_eraser(self, domain: str, eraser: Eraser) -> None:
        if domain in self.erasers:
            raise ValueError(f"an eraser for {domain} is already registered")
        self.erasers[domain] = eraser

    def add_purger(self, domain: str, purger: Purger) -> None:
        if domain in self.purgers:
            raise ValueError(f"a purger for {domain} is already registered")
        self.purgers[domain] = purger

    def add_page_mount(self, name: str, factory: PageMount) -> None:
        if name in self.page_mounts:
            raise ValueError(f"pages named {name} are already registered for mounting")
        self.page_mounts[name] = factory

    def add_job(self, job: Job) -> None:
        if any(known.name == job.name for known in self.jobs):
            raise ValueError(f"a job named {job.name} is already registered")
        self.jobs.append(job)

    def people_acted_for(self, db: Any, actor: Any) -> set[int]:
        """Everyone this actor may act for (their own person; a linker's caseload)."""
        found: set[int] = set()
        for rule in self.acted_for:
            statement = rule(db, actor)
            if statement is not None:
                found.update(db.execute(statement).scalars())
        return found

    def item_was_closed(self, db: Any, *, kind_key: str, item_id: int) -> None:
        for handler in self.item_closed:
            handler(db, kind_key=kind_key, item_id=item_id)

    def consent_was_withdrawn(self, db: Any, *, person_id: int, purpose: Any) -> None:
        for handler in self.consent_withdrawn:
            handler(db, person_id=person_id, purpose=purpose)
