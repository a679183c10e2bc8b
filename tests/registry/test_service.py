"""Register rules that the pages and the API share: consent effects, status changes, expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core.db import utcnow
from app.core.errors import InvalidInput
from app.core.validation import parse
from app.main import build_plugins
from app.privacy import service as privacy
from app.privacy.models import ConsentPurpose, ConsentState
from app.registry import service as registry
from app.registry.models import ItemStatus
from app.registry.service import OFFER, REQUEST
from tests.registry.conftest import OFFER_BODY, REQUEST_BODY, register

PLUGINS = build_plugins()


def person_of(db, account):
    return registry.person_for_account(db, account=account)


def test_withdrawing_matching_takes_items_out_of_matching_at_once(db, settings, resident):
    person = person_of(db, resident)
    offer = registry.create_item(db, kind=OFFER, person=person, data=parse(OFFER.create_model, dict(OFFER_BODY)))
    request = registry.create_item(db, kind=REQUEST, person=person, data=parse(REQUEST.create_model, dict(REQUEST_BODY)))
    assert registry.in_matching(db, kind=OFFER, item_id=offer.id)
    assert registry.in_matching(db, kind=REQUEST, item_id=request.id)

    registry.set_person_consent(db, settings, PLUGINS, person=person, purpose=ConsentPurpose.matching, given=False, account=resident)
    assert not registry.in_matching(db, kind=OFFER, item_id=offer.id)
    assert not registry.in_matching(db, kind=REQUEST, item_id=request.id)
    assert offer.status is ItemStatus.active  # the item itself is untouched: giving consent again restores it

    registry.set_person_consent(db, settings, PLUGINS, person=person, purpose=ConsentPurpose.matching, given=True, account=resident)
    assert registry.in_matching(db, kind=OFFER, item_id=offer.id)


def test_consent_history_is_kept(db, settings, resident):
    person = person_of(db, resident)
    for given in (False, True, False):
        registry.set_person_consent(db, settings, PLUGINS, person=person, purpose=ConsentPurpose.matching, given=given, account=resident)
    from sqlalchemy import select

    from app.privacy.models import ConsentRecord

    records = db.execute(
        select(ConsentRecord).where(ConsentRecord.person_id == person.id, ConsentRecord.purpose == ConsentPurpose.matching)
    ).scalars().all()
    # A change is a new record: given at registration, withdrawn, given again, withdrawn.
    records.sort(key=lambda r: r.id)
    assert [r.state for r in records] == [ConsentState.given, ConsentState.withdrawn, ConsentState.given, ConsentState.withdrawn]
    assert [r.superseded_at is None for r in records] == [False, False, False, True]
    assert all((r.withdrawn_at is not None) == (r.state is ConsentState.withdrawn) for r in records)
    assert all(r.recorded_by_account_id == resident.id for r in records)
    assert not privacy.has_consent(db, person_id=person.id, purpose=ConsentPurpose.matching)


def test_withdrawing_profile_consent_pauses_everything(db, settings, resident):
    person = person_of(db, resident)
    offer = registry.create_item(db, kind=OFFER, person=person, data=parse(OFFER.create_model, dict(OFFER_BODY)))
    registry.set_person_consent(db, settings, PLUGINS, person=person, purpose=ConsentPurpose.profile, given=False, account=resident)
    db.refresh(offer)
    assert offer.status is ItemStatus.paused


def test_people_without_matching_consent_are_never_in_matching(db, settings, places):
    account, person = register(db, settings, email="no.match@example.org", name="No Match", consents={"profile": True})
    with pytest.raises(InvalidInput) as refused:  # it cannot even go live
        registry.create_item(db, kind=OFFER, person=person, data=parse(OFFER.create_model, dict(OFFER_BODY)))
    assert {e.field for e in refused.value.errors} == {"consent"}
    # And one made live by some other path is still never matched.
    offer = registry.create_draft(db, kind=OFFER, person=person, data=parse(OFFER.update_model, dict(OFFER_BODY)))
    offer.status = ItemStatus.active
    db.add(offer)
    db.flush()
    assert not registry.in_matching(db, kind=OFFER, item_id=offer.id)


def test_expired_and_paused_items_are_not_in_matching(db, resident):
    person = person_of(db, resident)
    offer = registry.create_item(db, kind=OFFER, person=person, data=parse(OFFER.create_model, dict(OFFER_BODY)))
    registry.change_status(db, kind=OFFER, item=offer, action="pause")
    assert not registry.in_matching(db, kind=OFFER, item_id=offer.id)
    registry.change_status(db, kind=OFFER, item=offer, action="reopen")
    offer.expires_at = utcnow() - timedelta(minutes=1)
    db.add(offer)
    db.flush()
    assert not registry.in_matching(db, kind=OFFER, item_id=offer.id)


def test_status_machine(db, resident):
    person = person_of(db, resident)
    draft = registry.create_draft(db, kind=OFFER, person=person, data=parse(OFFER.update_model, {"title": "Half done"}))
    assert draft.status is ItemStatus.draft
    with pytest.raises(InvalidInput) as refused:
        registry.change_status(db, kind=OFFER, item=draft, action="publish")
    assert {e.field for e in refused.value.errors} == {"skills", "availability"}
    with pytest.raises(InvalidInput):
        registry.change_status(db, kind=OFFER, item=draft, action="pause")
    registry.update_item(db, kind=OFFER, item=draft, person=person, data=parse(OFFER.update_model, {"skills": ["gardening"], "availability": ["sun-am"]}))
    registry.change_status(db, kind=OFFER, item=draft, action="publish")
    registry.change_status(db, kind=OFFER, item=draft, action="close")
    assert draft.closed_at is not None
    with pytest.raises(InvalidInput):
        registry.update_item(db, kind=OFFER, item=draft, person=person, data=parse(OFFER.update_model, {"title": "Edit after close"}))
    registry.change_status(db, kind=OFFER, item=draft, action="reopen")
    assert draft.status is ItemStatus.active and draft.closed_at is None


def test_default_expiry_is_about_six_months(db, resident):
    person = person_of(db, resident)
    offer = registry.create_item(db, kind=OFFER, person=person, data=parse(OFFER.create_model, dict(OFFER_BODY)))
    assert timedelta(days=180) < offer.expires_at - utcnow() < timedelta(days=185)


def test_a_consent_not_given_online_must_name_who_recorded_it(db, settings, resident):
    from app.privacy.models import ConsentMethod
    from app.privacy.notices import notice

    person = person_of(db, resident)
    for method in (ConsentMethod.verbal, ConsentMethod.paper):
        with pytest.raises(ValueError, match="recorded it"):
            privacy.give(db, person_id=person.id, purpose=ConsentPurpose.linker_contact,
                         notice=notice(str(settings.templates_dir)), method=method, recorded_by_account_id=None,
                         terms=privacy.terms_for(settings))  # fmt: skip
    assert not privacy.has_consent(db, person_id=person.id, purpose=ConsentPurpose.linker_contact)
