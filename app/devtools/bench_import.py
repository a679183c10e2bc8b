"""`marketplace bench import-postcodes`: the postcode importer, timed on a synthetic ONSPD file.

`write_synthetic_onspd` writes a file shaped like the ONS Postcode Directory (about 50 columns in
the real order, some terminated postcodes and some without a grid reference), with postcodes in
areas that start with Q, which no real UK postcode area does. `bench_import` imports it with the
real importer (`app.registry.importer.import_postcodes`), measures, and removes its rows again.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from app.registry.importer import (
    DEFAULT_BATCH_SIZE,
    NO_GRID_REFERENCE,
    import_postcodes,
    missing_table_message,
    positive_int,
)
from app.registry.models import PostcodeLocation

__all__ = [
    "ONSPD_COLUMNS",
    "add_bench_import",
    "bench_import",
    "cli_bench_import",
    "synthetic_postcodes",
    "write_synthetic_onspd",
]

_POSTCODE_TABLE = PostcodeLocation.__table__

# The ONSPD column order (about 50 columns); the importer reads only a few, by name.
ONSPD_COLUMNS = (
    "pcd", "pcd2", "pcds", "dointr", "doterm", "oscty", "ced", "oslaua", "osward", "parish",
    "usertype", "oseast1m", "osnrth1m", "osgrdind", "oshlthau", "nhser", "ctry", "rgn", "streg",
    "pcon", "eer", "teclec", "ttwa", "pct", "itl", "statsward", "oa11", "casward", "park", "lsoa11",
    "msoa11", "wz11", "sicbl", "bua22", "ru11ind", "oac11", "lat", "long", "lep1", "lep2", "pfa",
    "imd", "calncv", "icb", "oa21", "lsoa21", "msoa21", "ruc21ind", "globalid",
)

# Synthetic postcode areas start with Q, which no real UK postcode area does.
_SYNTHETIC_AREAS = [f"Q{letter}" for letter in "ABCDEFGHJKLMNOPRSTUWYZ"]
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the letters real inward codes use


def synthetic_postcodes(rows: int) -> Iterator[str]:
    """`rows` distinct, well-formed, clearly fictional postcodes ("QA1 0AA", ...), in order."""
    produced = 0
    for area in _SYNTHETIC_AREAS:
        for district in range(1, 100):
            for sector in range(10):
                for first in _INWARD_LETTERS:
                    for second in _INWARD_LETTERS:
                        if produced == rows:
                            return
                        yield f"{area}{district} {sector}{first}{second}"
                        produced += 1
    raise ValueError(f"at most {produced:,} synthetic postcodes are available")


def write_synthetic_onspd(path: str | os.PathLike[str], rows: int, *, seed: int = 1) -> None:
    """Write an ONSPD-shaped CSV: ~50 columns in the real order, about 1 in 40 rows terminated
    and 1 in 200 without a grid reference, like the real file."""
    rng = random.Random(seed)
    position = {name: i for i, name in enumerate(ONSPD_COLUMNS)}
    template = [""] * len(ONSPD_COLUMNS)
    constants = {
        "dointr": "198001", "oscty": "E99999999", "ced": "E99999999", "parish": "E43000196",
        "usertype": "0", "osgrdind": "1", "oshlthau": "E18000007", "nhser": "E40000003",
        "ctry": "E92000001", "rgn": "E12000007", "streg": "0", "pcon": "E14000639", "eer": "E15000007",
        "teclec": "E24000021", "ttwa": "E30000234", "pct": "E16000010", "itl": "E06000063",
        "statsward": "99ZZ00", "oa11": "E00004296", "casward": "99ZZ00", "park": "E99999999",
        "lsoa11": "E01000878", "msoa11": "E02000179", "wz11": "E33000123", "sicbl": "E38000010",
        "bua22": "E63004979", "ru11ind": "A1", "oac11": "1A2", "lep1": "E37000051", "lep2": "",
        "pfa": "E23000001", "imd": "12345", "calncv": "E56000004", "icb": "E54000027",
        "oa21": "E00004296", "lsoa21": "E01000878", "msoa21": "E02000179", "ruc21ind": "UN1",
    }
    for name, value in constants.items():
        template[position[name]] = value
    i_pcd, i_pcd2, i_pcds = position["pcd"], position["pcd2"], position["pcds"]
    i_doterm, i_la, i_ward = position["doterm"], position["oslaua"], position["osward"]
    i_east, i_north, i_lat, i_long = position["oseast1m"], position["osnrth1m"], position["lat"], position["long"]
    i_globalid = position["globalid"]

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(ONSPD_COLUMNS)
        for number, postcode in enumerate(synthetic_postcodes(rows)):
            outward, inward = postcode.split(" ")
            row = template.copy()
            row[i_pcd] = f"{outward:<4}{inward}"  # ONSPD's 7-character fixed-width form
            row[i_pcd2] = f"{outward:<5}{inward}"
            row[i_pcds] = postcode
            row[i_la] = f"E0{9000001 + number % 300:07d}"
            row[i_ward] = f"E05{number % 9000 + 1:06d}"
            row[i_globalid] = f"{{{number:08X}-0000-4000-8000-000000000000}}"
            roll = rng.random()
            if roll < 0.005:
                row[i_lat], row[i_long] = NO_GRID_REFERENCE, "0.000000"
            else:
                if roll < 0.03:
                    row[i_doterm] = "202001"
                row[i_east] = str(rng.randrange(100000, 650000))
                row[i_north] = str(rng.randrange(10000, 1200000))
                row[i_lat] = f"{rng.uniform(49.9, 58.7):.6f}"
                row[i_long] = f"{rng.uniform(-7.5, 1.7):.6f}"
            writer.writerow(row)


def _delete_synthetic(bind: Engine, rows: int, *, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
    # One statement with an expanding parameter: a fresh `in_(chunk)` each time would keep every
    # chunk alive in SQLAlchemy's statement cache.
    delete = _POSTCODE_TABLE.delete().where(_POSTCODE_TABLE.c.postcode.in_(sa.bindparam("postcodes", expanding=True)))
    postcodes = synthetic_postcodes(rows)
    with bind.connect() as connection:
        while chunk := list(itertools.islice(postcodes, batch_size)):
            with connection.begin():
                connection.execute(delete, {"postcodes": chunk})


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


def bench_import(
    engine: Engine, rows: int, *, batch_size: int = DEFAULT_BATCH_SIZE, keep: bool = False, progress: IO[str] | None = None
) -> dict[str, Any]:
    """Generate a synthetic ONSPD file of `rows` rows, import it, measure; then remove its rows
    again unless `keep`. Only the import itself is timed."""
    with tempfile.TemporaryDirectory(prefix="onspd-bench-") as directory:
        path = Path(directory) / "onspd_synthetic.csv"
        generate_started = time.monotonic()
        write_synthetic_onspd(path, rows)
        generate_seconds = time.monotonic() - generate_started
        size = path.stat().st_size
        result = import_postcodes(engine, path, batch_size=batch_size, progress=progress)
    figures = {
        "database": engine.dialect.name,
        "rows": rows,
        "seconds": round(result.seconds, 2),
        "rows_per_second": round(rows / result.seconds) if result.seconds else None,
        "peak_rss_mb": _peak_rss_mb(),
        "imported": result.imported,
        "skipped": result.skipped,
        "file_mb": round(size / 1e6, 1),
        "batch_size": batch_size,
        "generate_seconds": round(generate_seconds, 2),
    }
    if not keep:
        _delete_synthetic(engine, rows, batch_size=batch_size)
    return figures


# --- command line ------------------------------------------------------------------------------


def _engine() -> Engine:
    from app.core.config import get_settings
    from app.core.db import make_engine

    return make_engine(get_settings().database_url)


def cli_bench_import(args: argparse.Namespace) -> int:
    """`marketplace bench import-postcodes [--rows N] [--batch-size N] [--keep] [--json]`."""
    from app.core.config import get_settings

    if get_settings().is_production:
        print("bench import-postcodes refuses to run in production", file=sys.stderr)
        return 2
    engine = _engine()
    try:
        figures = bench_import(engine, args.rows, batch_size=args.batch_size, keep=args.keep, progress=sys.stderr)
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as error:
        message = missing_table_message(error)
        if message is None:
            raise
        print(f"bench import-postcodes: {message}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"{figures['database']}: imported {figures['imported']:,} of {figures['rows']:,} rows "
            f"({figures['file_mb']} MB) in {figures['seconds']} s, {figures['rows_per_second']:,} rows/s, "
            f"peak RSS {figures['peak_rss_mb']} MB"
        )
    return 0


def add_bench_import(bench_subparsers: Any) -> None:
    """Add `import-postcodes` to the `marketplace bench` subparsers."""
    parser = bench_subparsers.add_parser(
        "import-postcodes",
        help="time the postcode import on a generated ONSPD-shaped file",
        description="Generate a synthetic ONSPD-shaped CSV (postcodes in the fictional area Q*), import it "
        "into the configured database and report the time and peak memory. The synthetic rows are "
        "removed afterwards unless --keep is given.",
    )
    parser.add_argument("--rows", type=positive_int, default=2_700_000, help="rows to generate (default 2,700,000)")
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--keep", action="store_true", help="leave the synthetic postcodes in the database")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.set_defaults(handler=cli_bench_import)
