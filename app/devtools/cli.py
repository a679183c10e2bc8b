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
    from app.devtools.bench_matching import add_bench_matching
    from app.devtools.bench_pages import add_bench_pages

    bench = commands.add_parser("bench", help="benchmarks that print their figures")
    benches = bench.add_subparsers(dest="bench", required=True)
    add_bench_import(benches)
    add_bench_pages(benches)
    add_bench_matching(benches)
