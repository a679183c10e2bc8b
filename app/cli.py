"""The `marketplace` command: serve, migrate, seed-demo, create-user, import-postcodes, match, bench."""

from __future__ import annotations

import argparse
import getpass
import sys

from app.core.config import get_settings

DEMO_ACCOUNTS = (
    # email, name, role, password (demo only: production refuses to start while these exist)
    ("citizen@demo.example", "Cara Citizen", "citizen", "demo-citizen-teapot-meadow"),
    ("linker@demo.example", "Lee Linker", "linker", "demo-linker-lantern-harbour"),
    ("staff@demo.example", "Sam Staff", "staff", "demo-staff-walnut-orchard"),
    ("admin@demo.example", "Ada Admin", "admin", "demo-admin-copper-kestrel"),
)


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
        db.commit()
        print(f"created {account.role.value} account #{account.id}")
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from app.accounts import service as accounts
    from app.accounts.models import Role
    from app.registry import demo

    settings = get_settings()
    if settings.is_production:
        print("seed-demo refuses to run in production", file=sys.stderr)
        return 2
    with _session() as db:
        if args.people:
            summary = demo.generate_borough(db, people=args.people, seed=args.seed)
            print(
                f"demo borough (seed {args.seed}): {summary['people']} people, {summary['offers']} offers, "
                f"{summary['requests']} help requests in {summary['wards']} wards ({summary['seconds']:.1f} s)"
            )
        for email, name, role, password in DEMO_ACCOUNTS:
            account = accounts.find_account_by_email(db, email=email)
            if account is None:
                account = accounts.create_account(db, email=email, name=name, role=Role(role), password=password, is_demo=True)
            if account.role is Role.citizen:
                demo.ensure_demo_person(db, account=account, templates_dir=str(settings.templates_dir))
        db.commit()
    print_demo_logins()
    return 0


def cmd_match(args: argparse.Namespace) -> int:
    from app.matching import service

    settings = get_settings()
    with _session() as db:
        run = service.run_allocation(db, settings, ward_code=args.ward)
        db.commit()
        print(
            f"run #{run.id}: {run.requests_covered} of {run.requests_considered} help requests matched, "
            f"{run.offers_used} of {run.offers_considered} offers used, {run.new_suggestions} new suggestions, "
            f"total score {run.total_score}, {run.milliseconds / 1000:.1f} s"
        )
    return 0


def print_demo_logins() -> None:
    print("Demo sign-ins (development only):")
    for email, _name, role, password in DEMO_ACCOUNTS:
        print(f"  {role:<8} {email:<24} {password}")


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

    seed = commands.add_parser("seed-demo", help="create demo accounts (never in production)")
    seed.add_argument("--people", type=int, default=0, help="citizens to generate (from the registry issue on)")
    seed.add_argument("--seed", type=int, default=1)
    seed.set_defaults(handler=cmd_seed_demo)

    from app.registry.importer import add_bench_import, add_import_commands

    add_import_commands(commands)
    bench = commands.add_parser("bench", help="benchmarks that print their figures")
    benches = bench.add_subparsers(dest="bench", required=True)
    add_bench_import(benches)
    from app.registry.bench import add_bench_pages

    add_bench_pages(benches)
    from app.matching.bench import add_bench_matching

    add_bench_matching(benches)

    match = commands.add_parser("match", help="run the whole-area allocation and store suggested matches")
    match.add_argument("--ward", help="only this ward (a ward code); the whole area by default")
    match.set_defaults(handler=cmd_match)
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
