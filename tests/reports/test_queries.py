"""The aggregate SQL agrees with the definitions worked out row by row in Python, on both
databases, for every breakdown (on a demo borough with a year of matches and casework)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC

import pytest
from sqlalchemy import select

from app.core.db import utcnow
from app.linkers.timeliness import local_date
from app.matching.models import Match, MatchStatus
from app.registry.models import HelpRequest, HelpRequestSkill, Offer, OfferSkill, Person, Skill
from app.reports import queries, service
from app.reports.queries import By


def _aware(moment):
    return None if moment is None else (moment if moment.tzinfo else moment.replace(tzinfo=UTC))


class Register:
    """Every row the definitions need, loaded once, and the definitions written the slow way."""

    def __init__(self, db):
        self.people = {p.id: p for p in db.execute(select(Person)).scalars()}
        self.offers = list(db.execute(select(Offer)).scalars())
        self.requests = list(db.execute(select(HelpRequest)).scalars())
        self.requests_by_id = {r.id: r for r in self.requests}
        self.matches = list(db.execute(select(Match)).scalars())
        category = dict(db.execute(select(Skill.id, Skill.category_id)).all())
        self.offer_categories = defaultdict(set)
        for offer_id, skill_id in db.execute(select(OfferSkill.offer_id, OfferSkill.skill_id)):
            self.offer_categories[offer_id].add(category[skill_id])
        self.request_categories = defaultdict(set)
        for request_id, skill_id in db.execute(select(HelpRequestSkill.request_id, HelpRequestSkill.skill_id)):
            self.request_categories[request_id].add(category[skill_id])
        self.person_categories = defaultdict(set)
        for offer in self.offers:
            if offer.published_at is not None:
                self.person_categories[offer.person_id] |= self.offer_categories[offer.id]
        for request in self.requests:
            if request.published_at is not None:
                self.person_categories[request.person_id] |= self.request_categories[request.id]

    @staticmethod
    def live(item, lo, hi) -> bool:
        if item.published_at is None:
            return False
        ended = item.expires_at
        if item.closed_at is not None and item.closed_at < item.expires_at:
            ended = item.closed_at
        return _aware(item.published_at) < hi and _aware(ended) >= lo

    def buckets(self, by: By, period):
        if by is By.month:
            return [(key, lo, hi) for key, lo, hi in period.months()]
        return [("all", period.start, period.end)]

    def keys(self, by: By, bucket_key, person_id, categories):
        if by is By.ward:
            return [self.people[person_id].ward_code]
        if by is By.month:
            return [bucket_key]
        return list(categories)

    def count(self, by: By, period, name: str) -> tuple[dict, int]:
        rows: dict = defaultdict(set)
        total: set = set()
        sums: dict = defaultdict(int)
        total_sum = 0
        for bucket_key, lo, hi in self.buckets(by, period):
            for thing, person_id, categories, weight in self._things(name, lo, hi):
                for key in self.keys(by, bucket_key, person_id, categories):
                    rows[key].add(thing)
                    sums[key] += weight or 0
        for thing, _person_id, _categories, weight in self._things(name, period.start, period.end):
            total.add(thing)
            total_sum += weight or 0
        if name == "minutes_given":
            return dict(sums), total_sum
        return {key: len(found) for key, found in rows.items()}, len(total)

    def _things(self, name, lo, hi):
        """(what is counted, whose ward, which categories, minutes) for one time window."""
        if name.startswith("people_registered"):
            for person in self.people.values():
                linker = person.created_by_account_id is not None
                if name.endswith("online") and linker or name.endswith("with_linker") and not linker:
                    continue
                if lo <= _aware(person.created_at) < hi:
                    yield person.id, person.id, self.person_categories[person.id], None
        elif name in ("people_with_offer", "offers_live"):
            for offer in self.offers:
                if self.live(offer, lo, hi):
                    yield (offer.person_id if name == "people_with_offer" else offer.id), offer.person_id, self.offer_categories[offer.id], None
        elif name in ("people_with_request", "requests_live"):
            for request in self.requests:
                if self.live(request, lo, hi):
                    yield (request.person_id if name == "people_with_request" else request.id), request.person_id, self.request_categories[request.id], None
        elif name == "people_giving_and_receiving":
            receiving = {r.person_id for r in self.requests if self.live(r, lo, hi)}
            for offer in self.offers:
                if self.live(offer, lo, hi) and offer.person_id in receiving:
                    yield offer.person_id, offer.person_id, self.offer_categories[offer.id], None
        else:
            for match in self.matches:
                request = self.requests_by_id[match.request_id]
                when, counted, ok = {
                    "offers_with_home": (match.accepted_at, match.offer_id, True),
                    "requests_met": (match.completed_at, match.request_id, match.status is MatchStatus.completed),
                    "matches_proposed": (match.proposed_at, match.id, True),
                    "matches_accepted": (match.accepted_at, match.id, True),
                    "matches_completed": (match.completed_at, match.id, match.status is MatchStatus.completed),
                    "matches_declined": (match.updated_at, match.id, match.status is MatchStatus.declined),
                    "matches_cancelled": (match.updated_at, match.id, match.status is MatchStatus.cancelled and match.proposed_at is not None),
                    "minutes_given": (match.completed_at, match.id, match.status is MatchStatus.completed),
                }[name]  # fmt: skip
                if ok and when is not None and lo <= _aware(when) < hi:
                    minutes = match.minutes_given
                    if minutes is None:
                        given = [m for m in (match.offer_minutes, match.request_minutes) if m is not None]
                        minutes = min(given) if given else 0
                    yield counted, request.person_id, self.request_categories[request.id], minutes


@pytest.mark.parametrize("by", list(By))
def test_every_participation_count_matches_its_definition(db, borough, by):
    assert borough["matches"] > 50 and borough["casework"] > 5
    register = Register(db)
    period = service.default_period(local_date(utcnow()))
    for name, fact in queries.PARTICIPATION_FACTS.items():
        rows, total = queries.count_rows(db, fact(), by, period)
        expected_rows, expected_total = register.count(by, period, name)
        assert total == expected_total, name
        assert {k: v for k, v in rows.items() if v} == {k: v for k, v in expected_rows.items() if v}, name
    some = queries.count_rows(db, queries.PARTICIPATION_FACTS["matches_completed"](), by, period)[1]
    assert some > 0  # the borough has history in the period, so the comparison meant something


def test_a_ward_filter_counts_only_that_wards_people(db, borough):
    period = service.default_period(local_date(utcnow()))
    rows, total = queries.count_rows(db, queries.PARTICIPATION_FACTS["people_registered"](), By.ward, period)
    ward = max(rows, key=rows.get)
    by_month, month_total = queries.count_rows(db, queries.PARTICIPATION_FACTS["people_registered"](), By.month, period, wards=[ward])
    assert month_total == rows[ward] and sum(by_month.values()) == rows[ward] and month_total < total
