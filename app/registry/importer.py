"""Load an ONS Postcode Directory (ONSPD) CSV into `postcode_location`, and ward names into `ward`.

- Columns are found by their header names (`pcds`, else `pcd`; `lat`, `long`, `osward`, `oslaua`;
  `doterm` if present). The real file has about 50 other columns; they are ignored, in any order.
- The file is streamed and written in batches, each one an upsert (INSERT ... ON CONFLICT DO
  UPDATE) committed on its own, so memory stays flat for a 2.7-million-row file and running the
  import twice changes nothing the second time.
- Rows without a grid reference (lat 99.999999 or empty), terminated postcodes (non-empty
  `doterm`) and rows that cannot be read are skipped and counted.
- Nothing here makes a network request.

`marketplace bench import-postcodes` (a synthetic ONSPD-shaped file, timed) is tooling, in
`app/devtools/bench_import.py`.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
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
    "add_import_commands",
    "cli_import_postcodes",
    "import_postcodes",
    "import_ward_names",
    "missing_table_message",
    "positive_int",
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


# --- command line ------------------------------------------------------------------------------


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
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


def missing_table_message(error: sa.exc.DBAPIError) -> str | None:
    """What to tell an operator whose database has not been migrated yet; None for other errors."""
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
        message = missing_table_message(error)
        if message is None:
            raise
        print(f"import-postcodes: {message}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(result.summary())
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
        "--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE, help=f"rows per transaction (default {DEFAULT_BATCH_SIZE})"
    )
    parser.set_defaults(handler=cli_import_postcodes)
