"""Load an ONS Postcode Directory (ONSPD) CSV into `postcode_location`, and ward names into `ward`.

- Columns are found by their header names (`pcds`, else `pcd`; `lat`, `long`, `osward`, `oslaua`;
  `doterm` if present). The real file has about 50 other columns; they are ignored, in any order.
- The file is streamed and written in batches, each one an upsert (INSERT ... ON CONFLICT DO
  UPDATE) committed on its own, so memory stays flat for a 2.7-million-row file and running the
  import twice changes nothing the second time.
- Rows without a grid reference (lat 99.999999 or empty), terminated postcodes (non-empty
  `doterm`) and rows that cannot be read are skipped and counted.
- Nothing here makes a network request.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from app.registry.models import PostcodeLocation, Ward
from app.registry.postcodes import InvalidPostcode, normalise_postcode

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "ImportResult",
    "PostcodeFileError",
    "Progress",
    "add_bench_import",
    "add_import_commands",
    "bench_import",
    "cli_bench_import",
    "cli_import_postcodes",
    "import_postcodes",
    "import_ward_names",
    "write_synthetic_onspd",
]

DEFAULT_BATCH_SIZE = 5000
NO_GRID_REFERENCE = "99.999999"  # ONSPD's latitude for postcodes without a grid reference
CODE_LENGTH = 9  # GSS codes: one letter and eight digits
WARD_NAME_LENGTH = 100

_POSTCODE_TABLE = PostcodeLocation.__table__
_WARD_TABLE = Ward.__table__

# Why rows were skipped; the keys of `ImportResult.skip_reasons`.
NO_LOCATION = "no grid reference"
TERMINATED = "terminated postcode"
BAD_POSTCODE = "not a valid postcode"
BAD_COORDINATES = "unreadable latitude or longitude"
BAD_CODE = "unreadable ward or local authority code"
SHORT_ROW = "too few columns"


class PostcodeFileError(ValueError):
    """The file cannot be imported at all (missing, or without the columns we need)."""


@dataclass
class ImportResult:
    read: int = 0
    imported: int = 0
    skipped: int = 0
    wards: int = 0
    seconds: float = 0.0
    skip_reasons: Counter = field(default_factory=Counter)

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.skip_reasons[reason] += 1

    def summary(self) -> str:
        text = f"imported {self.imported:,} postcodes (read {self.read:,}, skipped {self.skipped:,})"
        if self.skip_reasons:
            reasons = ", ".join(f"{reason}: {count:,}" for reason, count in self.skip_reasons.most_common())
            text += f" [{reasons}]"
        if self.wards:
            text += f" and {self.wards:,} ward names"
        return f"{text} in {self.seconds:.1f} s"


# --- progress ----------------------------------------------------------------------------------


class Progress:
    """A one-line progress bar on a terminal (plain text redrawn with \\r); silent otherwise."""

    def __init__(self, total_bytes: int, stream: IO[str] | None = None, *, interval: float = 0.25, label: str = "postcodes"):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total = max(total_bytes, 1)
        self.interval = interval
        self.label = label
        self.started = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def update(self, bytes_read: int, rows: int, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        elapsed = max(now - self.started, 1e-9)
        fraction = min(bytes_read / self.total, 1.0)
        width = 30
        filled = int(fraction * width)
        bar = "#" * filled + "-" * (width - filled)
        line = (
            f"\r[{bar}] {fraction * 100:5.1f}%  {bytes_read / 1e6:,.1f}/{self.total / 1e6:,.1f} MB  "
            f"{rows:,} {self.label}  {rows / elapsed:,.0f} rows/s "
        )
        self.stream.write(line)
        self.stream.flush()
        self._drawn = True

    def finish(self, bytes_read: int, rows: int) -> None:
        if not self.enabled:
            return
        self.update(bytes_read, rows, force=True)
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()


# --- writing -----------------------------------------------------------------------------------


def _insert_for(dialect_name: str):
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect_name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the project supports these two
        raise PostcodeFileError(f"importing into {dialect_name} is not supported (use SQLite or PostgreSQL)")
    return insert


def _upsert_statement(dialect_name: str, table: sa.Table, key: str) -> Any:
    """INSERT ... ON CONFLICT (key) DO UPDATE, touching a row only when something changed."""
    stmt = _insert_for(dialect_name)(table)
    columns = [c.name for c in table.columns if c.name != key]
    changed = sa.or_(*(table.c[name].is_distinct_from(stmt.excluded[name]) for name in columns))
    return stmt.on_conflict_do_update(
        index_elements=[key], set_={name: stmt.excluded[name] for name in columns}, where=changed
    )


@contextmanager
def _connection(bind: Engine | Connection) -> Iterator[Connection]:
    """One connection for the whole import (an Engine's own, or the caller's)."""
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            yield connection
    else:
        yield bind


def _write_batch(connection: Connection, statement: Any, rows: list[dict]) -> None:
    """Write one batch in its own transaction (a savepoint if the caller already has one open)."""
    if not rows:
        return
    with connection.begin_nested() if connection.in_transaction() else connection.begin():
        connection.execute(statement, rows)


# --- reading -----------------------------------------------------------------------------------


def _open_csv(path: Path) -> tuple[IO[bytes], io.TextIOWrapper]:
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    except FileNotFoundError:
        raise PostcodeFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise PostcodeFileError(f"{path}: is a directory, not a CSV file") from None
    except PermissionError:
        raise PostcodeFileError(f"{path}: permission denied") from None
    # utf-8-sig drops a byte-order mark; a stray bad byte becomes U+FFFD and fails validation.
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
    return raw, text


def _header_index(header: list[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for position, name in enumerate(header):
        index.setdefault(name.strip().lower(), position)
    return index


def _code(value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    if len(value) > CODE_LENGTH:
        raise ValueError(value)
    return value.upper()


def _parse_rows(
    reader: Iterator[list[str]], header: list[str], result: ImportResult
) -> Iterator[dict[str, Any]]:
    """Yield one dict per usable row; count the others in `result`."""
    index = _header_index(header)
    postcode_column = "pcds" if "pcds" in index else "pcd" if "pcd" in index else None
    missing = [name for name in ("lat", "long") if name not in index]
    if postcode_column is None:
        missing.insert(0, "pcds (or pcd)")
    if missing:
        raise PostcodeFileError(
            "this does not look like an ONS Postcode Directory CSV: the header has no "
            + ", ".join(f"'{name}'" for name in missing)
            + (" columns" if len(missing) > 1 else " column")
            + " (ONSPD names: pcds or pcd, lat, long, osward, oslaua)"
        )
    i_postcode, i_lat, i_long = index[postcode_column], index["lat"], index["long"]
    i_ward, i_la, i_doterm = index.get("osward"), index.get("oslaua"), index.get("doterm")
    needed = max(i for i in (i_postcode, i_lat, i_long, i_ward, i_la, i_doterm) if i is not None) + 1

    for row in reader:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        result.read += 1
        if len(row) < needed:
            result.skip(SHORT_ROW)
            continue
        lat_text = row[i_lat].strip()
        if not lat_text or lat_text == NO_GRID_REFERENCE:
            result.skip(NO_LOCATION)
            continue
        if i_doterm is not None and row[i_doterm].strip():
            result.skip(TERMINATED)
            continue
        try:
            postcode = normalise_postcode(row[i_postcode])
        except InvalidPostcode:
            result.skip(BAD_POSTCODE)
            continue
        try:
            latitude = float(lat_text)
            longitude = float(row[i_long])
        except ValueError:
            result.skip(BAD_COORDINATES)
            continue
        if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):  # also refuses nan
            result.skip(BAD_COORDINATES)
            continue
        try:
            ward = _code(row[i_ward]) if i_ward is not None else None
            local_authority = _code(row[i_la]) if i_la is not None else None
        except ValueError:
            result.skip(BAD_CODE)
            continue
        yield {
            "postcode": postcode,
            "latitude": latitude,
            "longitude": longitude,
            "local_authority_code": local_authority,
            "ward_code": ward,
        }


def import_postcodes(
    bind: Engine | Connection,
    path: str | os.PathLike[str],
    *,
    ward_names: str | os.PathLike[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: IO[str] | None = None,
) -> ImportResult:
    """Stream an ONSPD CSV into `postcode_location` (and, optionally, ward names into `ward`).

    `bind` is an Engine (each batch is committed in its own transaction) or a Connection (each
    batch is committed, or released as a savepoint if the connection is already in a transaction).
    `progress` is the stream for the progress bar (default stderr; drawn only on a terminal).
    Raises `PostcodeFileError` if the file is missing or lacks the columns we need.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    started = time.monotonic()
    result = ImportResult()
    if ward_names is not None:
        result.wards = import_ward_names(bind, ward_names, batch_size=batch_size)

    path = Path(path)
    raw, text = _open_csv(path)
    with raw, text:
        total = os.fstat(raw.fileno()).st_size
        bar = Progress(total, progress)
        reader = csv.reader(text)
        header = next(reader, None)
        if header is None:
            raise PostcodeFileError(f"{path}: the file is empty")

        # A dict per batch: a postcode twice in one batch is written once (last one wins), which
        # PostgreSQL requires ("ON CONFLICT DO UPDATE command cannot affect row a second time").
        rows = _parse_rows(reader, header, result)
        with _connection(bind) as connection:
            statement = _upsert_statement(connection.dialect.name, _POSTCODE_TABLE, "postcode")
            batch: dict[str, dict[str, Any]] = {}
            for row in rows:
                batch[row["postcode"]] = row
                result.imported += 1
                if len(batch) >= batch_size:
                    _write_batch(connection, statement, list(batch.values()))
                    batch.clear()
                    bar.update(raw.tell(), result.read)
            _write_batch(connection, statement, list(batch.values()))
        bar.finish(raw.tell(), result.read)
    result.seconds = time.monotonic() - started
    return result


def import_ward_names(
    bind: Engine | Connection, path: str | os.PathLike[str], *, batch_size: int = DEFAULT_BATCH_SIZE
) -> int:
    """Upsert ward names from a CSV with a header: `code,name`, or ONS style (`WD24CD,WD24NM,...`).

    Returns how many rows were written; rows without a usable code or name are ignored.
    """
    path = Path(path)
    raw, text = _open_csv(path)
    with raw, text:
        reader = csv.reader(text)
        header = [name.strip().lower() for name in next(reader, [])]

        def find(exact: str, suffix: str) -> int | None:
            if exact in header:
                return header.index(exact)
            return next((i for i, name in enumerate(header) if name.startswith("wd") and name.endswith(suffix)), None)

        i_code, i_name = find("code", "cd"), find("name", "nm")
        if i_code is None or i_name is None:
            raise PostcodeFileError(f"{path}: the ward names file needs a header with 'code' and 'name' columns")

        written = 0
        with _connection(bind) as connection:
            statement = _upsert_statement(connection.dialect.name, _WARD_TABLE, "code")
            batch: dict[str, dict[str, str]] = {}
            for row in reader:
                if len(row) <= max(i_code, i_name):
                    continue
                code, name = row[i_code].strip().upper(), " ".join(row[i_name].split())
                if not code or len(code) > CODE_LENGTH or not name or len(name) > WARD_NAME_LENGTH:
                    continue
                batch[code] = {"code": code, "name": name}
                written += 1
                if len(batch) >= batch_size:
                    _write_batch(connection, statement, list(batch.values()))
                    batch.clear()
            _write_batch(connection, statement, list(batch.values()))
    return written


# --- synthetic file for the benchmark ----------------------------------------------------------

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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _engine():
    from app.core.config import get_settings
    from app.core.db import make_engine

    return make_engine(get_settings().database_url)


def _missing_table_message(error: sa.exc.DBAPIError) -> str | None:
    text = str(error.orig).lower()
    if "no such table" in text or "does not exist" in text or "undefinedtable" in type(error.orig).__name__.lower():
        return "the database has no postcode table yet: run `marketplace migrate` first"
    return None


def cli_import_postcodes(args: argparse.Namespace) -> int:
    """`marketplace import-postcodes FILE [--ward-names FILE] [--batch-size N]`."""
    engine = _engine()
    try:
        result = import_postcodes(
            engine, args.file, ward_names=args.ward_names, batch_size=args.batch_size, progress=sys.stderr
        )
    except PostcodeFileError as error:
        print(f"import-postcodes: {error}", file=sys.stderr)
        return 2
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as error:
        message = _missing_table_message(error)
        if message is None:
            raise
        print(f"import-postcodes: {message}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(result.summary())
    return 0


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
        message = _missing_table_message(error)
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


def add_import_commands(subparsers: Any) -> None:
    """Add `import-postcodes` to the `marketplace` command's subparsers."""
    parser = subparsers.add_parser(
        "import-postcodes",
        help="load an ONS Postcode Directory CSV (postcodes, locations, wards)",
        description="Load an ONS Postcode Directory (ONSPD) CSV into the postcode table. "
        "Columns are read by header name; running it again updates rows in place.",
    )
    parser.add_argument("file", metavar="FILE", help="the ONSPD CSV file")
    parser.add_argument("--ward-names", metavar="FILE", help="a CSV of ward codes and names (header: code,name)")
    parser.add_argument(
        "--batch-size", type=_positive_int, default=DEFAULT_BATCH_SIZE, help=f"rows per transaction (default {DEFAULT_BATCH_SIZE})"
    )
    parser.set_defaults(handler=cli_import_postcodes)


def add_bench_import(bench_subparsers: Any) -> None:
    """Add `import-postcodes` to the `marketplace bench` subparsers."""
    parser = bench_subparsers.add_parser(
        "import-postcodes",
        help="time the postcode import on a generated ONSPD-shaped file",
        description="Generate a synthetic ONSPD-shaped CSV (postcodes in the fictional area Q*), import it "
        "into the configured database and report the time and peak memory. The synthetic rows are "
        "removed afterwards unless --keep is given.",
    )
    parser.add_argument("--rows", type=_positive_int, default=2_700_000, help="rows to generate (default 2,700,000)")
    parser.add_argument("--batch-size", type=_positive_int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--keep", action="store_true", help="leave the synthetic postcodes in the database")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.set_defaults(handler=cli_bench_import)
