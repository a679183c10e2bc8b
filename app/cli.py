"""The `marketplace` command: serve, worker, migrate, seed-demo, create-user, import-postcodes, match, purge, bench.

The operator's commands are here; the importer's come from `app.registry.importer`, and the
tooling (`seed-demo`, `bench ...`) from `app.devtools.cli`.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from app.core.config import get_settings, served_base_url


def _session():
    from app.core.db import make_engine, make_session_factory

    settings = get_settings()
    return make_session_factory(make_engine(settings.database_url))()


def cmd_migrate(args: argparse.Namespace) -> int:
    from app.migrations_support import upgrade_to_head

    upgrade_to_head(get_settings().database_url)
    print("database migrated to the latest version")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()  # fails here, before binding a port, if production settings are unsafe
    if not settings.is_production and "base_url" not in settings.model_fields_set:
        # Emailed links point at the address served here, unless MARKETPLACE_BASE_URL says otherwise.
        # Through the environment, so that the application (and every worker) reads the same.
        os.environ["MARKETPLACE_BASE_URL"] = served_base_url(args.host, args.port)
        if args.host.strip("[]") in ("0.0.0.0", "::", ""):
            print(
                f"emailed links will use {os.environ['MARKETPLACE_BASE_URL']}: set MARKETPLACE_BASE_URL "
                "to the address people open",
                file=sys.stderr,
            )
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=args.proxy_headers,
        log_level=settings.log_level.lower(),
    )
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    from app.accounts import service
    from app.accounts.models import Role
    from app.core.errors import InvalidInput

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
    with _session() as db:
        try:
            account = service.create_account(
                db, email=args.email, name=args.name or args.email.split("@")[0], role=Role(args.role), password=password
            )
        except InvalidInput as error:
            for e in error.errors:
                print(f"{e.field}: {e.message}", file=sys.stderr)
            return 2
        if account.role is Role.citizen:
            # Their profile (no postcode or consents yet: they give those on "Your account").
            from app.registry.service import create_person_for_account

            create_person_for_account(db, account=account)
        db.commit()
        print(f"created {account.role.value} account #{account.id}")
    return 0


def _jobs(settings):
    """The queue and every domain's jobs, wired exactly as in the web application."""
    from app.core.db import make_engine, make_session_factory
    from app.core.jobs import build_jobs
    from app.core.mail import Mailer
    from app.main import build_plugins

    plugins = build_plugins()
    jobs = build_jobs(settings, make_session_factory(make_engine(settings.database_url)), plugins)
    plugins.mailer = Mailer(settings, jobs)  # for jobs whose changes tell people (expired matches)
    return jobs


def cmd_match(args: argparse.Namespace) -> int:
    from app.core.jobs import JobRefused
    from app.matching import jobs as matching_jobs
    from app.matching.models import MatchRun, RunStatus

    settings = get_settings()
    jobs = _jobs(settings)
    with jobs.context.session_factory() as db:
        run = MatchRun(status=RunStatus.queued, ward_code=args.ward)
        db.add(run)
        db.commit()
    # Here and now, under the same area lock as the worker's runs (never two at once).
    try:
        run = matching_jobs.run_now(settings, jobs.context, run.id)
    except JobRefused as refused:
        print(f"run #{run.id} not started: {refused}", file=sys.stderr)
        return 1
    print(
        f"run #{run.id}: {run.requests_covered} of {run.requests_considered} help requests matched, "
        f"{run.offers_used} of {run.offers_considered} offers used, {run.new_suggestions} new suggestions, "
        f"total score {run.total_score}, {run.milliseconds / 1000:.1f} s"
    )
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from app.privacy import jobs as privacy_jobs

    settings = get_settings()
    jobs = _jobs(settings)
    report = privacy_jobs.run_purge(jobs.context, dry_run=args.dry_run)
    print(("dry run, nothing changed: " if args.dry_run else "") + f"retention purge ({settings.retention_months} months)")
    for line in report.lines():
        print(f"  {line}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import logging

    from app.core.logs import install_log_scrubbers
    from app.matching.jobs import area_lock_name, fail_interrupted_runs

    settings = get_settings()
    if settings.jobs_immediate:
        print("MARKETPLACE_JOBS_IMMEDIATE is set: jobs run in the web process, no worker is needed", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s worker %(levelname)s %(name)s: %(message)s")
    install_log_scrubbers()
    jobs = _jobs(settings)
    if not args.keep_locks:
        # A worker that was killed mid-run leaves its area's lock behind, and its run marked
        # running: with one worker process (the usual set-up; it runs --threads jobs at once)
        # nothing else can hold a lock or be running a run.
        from sqlalchemy import select

        from app.registry.models import Ward

        with jobs.context.session_factory() as db:
            wards = db.execute(select(Ward.code)).scalars().all()
        jobs.huey.flush_locks(*(area_lock_name(code) for code in [None, *wards]))
        if stopped := fail_interrupted_runs(jobs.context.session_factory):
            print(f"{stopped} allocation run(s) left running by a stopped worker marked failed", flush=True)
    consumer = jobs.huey.create_consumer(
        workers=args.threads, worker_type="thread", periodic=True, max_delay=args.max_delay, graceful_signal="TERM"
    )
    print(f"worker started: {args.threads} thread(s), jobs: {', '.join(sorted(jobs.tasks))}", flush=True)
    consumer.run()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="marketplace", description="Community Asset Marketplace")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the web application")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--proxy-headers", action="store_true", help="trust X-Forwarded-* from --forwarded-allow-ips")
    serve.set_defaults(handler=cmd_serve)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(handler=cmd_migrate)

    create_user = commands.add_parser("create-user", help="create an account (for example the first admin)")
    create_user.add_argument("--email", required=True)
    create_user.add_argument("--name")
    create_user.add_argument("--role", choices=["citizen", "linker", "staff", "admin"], required=True)
    create_user.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    create_user.set_defaults(handler=cmd_create_user)

    from app.devtools.cli import add_bench_commands, add_seed_demo
    from app.registry.importer import add_import_commands

    add_seed_demo(commands)
    add_import_commands(commands)
    add_bench_commands(commands)

    match = commands.add_parser("match", help="run the whole-area allocation and store suggested matches")
    match.add_argument("--ward", help="only this ward (a ward code); the whole area by default")
    match.set_defaults(handler=cmd_match)

    purge = commands.add_parser("purge", help="apply the retention rule now (it also runs daily in the worker)")
    purge.add_argument("--dry-run", action="store_true", help="count what would be done, change nothing")
    purge.set_defaults(handler=cmd_purge)

    worker = commands.add_parser("worker", help="run the background jobs (allocation runs, mail) from the queue")
    worker.add_argument("--threads", type=int, default=2, help="jobs run at once (default 2)")
    worker.add_argument("--max-delay", type=float, default=1.0, help="longest pause between polls of an idle SQLite queue, in seconds")
    worker.add_argument("--keep-locks", action="store_true", help="do not clear the area locks at start (when several worker processes share a queue)")
    worker.set_defaults(handler=cmd_worker)
    return parser


def main(argv: list[str] | None = None) -> int:
    from pydantic import ValidationError

    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ValidationError as error:
        # Unsafe or invalid settings: say which, without a traceback.
        for problem in error.errors():
            print(f"configuration error: {problem['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
