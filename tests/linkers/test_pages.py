"""The linkers' pages over the real app and database: the dashboard's worklist (order, counts,
filters, search, pages), the pool, assisted registration, notes, contact attempts, follow-ups,
handover, claim codes, brokering a match on someone's behalf, and CSRF on every form."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.core.db import utcnow
from app.core.validation import parse
from app.linkers import service, timeliness
from app.linkers.models import (
    AttemptOutcome,
    CaseAssignment,
    CaseNote,
    ContactAttempt,
    FollowUp,
    FollowUpResult,
    MatchIntroduction,
)
from app.matching import service as matching
from app.matching import workflow
from app.matching.models import Answer, Match, MatchSide, MatchStatus
from app.privacy.audit import AuditAction, AuditEvent
from app.privacy.models import ConsentMethod, ConsentPurpose, ConsentRecord
from app.registry import service as registry
from app.registry.models import Person
from app.registry.service import OFFER
from tests.conftest import PASSWORD, make_account, post_form, sign_in
from tests.linkers.conftest import assisted, consents
from tests.linkers.test_access import ACCESS, build_world, default_params, fill, linker_routes
from tests.matching.conftest import PLUGINS, TWO_KM, citizen, request
from tests.registry.conftest import OFFER_BODY

ROW = re.compile(r'<td class="govuk-table__cell"><a class="govuk-link" href="(?:http://testserver)?/linkers/people/(\d+)">([^<]+)</a>')
SUMMARY = 'class="govuk-error-summary"'


def today():
    return timeliness.local_date(utcnow())


def names_on(page) -> list[str]:
    return [name for _id, name in ROW.findall(page.text)]


def count_of(page, words: str) -> int:
    found = re.search(r"<strong>(\d+)</strong> " + re.escape(words), page.text)
    assert found, f"no count for {words!r}"
    return int(found.group(1))


def reached(db, settings, linker, person) -> None:
    service.record_attempt(db, settings, person_id=person.id, linker_id=linker.id, outcome=AttemptOutcome.reached)
    db.commit()


def live_offer(db, person):
    item = registry.create_item(
        db, kind=OFFER, person=person, data=parse(OFFER.create_model, OFFER_BODY | {"max_distance_km": 5})
    )
    db.commit()
    return item


def proposed_by_a_seeker(db, settings, person, seeker_name: str) -> Match:
    """A match on the person's offer, asked for by a citizen: the person's answer is waiting."""
    seeker = citizen(db, settings, seeker_name, TWO_KM)
    wanted = request(db, seeker)
    match = matching.propose_match(db, settings, offer_id=live_offer(db, person).id, request_id=wanted.id, side=MatchSide.request)
    db.commit()
    return match


def counts(db) -> dict[str, int]:
    db.expire_all()
    return {
        model.__name__: db.execute(select(func.count()).select_from(model)).scalar_one()
        for model in (Person, ConsentRecord, CaseAssignment, CaseNote, FollowUp, ContactAttempt, Match, MatchIntroduction)
    }


# --- the dashboard ---------------------------------------------------------------------------


def test_the_dashboard_puts_what_needs_doing_first_in_the_agreed_order(client, db, settings, places, linker):
    overdue = assisted(db, settings, linker, "Olga Overdue")
    waiting = assisted(db, settings, linker, "Wyn Waiting")
    connect = assisted(db, settings, linker, "Cai Connect")
    assisted(db, settings, linker, "Nia New")
    this_week = assisted(db, settings, linker, "Tom Thisweek")
    calm = assisted(db, settings, linker, "Aled Allclear")
    for person in (overdue, waiting, connect, this_week, calm):
        reached(db, settings, linker, person)
    service.add_follow_up(db, person_id=overdue.id, by_id=linker.id, due_on=today() - timedelta(days=3), what="Ring", check_date=False)
    service.add_follow_up(db, person_id=this_week.id, by_id=linker.id, due_on=today(), what="Ring")
    db.commit()
    proposed_by_a_seeker(db, settings, waiting, "Sid Seeker")
    accepted = proposed_by_a_seeker(db, settings, connect, "Sue Seeker")
    matching.change_match(db, match=accepted, side=MatchSide.offer, seen_version=accepted.version, event=workflow.Event.accept)
    db.commit()

    sign_in(client, linker)
    page = client.get("/linkers")
    assert page.status_code == 200
    assert names_on(page) == ["Olga Overdue", "Wyn Waiting", "Cai Connect", "Nia New", "Tom Thisweek", "Aled Allclear"]
    assert count_of(page, "follow-ups overdue") == 1
    assert count_of(page, "matches waiting for an answer") == 1
    assert count_of(page, "matches to put in touch") == 1
    assert count_of(page, "new people not contacted yet") == 1
    assert count_of(page, "follow-ups due this week") == 1
    assert "6 people" in page.text
    row = page.text[page.text.index("Olga Overdue") :]
    assert "Follow-up overdue" in row[:1000] and "govuk-tag--red" in row[:1000]

    # What needs doing, as a filter: only those people, and the counts stay the whole caseload's.
    only = client.get("/linkers?need=connect")
    assert names_on(only) == ["Cai Connect"]
    assert count_of(only, "new people not contacted yet") == 1
    assert names_on(client.get("/linkers?need=not_contacted")) == ["Nia New"]
    assert len(names_on(client.get("/linkers?need=nonsense"))) == 6  # an unknown need is no filter

    # The API answers the same order.
    from tests.conftest import api_token

    listed = client.get("/api/v1/linker/people", headers=api_token(client, linker)).json()
    assert [p["next_need"] for p in listed] == [*service.NEEDS, None]


def test_ward_filter_and_search_by_name_or_postcode(client, db, settings, places, linker, second_linker):
    assisted(db, settings, linker, "Mari Jones")
    assisted(db, settings, linker, "Dewi Prys", postcode=TWO_KM)  # another ward
    assisted(db, settings, second_linker, "Mari Other")  # not mine: never shown
    sign_in(client, linker)

    everyone = client.get("/linkers")
    assert sorted(names_on(everyone)) == ["Dewi Prys", "Mari Jones"]
    assert 'value="S13002483"' in everyone.text and 'value="S13002485"' in everyone.text  # the caseload's wards only
    assert names_on(client.get("/linkers?ward=S13002485")) == ["Dewi Prys"]
    assert names_on(client.get("/linkers?ward=S13002483")) == ["Mari Jones"]

    def search(q: str):
        return post_form(client, "/linkers/search", {"q": q}, token_from="/linkers")

    assert names_on(search("mari")) == ["Mari Jones"]
    assert names_on(search("ab10 1fw")) == ["Dewi Prys"]
    assert names_on(search("AB101F")) == ["Dewi Prys"]  # a start, without the space
    nobody = search("zebedee")
    assert nobody.status_code == 200 and names_on(nobody) == [] and "Nobody matches these filters." in nobody.text
    assert search("x" * 101).status_code == 400  # a bad search, not a 500
    # A name never goes in an address: the GET page ignores one put there by hand.
    assert sorted(names_on(client.get("/linkers", params={"q": "mari"}))) == ["Dewi Prys", "Mari Jones"]


def test_the_dashboard_pages_through_a_long_caseload(client, db, settings, places, linker):
    size = service.PAGE_SIZE
    for number in range(1, size + 2):
        assisted(db, settings, linker, f"Person {number:02d}")
    sign_in(client, linker)

    first = client.get("/linkers")
    assert len(names_on(first)) == size and names_on(first)[0] == "Person 01"
    assert "Page 1 of 2" in first.text and 'rel="next"' in first.text and 'rel="prev"' not in first.text
    assert f"{size + 1} people" in first.text
    assert count_of(first, "new people not contacted yet") == size + 1  # counts are the whole caseload's
    second = client.get("/linkers?page=2")
    assert names_on(second) == [f"Person {size + 1:02d}"]
    assert "Page 2 of 2" in second.text and 'rel="prev"' in second.text
    assert names_on(client.get("/linkers?page=9")) == names_on(second)  # past the end: the last page
    assert client.get("/linkers?page=0").status_code == 400


# --- the pool --------------------------------------------------------------------------------


def test_the_pool_lists_people_waiting_oldest_first_with_name_and_ward_only(client, db, settings, places, linker):
    newer = citizen(db, settings, "Wendy Waiting")
    older = citizen(db, settings, "Walt Waiting")
    citizen(db, settings, "Nora Notasking")  # did not ask for a linker
    for who in (newer, older):
        registry.set_person_consent(db, settings, PLUGINS, person=who.person, purpose=ConsentPurpose.linker_contact, given=True, account=who.account)
    departed = make_account(db, role=linker.role, email="left@example.org", name="Len Left")
    orphan = assisted(db, settings, departed, "Olive Orphan", phone="01632 960 123")
    departed.is_active = False
    db.execute(update(CaseAssignment).where(CaseAssignment.person_id == orphan.id).values(ended_at=utcnow()))
    now = utcnow()
    for person, days in ((orphan, 5), (older, 3), (newer, 1)):
        db.execute(update(Person).where(Person.id == (person.id if isinstance(person, Person) else person.person.id)).values(created_at=now - timedelta(days=days)))
    db.add(departed)
    db.commit()

    sign_in(client, linker)
    page = client.get("/linkers/pool")
    assert page.status_code == 200
    order = [m for m in re.findall(r'<td class="govuk-table__cell">([A-Z][a-z]+ [A-Z][a-z]+)</td>', page.text)]
    assert order == ["Olive Orphan", "Walt Waiting", "Wendy Waiting"]
    assert "Nora Notasking" not in page.text
    assert "01632 960 123" not in page.text and "walt.waiting@example.org" not in page.text  # a name and a ward only
    assert "Torry/Ferryhill" in page.text
    assert page.text.count("Add to my caseload") == 3
    assert "People waiting for a linker (3)" in client.get("/linkers").text

    picked = post_form(client, f"/linkers/pool/{orphan.id}", {})
    assert picked.status_code == 303 and picked.headers["location"] == f"/linkers/people/{orphan.id}"
    landed = client.get(picked.headers["location"])
    assert "They are on your caseload now." in landed.text and "Olive Orphan" in landed.text
    assert "Olive Orphan" not in client.get("/linkers/pool").text
    assert "Olive Orphan" in names_on(client.get("/linkers"))
    assert post_form(client, "/linkers/pool/987654", {}).status_code == 404


def test_two_linkers_picking_up_the_same_person_one_gets_them_the_other_a_friendly_message(
    client, other_client, db, settings, places, linker, second_linker, monkeypatch
):
    waiting = citizen(db, settings, "Wendy Waiting")
    registry.set_person_consent(db, settings, PLUGINS, person=waiting.person, purpose=ConsentPurpose.linker_contact, given=True, account=waiting.account)
    db.commit()
    sign_in(client, linker)
    sign_in(other_client, second_linker)
    assert "Wendy Waiting" in client.get("/linkers/pool").text and "Wendy Waiting" in other_client.get("/linkers/pool").text

    assert post_form(client, f"/linkers/pool/{waiting.person.id}", {}).status_code == 303
    late = post_form(other_client, f"/linkers/pool/{waiting.person.id}", {})
    assert late.status_code == 409
    assert SUMMARY in late.text and "Another linker has just added this person to their caseload" in late.text

    # The real race: both checked the pool before either wrote. The partial unique index decides.
    monkeypatch.setattr(service, "in_pool", lambda db, person_id: True)
    monkeypatch.setattr(service, "open_assignment", lambda db, person_id: None)
    raced = post_form(other_client, f"/linkers/pool/{waiting.person.id}", {})
    assert raced.status_code == 409 and "Another linker has just added this person to their caseload" in raced.text
    db.expire_all()
    open_rows = db.execute(select(CaseAssignment).where(CaseAssignment.person_id == waiting.person.id, CaseAssignment.ended_at.is_(None))).scalars().all()
    assert [a.linker_account_id for a in open_rows] == [linker.id]


# --- assisted registration -------------------------------------------------------------------

FORM = {
    "name": "Rhys Register", "postcode": "AB10 1AB", "phone": "01632 960 002", "email": "", "address": "",
    "preferred_contact": "phone", "consent_profile": "yes", "consent_matching": "yes", "consent_share_contact": "no",
    "consent_linker_contact": "no", "consent_method": "verbal",
}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "fields", "message"),
    [
        ({"name": "", "postcode": "nonsense"}, {"name", "postcode"}, None),
        ({"consent_profile": "no"}, {"consent_profile"}, "The person must agree that we keep their details to be registered"),
        ({"consent_profile": ""}, {"consent_profile"}, "The person must agree that we keep their details to be registered"),
        # How they agreed is one of the two a linker can take; "online" is only the person's own.
        ({"consent_method": "online"}, {"consent_method"}, "Record how the person agreed: out loud (verbal) or on paper"),
        ({"consent_method": "telepathy"}, {"consent_method"}, "Record how the person agreed: out loud (verbal) or on paper"),
        ({"consent_method": ""}, {"consent_method"}, "Record how the person agreed: out loud (verbal) or on paper"),
        ({"phone": ""}, {"phone"}, "Enter a phone number, or choose another way to contact them"),
        ({"preferred_contact": "post"}, {"address"}, "Enter a postal address, or choose another way to contact them"),
        ({"postcode": "ZZ99 9ZZ"}, {"postcode"}, None),  # a real shape, but not a postcode we know
        ({"consent_profile": "no", "phone": ""}, {"consent_profile", "phone"}, None),  # every problem at once
    ],
)
def test_assisted_registration_errors_are_friendly_and_write_nothing(client, db, places, linker, change, fields, message):
    sign_in(client, linker)
    before = counts(db)
    page = post_form(client, "/linkers/register", FORM | change)
    assert page.status_code == 422
    assert SUMMARY in page.text and "There is a problem" in page.text and "<title>Error:" in page.text
    for name in fields:
        assert f'href="#{name}"' in page.text, name
    if message:
        assert message in page.text
    if FORM["name"] and "name" not in change:
        assert f'value="{FORM["name"]}"' in page.text  # what was typed is kept
    assert counts(db) == before, "nothing half-written"


def test_assisted_registration_records_each_consent_with_its_method_and_recorder(client, db, places, linker):
    sign_in(client, linker)
    form = client.get("/linkers/register")
    assert form.status_code == 200 and "privacy notice" in form.text.lower()
    done = post_form(client, "/linkers/register", FORM | {"consent_method": "paper", "consent_linker_contact": "yes", "email": ""})
    assert done.status_code == 303
    person_id = int(done.headers["location"].rsplit("/", 1)[1])
    assert "They are registered and on your caseload." in client.get(done.headers["location"]).text
    db.expire_all()
    person = db.get(Person, person_id)
    assert person.account_id is None and person.created_by_account_id == linker.id and person.email is None
    records = db.execute(select(ConsentRecord).where(ConsentRecord.person_id == person_id)).scalars().all()
    assert {r.purpose for r in records} == {ConsentPurpose.profile, ConsentPurpose.matching, ConsentPurpose.linker_contact}
    assert {(r.method, r.recorded_by_account_id) for r in records} == {(ConsentMethod.paper, linker.id)}
    assert service.on_caseload(db, linker_id=linker.id, person_id=person_id)


# --- notes -----------------------------------------------------------------------------------


def test_sensitive_notes_are_seen_only_by_their_author_and_the_current_linker(client, other_client, db, settings, places, linker, second_linker):
    person = assisted(db, settings, linker)
    sign_in(client, linker)
    sign_in(other_client, second_linker)
    assert post_form(client, f"/linkers/people/{person.id}/notes", {"body": "Likes a chat about birds"}).status_code == 303
    assert post_form(client, f"/linkers/people/{person.id}/notes", {"body": "Grieving: go gently", "sensitive": "yes"}).status_code == 303
    mine = client.get(f"/linkers/people/{person.id}")
    assert "Grieving: go gently" in mine.text and "Likes a chat about birds" in mine.text and "Sensitive" in mine.text

    handed = post_form(client, f"/linkers/people/{person.id}/handover", {"to_account_id": str(second_linker.id), "note": ""})
    assert handed.status_code == 303
    theirs = other_client.get(f"/linkers/people/{person.id}")
    assert "Grieving: go gently" in theirs.text, "the current linker reads it"
    assert client.get(f"/linkers/people/{person.id}").status_code == 404, "the old linker no longer reaches the person"

    third = make_account(db, role=linker.role, email="tess@example.org", name="Tess Third")
    bodies = lambda viewer: {n.body for n, _ in service.notes_of(db, person_id=person.id, viewer_id=viewer)}
    assert bodies(third.id) == {"Likes a chat about birds"}
    assert bodies(linker.id) == {"Likes a chat about birds", "Grieving: go gently"}  # its author
    assert bodies(second_linker.id) == {"Likes a chat about birds", "Grieving: go gently"}  # the current linker


def test_a_note_is_changed_only_by_its_author_within_the_hour_then_corrected(client, other_client, db, settings, places, linker, second_linker):
    person = assisted(db, settings, linker)
    sign_in(client, linker)
    post_form(client, f"/linkers/people/{person.id}/notes", {"body": "Keen on gardnening"})
    note = db.execute(select(CaseNote).where(CaseNote.person_id == person.id)).scalar_one()
    page = client.get(f"/linkers/people/{person.id}")
    assert f'/linkers/notes/{note.id}"' in page.text and "Change this note" in page.text

    assert post_form(client, f"/linkers/notes/{note.id}", {"body": "Keen on gardening"}).status_code == 303
    db.refresh(note)
    assert note.body == "Keen on gardening" and note.edited_at is not None
    empty = post_form(client, f"/linkers/notes/{note.id}", {"body": "  "})
    assert empty.status_code == 422 and SUMMARY in empty.text

    db.execute(update(CaseNote).where(CaseNote.id == note.id).values(created_at=utcnow() - timedelta(hours=2)))
    db.commit()
    late = post_form(client, f"/linkers/notes/{note.id}", {"body": "Keen on gardening and bees"})
    assert late.status_code == 422
    assert "A note can only be changed within an hour: add a correction instead" in late.text
    db.refresh(note)
    assert note.body == "Keen on gardening"
    assert "Add a correction" in client.get(f"/linkers/people/{person.id}").text

    fixed = post_form(client, f"/linkers/people/{person.id}/notes", {"body": "Keen on gardening and bees", "corrects": str(note.id)})
    assert fixed.status_code == 303
    correction = db.execute(select(CaseNote).where(CaseNote.corrects_note_id == note.id)).scalar_one()
    assert correction.body == "Keen on gardening and bees"
    page = client.get(f"/linkers/people/{person.id}")
    assert f'href="#note-{note.id}"' in page.text and "corrects an earlier note" in page.text
    assert "Keen on gardening</p>" in page.text, "the old note is kept"

    # Another linker (now the person's) cannot change the author's note, even within the hour.
    recent = service.add_note(db, person_id=person.id, author_id=linker.id, body="Rang on Monday")
    db.commit()
    post_form(client, f"/linkers/people/{person.id}/handover", {"to_account_id": str(second_linker.id)})
    sign_in(other_client, second_linker)
    refused = post_form(other_client, f"/linkers/notes/{recent.id}", {"body": "Rang on Tuesday"})
    assert refused.status_code == 422 and "Only the person who wrote a note can change it" in refused.text
    db.refresh(recent)
    assert recent.body == "Rang on Monday"
    # ...and the author, no longer their linker, does not reach the note at all.
    assert post_form(client, f"/linkers/notes/{recent.id}", {"body": "Rang on Tuesday"}).status_code == 404


# --- contact attempts and follow-ups ---------------------------------------------------------


def test_three_failed_contact_attempts_in_a_row_raise_a_follow_up(client, db, settings, places, linker):
    person = assisted(db, settings, linker)
    sign_in(client, linker)
    path = f"/linkers/people/{person.id}/attempts"
    assert post_form(client, path, {"outcome": "no_answer"}).status_code == 303
    assert post_form(client, path, {"outcome": "reached"}).status_code == 303  # a success breaks the run
    post_form(client, path, {"outcome": "no_answer"})
    second = post_form(client, path, {"outcome": "left_message"})
    assert "The contact attempt has been recorded." in client.get(second.headers["location"]).text
    assert db.execute(select(FollowUp).where(FollowUp.person_id == person.id)).first() is None

    third = post_form(client, path, {"outcome": "wrong_number"})
    assert third.status_code == 303 and third.headers["location"].endswith("#contact")
    assert "That is three tries without reaching them" in client.get(third.headers["location"]).text
    raised = db.execute(select(FollowUp).where(FollowUp.person_id == person.id)).scalar_one()
    assert raised.what == service.UNREACHED and raised.due_on == today()
    post_form(client, path, {"outcome": "no_answer"})  # a fourth failure does not raise another
    assert db.execute(select(func.count()).select_from(FollowUp).where(FollowUp.person_id == person.id)).scalar_one() == 1

    bad = post_form(client, path, {"outcome": "shouted"})
    assert bad.status_code == 422 and "Choose what happened" in bad.text
    assert count_of(client.get("/linkers"), "follow-ups due this week") == 1


def test_follow_ups_are_added_then_done_or_not_done_once(client, db, settings, places, linker):
    person = assisted(db, settings, linker)
    sign_in(client, linker)
    path = f"/linkers/people/{person.id}/follow-ups"
    past = post_form(client, path, {"due_on": (today() - timedelta(days=1)).isoformat(), "what": "Ring"})
    assert past.status_code == 422 and "The date must be today or in the future" in past.text
    garbled = post_form(client, path, {"due_on": "31/01/2027", "what": "Ring"})
    assert garbled.status_code == 422 and "Enter the date it is due, like 2027-01-31" in garbled.text
    empty = post_form(client, path, {"due_on": today().isoformat(), "what": " "})
    assert empty.status_code == 422 and "Say what needs doing" in empty.text and 'href="#what"' in empty.text
    assert db.execute(select(FollowUp)).first() is None

    for what in ("Ring about the lunch club", "Post the leaflet"):
        assert post_form(client, path, {"due_on": (today() + timedelta(days=1)).isoformat(), "what": what}).status_code == 303
    ring, post = db.execute(select(FollowUp).where(FollowUp.person_id == person.id).order_by(FollowUp.id)).scalars().all()
    page = client.get(f"/linkers/people/{person.id}")
    assert "Ring about the lunch club" in page.text and f'/linkers/follow-ups/{ring.id}"' in page.text

    why = post_form(client, f"/linkers/follow-ups/{ring.id}", {"result": "not_done", "note": ""})
    assert why.status_code == 422 and "Say why it was not done" in why.text
    assert post_form(client, f"/linkers/follow-ups/{ring.id}", {"result": "not_done", "note": "Club closed this week"}).status_code == 303
    assert post_form(client, f"/linkers/follow-ups/{post.id}", {"result": "done"}).status_code == 303
    db.expire_all()
    assert (db.get(FollowUp, ring.id).result, db.get(FollowUp, ring.id).result_note) == (FollowUpResult.not_done, "Club closed this week")
    assert db.get(FollowUp, post.id).result is FollowUpResult.done and db.get(FollowUp, post.id).finished_by_account_id == linker.id
    again = post_form(client, f"/linkers/follow-ups/{post.id}", {"result": "done"})
    assert again.status_code == 422 and "This follow-up has already been finished" in again.text
    page = client.get(f"/linkers/people/{person.id}")
    assert "Club closed this week" in page.text and "govuk-tag--green" in page.text


# --- handover --------------------------------------------------------------------------------


def test_a_handover_moves_the_person_with_a_note_and_keeps_the_history(client, other_client, db, settings, places, linker, second_linker):
    person = assisted(db, settings, linker)
    sign_in(client, linker)
    form = client.get(f"/linkers/people/{person.id}/handover")
    assert form.status_code == 200 and "Lina Linker" in form.text and "Lee Linker" not in form.text.split("<main", 1)[1]

    nobody = post_form(client, f"/linkers/people/{person.id}/handover", {"note": "Prefers mornings"})
    assert nobody.status_code == 422 and "Choose a community linker to hand over to" in nobody.text
    assert "Prefers mornings" in nobody.text  # the note is kept
    long = post_form(client, f"/linkers/people/{person.id}/handover", {"to_account_id": str(second_linker.id), "note": "x" * 1001})
    assert long.status_code == 422 and "The note must be 1,000 characters or fewer" in long.text

    handed = post_form(client, f"/linkers/people/{person.id}/handover", {"to_account_id": str(second_linker.id), "note": "Prefers mornings"})
    assert handed.status_code == 303 and handed.headers["location"] == "/linkers"
    assert "caseload now, with your note." in client.get("/linkers").text
    assert client.get(f"/linkers/people/{person.id}").status_code == 404

    sign_in(other_client, second_linker)
    assert names_on(other_client.get("/linkers")) == ["Peggy Phone"]
    page = other_client.get(f"/linkers/people/{person.id}")
    assert "With Lina Linker from" in page.text and "“Prefers mornings”" in page.text
    assert re.search(r"With Lee Linker from [^<]+ to ", page.text), "the earlier assignment, with its end"
    history = db.execute(select(CaseAssignment).where(CaseAssignment.person_id == person.id).order_by(CaseAssignment.id)).scalars().all()
    assert [(a.linker_account_id, a.ended_at is not None, a.assigned_by_account_id) for a in history] == [
        (linker.id, True, linker.id), (second_linker.id, False, linker.id)
    ]  # fmt: skip


# --- claiming an online account ----------------------------------------------------------------


def test_a_claim_code_gives_the_person_an_account_showing_who_recorded_their_consent(client, other_client, db, settings, places, linker):
    person = assisted(db, settings, linker, "Cathy Claim", consents=consents(linker_contact=True))
    sign_in(client, linker)
    issued = post_form(client, f"/linkers/people/{person.id}/claim-code", {"send": "print"})
    assert issued.status_code == 200
    code = re.search(r'id="claim-code">([A-Z0-9-]+)<', issued.text).group(1)
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)

    assert other_client.get("/claim").status_code == 200
    body = {"code": code, "email": "cathy@example.org", "password": PASSWORD, "password_confirm": PASSWORD}
    typo = post_form(other_client, "/claim", body | {"password_confirm": PASSWORD + "x"}, token_from="/claim")
    assert typo.status_code == 422 and SUMMARY in typo.text
    assert PASSWORD not in typo.text  # a password is never sent back
    claimed = post_form(other_client, "/claim", body, token_from="/claim")
    assert claimed.status_code == 303 and claimed.headers["location"] == "/account"
    account_page = other_client.get("/account")
    assert "Your online account is ready." in account_page.text
    assert account_page.text.count("Recorded by Lee Linker, your community linker.") == 3  # profile, matching, linker contact

    db.expire_all()
    assert db.get(Person, person.id).account_id is not None
    assert "Make a code to print or read out" not in client.get(f"/linkers/people/{person.id}").text
    assert service.on_caseload(db, linker_id=linker.id, person_id=person.id), "still on the caseload"
    again = post_form(client, f"/linkers/people/{person.id}/claim-code", {"send": "print"})
    assert again.status_code == 422 and "This person already has an online account" in again.text
    other_client.cookies.clear()
    reused = post_form(other_client, "/claim", body | {"email": "cathy2@example.org"}, token_from="/claim")
    assert reused.status_code == 422 and "This code is not right" in reused.text


# --- brokering a match on someone's behalf ---------------------------------------------------------


def test_a_linker_answers_a_match_for_a_person_with_the_channel_then_puts_them_in_touch(client, db, settings, places, linker):
    person = assisted(db, settings, linker)
    reached(db, settings, linker, person)
    match = proposed_by_a_seeker(db, settings, person, "Sid Seeker")
    sign_in(client, linker)
    path = f"/linkers/matches/{match.id}"
    page = client.get(path)
    assert page.status_code == 200 and "Peggy Phone said yes" in page.text and 'name="channel"' in page.text
    assert count_of(client.get("/linkers"), "matches waiting for an answer") == 1

    no_channel = post_form(client, path + "/accept", {"version": str(match.version), "side": "offer", "channel": ""})
    assert no_channel.status_code == 422 and "Say how the person gave their answer" in no_channel.text
    not_mine = post_form(client, path + "/accept", {"version": str(match.version), "side": "request", "channel": "phone"})
    assert not_mine.status_code == 422 and "You can only answer for a person on your caseload" in not_mine.text
    stale = post_form(client, path + "/accept", {"version": str(match.version - 1), "side": "offer", "channel": "phone"})
    assert stale.status_code == 409 and "Someone changed this just now" in stale.text
    assert post_form(client, path + "/shout", {"version": str(match.version)}).status_code == 404
    db.refresh(match)
    assert match.offer_answer is Answer.pending

    said = post_form(client, path + "/accept", {"version": str(match.version), "side": "offer", "channel": "phone"})
    assert said.status_code == 303
    db.refresh(match)
    assert match.status is MatchStatus.accepted and match.brokered_by_account_id == linker.id
    note = db.execute(select(CaseNote).where(CaseNote.match_id == match.id)).scalar_one()
    assert note.body == "Answered yes by phone, recorded by their linker." and note.person_id == person.id
    page = client.get(path)
    assert "Brokered by Lee Linker" in page.text and "Answered yes by phone" in page.text
    assert count_of(client.get("/linkers"), "matches to put in touch") == 1

    shown = post_form(client, path + "/contacts", {})
    assert shown.status_code == 200 and "01632 960 001" in shown.text and "sid.seeker@example.org" in shown.text
    revealed = db.execute(select(AuditEvent).where(AuditEvent.action == AuditAction.contact_revealed)).scalars().all()
    assert {e.subject_person_id for e in revealed} == {person.id, match_seeker(db, match).id}
    done = post_form(client, path + "/introduced", {})
    assert done.status_code == 303
    assert db.execute(select(MatchIntroduction).where(MatchIntroduction.match_id == match.id)).scalar_one().linker_account_id == linker.id
    assert count_of(client.get("/linkers"), "matches to put in touch") == 0
    assert "You put them in touch on" in client.get(path).text


def match_seeker(db, match) -> Person:
    return matching.sides_of(db, match).request_person


def test_a_linker_records_a_no_thanks_given_in_person(client, db, settings, places, linker):
    person = assisted(db, settings, linker)
    match = proposed_by_a_seeker(db, settings, person, "Sid Seeker")
    sign_in(client, linker)
    said = post_form(
        client, f"/linkers/matches/{match.id}/decline",
        {"version": str(match.version), "side": "offer", "channel": "in_person", "reason": "not_now"},
    )  # fmt: skip
    assert said.status_code == 303, said.text
    db.refresh(match)
    assert match.status is MatchStatus.declined and match.offer_answer is Answer.no
    assert db.execute(select(CaseNote.body).where(CaseNote.match_id == match.id)).scalar_one() == (
        "Answered no thanks in person, recorded by their linker."
    )


# --- CSRF ------------------------------------------------------------------------------------------


def test_every_linker_form_without_a_csrf_token_is_refused_and_changes_nothing(client, app, db, settings, places, linker, second_linker):
    world = build_world(db, settings, linker, second_linker)
    sign_in(client, linker)
    before = counts(db)
    audited = db.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    forms = [r for r in linker_routes(app).values() if r.method == "POST" and not r.is_api]
    assert len(forms) >= 20
    for route in forms:
        row = ACCESS[route.name]
        params = default_params(world, route) | (row.params(world) if row.params else {})
        body = row.body(world) if row.body else {}
        path = fill(route.path, params)
        for token in ({}, {"csrf_token": "not-a-real-token"}):
            refused = client.post(path, data=body | token, follow_redirects=False)
            assert refused.status_code == 403, (route.name, refused.status_code)
            assert "Your form has expired" in refused.text, route.name
    assert counts(db) == before
    db.expire_all()
    assert db.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == audited, "no handler ran"


def _summary_links_land(page: str) -> list[str]:
    """Every link in the error summary points at an element on the page."""
    summary = page[page.index("govuk-error-summary"):]
    summary = summary[: summary.index("</ul>")]
    targets = re.findall(r'href="#([^"]+)"', summary)
    assert targets, "an error summary with its links"
    return [t for t in targets if f'id="{t}"' not in page]


def test_every_error_summary_link_on_the_linker_pages_lands_on_its_field(client, db, settings, places, linker):
    person = assisted(db, settings, linker)
    sign_in(client, linker)
    ring = service.add_follow_up(db, person_id=person.id, by_id=linker.id, due_on=today(), what="Ring back")
    db.commit()
    pages = [
        post_form(client, "/linkers/register", {}),
        post_form(client, f"/linkers/people/{person.id}/attempts", {"outcome": "shouted"}, token_from="/linkers"),
        post_form(client, f"/linkers/follow-ups/{ring.id}", {"result": "not_done", "note": ""}, token_from="/linkers"),
        post_form(client, f"/linkers/people/{person.id}/consents/share_contact", {"given": "yes", "method": ""}, token_from="/linkers"),
        post_form(client, f"/linkers/people/{person.id}/follow-ups", {"due_on": "soon", "what": ""}, token_from="/linkers"),
        post_form(client, f"/linkers/people/{person.id}/notes", {"body": " "}, token_from="/linkers"),
    ]
    match = proposed_by_a_seeker(db, settings, person, "Sid Seeker")
    path = f"/linkers/matches/{match.id}"
    pages.append(post_form(client, path + "/accept", {"version": match.version, "side": "offer", "channel": ""}, token_from=path))
    pages.append(post_form(client, path + "/accept", {"version": match.version, "side": "request", "channel": "phone"}, token_from=path))
    for page in pages:
        assert page.status_code == 422, page.text[:300]
        assert _summary_links_land(page.text) == []
