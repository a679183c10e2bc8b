"""Registry fixtures: real postcodes from the ONSPD sample, and citizens with a person and consents."""

from __future__ import annotations

import pytest

from app.accounts.models import Role
from app.core.validation import parse
from app.registry import service as registry
from app.registry.models import CitizenRegistration
from tests.conftest import PASSWORD

HOME = "AB10 1AB"
NEARBY = "AB10 1AF"


def register(db, settings, *, email: str, name: str, postcode: str = HOME, consents=None):
    data = parse(
        CitizenRegistration,
        {
            "email": email,
            "password": PASSWORD,
            "password_confirm": PASSWORD,
            "name": name,
            "postcode": postcode,
            "consents": consents if consents is not None else {"profile": True, "matching": True, "share_contact": False},
        },
    )
    account, person = registry.register_citizen(db, settings, data=data)
    db.commit()
    return account, person


@pytest.fixture()
def resident(db, settings, places):
    """A registered citizen with a person, who agreed to profile and matching."""
    account, _person = register(db, settings, email="rhian@example.org", name="Rhian Evans")
    assert account.role is Role.citizen
    return account


@pytest.fixture()
def neighbour(db, settings, places):
    account, _person = register(db, settings, email="tomasz@example.org", name="Tomasz Nowak", postcode=NEARBY)
    return account


OFFER_BODY = {
    "title": "Help with gardening",
    "description": "Weeding, planting and a cup of tea",
    "skills": ["gardening"],
    "mode": "in_person",
    "max_distance_km": 2,
    "availability": ["tue-am", "sat-pm"],
    "capacity": 2,
}
REQUEST_BODY = {
    "title": "Someone to help set up my new phone",
    "description": "",
    "skills": ["it_help"],
    "mode": "either",
    "max_distance_km": 3,
    "availability": ["mon-pm"],
    "urgency": "high",
}
