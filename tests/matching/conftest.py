"""Matching fixtures: a small neighbourhood of real Aberdeen postcodes with offers and requests.

Distances from HOME (AB10 1AB), by plain haversine on the ONSPD sample:
AB10 1BR 1.276 km (shown as 1.5), AB10 1FW 1.771 km (shown as 2), AB10 1DU 4.259 km (shown as 4.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from app.accounts.models import Account
from app.matching.models import Match
from app.privacy.models import ConsentPurpose
from app.core.validation import parse
from app.registry import service as registry
from app.registry.models import HelpRequest, Offer, Person
from app.registry.service import OFFER, REQUEST
from tests.registry.conftest import register
from app.main import build_plugins

PLUGINS = build_plugins()

HOME = "AB10 1AB"
ONE_AND_A_HALF_KM = "AB10 1BR"
TWO_KM = "AB10 1FW"
FOUR_AND_A_HALF_KM = "AB10 1DU"


@dataclass
class Citizen:
    account: Account
    person: Person
    name: str
    email: str


def citizen(db, settings, name: str, postcode: str = HOME, *, matching: bool = True) -> Citizen:
    email = name.lower().replace(" ", ".") + "@example.org"
    account, person = register(
        db, settings, email=email, name=name, postcode=postcode,
        consents={"profile": True, "matching": matching, "share_contact": False},
    )
    return Citizen(account, person, name, email)


def offer(db, who: Citizen, **fields) -> Offer:
    raw = {
        "title": "Happy to help in the garden",
        "description": "",
        "skills": ["gardening"],
        "mode": "in_person",
        "max_distance_km": 5,
        "availability": ["tue-am", "sat-pm"],
        "capacity": 1,
    } | fields
    item = registry.create_item(db, kind=OFFER, person=who.person, data=parse(OFFER.create_model, raw))
    db.commit()
    return item


def request(db, who: Citizen, **fields) -> HelpRequest:
    raw = {
        "title": "Help with my garden",
        "description": "",
        "skills": ["gardening"],
        "mode": "in_person",
        "max_distance_km": 3,
        "availability": ["tue-am", "wed-pm"],
        "urgency": "normal",
    } | fields
    item = registry.create_item(db, kind=REQUEST, person=who.person, data=parse(REQUEST.create_model, raw))
    db.commit()
    return item


def withdraw_matching(db, settings, who: Citizen) -> None:
    registry.set_person_consent(db, settings, PLUGINS, person=who.person, purpose=ConsentPurpose.matching, given=False, account=who.account
    )
    db.commit()


def matches(db, **where) -> list[Match]:
    statement = select(Match).order_by(Match.id)
    for name, value in where.items():
        statement = statement.where(getattr(Match, name) == value)
    db.expire_all()
    return list(db.execute(statement).scalars())


@dataclass
class Garden:
    """Rhian asks for help in her garden. Bryn (1.3 km) and Gwen (1.8 km) can help; Ffion
    (4.3 km) is further than Rhian will go."""

    rhian: Citizen
    bryn: Citizen
    gwen: Citizen
    ffion: Citizen
    need: HelpRequest
    bryn_offer: Offer
    gwen_offer: Offer
    ffion_offer: Offer


@pytest.fixture()
def garden(db, settings, places) -> Garden:
    rhian = citizen(db, settings, "Rhian Evans")
    bryn = citizen(db, settings, "Bryn Zephaniah", ONE_AND_A_HALF_KM)
    gwen = citizen(db, settings, "Gwenllian Quartermaine", TWO_KM)
    ffion = citizen(db, settings, "Ffion Farrowby", FOUR_AND_A_HALF_KM)
    need = request(db, rhian)
    bryn_offer = offer(db, bryn, skills=["gardening", "diy_repairs"])
    gwen_offer = offer(db, gwen, mode="either", max_distance_km=2, availability=["wed-pm"])
    ffion_offer = offer(db, ffion, max_distance_km=10)
    return Garden(rhian, bryn, gwen, ffion, need, bryn_offer, gwen_offer, ffion_offer)
