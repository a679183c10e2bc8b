"""The reports API, for council staff and admins (everyone else: 403). Only published figures:
every count an integer (0, or a multiple of 5) or null where it is too small to show."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from app.accounts.dependencies import Actor, api_require_actor
from app.accounts.models import Role
from app.core.db import utcnow
from app.core.errors import API_ERROR_RESPONSES
from app.linkers.timeliness import local_date
from app.reports import disclosure, service
from app.reports.queries import By

router = APIRouter(prefix="/api/v1/reports", tags=["reports"], responses=API_ERROR_RESPONSES)
ApiReader = Annotated[Actor, Depends(api_require_actor(Role.staff, Role.admin))]

Count = int | None


class ParticipationFigures(BaseModel):
    people_registered: Count
    people_registered_online: Count
    people_registered_with_linker: Count
    people_with_offer: Count
    people_with_request: Count
    people_giving_and_receiving: Count
    offers_live: Count
    offers_with_home: Count
    requests_live: Count
    requests_met: Count
    matches_proposed: Count
    matches_accepted: Count
    matches_completed: Count
    matches_declined: Count
    matches_cancelled: Count
    hours_given: Count
    median_days_request_to_match: float | None
    median_days_registration_to_match: float | None


class ParticipationRow(ParticipationFigures):
    key: str
    label: str


class Disclosure(BaseModel):
    rule: str
    suppressed_cells: int


class Participation(BaseModel):
    by: By
    from_: str = Field(serialization_alias="from")
    to: str
    rows: list[ParticipationRow]
    totals: ParticipationFigures
    decline_reasons: dict[str, dict[str, Count]]
    share_giving_and_receiving: int | None
    disclosure: Disclosure
    computed_at: str

    model_config = {"populate_by_name": True}


class SocialValueOut(BaseModel):
    hours_given: Count
    value_per_hour: float
    regular_volunteers: Count
    value_per_volunteer_year: float
    total_value: int | None
    source: str
    value_per_hour_source: str
    value_per_volunteer_year_source: str
    other_hours: Count
    from_: str = Field(serialization_alias="from")
    to: str
    method: str
    computed_at: str


class LinkerWorkFigures(BaseModel):
    people_on_caseloads: Count
    new_on_caseloads: Count
    contacted_in_time: Count
    follow_ups_due: Count
    follow_ups_on_time: Count


class LinkerWorkRow(LinkerWorkFigures):
    key: str
    label: str


class LinkerWorkTotals(LinkerWorkFigures):
    contacted_in_time_share: int | None
    follow_ups_on_time_share: int | None


class LinkerWork(BaseModel):
    by: By
    from_: str = Field(serialization_alias="from")
    to: str
    rows: list[LinkerWorkRow]
    totals: LinkerWorkTotals
    disclosure: Disclosure
    computed_at: str


class OutcomeBand(BaseModel):
    band: str
    scores: str
    before: Count
    after: Count


class OutcomeMeasure(BaseModel):
    measure: str
    mean_before: float | None
    mean_after: float | None
    mean_change: float | None
    better_when_lower: bool
    bands: list[OutcomeBand]


class Outcomes(BaseModel):
    from_: str = Field(serialization_alias="from")
    to: str
    people_answered_both: Count
    enough_people: bool
    measures: list[OutcomeMeasure]
    disclosure: Disclosure
    computed_at: str


def _period(raw_from: str | None, raw_to: str | None):
    return service.parse_period(raw_from, raw_to, local_date(utcnow()))


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(by_alias=True)


def method_text(value: dict[str, Any]) -> str:
    return (
        f"Regular volunteers gave time in at least {value['months_needed']} of the months in the period; their time is "
        "valued at the figure per volunteer a year, for the part of a year the period covers. Everyone else's time is "
        "valued by the hour. The total is worked out from the rounded figures shown, so no hour is counted twice."
    )


@router.get("/participation", response_model=None, responses={200: {"model": Participation}})
def participation(
    request: Request,
    actor: ApiReader,
    by: Annotated[str | None, Query()] = None,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: Annotated[str | None, Query()] = None,
    ward: Annotated[str | None, Query(max_length=16)] = None,
) -> dict[str, Any]:
    """Participation by ward, month or skill category, with totals, after disclosure control."""
    breakdown = service.parse_by(by)
    period = _period(from_, to)
    shot = service.snapshot(
        request.app.state.session_factory, "participation", by=breakdown, period=period, ward=ward or None,
        settings=request.app.state.settings,
    )  # fmt: skip
    figures = shot.figures
    return _dump(
        Participation(
            by=breakdown,
            from_=period.first.isoformat(),
            to=period.last.isoformat(),
            rows=figures["rows"],
            totals=figures["totals"],
            decline_reasons={
                "totals": figures["extra"]["declines"]["totals"],
                **{
                    row["key"]: reasons
                    for row, reasons in zip(
                        figures["rows"], figures["extra"]["declines"]["rows"], strict=True
                    )
                },
            },
            share_giving_and_receiving=figures["extra"]["share_giving_and_receiving"],
            disclosure=Disclosure(
                rule=disclosure.RULE, suppressed_cells=figures["suppressed_cells"]
            ),
            computed_at=shot.computed_at.isoformat(),
        )
    )


@router.get("/social-value", response_model=None, responses={200: {"model": SocialValueOut}})
def social_value(
    request: Request,
    actor: ApiReader,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    """Hours given and regular volunteers, valued by the council's chosen figures (with their source)."""
    period = _period(from_, to)
    shot = service.snapshot(
        request.app.state.session_factory,
        "social_value",
        by=None,
        period=period,
        ward=None,
        settings=request.app.state.settings,
    )
    value = shot.figures
    return _dump(
        SocialValueOut(
            **{k: value[k] for k in SocialValueOut.model_fields if k in value},
            from_=period.first.isoformat(),
            to=period.last.isoformat(),
            method=method_text(value),
            computed_at=shot.computed_at.isoformat(),
        )
    )


@router.get("/linker-work", response_model=None, responses={200: {"model": LinkerWork}})
def linker_work(
    request: Request,
    actor: ApiReader,
    by: Annotated[str | None, Query()] = None,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: Annotated[str | None, Query()] = None,
    ward: Annotated[str | None, Query(max_length=16)] = None,
) -> dict[str, Any]:
    """Linkers' work by ward or month: people on caseloads, reached in time, follow-ups on time."""
    breakdown = service.parse_by(by)
    period = _period(from_, to)
    shot = service.snapshot(
        request.app.state.session_factory, "linker_work", by=breakdown, period=period, ward=ward or None,
        settings=request.app.state.settings,
    )  # fmt: skip
    figures = shot.figures
    return _dump(
        LinkerWork(
            by=breakdown,
            from_=period.first.isoformat(),
            to=period.last.isoformat(),
            rows=figures["rows"],
            totals=figures["totals"],
            disclosure=Disclosure(
                rule=disclosure.RULE, suppressed_cells=figures["suppressed_cells"]
            ),
            computed_at=shot.computed_at.isoformat(),
        )
    )


@router.get("/outcomes", response_model=None, responses={200: {"model": Outcomes}})
def outcomes(
    request: Request,
    actor: ApiReader,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    """The ONS wellbeing answers of people who answered before their first match and after a
    completed one: averages, average change and ONS bands, only where 10 or more answered both."""
    period = _period(from_, to)
    shot = service.snapshot(
        request.app.state.session_factory, "outcomes", by=None, period=period, ward=None,
        settings=request.app.state.settings,
    )  # fmt: skip
    figures = shot.figures
    return _dump(
        Outcomes(
            from_=period.first.isoformat(),
            to=period.last.isoformat(),
            people_answered_both=figures["people_answered_both"],
            enough_people=figures["enough_people"],
            measures=figures["measures"],
            disclosure=Disclosure(
                rule=disclosure.RULE, suppressed_cells=figures["suppressed_cells"]
            ),
            computed_at=shot.computed_at.isoformat(),
        )
    )
