"""Consent records (ISO/IEC TS 27560 and ICO guidance): one record per consent given, per purpose."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, enum_column, utcnow


class ConsentPurpose(str, enum.Enum):
    profile = "profile"
    matching = "matching"
    share_contact = "share_contact"
    linker_contact = "linker_contact"


class ConsentState(str, enum.Enum):
    given = "given"
    withdrawn = "withdrawn"
    expired = "expired"


class ConsentMethod(str, enum.Enum):
    online = "online"
    verbal = "verbal"
    paper = "paper"


class ConsentRecord(SQLModel, table=True):
    """Giving consent creates a record; withdrawing it closes that record (state and time).

    A person has at most one `given` record per purpose: the service withdraws or expires the
    previous one before recording a new one.
    """

    __tablename__ = "consent_record"
    __table_args__ = (
        sa.Index("ix_consent_record_person_id_purpose_state", "person_id", "purpose", "state"),
        # Who holds one purpose now (the linkers' pool: `linker_contact`), without a scan.
        sa.Index("ix_consent_record_purpose_state_person_id", "purpose", "state", "person_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", ondelete="CASCADE")
    purpose: ConsentPurpose = Field(sa_type=enum_column(ConsentPurpose, 24))
    state: ConsentState = Field(sa_type=enum_column(ConsentState, 16))
    notice_version: str = Field(max_length=32)
    notice_hash: str = Field(max_length=64)
    language: str = Field(default="en", max_length=16)
    method: ConsentMethod = Field(sa_type=enum_column(ConsentMethod, 16))
    recorded_by_account_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    recorded_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    withdrawn_at: datetime | None = Field(sa_type=UTCDateTime, default=None)


class ConsentPublic(BaseModel):
    purpose: ConsentPurpose
    given: bool
    state: ConsentState | None
    notice_version: str | None
    method: ConsentMethod | None
    recorded_at: datetime | None
    withdrawn_at: datetime | None
