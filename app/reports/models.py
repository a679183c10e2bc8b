"""Reports keep no personal data: only the published (already protected) figures of a report,
worked out once a day (or when first asked for) so that pages answer at once."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, utcnow


class ReportSnapshot(SQLModel, table=True):
    """One report's published figures for one period (and breakdown, and ward filter)."""

    __tablename__ = "report_snapshot"
    __table_args__ = (
        sa.UniqueConstraint(
            "report", "by", "first_day", "last_day", "ward", name="uq_report_snapshot_key"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    report: str = Field(max_length=32)  # participation, linker_work, social_value
    by: str = Field(default="", max_length=16)  # "" when the report has no breakdown
    first_day: date
    last_day: date
    ward: str = Field(default="", max_length=16)  # "" for every ward
    computed_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    milliseconds: int = 0  # how long working it out took
    figures: dict = Field(sa_type=sa.JSON, default_factory=dict)
