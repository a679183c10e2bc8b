"""The database: migrations give exactly the models' schema, times are UTC, SQLite is set up safely."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import StatementError

from app.accounts.models import LoginAttempt
from app.core.db import make_engine
from app.core.jobs import POSTGRES_QUEUE_TABLES, SQLITE_QUEUE_TABLES
from app.migrations_support import alembic_config, include_object, upgrade_to_head
from app.models import metadata

# --- migrations --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def migrated_fresh_database(databases):
    """An empty database brought to head by Alembic alone; the tests below only read it."""
    url = databases.new("drift")
    upgrade_to_head(url)
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


def test_alembic_upgrade_head_on_an_empty_database_gives_exactly_the_models_schema(migrated_fresh_database):
    _url, engine = migrated_fresh_database
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        differences = compare_metadata(context, metadata)
        assert differences == []

        # Every model table is really there (an empty comparison is not an empty database).
        tables = set(inspect(connection).get_table_names())
        assert set(metadata.tables) <= tables
        # ... besides Alembic's own and the job queue's (huey's schema, per database).
        queue = SQLITE_QUEUE_TABLES if engine.dialect.name == "sqlite" else POSTGRES_QUEUE_TABLES
        assert tables - set(metadata.tables) == {"alembic_version", *queue}

        # And the database is stamped at the newest revision.
        heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
        assert {context.get_current_revision()} == heads


def test_the_drift_check_would_notice_a_missing_index(migrated_fresh_database):
    """The comparison above is not vacuous: a schema that differs from the models is reported."""
    _url, engine = migrated_fresh_database
    with engine.connect() as connection:
        transaction = connection.begin()
        connection.execute(text("DROP INDEX ix_login_attempt_address_key_attempted_at"))
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        differences = compare_metadata(context, metadata)
        transaction.rollback()  # DDL is transactional on both databases: the shared schema stays intact
    missing = [diff[1].name for diff in differences if diff[0] == "add_index"]
    assert missing == ["ix_login_attempt_address_key_attempted_at"]


def test_constraints_follow_the_naming_convention(migrated_fresh_database):
    _url, engine = migrated_fresh_database
    with engine.connect() as connection:
        inspector = inspect(connection)
        foreign_keys = {fk["name"] for fk in inspector.get_foreign_keys("user_session")}
        uniques = {uq["name"] for uq in inspector.get_unique_constraints("account")}
        indexes = {ix["name"] for ix in inspector.get_indexes("account")}
    assert foreign_keys == {"fk_user_session_account_id_account"}
    assert uniques == {"uq_account_email"}
    assert "ix_account_is_demo" in indexes


def test_upgrade_head_twice_is_harmless(migrated_fresh_database):
    url, engine = migrated_fresh_database
    upgrade_to_head(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        assert compare_metadata(context, metadata) == []


# --- timezone-aware UTC ------------------------------------------------------------------------


def _store_and_reload(session_factory, when: datetime) -> tuple[datetime, object]:
    with session_factory() as writer:
        row = LoginAttempt(account_key="k" * 64, address_key="a" * 64, attempted_at=when)
        writer.add(row)
        writer.commit()
        row_id = row.id
    with session_factory() as reader:
        loaded = reader.execute(select(LoginAttempt).where(LoginAttempt.id == row_id)).scalar_one()
        raw = reader.execute(text("SELECT attempted_at FROM login_attempt WHERE id = :id"), {"id": row_id}).scalar_one()
        return loaded.attempted_at, raw


def test_a_utc_datetime_comes_back_timezone_aware_utc(session_factory):
    when = datetime(2025, 3, 30, 0, 30, 15, 123456, tzinfo=UTC)
    loaded, _raw = _store_and_reload(session_factory, when)
    assert loaded.tzinfo is not None
    assert loaded.utcoffset() == timedelta(0)
    assert loaded == when
    assert (loaded.year, loaded.month, loaded.day, loaded.hour, loaded.minute, loaded.second, loaded.microsecond) == (
        2025, 3, 30, 0, 30, 15, 123456,
    )


def test_a_datetime_in_another_zone_comes_back_as_the_same_instant_in_utc(session_factory, engine):
    kolkata = timezone(timedelta(hours=5, minutes=30))
    when = datetime(2025, 7, 1, 9, 15, tzinfo=kolkata)  # 03:45 UTC
    loaded, raw = _store_and_reload(session_factory, when)
    assert loaded == when
    assert loaded.utcoffset() == timedelta(0)
    assert (loaded.hour, loaded.minute) == (3, 45)
    # What the database itself holds is the UTC instant, not the local wall time.
    if engine.dialect.name == "sqlite":
        assert str(raw).startswith("2025-07-01 03:45:00")
    else:
        assert raw.tzinfo is not None and raw == when


def test_a_naive_datetime_is_refused(session_factory):
    with session_factory() as session:
        session.add(LoginAttempt(account_key="k" * 64, address_key="a" * 64, attempted_at=datetime(2025, 1, 1, 12, 0)))
        with pytest.raises(StatementError, match="naive datetime refused"):
            session.flush()
        session.rollback()
        assert session.execute(select(LoginAttempt)).first() is None


def test_timestamp_columns_are_timezone_aware_in_postgresql_and_sqlite(migrated_fresh_database):
    _url, engine = migrated_fresh_database
    with engine.connect() as connection:
        columns = {c["name"]: c for c in inspect(connection).get_columns("login_attempt")}
    column_type = columns["attempted_at"]["type"]
    if engine.dialect.name == "postgresql":
        assert getattr(column_type, "timezone", False) is True  # timestamptz
    else:
        assert "DATETIME" in str(column_type).upper() or "TIMESTAMP" in str(column_type).upper()


# --- SQLite pragmas ----------------------------------------------------------------------------


@pytest.mark.parametrize("databases", ["sqlite"], indirect=True)
def test_sqlite_connections_have_foreign_keys_wal_and_a_busy_timeout(engine):
    assert engine.dialect.name == "sqlite"
    # Two connections at once: the pragmas are set on every new connection, not once.
    with engine.connect() as first, engine.connect() as second:
        for connection in (first, second):
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar().lower() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0


def test_a_fresh_sqlite_file_gets_the_pragmas_too(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'fresh.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar().lower() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
    finally:
        engine.dispose()
    assert (tmp_path / "nested" / "fresh.db").exists()


@pytest.mark.parametrize("databases", ["sqlite"], indirect=True)
def test_sqlite_enforces_foreign_keys(connection):
    from app.accounts.models import UserSession
    from app.core.db import make_session_factory

    factory = make_session_factory(connection, join_transaction_mode="create_savepoint")
    with factory() as session:
        session.add(UserSession(id="0" * 64, account_id=987654321))
        with pytest.raises(Exception, match="FOREIGN KEY"):
            session.flush()
