"""The ONS Postcode Directory importer, on both databases."""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.core.db import make_engine
from app.migrations_support import upgrade_to_head
from app.registry import importer
from app.registry.importer import (
    ImportResult,
    PostcodeFileError,
    Progress,
    add_import_commands,
    import_postcodes,
    import_ward_names,
)
from app.registry.models import PostcodeLocation, Ward

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "onspd_sample.csv"
MARKETPLACE = str(Path(sys.executable).parent / "marketplace")


def locations(connection) -> dict[str, tuple]:
    table = PostcodeLocation.__table__
    rows = connection.execute(select(table)).all()
    return {r.postcode: (r.latitude, r.longitude, r.local_authority_code, r.ward_code) for r in rows}


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# --- the real sample ---------------------------------------------------------------------------


def test_the_real_sample_imports_with_correct_values(connection):
    result = import_postcodes(connection, SAMPLE)
    assert (result.read, result.imported, result.skipped) == (12, 12, 0)
    found = locations(connection)
    assert len(found) == 12
    assert found["AB10 1AB"] == (pytest.approx(57.149606), pytest.approx(-2.096916), "S12000033", "S13002483")
    assert found["AB10 1DU"] == (pytest.approx(57.111340), pytest.approx(-2.094009), "S12000033", "S13002488")
    assert found["AB10 1FX"] == (pytest.approx(57.144816), pytest.approx(-2.119940), "S12000033", "S13002485")
    assert all(len(postcode) <= 8 and postcode == postcode.upper() for postcode in found)


def test_small_batches_give_the_same_result(connection):
    result = import_postcodes(connection, SAMPLE, batch_size=5)
    assert (result.read, result.imported, result.skipped) == (12, 12, 0)
    assert len(locations(connection)) == 12


# --- the file's shape does not matter -----------------------------------------------------------

ONSPD_LIKE_HEADER = [
    "pcd2", "dointr", "doterm", "oscty", "ced", "usertype", "oseast1m", "osnrth1m", "osgrdind", "long",
    "ctry", "rgn", "pcon", "osward", "eer", "ttwa", "itl", "park", "lsoa21", "msoa21", "lat", "oslaua",
    "icb", "imd", "pcd", "globalid",
]


def onspd_like_row(pcd: str, lat: str, long: str, ward: str, la: str, doterm: str = "") -> list[str]:
    values = dict.fromkeys(ONSPD_LIKE_HEADER, "x")
    values.update(pcd=pcd, lat=lat, long=long, osward=ward, oslaua=la, doterm=doterm, pcd2=pcd + " ")
    return [values[name] for name in ONSPD_LIKE_HEADER]


def test_extra_columns_in_another_order_and_only_pcd(connection, tmp_path):
    path = write_csv(
        tmp_path / "onspd.csv",
        ONSPD_LIKE_HEADER,
        [
            onspd_like_row("B1  1AA", "52.480000", "-1.900000", "E05011122", "E08000025"),
            onspd_like_row("M11 1AE", "53.470000", "-2.230000", "E05011363", "E08000003"),
            onspd_like_row("SW1A1AA", "51.501009", "-0.141588", "E05013806", "E09000033"),
            onspd_like_row("CF101EP", "51.481800", "-3.179000", "W05001036", "W06000015"),
        ],
    )
    result = import_postcodes(connection, path)
    assert (result.read, result.imported, result.skipped) == (4, 4, 0)
    found = locations(connection)
    assert set(found) == {"B1 1AA", "M11 1AE", "SW1A 1AA", "CF10 1EP"}
    assert found["SW1A 1AA"] == (pytest.approx(51.501009), pytest.approx(-0.141588), "E09000033", "E05013806")
    assert found["CF10 1EP"][2:] == ("W06000015", "W05001036")


def test_header_names_are_read_whatever_their_case_and_a_byte_order_mark(connection, tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffPCDS,Lat,LONG\nab10 1ab,57.149606,-2.096916\n".encode())
    result = import_postcodes(connection, path)
    assert (result.read, result.imported) == (1, 1)
    assert locations(connection)["AB10 1AB"][2:] == (None, None)  # no ward or authority columns: NULL


def test_pcds_is_preferred_to_pcd_when_both_are_there(connection, tmp_path):
    path = write_csv(tmp_path / "both.csv", ["pcd", "pcds", "lat", "long"], [["XXXXXXX", "AB10 1AB", "57.1", "-2.1"]])
    assert import_postcodes(connection, path).imported == 1
    assert set(locations(connection)) == {"AB10 1AB"}


# --- idempotent ----------------------------------------------------------------------------------


def test_importing_again_changes_nothing_and_a_newer_file_updates_rows_in_place(connection, tmp_path):
    import_postcodes(connection, SAMPLE)
    again = import_postcodes(connection, SAMPLE)
    assert (again.read, again.imported, again.skipped) == (12, 12, 0)
    assert len(locations(connection)) == 12

    newer = write_csv(
        tmp_path / "newer.csv",
        ["pcds", "lat", "long", "osward", "oslaua"],
        [
            ["AB10 1AB", "57.200000", "-2.200000", "S13009999", "S12000034"],  # moved ward
            ["AB10 1AF", "57.148707", "-2.097806", "S13002483", "S12000033"],  # unchanged
            ["AB10 7JB", "57.130000", "-2.110000", "S13002484", "S12000033"],  # new
        ],
    )
    result = import_postcodes(connection, newer, batch_size=2)
    assert (result.read, result.imported, result.skipped) == (3, 3, 0)
    found = locations(connection)
    assert len(found) == 13
    assert found["AB10 1AB"] == (pytest.approx(57.2), pytest.approx(-2.2), "S12000034", "S13009999")
    assert found["AB10 1AF"] == (pytest.approx(57.148707), pytest.approx(-2.097806), "S12000033", "S13002483")
    assert "AB10 7JB" in found


def test_the_same_postcode_twice_in_one_batch_is_written_once_last_one_wins(connection, tmp_path):
    path = write_csv(
        tmp_path / "twice.csv",
        ["pcd", "lat", "long"],
        [["AB101AB", "57.1", "-2.1"], ["AB10 1AB", "57.3", "-2.3"], ["ab101ab", "57.5", "-2.5"]],
    )
    result = import_postcodes(connection, path, batch_size=100)
    assert result.imported == 3
    assert locations(connection) == {"AB10 1AB": (pytest.approx(57.5), pytest.approx(-2.5), None, None)}


# --- bad rows ------------------------------------------------------------------------------------


def test_bad_rows_are_skipped_and_counted(connection, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text(
        "pcds,lat,long,osward,oslaua,doterm\n"
        "AB10 1AB,57.149606,-2.096916,S13002483,S12000033,\n"  # good
        "AB10 1AF,99.999999,0.000000,S13002483,S12000033,\n"  # no grid reference
        "AB10 1AG,,,S13002483,S12000033,\n"  # no grid reference (empty)
        "AB10 1AH,57.148080,-2.094664,S13002483,S12000033,199906\n"  # terminated
        "NOT A POSTCODE,57.1,-2.1,S13002483,S12000033,\n"  # invalid postcode
        "AB10 1BJ,north,-2.1,S13002482,S12000033,\n"  # unreadable latitude
        "AB10 1BR,157.1,-2.1,S13002482,S12000033,\n"  # latitude out of range
        "AB10 1DB,nan,-2.1,S13002482,S12000033,\n"  # not a number
        "AB10 1DQ,57.1,-2.1,S1300248299999,S12000033,\n"  # ward code too long for the column
        "AB10 1DU,57.1\n"  # too few columns
        "\n"  # a blank line is not a row
        "AB10 1FE,57.148075,-2.101969,,,\n"  # good, no ward or authority
        "\u00c5B10 1FW,57.1,-2.1,S13002485,S12000033,\n"  # not ASCII
        "AB10 1FX,57.144816,-2.119940,s13002485,s12000033,\n",  # good, codes upper-cased
        encoding="utf-8",
    )
    result = import_postcodes(connection, path, batch_size=2)
    assert (result.read, result.imported, result.skipped) == (13, 3, 10)
    assert result.skip_reasons == {
        importer.NO_LOCATION: 2,
        importer.TERMINATED: 1,
        importer.BAD_POSTCODE: 2,
        importer.BAD_COORDINATES: 3,
        importer.BAD_CODE: 1,
        importer.SHORT_ROW: 1,
    }
    found = locations(connection)
    assert set(found) == {"AB10 1AB", "AB10 1FE", "AB10 1FX"}
    assert found["AB10 1FE"][2:] == (None, None)
    assert found["AB10 1FX"][2:] == ("S12000033", "S13002485")
    summary = result.summary()
    assert "imported 3 postcodes" in summary and "skipped 10" in summary and "terminated postcode: 1" in summary


def test_undecodable_bytes_do_not_stop_the_import(connection, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"pcds,lat,long\nAB10 1AB,57.1,-2.1\nAB10 \xff1AF,57.2,-2.2\nAB10 1AG,57.3,-2.3\n")
    result = import_postcodes(connection, path)
    assert (result.read, result.imported, result.skipped) == (3, 2, 1)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("postcode,latitude,longitude\nAB10 1AB,57.1,-2.1\n", "'pcds (or pcd)', 'lat', 'long'"),
        ("pcd,lat\nAB101AB,57.1\n", "'long'"),
        ("", "empty"),
    ],
)
def test_a_file_without_the_columns_we_need_is_refused_clearly(connection, tmp_path, content, message):
    path = tmp_path / "wrong.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PostcodeFileError, match=re.escape(message)):
        import_postcodes(connection, path)
    assert locations(connection) == {}


def test_a_missing_file_is_refused_clearly(connection, tmp_path):
    with pytest.raises(PostcodeFileError, match="no such file"):
        import_postcodes(connection, tmp_path / "nowhere.csv")


def test_batch_size_must_be_positive(connection):
    with pytest.raises(ValueError):
        import_postcodes(connection, SAMPLE, batch_size=0)


# --- ward names ----------------------------------------------------------------------------------


def wards(connection) -> dict[str, str]:
    return dict(connection.execute(select(Ward.__table__.c.code, Ward.__table__.c.name)).all())


def test_ward_names_are_upserted_from_a_code_name_file(connection, tmp_path):
    names = tmp_path / "wards.csv"
    names.write_text("code,name\nS13002483,George St/Harbour\nS13002485,Hazlehead/Queens Cross/Countesswells\n,No code\n", encoding="utf-8")
    result = import_postcodes(connection, SAMPLE, ward_names=names)
    assert result.wards == 2 and result.imported == 12
    assert wards(connection) == {"S13002483": "George St/Harbour", "S13002485": "Hazlehead/Queens Cross/Countesswells"}

    names.write_text("code,name\nS13002483,George Street and Harbour\nS13002482,Midstocket/Rosemount\n", encoding="utf-8")
    assert import_ward_names(connection, names) == 2
    assert wards(connection) == {
        "S13002483": "George Street and Harbour",
        "S13002485": "Hazlehead/Queens Cross/Countesswells",
        "S13002482": "Midstocket/Rosemount",
    }


def test_ward_names_in_the_ons_names_and_codes_layout_work_too(connection, tmp_path):
    names = write_csv(
        tmp_path / "WD24_names.csv",
        ["FID", "WD24CD", "WD24NM", "WD24NMW"],
        [["1", "W05001036", "Cathays", "Cathays"], ["2", "E05011122", "Ladywood", ""]],
    )
    assert import_ward_names(connection, names) == 2
    assert wards(connection) == {"W05001036": "Cathays", "E05011122": "Ladywood"}


def test_a_ward_names_file_without_code_and_name_is_refused(connection, tmp_path):
    names = write_csv(tmp_path / "bad.csv", ["ward", "label"], [["E05011122", "Ladywood"]])
    with pytest.raises(PostcodeFileError, match="'code' and 'name'"):
        import_ward_names(connection, names)


# --- progress ------------------------------------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_is_drawn_on_a_terminal_and_silent_otherwise(connection, tmp_path):
    terminal = FakeTerminal()
    import_postcodes(connection, SAMPLE, batch_size=3, progress=terminal)
    drawn = terminal.getvalue()
    assert "\r" in drawn and "100.0%" in drawn and "rows/s" in drawn and drawn.endswith("\n")

    pipe = io.StringIO()
    import_postcodes(connection, SAMPLE, progress=pipe)
    assert pipe.getvalue() == ""


def test_progress_redraws_at_most_every_interval():
    terminal = FakeTerminal()
    bar = Progress(1000, terminal, interval=60)
    for done in range(0, 1000, 10):
        bar.update(done, done)
    bar.finish(1000, 1000)
    assert terminal.getvalue().count("\r") == 2  # the first draw and the final one


# --- committed for real, and the command line ----------------------------------------------------


@pytest.fixture(scope="module")
def fresh_database(databases):
    url = databases.new("importer")
    upgrade_to_head(url)
    return url


def test_each_batch_is_committed_when_given_an_engine(fresh_database):
    engine = make_engine(fresh_database)
    try:
        with engine.begin() as connection:
            connection.execute(PostcodeLocation.__table__.delete())
        result = import_postcodes(engine, SAMPLE, batch_size=5)
        assert isinstance(result, ImportResult) and result.imported == 12
        with engine.connect() as connection:  # a new connection sees every row
            assert connection.execute(select(func.count()).select_from(PostcodeLocation.__table__)).scalar_one() == 12
        import_postcodes(engine, SAMPLE, batch_size=5)
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(PostcodeLocation.__table__)).scalar_one() == 12
    finally:
        engine.dispose()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="marketplace")
    commands = parser.add_subparsers(dest="command", required=True)
    add_import_commands(commands)
    return parser


def _run_in_process(argv, url, monkeypatch, capsys):
    monkeypatch.setenv("MARKETPLACE_DATABASE_URL", url)
    monkeypatch.setenv("MARKETPLACE_ENVIRONMENT", "test")
    args = _parser().parse_args(argv)
    code = args.handler(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_command_functions_import_and_report(fresh_database, tmp_path, monkeypatch, capsys):
    names = write_csv(tmp_path / "wards.csv", ["code", "name"], [["S13002483", "George St/Harbour"]])
    code, out, err = _run_in_process(
        ["import-postcodes", str(SAMPLE), "--ward-names", str(names), "--batch-size", "4"], fresh_database, monkeypatch, capsys
    )
    assert code == 0, err
    assert "imported 12 postcodes (read 12, skipped 0) and 1 ward names" in out
    assert "\r" not in err  # not a terminal: no progress bar

    code, _out, err = _run_in_process(["import-postcodes", str(tmp_path / "missing.csv")], fresh_database, monkeypatch, capsys)
    assert code == 2 and "no such file" in err

    with pytest.raises(SystemExit):
        _parser().parse_args(["import-postcodes", str(SAMPLE), "--batch-size", "0"])


def test_the_command_says_to_migrate_first_on_an_empty_database(databases, monkeypatch, capsys):
    code, _out, err = _run_in_process(["import-postcodes", str(SAMPLE)], databases.new("empty"), monkeypatch, capsys)
    assert code == 2 and "marketplace migrate" in err


def test_the_marketplace_command_imports_postcodes(fresh_database, tmp_path):
    """The real `marketplace` process (needs `import-postcodes` wired into app/cli.py)."""
    names = write_csv(tmp_path / "wards.csv", ["code", "name"], [["S13002483", "George St/Harbour"]])
    env = {**os.environ, "MARKETPLACE_DATABASE_URL": fresh_database, "MARKETPLACE_ENVIRONMENT": "test"}
    command = [MARKETPLACE, "import-postcodes", str(SAMPLE), "--ward-names", str(names)]
    for _ in range(2):  # twice: the second run changes nothing
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "imported 12 postcodes" in result.stdout
        assert "\r" not in result.stderr
    engine = make_engine(fresh_database)
    try:
        with engine.connect() as connection:
            found = locations(connection)
            assert len(found) >= 12 and found["AB10 1AB"][3] == "S13002483"
            assert wards(connection)["S13002483"] == "George St/Harbour"
    finally:
        engine.dispose()

    bad = subprocess.run([MARKETPLACE, "import-postcodes", str(tmp_path / "missing.csv")], env=env,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no such file" in bad.stderr
