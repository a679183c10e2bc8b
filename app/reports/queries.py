"""Read-only aggregate queries for the reports: raw counts per row, never a row per person.

Every figure here is exact and unprotected; `app.reports.service` passes each through
`app.reports.disclosure` before anyone sees it. What the figures mean (also said on the pages):

- A row is a ward (where the person lives; matches count in the ward of the person helped), a
  month (borough time), or a skill category (of the offer or request; a match counts in the
  categories of the request).
- "Registered": the person's record was created in the period; "with a linker" when a linker
  created it.
- "Live": an item that had gone live by the end of the period and had not closed or expired before
  its start (a pause in between is not subtracted).
- Matches count when they were proposed, accepted or completed in the period; declines when
  declined (suggestions included); cancellations of matches that had been proposed.
- Hours given: the time recorded on matches completed in the period (both people's figure, or
  the lower of the two while one is still to confirm).

Distinct counts (people, items) over months or categories do not add up to the total: someone
with an offer live in March and April is one person in the total. The totals are counted
separately, from the exact data.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Integer, case, distinct, func, literal, select, union, union_all
from sqlalchemy.orm import aliased
from sqlmodel import Session

from app.core.db import UTCDateTime
from app.linkers.models import (
    AttemptOutcome,
    CaseAssignment,
    ContactAttempt,
    FollowUp,
    FollowUpResult,
)
from app.linkers.timeliness import LOCAL, contact_due_on, local_date, utc_midnight_after
from app.matching.models import Match, MatchStatus, WellbeingAnswer, WellbeingStage
from app.matching.wellbeing import MEASURES
from app.registry.models import HelpRequest, HelpRequestSkill, Offer, OfferSkill, Person, Skill


class By(str, enum.Enum):
    ward = "ward"
    month = "month"
    skill_category = "skill_category"


@dataclass(frozen=True)
class Period:
    """Whole days in the borough's time, `first` to `last` inclusive."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, datetime.min.time(), tzinfo=LOCAL).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return utc_midnight_after(self.last)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def months(self) -> list[tuple[str, datetime, datetime]]:
        """(YYYY-MM, start, end) for each calendar month the period touches, clipped to it."""
        found = []
        month = self.first.replace(day=1)
        while month <= self.last:
            following = (month + timedelta(days=32)).replace(day=1)
            first = max(month, self.first)
            last = min(following - timedelta(days=1), self.last)
            found.append(
                (month.strftime("%Y-%m"), Period(first, last).start, Period(first, last).end)
            )
            month = following
        return found


# --- how rows are keyed -------------------------------------------------------------------------


def _buckets(edges: list[tuple[datetime, datetime]]):
    """The periods to count in, as a small table (idx, lo, hi) both databases understand."""
    rows = [
        select(
            literal(i, Integer).label("idx"),
            literal(lo, UTCDateTime).label("lo"),
            literal(hi, UTCDateTime).label("hi"),
        )
        for i, (lo, hi) in enumerate(edges)
    ]
    return (union_all(*rows) if len(rows) > 1 else rows[0]).subquery("bucket")


def _item_categories(link, link_item_column):
    return (
        select(link_item_column.label("item_id"), Skill.category_id.label("category_id"))
        .join(Skill, Skill.id == link.skill_id)
        .distinct()
        .subquery()
    )


def _person_categories():
    """Each person's skill categories, from the offers and requests they have made live."""
    offers = (
        select(Offer.person_id, Skill.category_id)
        .join(OfferSkill, OfferSkill.offer_id == Offer.id)
        .join(Skill, Skill.id == OfferSkill.skill_id)
        .where(Offer.published_at.is_not(None))
    )
    requests = (
        select(HelpRequest.person_id, Skill.category_id)
        .join(HelpRequestSkill, HelpRequestSkill.request_id == HelpRequest.id)
        .join(Skill, Skill.id == HelpRequestSkill.skill_id)
        .where(HelpRequest.published_at.is_not(None))
    )
    return union(offers, requests).subquery("person_category")


@dataclass(frozen=True)
class Fact:
    """Something reports count: a table, what is counted (distinct) or summed, when it happened
    (a moment, or a span from `start` to `end`), whose ward it counts in, and its categories."""

    source: Any  # a table or a join
    counted: Any
    start: Any
    person: Any  # the person whose ward the row is
    categories: Callable[[], Any] | None  # () -> subquery (item_id, category_id)
    item: Any = None  # the column `categories` joins on
    end: Any = None
    where: tuple = ()
    summed: Any = None  # sum this instead of counting
    in_bucket: Callable[[Any], Any] | None = None  # (bucket) -> a condition tied to the row's time


def _grouped(
    db: Session,
    fact: Fact,
    by: By,
    edges: list[tuple[datetime, datetime]],
    *,
    keyed: bool,
    wards: list[str] | None,
) -> dict[Any, int]:
    bucket = _buckets(edges)
    if fact.end is None:
        in_bucket = sa.and_(fact.start >= bucket.c.lo, fact.start < bucket.c.hi)
    else:
        in_bucket = sa.and_(
            fact.start < bucket.c.hi, sa.or_(fact.end.is_(None), fact.end >= bucket.c.lo)
        )
    measure = (
        func.coalesce(func.sum(fact.summed), 0)
        if fact.summed is not None
        else func.count(distinct(fact.counted))
    )
    source = fact.source.join(bucket, in_bucket)
    where = list(fact.where)
    if fact.in_bucket is not None:
        where.append(fact.in_bucket(bucket))
    key = literal("total")
    if (keyed and by is By.ward) or wards is not None:
        if fact.person is not Person.id:
            source = source.join(Person, Person.id == fact.person)
        if wards is not None:
            where.append(Person.ward_code.in_(wards))
    if keyed and by is By.ward:
        key = Person.ward_code
    elif keyed and by is By.skill_category:
        categories = fact.categories()
        source = source.join(categories, categories.c.item_id == fact.item)
        key = categories.c.category_id
    elif keyed and by is By.month:
        key = bucket.c.idx
    statement = select(key.label("key"), measure).select_from(source).where(*where).group_by(key)
    return {row[0]: int(row[1] or 0) for row in db.execute(statement)}


def count_rows(
    db: Session, fact: Fact, by: By, period: Period, *, wards: list[str] | None = None
) -> tuple[dict[Any, int], int]:
    """({row key: exact count}, exact total) over the period, for people in `wards` if given."""
    whole = [(period.start, period.end)]
    if by is By.month:
        months = period.months()
        by_index = _grouped(
            db, fact, by, [(lo, hi) for _key, lo, hi in months], keyed=True, wards=wards
        )
        rows = {months[index][0]: value for index, value in by_index.items()}
    else:
        rows = _grouped(db, fact, by, whole, keyed=True, wards=wards)
    total = _grouped(db, fact, by, whole, keyed=False, wards=wards).get("total", 0)
    return rows, total


# --- the facts ----------------------------------------------------------------------------------

OFFER_CATEGORIES = lambda: _item_categories(OfferSkill, OfferSkill.offer_id)
REQUEST_CATEGORIES = lambda: _item_categories(HelpRequestSkill, HelpRequestSkill.request_id)


def _item_end(model):
    """When an item stopped being live: closed, or expired, whichever came first."""
    return case(
        (model.closed_at.is_not(None) & (model.closed_at < model.expires_at), model.closed_at),
        else_=model.expires_at,
    )


def _live(model, counted):
    return Fact(
        source=model.__table__,
        counted=counted,
        start=model.published_at,
        end=_item_end(model),
        person=model.person_id,
        categories=OFFER_CATEGORIES if model is Offer else REQUEST_CATEGORIES,
        item=model.id,
        where=(model.published_at.is_not(None),),
    )


_match_request = Match.__table__.join(HelpRequest, HelpRequest.id == Match.request_id)


def _matches(when, *where, counted=None, summed=None) -> Fact:
    return Fact(
        source=_match_request,
        counted=Match.id if counted is None else counted,
        start=when,
        person=HelpRequest.person_id,
        categories=REQUEST_CATEGORIES,
        item=HelpRequest.id,
        where=(when.is_not(None), *where),
        summed=summed,
    )


def minutes_recorded():
    """The time a completed match records, or, while one person is still to confirm, the lower
    of the two accounts (the workflow's own rule after 14 days)."""
    lower = case(
        (Match.offer_minutes.is_(None), Match.request_minutes),
        (Match.request_minutes.is_(None), Match.offer_minutes),
        (Match.offer_minutes < Match.request_minutes, Match.offer_minutes),
        else_=Match.request_minutes,
    )
    return func.coalesce(Match.minutes_given, lower)


def _registered(*where) -> Fact:
    def categories():
        person_categories = _person_categories()
        return select(
            person_categories.c.person_id.label("item_id"), person_categories.c.category_id
        ).subquery()

    return Fact(
        source=Person.__table__,
        counted=Person.id,
        start=Person.created_at,
        person=Person.id,
        categories=categories,
        item=Person.id,
        where=where,
    )


def _giving_and_receiving() -> Fact:
    """People with a live offer who, in the same row's time, also had a live request (any category)."""
    request = HelpRequest.__table__.alias("also_request")
    request_end = case(
        (
            request.c.closed_at.is_not(None) & (request.c.closed_at < request.c.expires_at),
            request.c.closed_at,
        ),
        else_=request.c.expires_at,
    )

    def also_receiving(bucket):
        return (
            select(literal(1))
            .where(
                request.c.person_id == Offer.person_id,
                request.c.published_at.is_not(None),
                request.c.published_at < bucket.c.hi,
                request_end >= bucket.c.lo,
            )
            .correlate_except(request)
            .exists()
        )

    live = _live(Offer, Offer.person_id)
    return Fact(**{**live.__dict__, "in_bucket": also_receiving})


PARTICIPATION_FACTS: dict[str, Callable[[], Fact]] = {
    "people_giving_and_receiving": _giving_and_receiving,
    "people_registered": lambda: _registered(),
    "people_registered_online": lambda: _registered(Person.created_by_account_id.is_(None)),
    "people_registered_with_linker": lambda: _registered(Person.created_by_account_id.is_not(None)),
    "people_with_offer": lambda: _live(Offer, Offer.person_id),
    "people_with_request": lambda: _live(HelpRequest, HelpRequest.person_id),
    "offers_live": lambda: _live(Offer, Offer.id),
    "requests_live": lambda: _live(HelpRequest, HelpRequest.id),
    "offers_with_home": lambda: _matches(Match.accepted_at, counted=Match.offer_id),
    "requests_met": lambda: _matches(
        Match.completed_at, Match.status == MatchStatus.completed, counted=Match.request_id
    ),
    "matches_proposed": lambda: _matches(Match.proposed_at),
    "matches_accepted": lambda: _matches(Match.accepted_at),
    "matches_completed": lambda: _matches(
        Match.completed_at, Match.status == MatchStatus.completed
    ),
    "matches_declined": lambda: _matches(Match.updated_at, Match.status == MatchStatus.declined),
    "matches_cancelled": lambda: _matches(
        Match.updated_at, Match.status == MatchStatus.cancelled, Match.proposed_at.is_not(None)
    ),
    "minutes_given": lambda: _matches(
        Match.completed_at, Match.status == MatchStatus.completed, summed=minutes_recorded()
    ),
}


def decline_reasons(
    db: Session, by: By, period: Period, *, wards: list[str] | None = None
) -> tuple[dict[Any, dict[str, int]], dict[str, int]]:
    """({row: {reason: count}}, {reason: total}) for matches declined in the period."""
    per_row: dict[Any, dict[str, int]] = defaultdict(dict)
    totals: dict[str, int] = {}
    for reason in ("not_now", "too_far", "not_needed", "other"):
        fact = _matches(
            Match.updated_at, Match.status == MatchStatus.declined, Match.decline_reason == reason
        )
        rows, total = count_rows(db, fact, by, period, wards=wards)
        for key, value in rows.items():
            per_row[key][reason] = value
        totals[reason] = total
    return dict(per_row), totals


# --- figures that need each case (medians, timeliness), fetched as small tuples ----------------


def _row_key(by: By, moment: datetime, ward: str | None) -> str | None:
    if by is By.month:
        return local_date(moment).strftime("%Y-%m")
    return ward


def days_request_to_first_match(
    db: Session, by: By, period: Period, *, wards: list[str] | None = None
) -> tuple[dict[Any, list[float]], list[float]]:
    """Days from a request going live to its first accepted match, for first matches in the period."""
    first = (
        select(Match.request_id, func.min(Match.accepted_at).label("first"))
        .where(Match.accepted_at.is_not(None))
        .group_by(Match.request_id)
        .subquery()
    )
    rows = db.execute(
        select(HelpRequest.id, HelpRequest.published_at, first.c.first, Person.ward_code)
        .join(first, first.c.request_id == HelpRequest.id)
        .join(Person, Person.id == HelpRequest.person_id)
        .where(
            HelpRequest.published_at.is_not(None),
            first.c.first >= literal(period.start, UTCDateTime),
            first.c.first < literal(period.end, UTCDateTime),
            *_in_wards(wards),
        )
    ).all()
    categories = (
        _categories_of(db, REQUEST_CATEGORIES, [row[0] for row in rows])
        if by is By.skill_category
        else {}
    )
    return _spread(by, rows, categories)


def days_registration_to_first_match(
    db: Session, by: By, period: Period, *, wards: list[str] | None = None
) -> tuple[dict[Any, list[float]], list[float]]:
    """Days from registering to a person's first accepted match (either side), for first matches
    in the period."""
    sides = union_all(
        select(Offer.person_id.label("person_id"), Match.accepted_at.label("at"))
        .join(Match, Match.offer_id == Offer.id)
        .where(Match.accepted_at.is_not(None)),
        select(HelpRequest.person_id.label("person_id"), Match.accepted_at.label("at"))
        .join(Match, Match.request_id == HelpRequest.id)
        .where(Match.accepted_at.is_not(None)),
    ).subquery()
    first = (
        select(sides.c.person_id, func.min(sides.c.at).label("first"))
        .group_by(sides.c.person_id)
        .subquery()
    )
    rows = db.execute(
        select(Person.id, Person.created_at, first.c.first, Person.ward_code)
        .join(first, first.c.person_id == Person.id)
        .where(
            first.c.first >= literal(period.start, UTCDateTime),
            first.c.first < literal(period.end, UTCDateTime),
            *_in_wards(wards),
        )
    ).all()
    categories: dict[int, set[int]] = {}
    if by is By.skill_category:
        person_categories = _person_categories()
        ids = [row[0] for row in rows]
        for chunk in _chunks(ids):
            for person_id, category_id in db.execute(
                select(person_categories.c.person_id, person_categories.c.category_id).where(
                    person_categories.c.person_id.in_(chunk)
                )
            ):
                categories.setdefault(person_id, set()).add(category_id)
    return _spread(by, rows, categories)


def _in_wards(wards: list[str] | None) -> list:
    return [] if wards is None else [Person.ward_code.in_(wards)]


def _spread(by: By, rows, categories: dict[int, set[int]]):
    per_row: dict[Any, list[float]] = defaultdict(list)
    every: list[float] = []
    for entity_id, started, first, ward in rows:
        started = _aware(started)
        first = _aware(first)
        days = max(0.0, (first - started).total_seconds() / 86_400)
        every.append(days)
        if by is By.skill_category:
            for category in categories.get(entity_id, ()):
                per_row[category].append(days)
        else:
            per_row[_row_key(by, first, ward)].append(days)
    return dict(per_row), every


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _chunks(ids: list[int], size: int = 900):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _categories_of(db: Session, factory, ids: list[int]) -> dict[int, set[int]]:
    table = factory()
    found: dict[int, set[int]] = {}
    for chunk in _chunks(ids):
        for item_id, category_id in db.execute(
            select(table.c.item_id, table.c.category_id).where(table.c.item_id.in_(chunk))
        ):
            found.setdefault(item_id, set()).add(category_id)
    return found


@dataclass
class LinkerWork:
    on_caseload: dict[Any, set[int]]
    new_cases: dict[Any, int]
    contacted_in_time: dict[Any, int]
    follow_ups_due: dict[Any, int]
    follow_ups_on_time: dict[Any, int]
    totals: dict[str, int]


def linker_work(
    db: Session,
    by: By,
    period: Period,
    *,
    contact_working_days: int,
    wards: list[str] | None = None,
) -> LinkerWork:
    """People on caseloads in the period; of those newly picked up, how many were reached within
    the target; of the follow-ups due, how many were done by the day they were due."""
    start, end = literal(period.start, UTCDateTime), literal(period.end, UTCDateTime)
    assignments = db.execute(
        select(
            CaseAssignment.person_id,
            CaseAssignment.started_at,
            CaseAssignment.ended_at,
            Person.ward_code,
        )
        .join(Person, Person.id == CaseAssignment.person_id)
        .where(
            CaseAssignment.started_at < end,
            sa.or_(CaseAssignment.ended_at.is_(None), CaseAssignment.ended_at >= start),
            *_in_wards(wards),
        )
    ).all()
    first_reached = dict(
        db.execute(
            select(ContactAttempt.person_id, func.min(ContactAttempt.attempted_at))
            .where(
                ContactAttempt.outcome == AttemptOutcome.reached,
                ContactAttempt.attempted_at >= start,
            )
            .group_by(ContactAttempt.person_id)
        ).all()
    )
    on_caseload: dict[Any, set[int]] = defaultdict(set)
    new_cases: dict[Any, int] = defaultdict(int)
    contacted: dict[Any, int] = defaultdict(int)
    everyone: set[int] = set()
    new_total = contacted_total = 0
    months = period.months()
    for person_id, started, ended, ward in assignments:
        started = _aware(started)
        ended = _aware(ended) if ended else None
        everyone.add(person_id)
        if by is By.month:
            for key, lo, hi in months:
                if started < hi and (ended is None or ended >= lo):
                    on_caseload[key].add(person_id)
        else:
            on_caseload[ward].add(person_id)
        if period.start <= started < period.end:
            key = _row_key(by, started, ward)
            new_cases[key] += 1
            new_total += 1
            reached = first_reached.get(person_id)
            if (
                reached is not None
                and _aware(reached) >= started
                and _aware(reached)
                < utc_midnight_after(contact_due_on(started, contact_working_days))
            ):
                contacted[key] += 1
                contacted_total += 1
    due: dict[Any, int] = defaultdict(int)
    on_time: dict[Any, int] = defaultdict(int)
    due_total = on_time_total = 0
    for due_on, finished_at, result, ward in db.execute(
        select(FollowUp.due_on, FollowUp.finished_at, FollowUp.result, Person.ward_code)
        .join(Person, Person.id == FollowUp.person_id)
        .where(FollowUp.due_on >= period.first, FollowUp.due_on <= period.last, *_in_wards(wards))
    ):
        key = due_on.strftime("%Y-%m") if by is By.month else ward
        due[key] += 1
        due_total += 1
        if (
            result == FollowUpResult.done
            and finished_at is not None
            and _aware(finished_at) < utc_midnight_after(due_on)
        ):
            on_time[key] += 1
            on_time_total += 1
    return LinkerWork(
        on_caseload=dict(on_caseload),
        new_cases=dict(new_cases),
        contacted_in_time=dict(contacted),
        follow_ups_due=dict(due),
        follow_ups_on_time=dict(on_time),
        totals={
            "people_on_caseloads": len(everyone),
            "new_on_caseloads": new_total,
            "contacted_in_time": contacted_total,
            "follow_ups_due": due_total,
            "follow_ups_on_time": on_time_total,
        },
    )


# --- volunteers (social value) ------------------------------------------------------------------


def giving_by_person_and_month(db: Session, period: Period) -> list[tuple[int, str, int]]:
    """(helper's person id, month, minutes) for matches completed in the period: the helper is the
    offer's person. Used only to count regular volunteers; never published."""
    rows = db.execute(
        select(Offer.person_id, Match.completed_at, minutes_recorded())
        .join(Offer, Offer.id == Match.offer_id)
        .where(
            Match.status == MatchStatus.completed,
            Match.completed_at >= literal(period.start, UTCDateTime),
            Match.completed_at < literal(period.end, UTCDateTime),
        )
    ).all()
    return [
        (person_id, local_date(_aware(at)).strftime("%Y-%m"), int(minutes or 0))
        for person_id, at, minutes in rows
    ]


# --- what rows there are ------------------------------------------------------------------------


def registered_by_ward(db: Session) -> dict[str, int]:
    """Everyone ever registered, by ward (the folding of small wards rests on this)."""
    return {
        ward: count
        for ward, count in db.execute(
            select(Person.ward_code, func.count())
            .where(Person.ward_code.is_not(None))
            .group_by(Person.ward_code)
        )
    }


def ward_names(db: Session) -> dict[str, str]:
    from app.registry.models import Ward

    return dict(db.execute(select(Ward.code, Ward.name)).all())


def category_names(db: Session) -> list[tuple[int, str, str]]:
    from app.registry.models import SkillCategory

    return [
        tuple(row)
        for row in db.execute(
            select(SkillCategory.id, SkillCategory.code, SkillCategory.name).order_by(
                SkillCategory.position, SkillCategory.name
            )
        )
    ]


# --- outcomes: the ONS wellbeing answers ---------------------------------------------------------


def wellbeing_pairs(db: Session, period: Period) -> list[tuple[dict[str, int], dict[str, int]]]:
    """(starting point, latest answer after a completed match) for each person who gave both, the
    latest "after" in the period. Never published: only averages and bands of 10 or more people."""
    after = aliased(WellbeingAnswer)
    in_period = (
        after.stage == WellbeingStage.after,
        after.answered_at >= literal(period.start, UTCDateTime),
        after.answered_at < literal(period.end, UTCDateTime),
    )
    columns = [getattr(WellbeingAnswer, m) for m in MEASURES]
    after_columns = [getattr(after, m) for m in MEASURES]
    rows = db.execute(
        select(WellbeingAnswer.person_id, *columns, *after_columns)
        .join(after, after.person_id == WellbeingAnswer.person_id)
        .where(WellbeingAnswer.stage == WellbeingStage.before, *in_period)
        .order_by(WellbeingAnswer.person_id, after.answered_at, after.id)
    ).all()
    latest: dict[int, tuple[dict[str, int], dict[str, int]]] = {}
    width = len(MEASURES)
    for row in rows:  # ordered by time, so the last seen per person is their latest
        person_id, values = row[0], row[1:]
        before = dict(zip(MEASURES, values[:width], strict=True))
        latest_after = dict(zip(MEASURES, values[width:], strict=True))
        latest[person_id] = (before, latest_after)
    return list(latest.values())
