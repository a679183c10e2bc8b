"""Privacy-rights fixtures: the matching garden (real people, items and matches), an app that
mails through a real local SMTP server, and a look at every text column of the database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.main import create_app
from tests.devtools.conftest import fresh_database, marketplace  # noqa: F401  (fixtures)
from tests.matching.conftest import garden  # noqa: F401  (a fixture)
from tests.smtp import SmtpServer


@pytest.fixture()
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture()
def api(settings, engine, session_factory, smtp):
    mail_settings = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_starttls": False})
    app = create_app(mail_settings, engine=engine, session_factory=session_factory)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def text_columns(db) -> list[tuple[str, str]]:
    """Every column of every table in the database that can hold text (read from the database
    itself, not from the models, so the queue's tables and anything unmodelled count too)."""
    inspector = sa.inspect(db.connection())
    found = []
    for table in inspector.get_table_names():
        for column in inspector.get_columns(table):
            kind = column["type"]
            if isinstance(kind, (sa.String, sa.Text)) or type(kind).__name__.upper() in {"TEXT", "VARCHAR", "JSON", "JSONB"}:
                found.append((table, column["name"]))
    return found


def where_text_appears(db, needle: str) -> list[str]:
    """`table.column` for each text column holding `needle` (case-insensitive) in any row."""
    hits = []
    for table, column in text_columns(db):
        quoted_table, quoted_column = db.get_bind().dialect.identifier_preparer.quote(table), db.get_bind().dialect.identifier_preparer.quote(column)
        statement = sa.text(f"SELECT COUNT(*) FROM {quoted_table} WHERE LOWER(CAST({quoted_column} AS TEXT)) LIKE :needle")
        if db.execute(statement, {"needle": f"%{needle.lower()}%"}).scalar_one():
            hits.append(f"{table}.{column}")
    return hits
