"""When things are due: working days, "due soon" and "overdue". Pure: no clock, no database.

Days are the borough's own (Europe/London), so a follow-up due "today" means today where the
linker is, not in UTC. Bank holidays are not counted out (a known gap: the council's calendar
is not in the service yet).
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Europe/London")


class Due(str, enum.Enum):
    overdue = "overdue"
    due_soon = "due_soon"
    later = "later"


def local_date(moment: datetime) -> date:
    return moment.astimezone(LOCAL).date()


def local_now(moment: datetime) -> datetime:
    return moment.astimezone(LOCAL)


def add_working_days(start: date, days: int) -> date:
    """The date `days` working days (Monday to Friday) after `start`."""
    current = start
    left = days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def due_state(due_on: date, today: date, soon_days: int) -> Due:
    if due_on < today:
        return Due.overdue
    if due_on <= today + timedelta(days=soon_days):
        return Due.due_soon
    return Due.later


def contact_due_on(assigned_at: datetime, working_days: int) -> date:
    """A new person on a caseload should be reached within `working_days` working days."""
    return add_working_days(local_date(assigned_at), working_days)


def answer_due_on(proposed_at: datetime, days: int) -> date:
    return local_date(proposed_at) + timedelta(days=days)


def end_of_week(today: date) -> date:
    """The coming Sunday (today, if it is Sunday): "due this week"."""
    return today + timedelta(days=6 - today.weekday())


def is_digest_time(moment: datetime, hour: int) -> bool:
    """Weekdays at the digest hour, borough time."""
    here = local_now(moment)
    return here.weekday() < 5 and here.hour == hour


def utc_midnight_after(day: date) -> datetime:
    """The end of a local day, in UTC (for comparing with stored timestamps)."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=LOCAL).astimezone(UTC)
