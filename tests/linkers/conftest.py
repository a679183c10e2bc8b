"""Linker fixtures: people registered by a linker (no account), on their caseload."""

from __future__ import annotations

from app.core.validation import parse
from app.linkers import service
from app.linkers.models import AssistedRegistration
from tests.matching.conftest import HOME, TWO_KM  # noqa: F401  (re-exported postcodes)


def consents(profile=True, matching=True, share_contact=False, linker_contact=False, method="verbal") -> dict:
    return {
        purpose: {"given": given, "method": method}
        for purpose, given in (
            ("profile", profile), ("matching", matching), ("share_contact", share_contact), ("linker_contact", linker_contact)
        )
    }  # fmt: skip


def assisted(db, settings, linker, name: str = "Peggy Phone", postcode: str = HOME, **fields):
    body = {"name": name, "postcode": postcode, "phone": "01632 960 001", "preferred_contact": "phone",
            "consents": consents()} | fields  # fmt: skip
    person = service.register_person(db, settings, linker_id=linker.id, data=parse(AssistedRegistration, body))
    db.commit()
    return person


PERSON_BODY = {
    "name": "Peggy Phone",
    "postcode": HOME,
    "phone": "01632 960 001",
    "preferred_contact": "phone",
    "consents": consents(),
}
