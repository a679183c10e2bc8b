"""Matching on a real database: suggestions, consent, item status, declined pairs and whole-area runs."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import func, select, update

from app.core.db import utcnow
from app.matching import service
from app.matching.models import OPEN_STATUSES, Match, MatchRun, MatchStatus
from app.registry import service as registry
from app.registry.service import OFFER, REQUEST
from tests.matching.conftest import HOME, TWO_KM, citizen, matches, offer, request, withdraw_matching


def offer_ids(suggestions) -> list[int]:
    return [s.other_id for s in suggestions]


def pairs(rows) -> set[tuple[int, int]]:
    return {(m.offer_id, m.request_id) for m in rows}


def test_suggestions_for_a_request_are_explained_rounded_and_best_first(db, settings, garden):
    found = service.suggestions_for_request(db, settings, request_id=garden.need.id)
    # Ffion is 4.3 km away, further than Rhian's 3 km: never suggested.
    assert offer_ids(found) == [garden.bryn_offer.id, garden.gwen_offer.id]
    bryn, gwen = found
    assert bryn.explanation == "Shares Gardening · about 1.5 km apart · both free Tuesday mornings"
    assert bryn.distance_km == 1.5  # 1.276 km, rounded to the half kilometre
    assert bryn.shared_skills == ["gardening"]
    assert bryn.shared_slots == ["tue-am"]
    assert gwen.explanation == "Shares Gardening · about 2 km apart · both free Wednesday afternoons"
    assert gwen.distance_km == 2.0 and gwen.shared_slots == ["wed-pm"]
    assert 0 < gwen.score < bryn.score <= 1
    [only] = service.suggestions_for_request(db, settings, request_id=garden.need.id, limit=1)
    assert only.other_id == garden.bryn_offer.id


def test_suggestions_for_an_offer_show_the_request_the_same_way(db, settings, garden):
    found = service.suggestions_for_offer(db, settings, offer_id=garden.bryn_offer.id)
    assert [s.other_id for s in found] == [garden.need.id]
    assert found[0].explanation == "Shares Gardening · about 1.5 km apart · both free Tuesday mornings"
    assert found[0].distance_km == 1.5
    assert service.suggestions_for_offer(db, settings, offer_id=garden.ffion_offer.id) == []


def test_remote_pairs_are_explained_without_a_distance(db, settings, places):
    asker = citizen(db, settings, "Ceri Owen")
    helper = citizen(db, settings, "Dai Pritchard", TWO_KM)
    need = request(db, asker, skills=["it_help", "smartphone_help"], mode="remote", availability=["mon-pm", "thu-eve"])
    help_ = offer(db, helper, skills=["it_help"], mode="either", availability=["mon-pm", "mon-eve"])
    [found] = service.suggestions_for_request(db, settings, request_id=need.id)
    assert found.other_id == help_.id
    assert found.distance_km is None
    assert found.explanation == "Shares IT and computer help · by phone or online · both free Monday afternoons"
    assert found.shared_skills == ["it_help"] and found.shared_slots == ["mon-pm"]


def test_withdrawing_matching_consent_removes_a_person_from_suggestions_and_the_next_run(db, settings, garden):
    assert garden.bryn_offer.id in offer_ids(service.suggestions_for_request(db, settings, request_id=garden.need.id))
    # Control: a run now would give Rhian Bryn, her best match (undone straight away).
    nested = db.begin_nested()
    service.run_allocation(db, settings)
    assert pairs(matches(db)) == {(garden.bryn_offer.id, garden.need.id)}
    nested.rollback()
    assert matches(db) == []

    withdraw_matching(db, settings, garden.bryn)

    assert offer_ids(service.suggestions_for_request(db, settings, request_id=garden.need.id)) == [garden.gwen_offer.id]
    assert service.suggestions_for_offer(db, settings, offer_id=garden.bryn_offer.id) == []
    run = service.run_allocation(db, settings)
    assert run.offers_considered == 2  # Gwen and Ffion; not Bryn
    assert pairs(matches(db)) == {(garden.gwen_offer.id, garden.need.id)}
    assert matches(db, offer_id=garden.bryn_offer.id) == []


def test_a_requester_who_withdraws_consent_gets_no_suggestions_and_no_match(db, settings, garden):
    withdraw_matching(db, settings, garden.rhian)
    assert service.suggestions_for_request(db, settings, request_id=garden.need.id) == []
    assert service.suggestions_for_offer(db, settings, offer_id=garden.bryn_offer.id) == []
    run = service.run_allocation(db, settings)
    assert run.requests_considered == 0 and run.new_suggestions == 0
    assert matches(db) == []


def test_withdrawing_consent_after_a_run_frees_the_other_side_for_the_next_run(db, settings, garden):
    """Bryn was suggested to Rhian, then withdrew. The next run must not keep him matched
    ("a person without matching consent is never matched"), and Rhian must not be stranded."""
    service.run_allocation(db, settings)
    assert pairs(matches(db)) == {(garden.bryn_offer.id, garden.need.id)}
    withdraw_matching(db, settings, garden.bryn)

    service.run_allocation(db, settings)
    open_rows = [m for m in matches(db) if m.status in OPEN_STATUSES]
    assert garden.bryn_offer.id not in {m.offer_id for m in open_rows}, "an open suggestion survives the withdrawal"
    assert pairs(open_rows) == {(garden.gwen_offer.id, garden.need.id)}


def test_paused_or_expired_items_are_not_suggested(db, settings, garden):
    registry.change_status(db, kind=OFFER, item=garden.bryn_offer, action="pause")
    garden.gwen_offer.expires_at = utcnow() - timedelta(minutes=1)
    db.add(garden.gwen_offer)
    db.commit()
    assert service.suggestions_for_request(db, settings, request_id=garden.need.id) == []
    assert service.suggestions_for_offer(db, settings, offer_id=garden.bryn_offer.id) == []
    assert service.suggestions_for_offer(db, settings, offer_id=garden.gwen_offer.id) == []
    run = service.run_allocation(db, settings)
    assert run.new_suggestions == 0 and matches(db) == []

    registry.change_status(db, kind=OFFER, item=garden.bryn_offer, action="reopen")
    db.commit()
    assert offer_ids(service.suggestions_for_request(db, settings, request_id=garden.need.id)) == [garden.bryn_offer.id]
    # A paused request sees nothing and is offered to nobody.
    registry.change_status(db, kind=REQUEST, item=garden.need, action="pause")
    db.commit()
    assert service.suggestions_for_request(db, settings, request_id=garden.need.id) == []
    assert service.suggestions_for_offer(db, settings, offer_id=garden.bryn_offer.id) == []


def test_an_item_stops_being_suggested_the_moment_it_expires(db, settings, garden):
    """Nothing is written when an item's end date passes: time alone must take it out."""
    garden.gwen_offer.expires_at = utcnow() + timedelta(seconds=1.5)
    db.add(garden.gwen_offer)
    db.commit()
    assert garden.gwen_offer.id in offer_ids(service.suggestions_for_request(db, settings, request_id=garden.need.id))
    assert service.suggestions_for_offer(db, settings, offer_id=garden.gwen_offer.id) != []

    time.sleep(max(0.0, (garden.gwen_offer.expires_at - utcnow()).total_seconds()) + 0.2)

    assert not registry.in_matching(db, kind=OFFER, item_id=garden.gwen_offer.id)
    assert offer_ids(service.suggestions_for_request(db, settings, request_id=garden.need.id)) == [garden.bryn_offer.id]
    assert service.suggestions_for_offer(db, settings, offer_id=garden.gwen_offer.id) == []


def test_a_rerun_never_duplicates_an_open_suggestion(db, settings, garden):
    first = service.run_allocation(db, settings)
    assert first.new_suggestions == 1
    second = service.run_allocation(db, settings)
    assert second.new_suggestions == 0 and second.requests_covered == 0
    assert len(matches(db)) == 1

    # A new request joins: the next run suggests for it alone.
    neighbour = citizen(db, settings, "Nia Hughes", HOME)
    newcomer = request(db, neighbour, availability=["wed-pm"])
    third = service.run_allocation(db, settings)
    assert third.new_suggestions == 1
    assert pairs(matches(db, run_id=third.id)) == {(garden.gwen_offer.id, newcomer.id)}
    service.run_allocation(db, settings)

    duplicates = db.execute(
        select(Match.offer_id, Match.request_id)
        .where(Match.status.in_(OPEN_STATUSES))
        .group_by(Match.offer_id, Match.request_id)
        .having(func.count() > 1)
    ).all()
    assert duplicates == []
    served = db.execute(
        select(Match.request_id).where(Match.status.in_(OPEN_STATUSES)).group_by(Match.request_id).having(func.count() > 1)
    ).all()
    assert served == [], "a request holds two open suggestions"


def test_a_declined_pair_is_never_proposed_again(db, settings, garden):
    service.run_allocation(db, settings)
    [first] = matches(db)
    assert (first.offer_id, first.request_id) == (garden.bryn_offer.id, garden.need.id)
    db.execute(update(Match).where(Match.id == first.id).values(status=MatchStatus.declined))
    db.commit()

    assert offer_ids(service.suggestions_for_request(db, settings, request_id=garden.need.id)) == [garden.gwen_offer.id]
    assert service.suggestions_for_offer(db, settings, offer_id=garden.bryn_offer.id) == []
    for _ in range(2):
        service.run_allocation(db, settings)
    rows = matches(db)
    assert [(m.offer_id, m.status) for m in rows if m.request_id == garden.need.id] == [
        (garden.bryn_offer.id, MatchStatus.declined),
        (garden.gwen_offer.id, MatchStatus.suggested),
    ]


def test_an_offer_with_capacity_two_serves_at_most_two_requests(db, settings, places):
    helper = citizen(db, settings, "Morgan Llewellyn", HOME)
    shared = offer(db, helper, mode="remote", capacity=2, availability=["tue-am"])
    askers = [citizen(db, settings, f"Asker {name}", TWO_KM) for name in ("Alaw", "Betsan", "Carys")]
    needs = [request(db, who, mode="remote", availability=["tue-am"]) for who in askers]

    run = service.run_allocation(db, settings)
    rows = matches(db)
    assert len(rows) == 2 and {m.offer_id for m in rows} == {shared.id}
    assert len({m.request_id for m in rows}) == 2 and {m.request_id for m in rows} < {n.id for n in needs}
    assert run.requests_covered == 2 and run.offers_used == 1

    # Both places are taken by open suggestions: the third request waits.
    again = service.run_allocation(db, settings)
    assert again.new_suggestions == 0
    assert len(matches(db)) == 2


def test_a_run_records_its_figures(db, settings, garden, admin):
    more = citizen(db, settings, "Nia Hughes", HOME)
    second_need = request(db, more, availability=["wed-pm"])
    third_need = request(db, more, skills=["befriending"], mode="remote", availability=["sun-eve"])  # nobody offers this
    # What each pair scores before the run takes any place: the run must store exactly that.
    expected_scores = {
        (s.other_id, need_id): round(s.score * 1000)
        for need_id in (garden.need.id, second_need.id)
        for s in service.suggestions_for_request(db, settings, request_id=need_id, limit=50)
    }

    run = service.run_allocation(db, settings, account=admin)
    db.commit()
    db.expire_all()
    stored = db.get(MatchRun, run.id)
    rows = matches(db, run_id=run.id)
    assert pairs(rows) == {(garden.bryn_offer.id, garden.need.id), (garden.gwen_offer.id, second_need.id)}
    assert third_need.id not in {m.request_id for m in rows}
    assert stored.requests_considered == 3
    assert stored.offers_considered == 3
    assert stored.requests_covered == 2
    assert stored.offers_used == 2
    assert stored.new_suggestions == 2
    assert stored.total_score == sum(m.score for m in rows) > 0
    assert isinstance(stored.milliseconds, int) and stored.milliseconds >= 0
    assert stored.finished_at is not None and stored.finished_at >= stored.started_at
    assert stored.triggered_by_account_id == admin.id
    for m in rows:
        assert m.status is MatchStatus.suggested and m.version == 1
        assert m.score == expected_scores[(m.offer_id, m.request_id)]
        assert m.explanation.startswith("Shares Gardening · about ")
        assert (m.distance_km * 2).is_integer() and m.distance_km >= 0.5
        assert set(m.breakdown) == {"skills", "distance", "time", "fresh"}
    assert {m.request_id: m.distance_km for m in rows}[garden.need.id] == 1.5
