"""Sign-in throttling rules, as pure functions of the recorded failure times."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta


def locked_until(
    failures: Sequence[datetime],
    *,
    limit: int,
    window: timedelta,
    cooloff: timedelta,
    now: datetime,
) -> datetime | None:
    """When sign-in opens again, or None if it is open now.

    Sign-in closes when `limit` failures fall within `window`, and stays closed for `cooloff`
    after the failure that reached the limit. Refused attempts are not recorded, so waiting
    always reopens it.
    """
    times = sorted(failures)
    until: datetime | None = None
    for last in range(limit - 1, len(times)):
        if times[last] - times[last - limit + 1] <= window:
            candidate = times[last] + cooloff
            if candidate > now and (until is None or candidate > until):
                until = candidate
    return until


def minutes_to_wait(until: datetime, now: datetime) -> int:
    seconds = max(0.0, (until - now).total_seconds())
    return max(1, int(-(-seconds // 60)))
