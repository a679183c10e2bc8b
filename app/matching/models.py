"""Matches between an offer and a help request, and the allocation runs that suggest them."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, enum_column, utcnow


class MatchStatus(str, enum.Enum):
    suggested = "suggested"
    proposed = "proposed"
    accepted = "accepted"
    active = "active"
    completed = "completed"
    declined = "declined"
    cancelled = "cancelled"


OPEN_STATUSES = (MatchStatus.suggested, MatchStatus.proposed, MatchStatus.accepted, MatchStatus.active)
# The status machine of DESIGN.md; the brokering workflow (a later issue) walks it.
TRANSITIONS = {
    MatchStatus.suggested: {MatchStatus.proposed, MatchStatus.declined, MatchStatus.cancelled},
    MatchStatus.proposed: {MatchStatus.accepted, MatchStatus.declined, MatchStatus.cancelled},
    MatchStatus.accepted: {MatchStatus.active, MatchStatus.cancelled},
    MatchStatus.active: {MatchStatus.completed, MatchStatus.cancelled},
    MatchStatus.completed: set(),
    MatchStatus.declined: set(),
    MatchStatus.cancelled: set(),
}


# Places an offer has in use: matches both people agreed to and not yet ended.
PLACE_HOLDING = (MatchStatus.accepted, MatchStatus.active)


class MatchSide(str, enum.Enum):
    offer = "offer"
    request = "request"

    @property
    def other(self) -> MatchSide:
        return MatchSide.request if self is MatchSide.offer else MatchSide.offer


class DeclineReason(str, enum.Enum):
    not_now = "not_now"  # not the right time
    too_far = "too_far"
    not_needed = "not_needed"  # not what I need
    other = "other"


class Answer(str, enum.Enum):
    pending = "pending"
    yes = "yes"
    no = "no"


class RunStatus(str, enum.Enum):
    queued = "queued"  # waiting for the worker (or for another run of the same area to end)
    running = "running"
    finished = "finished"
    failed = "failed"  # failed for good, after every retry; `error` says why (never personal data)


class MatchRun(SQLModel, table=True):
    __tablename__ = "match_run"

    id: int | None = Field(default=None, primary_key=True)
    status: RunStatus = Field(sa_type=enum_column(RunStatus, 16), default=RunStatus.queued)
    error: str | None = Field(default=None, max_length=300)
    started_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    finished_at: datetime | None = Field(sa_type=UTCDateTime, default=None)
    ward_code: str | None = Field(default=None, max_length=9)
    triggered_by_account_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    requests_considered: int = 0
    offers_considered: int = 0
    candidate_pairs: int = 0
    requests_covered: int = 0
    offers_used: int = 0
    new_suggestions: int = 0
    total_score: int = 0
    milliseconds: int = 0


class Match(SQLModel, table=True):
    __table_args__ = (
        # One open match per pair, so a re-run can never duplicate a suggestion still open.
        sa.Index(
            "uq_match_open_pair",
            "offer_id",
            "request_id",
            unique=True,
            sqlite_where=sa.text("status IN ('suggested', 'proposed', 'accepted', 'active')"),
            postgresql_where=sa.text("status IN ('suggested', 'proposed', 'accepted', 'active')"),
        ),
        sa.Index("ix_match_request_id_status", "request_id", "status"),
        sa.Index("ix_match_offer_id_status", "offer_id", "status"),
        sa.CheckConstraint("score >= 0 AND score <= 1000", name="score_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # RESTRICT: a match is two people's history; neither side's deletion may take it away.
    offer_id: int = Field(foreign_key="offer.id", ondelete="RESTRICT")
    request_id: int = Field(foreign_key="help_request.id", ondelete="RESTRICT")
    run_id: int | None = Field(default=None, foreign_key="match_run.id", index=True, ondelete="SET NULL")
    status: MatchStatus = Field(sa_type=enum_column(MatchStatus, 16), default=MatchStatus.suggested)
    score: int  # 0..1000, exact
    breakdown: dict = Field(sa_type=sa.JSON, default_factory=dict)
    explanation: str = Field(max_length=300)
    distance_km: float | None = None  # rounded to 0.5 km
    offer_answer: Answer = Field(sa_type=enum_column(Answer, 8), default=Answer.pending)
    request_answer: Answer = Field(sa_type=enum_column(Answer, 8), default=Answer.pending)
    brokered_by_account_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    minutes_given: int | None = None  # time given, in whole minutes (exact)
    outcome: str | None = Field(default=None, max_length=2000)
    # Optimistic locking: every change is `UPDATE … WHERE version = :seen`, so two linkers cannot
    # both broker the same match (the service checks the row count).
    version: int = Field(default=1)
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    updated_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    # The workflow (see `matching.workflow`): who asked, why it ended, and each side's account of
    # the time given (the recorded `minutes_given` is what both confirmed, or the lower after 14 days).
    proposed_by: MatchSide | None = Field(sa_type=enum_column(MatchSide, 8), default=None)
    ended_by: MatchSide | None = Field(sa_type=enum_column(MatchSide, 8), default=None)
    decline_reason: DeclineReason | None = Field(sa_type=enum_column(DeclineReason, 16), default=None)
    decline_note: str | None = Field(default=None, max_length=500)
    cancel_reason: str | None = Field(default=None, max_length=300)
    offer_minutes: int | None = None
    request_minutes: int | None = None
    proposed_at: datetime | None = Field(sa_type=UTCDateTime, default=None, index=True)  # the answer clock starts here
    accepted_at: datetime | None = Field(sa_type=UTCDateTime, default=None, index=True)
    completed_at: datetime | None = Field(sa_type=UTCDateTime, default=None, index=True)


class MatchMessage(SQLModel, table=True):
    """A message between the two people of a match: plain text, kept with the match. Mail says
    only that one arrived, never what it says."""

    __tablename__ = "match_message"

    id: int | None = Field(default=None, primary_key=True)
    match_id: int = Field(foreign_key="match.id", index=True, ondelete="RESTRICT")
    sender_side: MatchSide = Field(sa_type=enum_column(MatchSide, 8))
    sender_account_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    body: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)


class WellbeingStage(str, enum.Enum):
    before = "before"  # before a person's first match is completed: their starting point
    after = "after"  # after a match is completed


class WellbeingAnswer(SQLModel, table=True):
    """A person's own answers to the four ONS personal wellbeing questions (0 to 10), given on a
    match page, optionally. Never shown to anyone else: reports see only totals and averages of 10
    or more people (`app.reports`); the person sees them in their data export and erasure deletes
    them."""

    __tablename__ = "wellbeing_answer"
    __table_args__ = (
        # One starting point per person; one "after" per person and match.
        sa.Index(
            "uq_wellbeing_answer_before",
            "person_id",
            unique=True,
            sqlite_where=sa.text("stage = 'before'"),
            postgresql_where=sa.text("stage = 'before'"),
        ),
        sa.UniqueConstraint("person_id", "match_id", "stage"),
        sa.Index("ix_wellbeing_answer_stage_answered_at", "stage", "answered_at"),
        *(
            sa.CheckConstraint(f"{measure} >= 0 AND {measure} <= 10", name=f"{measure}_range")
            for measure in ("life_satisfaction", "worthwhile", "happiness", "anxiety")
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # RESTRICT: erasure deletes a person's answers itself (app.matching.privacy).
    person_id: int = Field(foreign_key="person.id", ondelete="RESTRICT")
    match_id: int = Field(foreign_key="match.id", index=True, ondelete="RESTRICT")
    stage: WellbeingStage = Field(sa_type=enum_column(WellbeingStage, 8))
    life_satisfaction: int
    worthwhile: int
    happiness: int
    anxiety: int
    answered_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    # Who typed them in: the person, or a linker who asked them (by phone, say).
    recorded_by_account_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
