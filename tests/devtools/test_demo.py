"""The demo borough: deterministic for a seed, shaped like real data, and clearly fictional."""

from __future__ import annotations

import hashlib
import math
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.core.db import make_engine, make_session_factory
from app.devtools.demo import (
    CENTRE_LAT,
    CENTRE_LON,
    KM_PER_DEG_LAT,
    KM_PER_DEG_LON,
    generate_borough,
)
from app.migrations_support import upgrade_to_head
from app.privacy.models import ConsentRecord
from app.registry.availability import ALL_SLOTS_MASK
from app.registry.models import (
    HelpRequest,
    HelpRequestSkill,
    Offer,
    OfferSkill,
    Person,
    PostcodeLocation,
    Skill,
    Ward,
)
from app.registry.postcodes import normalise_postcode

NOW = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)
N = 400


def generate(db, *, people: int = N, seed: int = 7, **kwargs) -> dict:
    summary = generate_borough(db, people=people, seed=seed, now=NOW, **kwargs)
    db.flush()
    return summary


def demo_people(db) -> list[Person]:
    return list(
        db.scalars(
            select(Person)
            .where(Person.postcode.like("NB%"), Person.account_id.is_(None))
            .order_by(Person.id)
        )
    )


def digest(db) -> str:
    """Everything the generator wrote, with ids made relative (ids depend on what was there before)."""
    people = db.execute(
        select(
            Person.id, Person.name, Person.email, Person.phone, Person.preferred_contact, Person.postcode,
            Person.latitude, Person.longitude, Person.ward_code, Person.access_needs, Person.language_needs,
            Person.created_at,
        ).where(Person.postcode.like("NB%"), Person.account_id.is_(None)).order_by(Person.id)
    ).all()  # fmt: skip
    person_base = people[0].id if people else 0
    lines = [repr(tuple(row)[1:]) for row in people]
    lines += [
        repr(tuple(row))
        for row in db.execute(
            select(Ward.code, Ward.name).where(Ward.code.like("Z05%")).order_by(Ward.code)
        )
    ]
    lines += [
        repr(tuple(row))
        for row in db.execute(
            select(PostcodeLocation.postcode, PostcodeLocation.latitude, PostcodeLocation.longitude,
                   PostcodeLocation.local_authority_code, PostcodeLocation.ward_code)
            .where(PostcodeLocation.postcode.like("NB%")).order_by(PostcodeLocation.postcode)
        )
    ]  # fmt: skip
    consents = db.execute(
        select(ConsentRecord.person_id, ConsentRecord.purpose, ConsentRecord.state, ConsentRecord.method,
               ConsentRecord.notice_version, ConsentRecord.notice_hash, ConsentRecord.recorded_at, ConsentRecord.withdrawn_at)
        .join(Person, Person.id == ConsentRecord.person_id)
        .where(Person.postcode.like("NB%"), Person.account_id.is_(None)).order_by(ConsentRecord.id)
    ).all()  # fmt: skip
    lines += [repr((row[0] - person_base, *row[1:])) for row in consents]
    for model, link, link_column in (
        (Offer, OfferSkill, OfferSkill.offer_id),
        (HelpRequest, HelpRequestSkill, HelpRequestSkill.request_id),
    ):
        extra = model.capacity if model is Offer else model.urgency
        items = db.execute(
            select(model.id, model.person_id, model.title, model.description, model.mode, model.max_distance_km,
                   model.availability, model.status, model.postcode, model.latitude, model.longitude, model.ward_code,
                   model.expires_at, model.created_at, model.closed_at, extra)
            .join(Person, Person.id == model.person_id)
            .where(Person.postcode.like("NB%"), Person.account_id.is_(None)).order_by(model.id)
        ).all()  # fmt: skip
        base = items[0].id if items else 0
        lines += [repr((row[0] - base, row[1] - person_base, *row[2:])) for row in items]
        links = db.execute(
            select(link_column, Skill.code)
            .join(Skill, Skill.id == link.skill_id)
            .where(link_column.in_([row[0] for row in items]))
        ).all()
        lines += sorted(repr((row[0] - base, row[1])) for row in links)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


# --- determinism ----------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_borough_in_a_fresh_database(db, databases):
    generate(db, seed=11)
    here = digest(db)

    url = databases.new("demo")
    upgrade_to_head(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as fresh:
            generate(fresh, seed=11)
            fresh.commit()
            assert digest(fresh) == here
    finally:
        engine.dispose()


def test_running_again_replaces_the_borough_with_the_same_data(db):
    first = generate(db, seed=3)
    before = digest(db)
    second = generate(db, seed=3)
    assert digest(db) == before
    assert {k: v for k, v in first.items() if k != "seconds"} == {
        k: v for k, v in second.items() if k != "seconds"
    }
    assert len(demo_people(db)) == N  # replaced, not added
    assert db.scalar(select(func.count()).select_from(Ward).where(Ward.code.like("Z05%"))) == 20


def test_a_different_seed_gives_a_different_borough(db):
    generate(db, seed=1)
    one = digest(db)
    names_one = [p.name for p in demo_people(db)]
    generate(db, seed=2)
    assert digest(db) != one
    assert [p.name for p in demo_people(db)] != names_one


def test_replace_false_refuses_when_a_demo_borough_exists(db):
    generate(db, people=20)
    with pytest.raises(ValueError, match="already exists"):
        generate(db, people=20, replace=False)


def test_bad_arguments_are_refused(db):
    with pytest.raises(ValueError):
        generate_borough(db, people=-1, seed=1)
    with pytest.raises(ValueError):
        generate_borough(db, people=10, seed=1, now=datetime(2026, 1, 1))  # naive


def test_people_with_an_account_are_kept_when_the_borough_is_replaced(db, citizen):
    generate(db, people=20)
    registered = Person(
        name="Cara Citizen", account_id=citizen.id, postcode="NB1 2AB", email=citizen.email
    )
    db.add(registered)
    db.flush()
    generate(db, people=20)
    assert db.get(Person, registered.id) is not None
    assert len(demo_people(db)) == 20


def test_new_rows_after_seeding_get_fresh_ids(db):
    """Explicit ids must not leave a sequence behind (PostgreSQL) or collide (SQLite)."""
    generate(db, people=50)
    highest = {
        model: db.scalar(select(func.max(model.id)))
        for model in (Person, Offer, HelpRequest, ConsentRecord)
    }
    person = Person(name="Someone New")
    db.add(person)
    db.flush()
    assert person.id > highest[Person]
    offer = Offer(person_id=person.id, title="x", expires_at=NOW + timedelta(days=30))
    request = HelpRequest(person_id=person.id, title="y", expires_at=NOW + timedelta(days=30))
    consent = ConsentRecord(
        person_id=person.id,
        purpose="profile",
        state="given",
        notice_version="1.1",
        notice_hash="0" * 64,
        method="online",
        recorder="self",
    )
    db.add_all([offer, request, consent])
    db.flush()
    assert offer.id > highest[Offer]
    assert request.id > highest[HelpRequest]
    assert consent.id > highest[ConsentRecord]


# --- shape ----------------------------------------------------------------------------------------


@pytest.fixture()
def borough(db) -> dict:
    return generate(db)


def test_summary_counts_match_the_database(db, borough):
    people = demo_people(db)
    ids = [p.id for p in people]
    assert borough["people"] == len(people) == N
    assert borough["offers"] == db.scalar(
        select(func.count()).select_from(Offer).where(Offer.person_id.in_(ids))
    )
    assert borough["requests"] == db.scalar(
        select(func.count()).select_from(HelpRequest).where(HelpRequest.person_id.in_(ids))
    )
    assert borough["wards"] == 20
    assert borough["postcodes"] == db.scalar(
        select(func.count())
        .select_from(PostcodeLocation)
        .where(PostcodeLocation.postcode.like("NB%"))
    )
    assert borough["seconds"] >= 0


def test_wards_and_postcodes_are_fictional_and_well_formed(db, borough):
    wards = db.scalars(select(Ward).where(Ward.code.like("Z05%"))).all()
    assert len(wards) == 20
    assert all(re.fullmatch(r"Z05\d{6}", w.code) for w in wards)
    assert len({w.name for w in wards}) == 20

    postcodes = db.scalars(
        select(PostcodeLocation).where(PostcodeLocation.postcode.like("NB%"))
    ).all()
    assert len(postcodes) >= max(50, N // 25)
    districts = {f"NB{i}" for i in range(1, 21)}
    ward_codes = {w.code for w in wards}
    for place in postcodes:
        assert normalise_postcode(place.postcode) == place.postcode  # valid UK format, canonical
        assert place.postcode.split(" ")[0] in districts
        assert place.local_authority_code == "Z09000001"
        assert place.ward_code in ward_codes
        dx = (place.longitude - CENTRE_LON) * KM_PER_DEG_LON
        dy = (place.latitude - CENTRE_LAT) * KM_PER_DEG_LAT
        assert math.hypot(dx, dy) <= 6.01  # a borough about 12 km across
    # One district per ward: every postcode of a district lies in the same ward.
    ward_of_district: dict[str, set[str]] = {}
    for place in postcodes:
        ward_of_district.setdefault(place.postcode.split(" ")[0], set()).add(place.ward_code)
    assert all(len(codes) == 1 for codes in ward_of_district.values())


def test_people_live_at_a_demo_postcode_and_have_fictional_contact_details(db, borough):
    places = {
        p.postcode: p
        for p in db.scalars(select(PostcodeLocation).where(PostcodeLocation.postcode.like("NB%")))
    }
    people = demo_people(db)
    with_email = 0
    for person in people:
        place = places[person.postcode]
        assert (person.latitude, person.longitude, person.ward_code) == (
            place.latitude,
            place.longitude,
            place.ward_code,
        )
        assert person.account_id is None
        assert person.name.strip() and len(person.name) <= 200
        assert person.email or person.phone
        if person.email:
            with_email += 1
            assert person.email.endswith("@demo.example")
            assert re.fullmatch(r"[a-z0-9]+\.[a-z0-9]+\.\d+@demo\.example", person.email)
        if person.phone:
            assert re.fullmatch(r"07700 900\d{3}", person.phone)  # Ofcom's numbers for drama
        if person.preferred_contact.value == "email":
            assert person.email
        else:
            assert person.phone
    assert 0.35 * N <= with_email <= 0.65 * N
    assert len({p.email for p in people if p.email}) == with_email  # unique addresses
    assert any(p.access_needs for p in people)
    assert any(p.language_needs for p in people)
    assert any(not p.name.isascii() for p in people)  # Siân, Łukasz, Ayşe... are in the mix


def test_everyone_has_profile_consent_and_most_agreed_to_matching(db, borough, settings):
    from app.accounts.models import Account
    from app.privacy.notices import notice

    ids = [p.id for p in demo_people(db)]
    records = db.scalars(select(ConsentRecord).where(ConsentRecord.person_id.in_(ids))).all()
    current = [r for r in records if r.superseded_at is None]
    given = {(r.person_id, r.purpose.value) for r in current if r.state.value == "given"}
    assert all((person_id, "profile") in given for person_id in ids)
    matching = sum((person_id, "matching") in given for person_id in ids)
    share = sum((person_id, "share_contact") in given for person_id in ids)
    assert 0.85 * N <= matching <= 0.98 * N
    assert 0.60 * N <= share <= 0.80 * N
    # Real records of the real demo notice, each taken by the demo linker by phone or on paper.
    real = notice(str(settings.templates_dir))
    assert all(r.notice_version == real.version and r.notice_hash == real.text_hash for r in records)
    assert {r.method.value for r in records} == {"verbal", "paper"}
    [recorder] = {r.recorded_by_account_id for r in records}
    assert db.get(Account, recorder).email == "linker@demo.example"
    assert all(r.recorder.value == "linker" and r.controller and r.legal_basis and r.retention and r.how_to_withdraw for r in records)
    for r in records:
        assert (r.state.value == "withdrawn") == (r.withdrawn_at is not None)
    # A change is a new record: every withdrawal follows a given record it superseded.
    withdrawn = [r for r in records if r.state.value == "withdrawn"]
    assert withdrawn and all(r.superseded_at is None for r in withdrawn)
    superseded = {(r.person_id, r.purpose) for r in records if r.superseded_at is not None}
    assert superseded == {(r.person_id, r.purpose) for r in withdrawn}
    # One current record per person and purpose.
    assert len({(r.person_id, r.purpose) for r in current}) == len(current)


@pytest.mark.parametrize("model", [Offer, HelpRequest], ids=["offers", "requests"])
def test_items_have_the_shape_of_real_ones(db, borough, model):
    people = {p.id: p for p in demo_people(db)}
    items = db.scalars(
        select(model).where(model.person_id.in_(list(people))).order_by(model.id)
    ).all()
    assert 0.35 * N <= len(items) <= 0.65 * N

    link, column = (
        (OfferSkill, OfferSkill.offer_id)
        if model is Offer
        else (HelpRequestSkill, HelpRequestSkill.request_id)
    )
    skills_of: dict[int, list[str]] = {}
    for item_id, code in db.execute(
        select(column, Skill.code)
        .join(Skill, Skill.id == link.skill_id)
        .where(column.in_([i.id for i in items]))
    ):
        skills_of.setdefault(item_id, []).append(code)

    for item in items:
        person = people[item.person_id]
        assert 1 <= len(skills_of.get(item.id, [])) <= 3, "every item has 1-3 skills that exist"
        assert (item.postcode, item.latitude, item.longitude, item.ward_code) == (
            person.postcode,
            person.latitude,
            person.longitude,
            person.ward_code,
        )
        assert 0 < item.availability <= ALL_SLOTS_MASK
        assert 2 <= item.availability.bit_count() <= 8
        assert item.max_distance_km in {1, 2, 3, 5, 8, 10, 15}
        assert item.title.strip() and len(item.title) <= 120
        assert item.description.strip() and len(item.description) <= 2000
        assert NOW + timedelta(days=29) <= item.expires_at <= NOW + timedelta(days=186)
        assert item.created_at <= NOW
        assert (item.status.value == "closed") == (item.closed_at is not None)
        if model is Offer:
            assert 1 <= item.capacity <= 3
        else:
            assert item.urgency.value in {"low", "normal", "high"}

    active = sum(i.status.value == "active" for i in items)
    assert active >= 0.8 * len(items)
    modes = {
        mode: sum(i.mode.value == mode for i in items) for mode in ("in_person", "either", "remote")
    }
    assert modes["in_person"] > modes["either"] > modes["remote"] > 0
    assert (
        sum(i.max_distance_km <= 3 for i in items) > len(items) / 2
    )  # skewed towards short distances


def test_popular_skills_are_common_and_rare_ones_rare(db):
    generate(db, people=3000, seed=5)
    counts = dict(
        db.execute(
            select(Skill.code, func.count())
            .join(HelpRequestSkill, HelpRequestSkill.skill_id == Skill.id)
            .group_by(Skill.code)
        ).all()
    )
    popular = ("befriending", "shopping", "lifts", "it_help", "gardening")
    rare = ("sports_coaching", "language_polish", "language_somali", "language_bsl")
    assert min(counts.get(code, 0) for code in popular) > 5 * max(
        counts.get(code, 0) for code in rare
    )


def test_no_people_still_gives_a_map(db):
    summary = generate(db, people=0)
    assert summary["people"] == summary["offers"] == summary["requests"] == 0
    assert summary["wards"] == 20 and summary["postcodes"] == 50
