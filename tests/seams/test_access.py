"""The access layer: object-level checks through one resolver, and refused probes audited."""

from __future__ import annotations

from sqlalchemy import select

from app.accounts.dependencies import Actor
from app.accounts.models import Role
from app.core.validation import parse
from app.privacy.audit import AuditAction, AuditEvent, AuditOutcome
from app.registry import service as registry
from app.registry.dependencies import may_act_for, own_person_rule
from tests.conftest import api_token, sign_in
from tests.registry.conftest import OFFER_BODY


def audit_events(db) -> list[AuditEvent]:
    db.expire_all()
    return list(db.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars())


def offer_of(db, account):
    person = registry.person_for_account(db, account=account)
    offer = registry.create_item(db, kind=registry.OFFER, person=person, data=parse(registry.OFFER.create_model, OFFER_BODY))
    db.commit()
    return person, offer


def test_a_refused_page_probe_is_404_and_leaves_an_audit_record(client, db, resident, neighbour):
    owner, offer = offer_of(db, resident)
    sign_in(client, neighbour)
    assert client.get(f"/offers/{offer.id}").status_code == 404
    events = audit_events(db)
    assert len(events) == 1
    event = events[0]
    assert (event.actor_account_id, event.actor_role, event.subject_person_id) == (neighbour.id, "citizen", owner.id)
    assert (event.action, event.outcome, event.route) == (AuditAction.viewed, AuditOutcome.refused, "registry:offers_item")


def test_a_refused_change_is_recorded_even_though_the_request_rolled_back(client, db, resident, neighbour):
    owner, offer = offer_of(db, resident)
    sign_in(client, neighbour)
    from tests.conftest import post_form

    response = post_form(client, f"/offers/{offer.id}/status", {"action": "close"}, token_from="/my")
    assert response.status_code == 404
    db.refresh(offer)
    assert offer.status.value == "active"
    [event] = audit_events(db)
    assert (event.action, event.outcome, event.subject_person_id) == (AuditAction.changed, AuditOutcome.refused, owner.id)


def test_a_refused_api_probe_is_recorded(client, db, resident, neighbour):
    owner, offer = offer_of(db, resident)
    headers = api_token(client, neighbour)
    assert client.get(f"/api/v1/offers/{offer.id}", headers=headers).status_code == 404
    assert client.delete(f"/api/v1/offers/{offer.id}", headers=headers).status_code == 404
    events = audit_events(db)
    assert [(e.action, e.outcome, e.route) for e in events] == [
        (AuditAction.viewed, AuditOutcome.refused, "api:offer_read"),
        (AuditAction.changed, AuditOutcome.refused, "api:offer_close"),
    ]
    assert {e.subject_person_id for e in events} == {owner.id}


def test_a_person_reading_their_own_data_is_not_audited(client, db, resident):
    _owner, offer = offer_of(db, resident)
    sign_in(client, resident)
    assert client.get(f"/offers/{offer.id}").status_code == 200
    assert audit_events(db) == []


def test_an_id_that_does_not_exist_looks_exactly_like_someone_elses(client, db, resident, neighbour):
    _owner, offer = offer_of(db, resident)
    sign_in(client, neighbour)
    theirs = client.get(f"/offers/{offer.id}")
    missing = client.get(f"/offers/{offer.id + 1000}")
    assert theirs.status_code == missing.status_code == 404
    # The pages differ only where they name their own address (the language switcher returns there).
    assert theirs.text.replace(f"/offers/{offer.id}", "/offers/N") == missing.text.replace(f"/offers/{offer.id + 1000}", "/offers/N")


def test_the_resolver_lets_a_citizen_act_only_for_their_own_person(app, db, resident, neighbour, linker, staff, admin):
    mine = registry.person_for_account(db, account=resident)
    theirs = registry.person_for_account(db, account=neighbour)

    class FakeRequest:  # the resolver only reads the app's registered rules
        pass

    request = FakeRequest()
    request.app = app
    assert own_person_rule in app.state.plugins.person_access
    assert may_act_for(request, db, Actor(resident.id, Role.citizen), mine.id)
    assert not may_act_for(request, db, Actor(resident.id, Role.citizen), theirs.id)
    for other in (linker, staff, admin):
        assert not may_act_for(request, db, Actor(other.id, other.role), mine.id)
