"""Consent records (ISO/IEC TS 27560 and ICO guidance): one record per consent given, per purpose."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, computed_field
from pydantic import Field as PydanticField
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


class ConsentRecorder(str, enum.Enum):
    """Who made the record: the person themself (online), a linker for them, or the service
    (a record ended because the person's data was erased)."""

    self = "self"
    linker = "linker"
    service = "service"


class ConsentRecord(SQLModel, table=True):
    """One consent event, after ISO/IEC TS 27560: what the person was told, what they chose, how,
    who took it down, and on what terms. A record is never edited: a change (withdrawal, consent
    under a newer notice, the end of the record at erasure) is a new record, and the one it
    replaces only gains `superseded_at`. A person's current choice for a purpose is the record
    with no `superseded_at` (at most one, by a partial unique index).
    """

    __tablename__ = "consent_record"
    __table_args__ = (
        sa.Index("ix_consent_record_person_id_purpose_state", "person_id", "purpose", "state"),
        # Who holds one purpose now (the linkers' pool: `linker_contact`), without a scan.
        sa.Index("ix_consent_record_purpose_state_person_id", "purpose", "state", "person_id"),
        sa.Index(
            "uq_consent_record_current",
            "person_id",
            "purpose",
            unique=True,
            sqlite_where=sa.text("superseded_at IS NULL"),
            postgresql_where=sa.text("superseded_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # RESTRICT: a person is anonymised, never deleted, so the evidence always has its subject.
    person_id: int = Field(foreign_key="person.id", ondelete="RESTRICT")
    purpose: ConsentPurpose = Field(sa_type=enum_column(ConsentPurpose, 24))
    state: ConsentState = Field(sa_type=enum_column(ConsentState, 16))
    notice_version: str = Field(max_length=32)
    notice_hash: str = Field(max_length=64)
    language: str = Field(default="en", max_length=16)
    method: ConsentMethod = Field(sa_type=enum_column(ConsentMethod, 16))
    recorder: ConsentRecorder = Field(sa_type=enum_column(ConsentRecorder, 16), default=ConsentRecorder.self)
    recorded_by_account_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    recorded_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    withdrawn_at: datetime | None = Field(sa_type=UTCDateTime, default=None)
    # The terms as they stood when the record was made (a later change of settings leaves them).
    controller: str = Field(default="", max_length=200)
    legal_basis: str = Field(default="", max_length=200)
    retention: str = Field(default="", max_length=300)
    how_to_withdraw: str = Field(default="", max_length=300)
    superseded_at: datetime | None = Field(sa_type=UTCDateTime, default=None)


class ConsentRecordPublic(BaseModel):
    """A consent record as the person (and the API) sees it: every field of the record."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    subject: int = PydanticField(validation_alias="person_id")  # after erasure, an anonymous subject
    purpose: ConsentPurpose
    state: ConsentState
    notice_version: str
    notice_hash: str
    language: str
    method: ConsentMethod
    recorded_by: ConsentRecorder = PydanticField(validation_alias="recorder")
    recorded_by_account_id: int | None
    recorded_at: datetime
    controller: str
    legal_basis: str
    retention: str
    how_to_withdraw: str
    withdrawn_at: datetime | None
    superseded_at: datetime | None

    @computed_field
    @property
    def given(self) -> bool:
        """The choice this record holds now: yes only while it is current and given."""
        return self.state is ConsentState.given and self.superseded_at is None


class ErasureChannel(str, enum.Enum):
    """How the request to erase came: the person online, to a linker, or the retention rule."""

    online = "online"
    phone = "phone"
    in_person = "in_person"
    letter = "letter"
    email = "email"
    retention = "retention"


class ErasureRecord(SQLModel, table=True):
    """The evidence that a person's data was erased, and at whose request. It holds no personal
    data: the subject is the anonymised person row."""

    __tablename__ = "erasure_record"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", unique=True, ondelete="RESTRICT")
    channel: ErasureChannel = Field(sa_type=enum_column(ErasureChannel, 16))
    requested_on: datetime = Field(sa_type=UTCDateTime)
    recorded_by_account_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    erased_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)


class Export(BaseModel):
    """Everything held about me. The parts are plain data; their fields are documented in the
    README's "Your data" section."""

    account: dict | None
    person: dict
    offers: list[dict]
    help_requests: list[dict]
    matches: list[dict]
    messages: list[dict]
    consents: list[dict]
    consent_history: list[dict]
    access_log: list[dict]
    generated_at: datetime
