"""Alembic helpers: migrate to head, and render our column types as plain SQLAlchemy ones."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlmodel.sql.sqltypes import AutoString

from app.core.db import UTCDateTime

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def alembic_config(database_url: str | None = None, connection=None) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    if database_url:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_to_head(database_url: str | None = None, connection=None) -> None:
    command.upgrade(alembic_config(database_url, connection), "head")


def render_item(type_: str, obj, autogen_context):
    # Migrations stay free of application types: a UTCDateTime is a timezone-aware DateTime.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, sa.Enum) and not obj.native_enum:
        return f"sa.String(length={obj.length})"
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    # Alembic's own table, and the job queue's (huey's schema, made by migration 0009).
    from app.core.jobs import QUEUE_TABLES

    if type_ == "table" and (name == "alembic_version" or name in QUEUE_TABLES):
        return False
    if type_ == "index" and reflected and getattr(getattr(obj, "table", None), "name", None) in QUEUE_TABLES:
        return False
    return True
