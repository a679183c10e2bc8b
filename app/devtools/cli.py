"""The tooling commands of `marketplace`: `seed-demo` and the `bench` group.

`app/cli.py` adds them to the command's parser with `add_seed_demo` and `add_bench_commands`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.core.config import get_settings


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from app.core.db import make_engine, make_session_factory
    from app.devtools import demo
    from app.devtools.demo_caseload import ensure_demo_caseload

    settings = get_settings()
    if settings.is_production:
        print("seed-demo refuses to run in production", file=sys.stderr)
        return 2
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as db:
            if args.people:
                summary = demo.generate_borough(db, people=args.people, seed=args.seed)
                print(
                    f"demo borough (seed {args.seed}): {summary['people']} people, {summary['offers']} offers, "
                    f"{summary['requests']} help requests in {summary['wards']} wards ({summary['seconds']:.1f} s)"
                )
            demo.ensure_demo_accounts(db, templates_dir=str(settings.templates_dir))
            db.commit()
            caseload = ensure_demo_caseload(db, settings, linker_id=demo.demo_linker_id(db), seed=args.seed)
            db.commit()
            if caseload["created"]:
                print(f"demo linker: {caseload['people']} people on the caseload, {caseload['pool']} in the pool, "
                      f"matches {caseload['matches']}")  # fmt: skip
    finally:
        engine.dispose()
    print_demo_logins()
    return 0


def print_demo_logins() -> None:
    from app.devtools.demo import DEMO_ACCOUNTS

    print("Demo sign-ins (development only):")
    for email, _name, role, password in DEMO_ACCOUNTS:
        print(f"  {role:<8} {email:<24} {password}")


def add_seed_demo(commands: Any) -> None:
    seed = commands.add_parser("seed-demo", help="create demo accounts (never in production)")
    seed.add_argument("--people", type=int, default=0, help="citizens to generate in a fictional borough")
    seed.add_argument("--seed", type=int, default=1)
    seed.set_defaults(handler=cmd_seed_demo)


def add_bench_commands(commands: Any) -> None:
    """`marketplace bench import-postcodes | pages | matching`."""
    from app.devtools.bench_import import add_bench_import
    from app.devtools.bench_pages import add_bench_pages

    bench = commands.add_parser("bench", help="benchmarks that print their figures")
    benches = bench.add_subparsers(dest="bench", required=True)
    add_bench_import(benches)
    add_bench_pages(benches)
    add_bench_matching(benches)
    add_bench_live(benches)
    add_bench_reports(benches)
    add_bench_load_command(benches)


def add_bench_load_command(benches: Any) -> None:
    # Imported when the parser is built: the module itself imports no heavy libraries (locust
    # runs in its own process).
    from app.devtools.bench_load import add_bench_load

    add_bench_load(benches)


def _bench_matching(args: argparse.Namespace) -> int:
    # Imported only when run: numpy, SciPy and OR-Tools would otherwise load for every command,
    # `serve` included, whose supervisor process would carry them for nothing.
    from app.devtools.bench_matching import cli_bench_matching

    return cli_bench_matching(args)


def add_bench_matching(benches: Any) -> None:
    parser = benches.add_parser("matching", help="time suggestions and the whole-area allocation; check exactness")
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--suggestions", type=int, default=300, help="random help requests to time")
    parser.add_argument("--brute-subset", type=int, default=20, help="requests scored against every offer")
    parser.add_argument("--exact-size", type=int, default=2000, help="requests and offers in the dense check")
    parser.add_argument("--writes-per-second", type=float, default=5.0, help="writes beside the timed suggestions")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=_bench_matching)


def _bench_live(args: argparse.Namespace) -> int:
    from app.devtools.bench_live import cli_bench_live

    return cli_bench_live(args)


def add_bench_live(benches: Any) -> None:
    parser = benches.add_parser("live", help="suggestions over HTTP from real uvicorn workers, quiet and under writes")
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--samples", type=int, default=50, help="citizens whose help requests are asked about")
    parser.add_argument("--calls", type=int, default=300, help="timed calls in each phase, at least")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each phase lasts, at least")
    parser.add_argument(
        "--crowd-seconds", type=float, default=10.0,
        help="how long wrk crowds /my and the bare app at 16 and at 64 connections (0: no crowd)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=_bench_live)


def _bench_reports(args: argparse.Namespace) -> int:
    # Imported only when run: the reports' disclosure control loads numpy.
    from app.devtools.bench_reports import cli_bench_reports

    return cli_bench_reports(args)


def add_bench_reports(benches: Any) -> None:
    parser = benches.add_parser(
        "reports", help="time every report page (and working each out cold) on a borough with a year of history"
    )
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=_bench_reports)
