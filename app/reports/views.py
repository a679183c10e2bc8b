"""The reports' pages and CSV downloads, for council staff and admins only.

Thin: the figures come from `service.snapshot` (already protected); here they are labelled,
charted (`app.reports.charts`) and written out."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from app.accounts.dependencies import Actor, load_account, require_actor
from app.accounts.models import Role
from app.core.db import utcnow
from app.core.errors import FieldError, InvalidInput
from app.core.i18n import N_, request_gettext, request_language
from app.core.templating import render
from app.linkers.timeliness import local_date
from app.matching import wellbeing
from app.reports import charts, disclosure, service
from app.reports.queries import By

router = APIRouter(dependencies=[Depends(load_account)], include_in_schema=False)
Reader = Annotated[Actor, Depends(require_actor(Role.staff, Role.admin))]

FIELD_LABELS = {
    "people_registered": N_("People registered"),
    "people_registered_online": N_("Registered online"),
    "people_registered_with_linker": N_("Registered with a linker"),
    "people_with_offer": N_("People with a live offer"),
    "people_with_request": N_("People with a live request"),
    "people_giving_and_receiving": N_("People giving and receiving"),
    "offers_live": N_("Offers live"),
    "offers_with_home": N_("Offers that found a home"),
    "requests_live": N_("Requests live"),
    "requests_met": N_("Requests met"),
    "matches_proposed": N_("Matches proposed"),
    "matches_accepted": N_("Matches accepted"),
    "matches_completed": N_("Matches completed"),
    "matches_declined": N_("Matches declined"),
    "matches_cancelled": N_("Matches cancelled"),
    "hours_given": N_("Hours given"),
    "median_days_request_to_match": N_("Median days from request to first match"),
    "median_days_registration_to_match": N_("Median days from registering to first match"),
    "not_now": N_("Not the right time"),
    "too_far": N_("Too far away"),
    "not_needed": N_("Not what was needed"),
    "other": N_("Another reason"),
    "people_on_caseloads": N_("People on caseloads"),
    "new_on_caseloads": N_("Newly on a caseload"),
    "contacted_in_time": N_("Reached within the target time"),
    "follow_ups_due": N_("Follow-ups due"),
    "follow_ups_on_time": N_("Follow-ups done on time"),
}
# Each table on the participation page: its heading, its columns, and the column its chart shows.
PARTICIPATION_TABLES = {
    "people": (
        N_("People"),
        ("people_registered_online", "people_registered_with_linker", "people_registered", "people_with_offer",
         "people_with_request", "people_giving_and_receiving"),
        "people_registered",
    ),
    "items": (N_("Offers and requests"), ("offers_live", "offers_with_home", "requests_live", "requests_met"), "offers_live"),
    "matches": (
        N_("Matches"),
        ("matches_proposed", "matches_accepted", "matches_completed", "matches_declined", "matches_cancelled", "hours_given"),
        "matches_completed",
    ),
    "declines": (N_("Why matches were declined"), service.DECLINE_REASONS, "not_now"),
    "time": (N_("Time to a first match"), service.MEDIAN_FIELDS, "median_days_request_to_match"),
}  # fmt: skip
LINKER_TABLE = (N_("Linker work"), service.LINKER_FIELDS, "people_on_caseloads")
BY_TITLES = {
    By.ward: N_("by ward"),
    By.month: N_("by month"),
    By.skill_category: N_("by skill category"),
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula; a hidden figure is [c]."""
    if value is None:
        return "[c]"
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _today():
    return local_date(utcnow())


def _filters(request: Request, raw_from, raw_to, ward=None):
    return {"from": raw_from or "", "to": raw_to or "", "ward": ward or ""}


def _labelled(request: Request, by: By, figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows with labels in the reader's language (months, "other wards")."""
    gettext = request_gettext(request)
    language = request_language(request)
    rows = []
    for row in figures["rows"]:
        label = row["label"]
        if by is By.month:
            label = service.month_label(row["key"], language)
        elif row["key"] == disclosure.OTHER_WARDS:
            label = gettext("Other wards")
        rows.append({**row, "label": label})
    return rows


def _participation_rows(request: Request, by: By, figures: dict[str, Any]) -> list[dict[str, Any]]:
    rows = _labelled(request, by, figures)
    for row, reasons in zip(rows, figures["extra"]["declines"]["rows"], strict=True):
        row.update(reasons)
    return rows


def _participation_totals(figures: dict[str, Any]) -> dict[str, Any]:
    return {**figures["totals"], **figures["extra"]["declines"]["totals"]}


def _ward_choices(request: Request) -> list[tuple[str, str]]:
    with request.app.state.session_factory() as db:
        rows, _groups = service.wards_to_report(db)
    gettext = request_gettext(request)
    return [
        (row.key, gettext("Other wards") if row.key == disclosure.OTHER_WARDS else row.label)
        for row in rows
    ]


def _period_or_errors(raw_from, raw_to):
    try:
        return service.parse_period(raw_from, raw_to, _today()), []
    except InvalidInput as refused:
        return service.default_period(_today()), refused.errors


def _shot(request: Request, report: str, period, *, by: By | None = None, ward: str | None = None):
    """The report's published figures for this period (today's snapshot, or worked out now)."""
    return service.snapshot(
        request.app.state.session_factory, report, by=by, period=period, ward=ward or None,
        settings=request.app.state.settings,
    )  # fmt: skip


def _chart(request: Request, title: str, rows: list[dict[str, Any]], field: str) -> dict[str, Any]:
    gettext = request_gettext(request)
    return charts.bar_chart(
        title=title,
        bars=[(row["label"], row.get(field)) for row in rows],
        hidden_text=gettext("[c] not shown"),
        describe=gettext("Bar chart. %(title)s. %(values)s."),
    )


@router.get("/reports", name="reports:summary")
def summary(
    request: Request,
    actor: Reader,
    from_: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    to: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    period, errors = _period_or_errors(from_, to)
    context: dict[str, Any] = {
        "errors": errors,
        "period": period,
        "filters": _filters(request, from_, to),
        "rule": disclosure.RULE,
    }
    if not errors:
        shot = _shot(request, "participation", period, by=By.ward)
        value = _shot(request, "social_value", period)
        linkers = _shot(request, "linker_work", period, by=By.ward)
        outcomes = _shot(request, "outcomes", period)
        context |= {
            "outcomes": outcomes.figures,
            "totals": shot.figures["totals"],
            "share": shot.figures["extra"]["share_giving_and_receiving"],
            "value": value.figures,
            "linkers": linkers.figures["totals"],
            "computed_at": min(
                shot.computed_at, value.computed_at, linkers.computed_at, outcomes.computed_at
            ),
        }
    return render(request, "reports/summary.html", context, status_code=422 if errors else 200)


@router.get("/reports/participation", name="reports:participation")
def participation_page(
    request: Request,
    actor: Reader,
    by: Annotated[str | None, Query(max_length=20)] = None,
    from_: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    to: Annotated[str | None, Query(max_length=20)] = None,
    ward: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    breakdown, errors = _by_or_errors(by)
    period, period_errors = _period_or_errors(from_, to)
    errors += period_errors
    gettext = request_gettext(request)
    context: dict[str, Any] = {
        "errors": errors, "by": breakdown, "by_title": BY_TITLES[breakdown], "period": period,
        "filters": _filters(request, from_, to, ward), "wards": _ward_choices(request), "rule": disclosure.RULE,
        "labels": FIELD_LABELS, "breakdowns": BY_TITLES,
    }  # fmt: skip
    if not errors:
        try:
            shot = _shot(request, "participation", period, by=breakdown, ward=ward)
        except InvalidInput as refused:
            errors += refused.errors
        else:
            rows = _participation_rows(request, breakdown, shot.figures)
            totals = _participation_totals(shot.figures)
            context |= {
                "rows": rows,
                "totals": totals,
                "computed_at": shot.computed_at,
                "suppressed": shot.figures["suppressed_cells"],
                "tables": [
                    {"name": name, "title": title, "fields": fields, "chart": _chart(request, f"{gettext(title)}: {gettext(FIELD_LABELS[field])}", rows, field)}
                    for name, (title, fields, field) in PARTICIPATION_TABLES.items()
                ],
            }  # fmt: skip
    return render(
        request, "reports/participation.html", context, status_code=422 if errors else 200
    )


def _by_or_errors(raw: str | None, allowed=tuple(By)) -> tuple[By, list]:
    try:
        by = service.parse_by(raw)
    except InvalidInput as refused:
        return By.ward, refused.errors
    if by not in allowed:
        return By.ward, [FieldError("by", N_("Choose ward or month"))]
    return by, []


def _csv_response(filename: str, header: list[str], lines: list[list[Any]]) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(cell) for cell in header])
    for line in lines:
        writer.writerow([safe_cell(cell) for cell in line])
    return Response(
        buffer.getvalue().encode("utf-8-sig"),  # the byte-order mark tells Excel it is UTF-8
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def _table_csv(request, rows, totals, fields, filename, first_header):
    gettext = request_gettext(request)
    header = [first_header, *(gettext(FIELD_LABELS[f]) for f in fields)]
    lines = [[row["label"], *(row.get(f) for f in fields)] for row in rows]
    lines.append([gettext("Total"), *(totals.get(f) for f in fields)])
    lines.append([gettext("Note"), gettext(disclosure.RULE)])
    return _csv_response(filename, header, lines)


@router.get("/reports/participation.csv", name="reports:participation_csv")
def participation_csv(
    request: Request,
    actor: Reader,
    by: Annotated[str | None, Query(max_length=20)] = None,
    from_: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    to: Annotated[str | None, Query(max_length=20)] = None,
    ward: Annotated[str | None, Query(max_length=16)] = None,
    table: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    breakdown = service.parse_by(by)
    period = service.parse_period(from_, to, _today())
    if table is not None and table not in PARTICIPATION_TABLES:
        raise InvalidInput(FieldError("table", N_("Choose a table from the report")))
    shot = _shot(request, "participation", period, by=breakdown, ward=ward)
    rows = _participation_rows(request, breakdown, shot.figures)
    if table is None:
        fields = [f for _title, columns, _chart in PARTICIPATION_TABLES.values() for f in columns]
    else:
        fields = list(PARTICIPATION_TABLES[table][1])
    gettext = request_gettext(request)
    name = f"participation-{breakdown.value}-{table or 'all'}-{period.first}-{period.last}.csv"
    return _table_csv(
        request,
        rows,
        _participation_totals(shot.figures),
        fields,
        name,
        gettext(_row_heading(breakdown)),
    )


def _row_heading(by: By) -> str:
    return {By.ward: N_("Ward"), By.month: N_("Month"), By.skill_category: N_("Skill category")}[by]


@router.get("/reports/linkers", name="reports:linkers")
def linkers_page(
    request: Request,
    actor: Reader,
    by: Annotated[str | None, Query(max_length=20)] = None,
    from_: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    to: Annotated[str | None, Query(max_length=20)] = None,
    ward: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    breakdown, errors = _by_or_errors(by, (By.ward, By.month))
    period, period_errors = _period_or_errors(from_, to)
    errors += period_errors
    gettext = request_gettext(request)
    context: dict[str, Any] = {
        "errors": errors, "by": breakdown, "by_title": BY_TITLES[breakdown], "period": period,
        "filters": _filters(request, from_, to, ward), "wards": _ward_choices(request), "rule": disclosure.RULE,
        "labels": FIELD_LABELS, "breakdowns": {b: BY_TITLES[b] for b in (By.ward, By.month)},
    }  # fmt: skip
    if not errors:
        try:
            shot = _shot(request, "linker_work", period, by=breakdown, ward=ward)
        except InvalidInput as refused:
            errors += refused.errors
        else:
            rows = _labelled(request, breakdown, shot.figures)
            title, fields, field = LINKER_TABLE
            context |= {
                "rows": rows, "totals": shot.figures["totals"], "computed_at": shot.computed_at,
                "suppressed": shot.figures["suppressed_cells"],
                "tables": [{"name": "linkers", "title": title, "fields": fields,
                            "chart": _chart(request, f"{gettext(title)}: {gettext(FIELD_LABELS[field])}", rows, field)}],
            }  # fmt: skip
    return render(request, "reports/linkers.html", context, status_code=422 if errors else 200)


@router.get("/reports/linkers.csv", name="reports:linkers_csv")
def linkers_csv(
    request: Request,
    actor: Reader,
    by: Annotated[str | None, Query(max_length=20)] = None,
    from_: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    to: Annotated[str | None, Query(max_length=20)] = None,
    ward: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    breakdown = service.parse_by(by)
    period = service.parse_period(from_, to, _today())
    shot = _shot(request, "linker_work", period, by=breakdown, ward=ward)
    rows = _labelled(request, breakdown, shot.figures)
    name = f"linker-work-{breakdown.value}-{period.first}-{period.last}.csv"
    gettext = request_gettext(request)
    return _table_csv(
        request,
        rows,
        shot.figures["totals"],
        list(service.LINKER_FIELDS),
        name,
        gettext(_row_heading(breakdown)),
    )


@router.get("/reports/social-value", name="reports:social_value")
def social_value_page(
    request: Request,
    actor: Reader,
    from_: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    to: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    period, errors = _period_or_errors(from_, to)
    context: dict[str, Any] = {
        "errors": errors,
        "period": period,
        "filters": _filters(request, from_, to),
        "rule": disclosure.RULE,
    }
    if not errors:
        shot = _shot(request, "social_value", period)
        context |= {"value": shot.figures, "computed_at": shot.computed_at}
    return render(request, "reports/social_value.html", context, status_code=422 if errors else 200)


@router.get("/reports/social-value.csv", name="reports:social_value_csv")
def social_value_csv(
    request: Request,
    actor: Reader,
    from_: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    to: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    period = service.parse_period(from_, to, _today())
    shot = _shot(request, "social_value", period)
    value = shot.figures
    gettext = request_gettext(request)
    lines = [
        [gettext("Hours given"), value["hours_given"], ""],
        [gettext("Regular volunteers"), value["regular_volunteers"], ""],
        [
            gettext("Value of an hour given (£)"),
            value["value_per_hour"],
            value["value_per_hour_source"],
        ],
        [
            gettext("Value of a regular volunteer's year (£)"),
            value["value_per_volunteer_year"],
            value["value_per_volunteer_year_source"],
        ],
        [gettext("Social value (£)"), value["total_value"], ""],
        [gettext("Note"), gettext(disclosure.RULE), ""],
    ]
    return _csv_response(
        f"social-value-{period.first}-{period.last}.csv",
        [gettext("Figure"), gettext("Value"), gettext("Source")],
        lines,
    )


@router.get("/reports/outcomes", name="reports:outcomes")
def outcomes_page(
    request: Request,
    actor: Reader,
    from_: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    to: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    period, errors = _period_or_errors(from_, to)
    context: dict[str, Any] = {
        "errors": errors,
        "period": period,
        "filters": _filters(request, from_, to),
        "rule": disclosure.RULE,
        "measure_names": wellbeing.MEASURE_NAMES,
        "band_names": wellbeing.BAND_NAMES,
        "min_people": disclosure.MIN_PEOPLE_FOR_AVERAGE,
    }
    if not errors:
        shot = _shot(request, "outcomes", period)
        gettext = request_gettext(request)
        figures = shot.figures
        bars = []
        for row in figures["measures"]:
            name = gettext(wellbeing.MEASURE_NAMES[row["measure"]])
            bars.append((gettext("%(measure)s, before") % {"measure": name}, row["mean_before"]))
            bars.append((gettext("%(measure)s, after") % {"measure": name}, row["mean_after"]))
        context |= {
            "outcomes": figures,
            "computed_at": shot.computed_at,
            "suppressed": figures["suppressed_cells"],
            "chart": charts.bar_chart(
                title=gettext("Average scores out of 10, before and after"),
                bars=bars,
                hidden_text=gettext("[c] not shown"),
                describe=gettext("Bar chart. %(title)s. %(values)s."),
            ),
        }
    return render(request, "reports/outcomes.html", context, status_code=422 if errors else 200)


@router.get("/reports/outcomes.csv", name="reports:outcomes_csv")
def outcomes_csv(
    request: Request,
    actor: Reader,
    from_: Annotated[str | None, Query(alias="from", max_length=20)] = None,
    to: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    period = service.parse_period(from_, to, _today())
    figures = _shot(request, "outcomes", period).figures
    gettext = request_gettext(request)
    header = [
        gettext("Question"),
        gettext("Band"),
        gettext("Scores"),
        gettext("Before"),
        gettext("After"),
        gettext("Change"),
    ]
    lines: list[list[Any]] = [
        [gettext("People who answered before and after"), "", "", figures["people_answered_both"], "", ""]
    ]
    for row in figures["measures"]:
        name = gettext(wellbeing.MEASURE_NAMES[row["measure"]])
        lines.append([name, gettext("Average"), "0–10", row["mean_before"], row["mean_after"], row["mean_change"]])
        for band in row["bands"]:
            label = gettext(wellbeing.BAND_NAMES[band["band"]])
            lines.append([name, label, band["scores"], band["before"], band["after"], ""])
    lines.append([gettext("Note"), gettext(disclosure.RULE), "", "", "", ""])
    return _csv_response(f"outcomes-{period.first}-{period.last}.csv", header, lines)
