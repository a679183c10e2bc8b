"""The match workflow as pure rules: which change each state allows, and what it changes.

    suggested -> proposed -> accepted -> active -> completed
    (suggested, proposed) -> declined;  (suggested ... active) -> cancelled

`next_state` is the only place that decides a match's next `status`; the service applies what it
returns with `UPDATE ... WHERE version = :seen`, so of several racing changes exactly one wins.
No session, no request: plain values in, plain values out.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.core.i18n import N_
from app.matching.models import TRANSITIONS, Answer, DeclineReason, MatchSide, MatchStatus

# After this long, the time recorded for a completed match is the lower of the two accounts.
TIME_CONFIRMATION_DAYS = 14
MAX_MINUTES = 24 * 60  # one match, one go: a day at most


class Event(str, enum.Enum):
    propose = "propose"
    accept = "accept"
    decline = "decline"
    start = "start"
    complete = "complete"
    confirm_time = "confirm_time"
    cancel = "cancel"
    # Nobody answered within the time allowed (`match_answer_days`): the system ends it.
    expire = "expire"

EXPIRED_REASON = "expired"


class NotAllowed(Exception):
    """The change does not fit the match's state; the message is fit to show (an English id)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class State:
    status: MatchStatus
    offer_answer: Answer = Answer.pending
    request_answer: Answer = Answer.pending
    offer_minutes: int | None = None
    request_minutes: int | None = None
    completed_at: datetime | None = None

    def answer(self, side: MatchSide) -> Answer:
        return self.offer_answer if side is MatchSide.offer else self.request_answer


def _answer_field(side: MatchSide) -> str:
    return f"{side.value}_answer"


def _minutes_field(side: MatchSide) -> str:
    return f"{side.value}_minutes"


def next_state(
    state: State,
    event: Event,
    side: MatchSide,
    *,
    now: datetime,
    minutes: int | None = None,
    reason: DeclineReason | str | None = None,
    note: str | None = None,
    outcome: str | None = None,
) -> dict[str, Any]:
    """The columns `event` by `side` changes, or `NotAllowed` saying why it cannot happen now."""
    status = state.status
    changes: dict[str, Any]
    if event is Event.propose:
        if status is not MatchStatus.suggested:
            raise NotAllowed(N_("You have already asked about this match"))
        changes = {
            "status": MatchStatus.proposed,
            "proposed_by": side,
            "proposed_at": now,
            _answer_field(side): Answer.yes,
            _answer_field(side.other): Answer.pending,
        }
    elif event is Event.accept:
        if status is not MatchStatus.proposed:
            raise NotAllowed(N_("This match is not waiting for an answer"))
        if state.answer(side) is not Answer.pending:
            raise NotAllowed(N_("You have already answered"))
        both = state.answer(side.other) is Answer.yes
        changes = {_answer_field(side): Answer.yes}
        if both:
            changes |= {"status": MatchStatus.accepted, "accepted_at": now}
    elif event is Event.decline:
        if status not in (MatchStatus.suggested, MatchStatus.proposed):
            raise NotAllowed(N_("This match can no longer be declined: you can cancel it instead"))
        if status is MatchStatus.proposed and state.answer(side) is not Answer.pending:
            raise NotAllowed(N_("You asked for this match: you can cancel it instead"))
        changes = {
            "status": MatchStatus.declined,
            _answer_field(side): Answer.no,
            "ended_by": side,
            "decline_reason": DeclineReason(reason) if reason else DeclineReason.other,
            "decline_note": note or None,
        }
    elif event is Event.start:
        if status is not MatchStatus.accepted:
            raise NotAllowed(N_("Only a match you have both agreed to can be started"))
        changes = {"status": MatchStatus.active}
    elif event is Event.complete:
        if status is not MatchStatus.active:
            raise NotAllowed(N_("Mark the match as started first, then as completed"))
        changes = {
            "status": MatchStatus.completed,
            _minutes_field(side): _checked_minutes(minutes),
            "completed_at": now,
            "ended_by": side,
            "outcome": outcome or None,
        }
    elif event is Event.confirm_time:
        if status is not MatchStatus.completed:
            raise NotAllowed(N_("The time can only be confirmed once the match is completed"))
        changes = {_minutes_field(side): _checked_minutes(minutes)}
    elif event is Event.cancel:
        if status not in (MatchStatus.suggested, MatchStatus.proposed, MatchStatus.accepted, MatchStatus.active):
            raise NotAllowed(N_("This match has already ended"))
        changes = {"status": MatchStatus.cancelled, "ended_by": side, "cancel_reason": reason or None}
    elif event is Event.expire:
        if status is not MatchStatus.proposed:
            raise NotAllowed(N_("This match is not waiting for an answer"))
        changes = {"status": MatchStatus.cancelled, "ended_by": None, "cancel_reason": EXPIRED_REASON}
    else:  # pragma: no cover - every event is handled above
        raise NotAllowed(N_("That cannot be done"))
    new_status = changes.get("status", status)
    assert new_status is status or new_status in TRANSITIONS[status], (status, new_status)
    if event in (Event.complete, Event.confirm_time):
        merged = {
            MatchSide.offer: changes.get("offer_minutes", state.offer_minutes),
            MatchSide.request: changes.get("request_minutes", state.request_minutes),
        }
        changes["minutes_given"] = recorded_minutes(
            merged[MatchSide.offer], merged[MatchSide.request], changes.get("completed_at", state.completed_at), now
        )
    return changes


def _checked_minutes(minutes: int | None) -> int:
    if minutes is None or not 1 <= minutes <= MAX_MINUTES:
        raise NotAllowed(N_("Enter the time given, from 1 minute to 24 hours"))
    return minutes


def recorded_minutes(
    offer_minutes: int | None, request_minutes: int | None, completed_at: datetime | None, now: datetime
) -> int | None:
    """The time a completed match records: what both said, or after 14 days the lower of what
    was said (or the one account given); None while the other person may still answer."""
    if offer_minutes is not None and offer_minutes == request_minutes:
        return offer_minutes
    if completed_at is None or now - completed_at < timedelta(days=TIME_CONFIRMATION_DAYS):
        return None
    given = [m for m in (offer_minutes, request_minutes) if m is not None]
    return min(given) if given else None


def next_step(state: State, side: MatchSide) -> str:
    """What this person can do next, in plain words (an English message id)."""
    status = state.status
    if status is MatchStatus.suggested:
        return N_("Ask to be put in touch, or say no thanks")
    if status is MatchStatus.proposed:
        if state.answer(side) is Answer.pending:
            return N_("Say whether you would like to be put in touch")
        return N_("Wait for the other person to answer")
    if status is MatchStatus.accepted:
        return N_("Get in touch, then mark the match as started")
    if status is MatchStatus.active:
        return N_("When the help has been given, mark the match as completed")
    if status is MatchStatus.completed:
        mine = state.offer_minutes if side is MatchSide.offer else state.request_minutes
        return N_("Confirm the time given") if mine is None else N_("Nothing to do: thank you")
    return N_("Nothing to do: this match has ended")
