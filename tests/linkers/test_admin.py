"""Admins look after caseloads: counts per linker, a linker's people (names and wards), moving a
person with a note (history kept, audited); a closed linker account strands nobody."""

from __future__ import annotations

from sqlalchemy import select

from app.linkers import service
from app.linkers.models import CaseAssignment
from app.privacy.audit import AuditAction, AuditEvent
from tests.conftest import api_token, post_form, sign_in
from tests.linkers.conftest import assisted


def test_an_admin_moves_a_person_to_another_linker_with_history_and_audit(client, db, settings, places, linker, second_linker, admin):
    person = assisted(db, settings, linker)
    sign_in(client, admin)
    overview = client.get("/linkers/admin")
    assert overview.status_code == 200 and linker.name in overview.text and second_linker.name in overview.text
    listing = client.get(f"/linkers/admin/linkers/{linker.id}")
    assert listing.status_code == 200 and person.name in listing.text
    page = client.get(f"/linkers/admin/people/{person.id}/reassign")
    assert page.status_code == 200 and second_linker.name in page.text

    refused = post_form(client, f"/linkers/admin/people/{person.id}/reassign", {"to_account_id": ""}, token_from="/linkers/admin")
    assert refused.status_code == 422 and "Choose a community linker" in refused.text
    moved = post_form(client, f"/linkers/admin/people/{person.id}/reassign",
                      {"to_account_id": str(second_linker.id), "note": "Lives near you"}, token_from="/linkers/admin")  # fmt: skip
    assert moved.status_code == 303 and moved.headers["location"] == f"/linkers/admin/linkers/{second_linker.id}"
    assert service.current_linker_id(db, person.id) == second_linker.id
    history = db.execute(select(CaseAssignment).where(CaseAssignment.person_id == person.id)).scalars().all()
    assert len(history) == 2 and sum(a.ended_at is None for a in history) == 1
    assert any(a.assigned_by_account_id == admin.id and a.note == "Lives near you" for a in history)
    actions = {
        e.action for e in db.execute(select(AuditEvent).where(AuditEvent.subject_person_id == person.id, AuditEvent.actor_account_id == admin.id)).scalars()
    }
    assert {AuditAction.viewed, AuditAction.changed} <= actions


def test_linkers_staff_and_citizens_never_reach_the_admin_caseload_pages(client, db, settings, places, linker, staff, citizen):
    person = assisted(db, settings, linker)
    for who in (linker, staff, citizen):
        sign_in(client, who)
        for path in ("/linkers/admin", f"/linkers/admin/linkers/{linker.id}", f"/linkers/admin/people/{person.id}/reassign"):
            assert client.get(path).status_code in (403, 404), (who.role, path)
        client.cookies.clear()
    sign_in(client, linker)
    assert post_form(client, f"/linkers/admin/people/{person.id}/reassign", {"to_account_id": str(linker.id)},
                     token_from="/linkers").status_code in (403, 404)  # fmt: skip


def test_the_people_of_a_closed_linker_account_go_back_to_the_pool(client, db, settings, places, linker, second_linker):
    person = assisted(db, settings, linker)
    assert not service.in_pool(db, person.id)
    linker.is_active = False
    db.flush()
    assert service.in_pool(db, person.id)
    service.pick_up(db, linker_id=second_linker.id, person_id=person.id)
    db.flush()
    assert service.current_linker_id(db, person.id) == second_linker.id and not service.in_pool(db, person.id)
    ended = db.execute(select(CaseAssignment).where(CaseAssignment.person_id == person.id, CaseAssignment.linker_account_id == linker.id)).scalar_one()
    assert ended.ended_at is not None


def test_odd_numbers_in_forms_and_addresses_are_refused_kindly(client, db, settings, places, linker, second_linker):
    person = assisted(db, settings, linker)
    sign_in(client, linker)
    huge = "9" * 25
    assert client.get(f"/linkers/people/{huge}").status_code == 404
    assert client.get(f"/api/v1/linker/people/{huge}", headers=api_token(client, linker)).status_code == 404
    # "²" counts as a digit to Python's str.isdigit, but is no id.
    handover = post_form(client, f"/linkers/people/{person.id}/handover", {"to_account_id": "²"}, token_from="/linkers")
    assert handover.status_code == 422 and "Choose a community linker" in handover.text
    note = post_form(client, f"/linkers/people/{person.id}/notes", {"body": "A correction", "corrects": "²"}, token_from="/linkers")
    assert note.status_code in (303, 422)
    assert service.current_linker_id(db, person.id) == linker.id
