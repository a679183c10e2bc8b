"""A linker's caseload: who is on it (with history), notes, contact attempts, follow-ups, and the
one-time codes that let a person registered by a linker claim an online account."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, enum_column, utcnow
from app.core.validation import WholeNumber, YesNo
from app.privacy.models import ConsentMethod
from app.registry import fields as f
from app.registry.models import ContactMethod, PersonName


class CaseAssignment(SQLModel, table=True):
    """A person on one linker's caseload from `started_at` until `ended_at` (a handover or a
    pick-up starts a new row, so the history stays). At most one open row per person: the
    partial unique index is what makes two linkers picking up the same person a clean refusal."""

    __tablename__ = "case_assignment"
    __table_args__ = (
        sa.Index(
            "uq_case_assignment_open_person",
            "person_id",
            unique=True,
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        ),
        sa.Index("ix_case_assignment_linker_account_id_ended_at", "linker_account_id", "ended_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", ondelete="RESTRICT")
    linker_account_id: int = Field(foreign_key="account.id", ondelete="RESTRICT")
    assigned_by_account_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    note: str | None = Field(default=None, max_length=1000)  # a handover's note for the next linker
    started_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    ended_at: datetime | None = Field(sa_type=UTCDateTime, default=None)


class CaseNote(SQLModel, table=True):
    """A dated note on a person (and optionally one of their matches). The author may change it
    within an hour; after that a correction is a new note pointing to the old one."""

    __tablename__ = "case_note"
    __table_args__ = (sa.Index("ix_case_note_person_id_created_at", "person_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", ondelete="RESTRICT")
    # SET NULL: a note belongs to this person, and outlives a match the other side erased.
    match_id: int | None = Field(default=None, foreign_key="match.id", index=True, ondelete="SET NULL")
    author_account_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    body: str = Field(sa_type=sa.Text)
    sensitive: bool = False
    corrects_note_id: int | None = Field(default=None, foreign_key="case_note.id", ondelete="SET NULL")
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    edited_at: datetime | None = Field(sa_type=UTCDateTime, default=None)


class AttemptOutcome(str, enum.Enum):
    reached = "reached"
    left_message = "left_message"
    no_answer = "no_answer"
    wrong_number = "wrong_number"


FAILED_OUTCOMES = (AttemptOutcome.left_message, AttemptOutcome.no_answer, AttemptOutcome.wrong_number)


class ContactAttempt(SQLModel, table=True):
    __tablename__ = "contact_attempt"
    __table_args__ = (sa.Index("ix_contact_attempt_person_id_attempted_at", "person_id", "attempted_at"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", ondelete="RESTRICT")
    linker_account_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    outcome: AttemptOutcome = Field(sa_type=enum_column(AttemptOutcome, 16))
    attempted_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)


class FollowUpResult(str, enum.Enum):
    done = "done"
    not_done = "not_done"


class FollowUp(SQLModel, table=True):
    __tablename__ = "follow_up"
    __table_args__ = (sa.Index("ix_follow_up_person_id_finished_at", "person_id", "finished_at"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", ondelete="RESTRICT")
    created_by_account_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    due_on: date
    what: str = Field(max_length=300)
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    finished_at: datetime | None = Field(sa_type=UTCDateTime, default=None)
    finished_by_account_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    result: FollowUpResult | None = Field(sa_type=enum_column(FollowUpResult, 16), default=None)
    result_note: str | None = Field(default=None, max_length=1000)


class AccountClaim(SQLModel, table=True):
    """A one-time code for a person without an account: only its keyed hash is kept."""

    __tablename__ = "account_claim"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True, ondelete="RESTRICT")
    code_digest: str = Field(max_length=64, unique=True)
    created_by_account_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(sa_type=UTCDateTime, default=None)


class MatchIntroduction(SQLModel, table=True):
    """A linker put the two people of an accepted match in touch (they had not shared contact).
    Seeing both contacts to do it is an audited access; this row says it was done."""

    __tablename__ = "match_introduction"

    id: int | None = Field(default=None, primary_key=True)
    match_id: int = Field(foreign_key="match.id", unique=True, ondelete="RESTRICT")
    linker_account_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    introduced_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)


class DigestSent(SQLModel, table=True):
    """One weekday digest per linker per day, however often the job is retried."""

    __tablename__ = "digest_sent"
    __table_args__ = (sa.UniqueConstraint("account_id", "sent_on", name="uq_digest_sent_account_day"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE")
    sent_on: date


# --- the edges ---------------------------------------------------------------------------------


class _Edge(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecordedConsent(_Edge):
    given: YesNo = False
    method: ConsentMethod = ConsentMethod.verbal


class AssistedConsents(_Edge):
    profile: RecordedConsent
    matching: RecordedConsent = RecordedConsent()
    share_contact: RecordedConsent = RecordedConsent()
    linker_contact: RecordedConsent = RecordedConsent()


class AssistedRegistration(_Edge):
    """A person registered by a linker: no account, consents recorded with their method."""

    name: PersonName
    postcode: f.Postcode
    phone: f.Phone = ""
    email: f.OptionalEmail = ""
    address: f.Text(300, multiline=True) = ""  # type: ignore[valid-type]
    preferred_contact: ContactMethod = ContactMethod.phone
    contact_times: f.Text(200) = ""  # type: ignore[valid-type]
    access_needs: f.Text(1000, multiline=True) = ""  # type: ignore[valid-type]
    language_needs: f.Text(200) = ""  # type: ignore[valid-type]
    consents: AssistedConsents


class PersonOut(BaseModel):
    id: int
    name: str
    postcode: str | None
    ward_code: str | None
    on_caseload_of: int | None


class PersonDetail(PersonOut):
    phone: str | None
    email: str | None
    address: str | None
    preferred_contact: ContactMethod
    contact_times: str | None
    access_needs: str | None
    language_needs: str | None
    has_account: bool


class PoolPerson(BaseModel):
    """What any linker may see of a person in the pool: a name and a ward, nothing more."""

    id: int
    name: str
    ward_code: str | None
    waiting_since: datetime


class HandoverIn(_Edge):
    to_account_id: WholeNumber
    note: str = PydanticField(default="", max_length=1000)


class NoteIn(_Edge):
    body: str = PydanticField(min_length=1, max_length=5000)
    sensitive: YesNo = False
    match_id: WholeNumber | None = None
    corrects_note_id: WholeNumber | None = None


class NoteOut(BaseModel):
    id: int
    person_id: int
    match_id: int | None
    author_account_id: int | None
    body: str
    sensitive: bool
    corrects_note_id: int | None
    created_at: datetime
    edited_at: datetime | None


class AttemptIn(_Edge):
    outcome: AttemptOutcome


class AttemptOut(BaseModel):
    id: int
    outcome: AttemptOutcome
    attempted_at: datetime
    follow_up_raised: int | None


class FollowUpIn(_Edge):
    due_on: date
    what: str = PydanticField(min_length=1, max_length=300)


class FollowUpDoneIn(_Edge):
    done: YesNo = True
    note: str | None = PydanticField(default=None, max_length=1000)


class FollowUpOut(BaseModel):
    id: int
    person_id: int
    due_on: date
    what: str
    state: str  # overdue, due_soon, later, done, not_done
    result: FollowUpResult | None
    result_note: str | None
    finished_at: datetime | None
