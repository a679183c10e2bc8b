"""`marketplace bench import-postcodes` and its synthetic ONSPD file, on both databases."""

from __future__ import annotations

import csv
import json

from sqlalchemy import func, select

from app.core.db import make_engine
from app.devtools.bench_import import synthetic_postcodes, write_synthetic_onspd
from app.registry.importer import import_postcodes
from app.registry.models import PostcodeLocation
from app.registry.postcodes import normalise_postcode


def test_the_benchmark_command_runs_on_a_small_file_and_cleans_up(fresh_database, marketplace):
    # A smoke test of the benchmark's plumbing; the real figures come from a 2.7-million-row run.
    code, out, err = marketplace(["bench", "import-postcodes", "--rows", "3000", "--json"], fresh_database)
    assert code == 0, err
    figures = json.loads(out)
    assert {"database", "rows", "seconds", "rows_per_second", "peak_rss_mb"} <= figures.keys()
    assert figures["rows"] == 3000 and figures["imported"] + figures["skipped"] == 3000
    assert figures["database"] == make_engine(fresh_database).dialect.name
    assert figures["peak_rss_mb"] > 0
    engine = make_engine(fresh_database)
    try:
        with engine.connect() as connection:
            left = connection.execute(
                select(func.count()).select_from(PostcodeLocation.__table__).where(PostcodeLocation.postcode.like("Q%"))
            ).scalar_one()
        assert left == 0
    finally:
        engine.dispose()


def test_the_benchmark_says_to_migrate_first_on_an_empty_database(databases, marketplace):
    code, _out, err = marketplace(["bench", "import-postcodes", "--rows", "10"], databases.new("empty"))
    assert code == 2 and "marketplace migrate" in err


def test_the_synthetic_file_looks_like_the_onspd(tmp_path, connection):
    path = tmp_path / "synthetic.csv"
    write_synthetic_onspd(path, 2000)
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    assert len(header) >= 45 and {"pcd", "pcds", "lat", "long", "osward", "oslaua", "doterm"} <= set(header)
    assert len(rows) == 2000 and all(len(row) == len(header) for row in rows)
    result = import_postcodes(connection, path)
    assert result.read == 2000 and result.imported + result.skipped == 2000
    assert 0 < result.skipped < 200  # some terminated, some without a grid reference


def test_synthetic_postcodes_are_distinct_valid_and_fictional():
    postcodes = list(synthetic_postcodes(20_000))
    assert len(set(postcodes)) == 20_000
    assert all(normalise_postcode(p) == p and p.startswith("Q") for p in postcodes)
