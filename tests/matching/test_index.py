"""The index follows the change log: every kind of write reaches another process's index on its
next call, without a rebuild; a rolled-back write changes nothing."""

from __future__ import annotations

from sqlalchemy import insert

from app.core import changes
from app.core.changes import Change
from app.core.validation import parse
from app.matching import service
from app.matching.index import LiveIndex
from app.matching.models import Match, MatchStatus
from app.registry import service as registry
from app.registry.models import PersonUpdate
from app.registry.service import MATCHING_STAMP, OFFER
from tests.matching.conftest import FOUR_AND_A_HALF_KM, HOME, citizen, offer, request, withdraw_matching


def offers_for(index: LiveIndex, db, request_id: int) -> list[int]:
    """What a process holding `index` would suggest for a help request."""
    view = index.get(db)
    found = view.find("request", request_id)
    if found is None:
        return []
    ids = set()
    from app.matching import engine
    from app.matching.engine import Context, Weights

    table, row = found
    for offers in view.offer_tables():
        scored = engine.offers_for_request(offers, table, row, Weights(), Context(declined=view.declined, now=0))
        ids |= {int(offers.ids[o]) for o in scored.offer_rows}
    return sorted(ids)


def test_each_kind_of_write_reaches_a_second_process_without_a_rebuild(db, settings, garden):
    other_process = LiveIndex()
    assert offers_for(other_process, db, garden.need.id) == sorted([garden.bryn_offer.id, garden.gwen_offer.id])
    assert other_process.rebuilds == 1

    # An item paused
    registry.change_status(db, kind=OFFER, item=garden.gwen_offer, action="pause")
    db.commit()
    assert offers_for(other_process, db, garden.need.id) == [garden.bryn_offer.id]
    # ...and reopened
    registry.change_status(db, kind=OFFER, item=garden.gwen_offer, action="reopen")
    db.commit()
    assert garden.gwen_offer.id in offers_for(other_process, db, garden.need.id)

    # A consent withdrawn
    withdraw_matching(db, settings, garden.bryn)
    assert offers_for(other_process, db, garden.need.id) == [garden.gwen_offer.id]

    # A new offer, and an edit that brings one into reach
    newcomer = citizen(db, settings, "Nia Newydd", HOME)
    fresh = offer(db, newcomer)
    assert fresh.id in offers_for(other_process, db, garden.need.id)
    registry.update_item(db, kind=OFFER, item=garden.ffion_offer, person=garden.ffion.person,
                         data=parse(OFFER.update_model, {"max_distance_km": 10}))
    db.commit()
    assert garden.ffion_offer.id not in offers_for(other_process, db, garden.need.id), "Rhian's own limit is 3 km"

    # A person's new postcode moves their items
    registry.update_profile(db, person=garden.ffion.person,
                            data=parse(PersonUpdate, {"name": "Ffion Farrowby", "preferred_contact": "email", "postcode": HOME}))
    db.commit()
    assert garden.ffion_offer.id in offers_for(other_process, db, garden.need.id)

    # A declined pair
    db.execute(insert(Match.__table__).values(
        offer_id=fresh.id, request_id=garden.need.id, status=MatchStatus.declined.value, score=1, breakdown={},
        explanation="", offer_answer="pending", request_answer="pending", version=1,
        created_at=garden.need.created_at, updated_at=garden.need.created_at,
    ))
    changes.record(db, MATCHING_STAMP, [Change("declined", fresh.id, garden.need.id)])
    db.commit()
    assert fresh.id not in offers_for(other_process, db, garden.need.id)

    assert other_process.rebuilds == 1, "every change above was followed, none rebuilt the index"


def test_the_service_sees_a_change_on_the_very_next_call(db, settings, garden):
    before = [s.other_id for s in service.suggestions_for_request(db, settings, request_id=garden.need.id)]
    assert garden.bryn_offer.id in before
    registry.change_status(db, kind=OFFER, item=garden.bryn_offer, action="close")
    db.commit()
    after = [s.other_id for s in service.suggestions_for_request(db, settings, request_id=garden.need.id)]
    assert garden.bryn_offer.id not in after and garden.gwen_offer.id in after
    # An item that changed is still suggested from the delta, scored exactly as before.
    registry.update_item(db, kind=OFFER, item=garden.gwen_offer, person=garden.gwen.person,
                         data=parse(OFFER.update_model, {"title": "Gardening, with tea"}))
    db.commit()
    [gwen] = service.suggestions_for_request(db, settings, request_id=garden.need.id)
    assert gwen.other_id == garden.gwen_offer.id
    assert gwen.explanation == "Shares Gardening · about 2 km apart · both free Wednesday afternoons"


def test_a_rolled_back_write_changes_nothing(db, settings, garden):
    index = LiveIndex()
    assert garden.bryn_offer.id in offers_for(index, db, garden.need.id)
    savepoint = db.begin_nested()
    registry.change_status(db, kind=OFFER, item=garden.bryn_offer, action="pause")
    db.flush()
    assert garden.bryn_offer.id not in offers_for(index, db, garden.need.id)  # seen uncommitted
    savepoint.rollback()
    db.expire_all()
    assert garden.bryn_offer.id in offers_for(index, db, garden.need.id), "the rollback must not stick"
    # The same generation number is now reused by a different write: still no confusion.
    registry.change_status(db, kind=OFFER, item=garden.gwen_offer, action="pause")
    db.commit()
    assert offers_for(index, db, garden.need.id) == [garden.bryn_offer.id]


def test_a_pruned_log_makes_a_process_rebuild(db, settings, garden):
    index = LiveIndex()
    offers_for(index, db, garden.need.id)
    for _ in range(3):
        registry.change_status(db, kind=OFFER, item=garden.gwen_offer, action="pause")
        registry.change_status(db, kind=OFFER, item=garden.gwen_offer, action="reopen")
    changes.prune(db, MATCHING_STAMP, keep=1)
    db.commit()
    assert sorted(offers_for(index, db, garden.need.id)) == sorted([garden.bryn_offer.id, garden.gwen_offer.id])
    assert index.rebuilds == 2


def test_an_offer_far_away_comes_into_reach_through_its_new_place(db, settings, places):
    asker = citizen(db, settings, "Alys Ask")
    helper = citizen(db, settings, "Huw Help", FOUR_AND_A_HALF_KM)
    need = request(db, asker, max_distance_km=1)
    help_ = offer(db, helper, max_distance_km=1)
    index = LiveIndex()
    assert offers_for(index, db, need.id) == []
    registry.update_item(db, kind=OFFER, item=help_, person=helper.person, data=parse(OFFER.update_model, {"postcode": HOME}))
    db.commit()
    assert offers_for(index, db, need.id) == [help_.id]


def test_two_processes_on_one_database_follow_each_others_writes(databases, tmp_path):
    """Two engines with their own connections, as two uvicorn workers have: committed writes
    through one reach the other's index on its next call; a whole-area run is rebuilt in the
    background while the old index keeps answering."""
    import csv

    from app.core.config import Settings
    from app.core.db import make_engine, make_session_factory
    from app.migrations_support import upgrade_to_head
    from app.registry.models import PostcodeLocation
    from app.registry.postcodes import normalise_postcode
    from tests.conftest import SAMPLE
    from tests.registry.conftest import register

    url = databases.new("index")
    upgrade_to_head(url)
    writer_engine, reader_engine = make_engine(url), make_engine(url)
    settings = Settings(environment="test", database_url=url, outbox_dir=tmp_path / "outbox")
    try:
        Writer, Reader = make_session_factory(writer_engine), make_session_factory(reader_engine)
        with Writer() as db:
            with SAMPLE.open(newline="") as handle:
                for row in csv.DictReader(handle):
                    db.merge(PostcodeLocation(postcode=normalise_postcode(row["pcds"]), latitude=float(row["lat"]),
                                              longitude=float(row["long"]), ward_code=row["osward"]))
            db.commit()
            _asker_account, asker = register(db, settings, email="asker@example.org", name="Asker One")
            _helper_account, helper = register(db, settings, email="helper@example.org", name="Helper Two", postcode="AB10 1BR")
        from tests.matching.conftest import Citizen

        with Writer() as db:
            need = request(db, Citizen(_asker_account, db.merge(asker), "Asker One", "asker@example.org"))
            need_id = need.id

        other_process = LiveIndex()
        with Reader() as db:
            assert offers_for(other_process, db, need_id) == []

        with Writer() as db:
            help_ = offer(db, Citizen(_helper_account, db.merge(helper), "Helper Two", "helper@example.org"))
            help_id = help_.id
        with Reader() as db:
            assert offers_for(other_process, db, need_id) == [help_id]
        assert other_process.rebuilds == 1

        with Writer() as db:
            service.run_allocation(db, settings)  # many places change at once: a rebuild is due
            db.commit()
        with Reader() as db:
            assert offers_for(other_process, db, need_id) == [help_id]  # answered at once, meanwhile
        if other_process._rebuilding is not None:
            other_process._rebuilding.join(timeout=30)
        assert other_process.rebuilds == 2
        with Reader() as db:
            view = other_process.get(db)
            assert view.delta_offers is None, "the fresh base holds everything"
            assert offers_for(other_process, db, need_id) == [help_id]
    finally:
        writer_engine.dispose()
        reader_engine.dispose()
