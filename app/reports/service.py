"""The council's reports: exact aggregates from `queries`, made safe to publish by `disclosure`.

Nothing leaves this module unprotected: every count is suppressed or rounded, every median
stands on 10 or more people, small wards are folded into "other wards". Views, CSV and the API
only format what these functions return.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from babel.dates import format_date
from sqlmodel import Session

from app.core.config import Settings
from app.core.errors import FieldError, InvalidInput
from app.core.i18n import N_
from app.matching import wellbeing
from app.reports import disclosure, queries
from app.reports.queries import By, Period

# The contract's fields (GET /api/v1/reports/participation), in the order the pages show them.
PARTICIPATION_FIELDS = (
    "people_registered",
    "people_with_offer",
    "people_with_request",
    "people_giving_and_receiving",
    "offers_live",
    "offers_with_home",
    "requests_live",
    "requests_met",
    "matches_proposed",
    "matches_accepted",
    "matches_completed",
    "hours_given",
)
# Beside them: how people registered, and how matches ended.
EXTRA_FIELDS = (
    "people_registered_online",
    "people_registered_with_linker",
    "matches_declined",
    "matches_cancelled",
)
MEDIAN_FIELDS = ("median_days_request_to_match", "median_days_registration_to_match")
DECLINE_REASONS = ("not_now", "too_far", "not_needed", "other")
LINKER_FIELDS = (
    "people_on_caseloads",
    "new_on_caseloads",
    "contacted_in_time",
    "follow_ups_due",
    "follow_ups_on_time",
)
EARLIEST = date(2000, 1, 1)
LONGEST_DAYS = 366 * 5


def default_period(today: date) -> Period:
    """The last 12 months: from the first of the month 11 months ago, to today."""
    month = today.replace(day=1)
    for _ in range(11):
        month = (month - timedelta(days=1)).replace(day=1)
    return Period(month, today)


def parse_period(raw_from: str | None, raw_to: str | None, today: date) -> Period:
    """The period asked for, or the last 12 months; a clear error for anything else."""
    default = default_period(today)
    errors = []

    def day(raw: str | None, name: str, fallback: date) -> date:
        if raw is None or raw.strip() == "":
            return fallback
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            errors.append(FieldError(name, N_("Enter a real date, like 2026-04-01")))
            return fallback

    first = day(raw_from, "from", default.first)
    last = day(raw_to, "to", default.last)
    if not errors:
        if first < EARLIEST or last < EARLIEST:
            errors.append(FieldError("from", N_("Choose a date in 2000 or later")))
        elif last > today:
            errors.append(FieldError("to", N_("The end of the period cannot be in the future")))
        elif first > last:
            errors.append(
                FieldError("from", N_("The start of the period must be on or before its end"))
            )
        elif (last - first).days >= LONGEST_DAYS:
            errors.append(FieldError("from", N_("Choose a period of 5 years or less")))
    if errors:
        raise InvalidInput(errors)
    return Period(first, last)


def parse_by(raw: str | None) -> By:
    try:
        return By(raw or By.ward.value)
    except ValueError:
        raise InvalidInput(FieldError("by", N_("Choose ward, month or skill category"))) from None


@dataclass(frozen=True)
class Row:
    key: str
    label: str


@dataclass
class Rows:
    """The rows a breakdown has, and where each raw key (a ward code, a month, a category id) goes."""

    rows: list[Row]
    key_of: dict[Any, str]  # raw key -> row key
    ward_filter: list[str] | None = (
        None  # ward codes to count, when one ward (or "other") is chosen
    )


def month_label(key: str, language: str) -> str:
    year, month = key.split("-")
    return format_date(date(int(year), int(month), 1), format="LLLL y", locale=language)


def wards_to_report(db: Session) -> tuple[list[Row], dict[str, str]]:
    """Wards with 10 or more registered people by name, then "other wards" for the rest."""
    registered = queries.registered_by_ward(db)
    names = queries.ward_names(db)
    for code in names:
        registered.setdefault(code, 0)
    groups = disclosure.ward_groups(registered)
    rows = sorted(
        (Row(code, names.get(code, code)) for code, group in groups.items() if group == code),
        key=lambda r: r.label,
    )
    if any(group == disclosure.OTHER_WARDS for group in groups.values()):
        rows.append(Row(disclosure.OTHER_WARDS, "Other wards"))
    return rows, groups


def rows_for(db: Session, by: By, period: Period, *, ward: str | None, language: str) -> Rows:
    ward_rows, groups = wards_to_report(db)
    ward_filter = None
    if ward:
        if ward not in {row.key for row in ward_rows}:
            raise InvalidInput(FieldError("ward", N_("Choose a ward from the list")))
        ward_filter = [code for code, group in groups.items() if group == ward]
    if by is By.ward:
        key_of: dict[Any, str] = dict(groups)
        key_of[None] = disclosure.OTHER_WARDS
        rows = ward_rows
        if ward_filter is not None:
            rows = [row for row in rows if row.key == ward]
        if ward_filter is None and not any(r.key == disclosure.OTHER_WARDS for r in rows):
            rows = [*rows, Row(disclosure.OTHER_WARDS, "Other wards")]  # people with no ward known
        return Rows(rows, key_of, ward_filter)
    if by is By.month:
        months = [key for key, _lo, _hi in period.months()]
        return Rows(
            [Row(key, month_label(key, language)) for key in months],
            {key: key for key in months},
            ward_filter,
        )
    categories = queries.category_names(db)
    return Rows(
        [Row(code, name) for _id, code, name in categories],
        {cid: code for cid, code, _name in categories},
        ward_filter,
    )


def _fold(rows: Rows, raw: dict[Any, int]) -> list[int]:
    """Raw counts by raw key, summed into the report's rows (in row order)."""
    folded: dict[str, int] = defaultdict(int)
    for key, value in raw.items():
        row_key = rows.key_of.get(key)
        if row_key is not None:
            folded[row_key] += value
    return [folded.get(row.key, 0) for row in rows.rows]


def _fold_lists(rows: Rows, raw: dict[Any, list[float]]) -> list[list[float]]:
    folded: dict[str, list[float]] = defaultdict(list)
    for key, values in raw.items():
        row_key = rows.key_of.get(key)
        if row_key is not None:
            folded[row_key].extend(values)
    return [folded.get(row.key, []) for row in rows.rows]


@dataclass
class Table:
    """A published table: one dict of figures per row, and the totals (ints, floats or None)."""

    by: str
    period: Period
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    suppressed_cells: int
    extra: dict[str, Any] = field(default_factory=dict)


def participation(
    db: Session, *, by: By, period: Period, ward: str | None = None, language: str = "en"
) -> Table:
    rows = rows_for(db, by, period, ward=ward, language=language)
    filters = rows.ward_filter
    exact: dict[str, tuple[list[int], int]] = {}
    for name, fact in queries.PARTICIPATION_FACTS.items():
        raw, total = queries.count_rows(db, fact(), by, period, wards=filters)
        exact[name] = (_fold(rows, raw), total)
    reasons_raw, reasons_total = queries.decline_reasons(db, by, period, wards=filters)

    published: list[dict[str, Any]] = [{} for _ in rows.rows]
    totals: dict[str, Any] = {}
    suppressed = 0

    # How people registered: a two-way table (rows x online/with a linker), totals its margins.
    online, online_total = exact["people_registered_online"]
    linker, linker_total = exact["people_registered_with_linker"]
    registered, registered_total = exact["people_registered"]
    two_way = disclosure.protect(
        [[a, b] for a, b in zip(online, linker, strict=True)],
        row_totals=registered,
        column_totals=[online_total, linker_total],
        grand_total=registered_total,
    )
    suppressed += two_way.suppressed_cells
    for i, row in enumerate(published):
        row["people_registered_online"], row["people_registered_with_linker"] = two_way.cells[i]
        row["people_registered"] = two_way.row_totals[i]
    totals["people_registered_online"], totals["people_registered_with_linker"] = (
        two_way.column_totals
    )
    totals["people_registered"] = two_way.grand_total

    # Declines by reason: another two-way table, whose row totals are the declines column.
    reason_cells = _fold_reasons(rows, reasons_raw)
    declined, declined_total = exact["matches_declined"]
    reasons = disclosure.protect(
        reason_cells,
        row_totals=declined,
        column_totals=[reasons_total[reason] for reason in DECLINE_REASONS],
        grand_total=declined_total,
    )
    suppressed += reasons.suppressed_cells
    decline_rows = []
    for i, row in enumerate(published):
        row["matches_declined"] = reasons.row_totals[i]
        decline_rows.append(dict(zip(DECLINE_REASONS, reasons.cells[i], strict=True)))
    totals["matches_declined"] = reasons.grand_total
    decline_totals = dict(zip(DECLINE_REASONS, reasons.column_totals, strict=True))

    completed, completed_total = exact["matches_completed"]
    for name in (*PARTICIPATION_FIELDS, "matches_cancelled"):
        if name in ("people_registered", "hours_given"):
            continue
        values, total = exact[name]
        shown, shown_total, hidden = disclosure.protect_column(values, total)
        suppressed += hidden
        for row, value in zip(published, shown, strict=True):
            row[name] = value
        totals[name] = shown_total

    # Hours given: rounded like a count, and hidden where fewer than 8 matches stand behind them.
    minutes, minutes_total = exact["minutes_given"]
    hours = [round(m / 60) for m in minutes]
    few = [i for i, n in enumerate(completed) if disclosure.is_too_small(n)]
    result = disclosure.protect(
        [[h] for h in hours],
        column_totals=[round(minutes_total / 60)],
        also_suppress=[(i, 0) for i in few]
        + ([(len(hours), 0)] if disclosure.is_too_small(completed_total) else []),
    )
    suppressed += result.suppressed_cells
    for row, value in zip(published, result.cells, strict=True):
        row["hours_given"] = value[0]
    totals["hours_given"] = result.column_totals[0]

    # Medians: only where 10 or more requests (or people) stand behind them.
    for name, fetch in (
        ("median_days_request_to_match", queries.days_request_to_first_match),
        ("median_days_registration_to_match", queries.days_registration_to_first_match),
    ):
        per_row, every = fetch(db, by, period, wards=filters)
        for row, values in zip(published, _fold_lists(rows, per_row), strict=True):
            row[name] = disclosure.median_or_none(values)
        totals[name] = disclosure.median_or_none(every)

    out_rows = [
        {"key": row.key, "label": row.label, **figures}
        for row, figures in zip(rows.rows, published, strict=True)
    ]
    return Table(
        by=by.value,
        period=period,
        rows=out_rows,
        totals=totals,
        suppressed_cells=suppressed,
        extra={
            "declines": {"rows": decline_rows, "totals": decline_totals},
            "share_giving_and_receiving": _share(
                exact["people_giving_and_receiving"][1], exact["people_with_request"][1]
            ),
        },
    )


def _fold_reasons(rows: Rows, raw: dict[Any, dict[str, int]]) -> list[list[int]]:
    """Decline counts by raw key and reason, summed into the report's rows x reasons."""
    folded: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, by_reason in raw.items():
        row_key = rows.key_of.get(key)
        if row_key is not None:
            for reason, value in by_reason.items():
                folded[row_key][reason] += value
    return [[folded[row.key][reason] for reason in DECLINE_REASONS] for row in rows.rows]


def linker_work(
    db: Session,
    *,
    by: By,
    period: Period,
    settings: Settings,
    ward: str | None = None,
    language: str = "en",
) -> Table:
    if by is By.skill_category:
        raise InvalidInput(FieldError("by", N_("Linker work is reported by ward or by month")))
    rows = rows_for(db, by, period, ward=ward, language=language)
    work = queries.linker_work(
        db,
        by,
        period,
        contact_working_days=settings.linker_contact_working_days,
        wards=rows.ward_filter,
    )
    on_caseload = {key: len(people) for key, people in work.on_caseload.items()}
    published: list[dict[str, Any]] = [{} for _ in rows.rows]
    totals: dict[str, Any] = {}
    suppressed = 0
    for name, raw in (
        ("people_on_caseloads", on_caseload),
        ("new_on_caseloads", work.new_cases),
        ("contacted_in_time", work.contacted_in_time),
        ("follow_ups_due", work.follow_ups_due),
        ("follow_ups_on_time", work.follow_ups_on_time),
    ):
        shown, shown_total, hidden = disclosure.protect_column(_fold(rows, raw), work.totals[name])
        suppressed += hidden
        for row, value in zip(published, shown, strict=True):
            row[name] = value
        totals[name] = shown_total
    totals["contacted_in_time_share"] = _share(
        work.totals["contacted_in_time"], work.totals["new_on_caseloads"]
    )
    totals["follow_ups_on_time_share"] = _share(
        work.totals["follow_ups_on_time"], work.totals["follow_ups_due"]
    )
    out_rows = [
        {"key": row.key, "label": row.label, **figures}
        for row, figures in zip(rows.rows, published, strict=True)
    ]
    return Table(
        by=by.value, period=period, rows=out_rows, totals=totals, suppressed_cells=suppressed
    )


def _share(part: int, whole: int) -> int | None:
    """A whole percentage, only from 10 or more people."""
    if whole < disclosure.MIN_PEOPLE_FOR_AVERAGE:
        return None
    return round(100 * part / whole)


@dataclass
class SocialValue:
    period: Period
    hours_given: int | None
    regular_volunteers: int | None
    other_hours: int | None
    value_per_hour: float
    value_per_volunteer_year: float
    total_value: int | None
    months_needed: int
    value_per_hour_source: str
    value_per_volunteer_year_source: str

    @property
    def source(self) -> str:
        return f"Per hour: {self.value_per_hour_source}. Per regular volunteer a year: {self.value_per_volunteer_year_source}."


def social_value(db: Session, *, period: Period, settings: Settings) -> SocialValue:
    """Hours given and regular volunteers, valued by the figures in the settings.

    A regular volunteer gave time in at least half the months of the period; their time is
    valued by the volunteer-year figure (for the share of a year the period covers), everyone
    else's by the hour, so no hour is counted twice. The total is worked out from the published
    (rounded) figures, so it reveals nothing they do not."""
    months = len(period.months())
    needed = max(1, math.ceil(months / 2))
    months_by_person: dict[int, set[str]] = defaultdict(set)
    minutes_by_person: dict[int, int] = defaultdict(int)
    for person_id, month, minutes in queries.giving_by_person_and_month(db, period):
        months_by_person[person_id].add(month)
        minutes_by_person[person_id] += minutes
    regular = {person for person, seen in months_by_person.items() if len(seen) >= needed}
    others = set(months_by_person) - regular
    regular_hours = round(sum(minutes_by_person[p] for p in regular) / 60)
    other_hours = round(sum(minutes_by_person[p] for p in others) / 60)
    hidden = [(0, 0)] if disclosure.is_too_small(len(regular)) else []
    hidden += [(1, 0)] if disclosure.is_too_small(len(others)) else []
    hours = disclosure.protect(
        [[regular_hours], [other_hours]],
        column_totals=[regular_hours + other_hours],
        also_suppress=hidden,
    )
    volunteers = disclosure.publish_count(len(regular))
    shown_other = hours.cells[1][0]
    years = period.days / 365.25
    total = None
    if volunteers is not None and shown_other is not None:
        total = round(
            volunteers * settings.social_value_per_volunteer_year * years
            + shown_other * settings.social_value_per_hour
        )
    return SocialValue(
        period=period,
        hours_given=hours.column_totals[0],
        regular_volunteers=volunteers,
        other_hours=shown_other,
        value_per_hour=settings.social_value_per_hour,
        value_per_volunteer_year=settings.social_value_per_volunteer_year,
        total_value=total,
        months_needed=needed,
        value_per_hour_source=settings.social_value_per_hour_source,
        value_per_volunteer_year_source=settings.social_value_per_volunteer_year_source,
    )


def outcomes(db: Session, *, period: Period) -> dict[str, Any]:
    """The ONS wellbeing answers of the people who answered before their first match and again
    after a completed one (the latest in the period): averages before and after, the average
    change, and how many were in each ONS band. Nothing at all unless 10 or more people answered
    both; the band counts go through the same disclosure control as every other count."""
    pairs = queries.wellbeing_pairs(db, period)
    people = len(pairs)
    enough = people >= disclosure.MIN_PEOPLE_FOR_AVERAGE
    measures = []
    suppressed = 0
    for measure in wellbeing.MEASURES:
        before = [first[measure] for first, _latest in pairs]
        after = [latest[measure] for _first, latest in pairs]
        names = wellbeing.bands(measure)
        counts = [
            [sum(wellbeing.band(measure, v) == name for v in values) for values in (before, after)]
            for name in names
        ]
        if enough:
            table = disclosure.protect(counts, column_totals=[people, people])
            cells, suppressed = table.cells, suppressed + table.suppressed_cells
        else:
            cells = [[None, None] for _name in names]
        measures.append(
            {
                "measure": measure,
                "mean_before": disclosure.mean_or_none(before) if enough else None,
                "mean_after": disclosure.mean_or_none(after) if enough else None,
                "mean_change": (
                    disclosure.mean_or_none([b - a for a, b in zip(before, after, strict=True)])
                    if enough
                    else None
                ),
                "better_when_lower": measure in wellbeing.BETTER_WHEN_LOWER,
                "bands": [
                    {"band": name, "scores": scores, "before": shown[0], "after": shown[1]}
                    for name, scores, shown in zip(
                        names, wellbeing.band_ranges(measure), cells, strict=True
                    )
                ],
            }
        )
    return {
        # 8 or 9 would round to 10, beside "fewer than 10 answered": so nothing below 10 is shown.
        "people_answered_both": disclosure.publish_count(people) if enough or not people else None,
        "enough_people": enough,
        "measures": measures,
        "suppressed_cells": suppressed,
    }


# --- snapshots: each report worked out once a day, or when first asked for ----------------------


@dataclass(frozen=True)
class Snapshot:
    figures: dict[str, Any]
    computed_at: Any
    milliseconds: int


def table_figures(table: Table) -> dict[str, Any]:
    return {
        "rows": table.rows,
        "totals": table.totals,
        "suppressed_cells": table.suppressed_cells,
        "extra": table.extra,
    }


def social_value_figures(value: SocialValue) -> dict[str, Any]:
    return {
        "hours_given": value.hours_given,
        "value_per_hour": value.value_per_hour,
        "regular_volunteers": value.regular_volunteers,
        "value_per_volunteer_year": value.value_per_volunteer_year,
        "total_value": value.total_value,
        "source": value.source,
        "other_hours": value.other_hours,
        "months_needed": value.months_needed,
        "value_per_hour_source": value.value_per_hour_source,
        "value_per_volunteer_year_source": value.value_per_volunteer_year_source,
    }


REPORTS = ("participation", "linker_work", "social_value", "outcomes")


def compute(
    db: Session, report: str, *, by: By | None, period: Period, ward: str | None, settings: Settings
) -> dict[str, Any]:
    if report == "participation":
        return table_figures(participation(db, by=by, period=period, ward=ward))
    if report == "linker_work":
        return table_figures(linker_work(db, by=by, period=period, settings=settings, ward=ward))
    if report == "social_value":
        return social_value_figures(social_value(db, period=period, settings=settings))
    if report == "outcomes":
        return outcomes(db, period=period)
    raise ValueError(f"no report named {report}")


def snapshot(
    session_factory,
    report: str,
    *,
    by: By | None,
    period: Period,
    ward: str | None,
    settings: Settings,
    now=None,
    fresh: bool = False,
) -> Snapshot:
    """The report's published figures: today's snapshot if there is one, else worked out now and
    kept for the rest of the day (the nightly job works out the usual ones before anyone asks).

    Read and written in sessions of its own, so a request that only reads never holds a write
    lock while the figures are worked out."""
    import time

    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from app.core.db import utcnow
    from app.linkers.timeliness import local_date
    from app.reports.models import ReportSnapshot

    now = now or utcnow()
    key = {
        "report": report,
        "by": by.value if by else "",
        "first_day": period.first,
        "last_day": period.last,
        "ward": ward or "",
    }
    where = [getattr(ReportSnapshot, name) == value for name, value in key.items()]
    with session_factory() as db:
        found = db.execute(select(ReportSnapshot).where(*where)).scalar_one_or_none()
        if found is not None and not fresh and local_date(found.computed_at) == local_date(now):
            return Snapshot(found.figures, found.computed_at, found.milliseconds)
        started = time.perf_counter()
        figures = compute(db, report, by=by, period=period, ward=ward, settings=settings)
        milliseconds = round((time.perf_counter() - started) * 1000)
        db.rollback()  # it only read
    with session_factory() as db:
        try:
            row = db.execute(select(ReportSnapshot).where(*where)).scalar_one_or_none()
            if row is None:
                row = ReportSnapshot(**key)
            row.figures, row.computed_at, row.milliseconds = figures, now, milliseconds
            db.add(row)
            db.commit()
        except IntegrityError:  # someone else kept the same figures a moment ago
            db.rollback()
    return Snapshot(figures, now, milliseconds)
