"""The match workflow through the API: propose, answer, connect, start, complete, cancel, and the
messages between two people, with mail through a real local SMTP server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.core.db import utcnow
from app.main import create_app
from app.matching.models import Match, MatchStatus
from app.privacy.models import ConsentPurpose
from app.registry import service as registry
from tests.conftest import api_token
from tests.matching.conftest import PLUGINS, citizen, matches, request
from tests.smtp import SmtpServer

MATCH_KEYS = {
    "id", "status", "version", "offer_id", "request_id", "my_side", "answers", "score", "explanation",
    "other", "contact", "minutes_given", "created_at", "updated_at",
}  # fmt: skip


@pytest.fixture()
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture()
def api(settings, engine, session_factory, smtp):
    mail_settings = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_starttls": False})
    app = create_app(mail_settings, engine=engine, session_factory=session_factory)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def propose(api, garden, who=None, offer_item=None):
    who = who or garden.rhian
    headers = api_token(api, who.account)
    offer_item = offer_item or garden.bryn_offer
    return api.post("/api/v1/matches", json={"offer_id": offer_item.id, "request_id": garden.need.id}, headers=headers)


def act(api, who, match_id: int, action: str, **body):
    return api.post(f"/api/v1/matches/{match_id}/{action}", json=body, headers=api_token(api, who.account))


def share_contact(db, settings, who) -> None:
    registry.set_person_consent(
        db, settings, PLUGINS, person=who.person, purpose=ConsentPurpose.share_contact, given=True, account=who.account
    )
    db.commit()


def test_asking_about_a_suggestion_proposes_a_match_and_tells_the_other_person(api, smtp, garden):
    response = propose(api, garden)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == MATCH_KEYS
    assert body["status"] == "proposed" and body["version"] == 1 and body["my_side"] == "request"
    assert body["answers"] == {"offer": "pending", "request": "yes"}
    assert body["other"] == {"title": garden.bryn_offer.title, "skills": ["diy_repairs", "gardening"]}
    assert body["contact"] is None and body["minutes_given"] is None
    assert 0 < body["score"] <= 1 and "Gardening" in body["explanation"]
    assert "Bryn" not in response.text and garden.bryn.email not in response.text
    [mail] = smtp.inbox.wait_for(1)
    assert mail["To"] == garden.bryn.email
    assert mail["Subject"] == "Someone would like to be put in touch with you"
    text = mail.get_content()
    assert garden.bryn_offer.title in text and f"/matches/{body['id']}" in text
    assert "Rhian" not in text and garden.rhian.email not in text


def test_both_yes_accepts_and_contact_follows_share_contact_consent(api, smtp, db, settings, garden):
    match = propose(api, garden).json()
    seen = act(api, garden.bryn, match["id"], "accept", version=match["version"])
    assert seen.status_code == 200, seen.text
    accepted = seen.json()
    assert accepted["status"] == "accepted" and accepted["answers"] == {"offer": "yes", "request": "yes"}
    assert accepted["my_side"] == "offer" and accepted["contact"] is None, "Rhian gave no share_contact consent"
    mails = smtp.inbox.wait_for(3)  # the proposal to Bryn, then "You have both said yes" to both
    assert sorted(m["To"] for m in mails[1:]) == sorted([garden.rhian.email, garden.bryn.email])
    assert {m["Subject"] for m in mails[1:]} == {"You have both said yes"}

    share_contact(db, settings, garden.bryn)
    rhians_view = api.get(f"/api/v1/matches/{match['id']}", headers=api_token(api, garden.rhian.account)).json()
    assert rhians_view["contact"] == {"first_name": "Bryn", "method": "email", "value": garden.bryn.email}
    assert "Zephaniah" not in str(rhians_view), "a first name only"
    bryns_view = api.get(f"/api/v1/matches/{match['id']}", headers=api_token(api, garden.bryn.account)).json()
    assert bryns_view["contact"] is None


def test_a_stale_version_is_409_with_the_latest_even_for_the_same_answer(api, garden):
    match = propose(api, garden).json()
    assert act(api, garden.bryn, match["id"], "accept", version=1).status_code == 200
    again = act(api, garden.bryn, match["id"], "accept", version=1)
    assert again.status_code == 409
    assert again.json()["latest"]["status"] == "accepted" and again.json()["latest"]["version"] == 2


def test_a_declined_pair_never_comes_back(api, db, garden):
    match = propose(api, garden).json()
    declined = act(api, garden.bryn, match["id"], "decline", version=1, reason="too_far", note="Sorry, my knee")
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    assert declined.json()["answers"]["offer"] == "no"
    [stored] = matches(db, id=match["id"])
    assert stored.decline_reason.value == "too_far" and stored.decline_note == "Sorry, my knee"
    for who, path in (
        (garden.rhian, f"/api/v1/help-requests/{garden.need.id}/suggestions"),
        (garden.bryn, f"/api/v1/offers/{garden.bryn_offer.id}/suggestions"),
    ):
        found = api.get(path, headers=api_token(api, who.account)).json()
        assert garden.bryn_offer.id not in [s.get("offer_id") for s in found]
        assert garden.need.id not in [s.get("request_id") for s in found]
    asked_again = propose(api, garden)
    assert asked_again.status_code == 422
    assert "declined" in asked_again.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("who", "action", "body"),
    [
        ("rhian", "accept", {}),  # the asker has already said yes
        ("bryn", "start", {}),  # not agreed yet
        ("bryn", "complete", {"minutes_given": 60}),
        ("rhian", "confirm-time", {"minutes_given": 60}),
        ("rhian", "decline", {}),  # the asker cancels instead
    ],
)
def test_changes_the_state_does_not_allow_are_422(api, garden, who, action, body):
    match = propose(api, garden).json()
    refused = act(api, getattr(garden, who), match["id"], action, version=1, **body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["message"]
    assert matches(api.app.state.session_factory(), id=match["id"])[0].version == 1


def test_the_whole_way_to_completed_with_the_time_both_confirm(api, db, garden):
    match = propose(api, garden).json()
    m = act(api, garden.bryn, match["id"], "accept", version=1).json()
    m = act(api, garden.rhian, match["id"], "start", version=m["version"]).json()
    assert m["status"] == "active"
    m = act(api, garden.bryn, match["id"], "complete", version=m["version"], minutes_given=90, outcome="Hedge cut").json()
    assert m["status"] == "completed" and m["minutes_given"] is None, "waiting for Rhian to confirm"
    corrected = act(api, garden.rhian, match["id"], "confirm-time", version=m["version"], minutes_given=60).json()
    assert corrected["minutes_given"] is None, "they disagree: nothing recorded yet"
    agreed = act(api, garden.bryn, match["id"], "confirm-time", version=corrected["version"], minutes_given=60).json()
    assert agreed["minutes_given"] == 60
    assert act(api, garden.bryn, match["id"], "cancel", version=agreed["version"], reason="x").status_code == 422


def test_after_14_days_the_lower_of_two_accounts_is_recorded(api, db, garden):
    match = propose(api, garden).json()
    m = act(api, garden.bryn, match["id"], "accept", version=1).json()
    m = act(api, garden.bryn, match["id"], "start", version=m["version"]).json()
    m = act(api, garden.bryn, match["id"], "complete", version=m["version"], minutes_given=120).json()
    m = act(api, garden.rhian, match["id"], "confirm-time", version=m["version"], minutes_given=45).json()
    assert m["minutes_given"] is None
    db.execute(update(Match).where(Match.id == match["id"]).values(completed_at=utcnow() - timedelta(days=15)))
    db.commit()
    later = api.get(f"/api/v1/matches/{match['id']}", headers=api_token(api, garden.rhian.account)).json()
    assert later["minutes_given"] == 45


def test_someone_elses_match_is_404_and_other_roles_are_refused(api, garden, staff):
    match = propose(api, garden).json()
    gwen = api_token(api, garden.gwen.account)
    for method, path, body in (
        ("GET", f"/api/v1/matches/{match['id']}", None),
        ("POST", f"/api/v1/matches/{match['id']}/accept", {"version": 1}),
        ("POST", f"/api/v1/matches/{match['id']}/cancel", {"version": 1, "reason": "x"}),
        ("GET", f"/api/v1/matches/{match['id']}/messages", None),
        ("POST", f"/api/v1/matches/{match['id']}/messages", {"body": "hello"}),
    ):
        answer = api.request(method, path, json=body, headers=gwen)
        assert answer.status_code == 404, (method, path)
        assert answer.json() == api.get("/api/v1/matches/999999", headers=gwen).json()
    assert api.get("/api/v1/matches", headers=gwen).json() == []
    someone_elses_pair = api.post(
        "/api/v1/matches", json={"offer_id": garden.bryn_offer.id, "request_id": garden.need.id}, headers=gwen
    )
    assert someone_elses_pair.status_code == 404
    assert api.get("/api/v1/matches", headers=api_token(api, staff)).status_code == 403


def test_messages_wait_for_both_yes_and_mail_never_carries_the_text(api, smtp, garden):
    match = propose(api, garden).json()
    rhian, bryn = api_token(api, garden.rhian.account), api_token(api, garden.bryn.account)
    early = api.post(f"/api/v1/matches/{match['id']}/messages", json={"body": "Hi"}, headers=rhian)
    assert early.status_code == 422
    act(api, garden.bryn, match["id"], "accept", version=1)
    smtp.inbox.wait_for(3)
    sent = api.post(f"/api/v1/matches/{match['id']}/messages", json={"body": "Tuesday at ten suits me"}, headers=rhian)
    assert sent.status_code == 201 and sent.json()["from_me"] is True
    assert api.post(f"/api/v1/matches/{match['id']}/messages", json={"body": ""}, headers=rhian).status_code == 422
    too_long = api.post(f"/api/v1/matches/{match['id']}/messages", json={"body": "x" * 2001}, headers=rhian)
    assert too_long.status_code == 422
    thread = api.get(f"/api/v1/matches/{match['id']}/messages", headers=bryn).json()
    assert [(m["body"], m["from_me"]) for m in thread] == [("Tuesday at ten suits me", False)]
    mail = smtp.inbox.wait_for(4)[-1]
    assert mail["To"] == garden.bryn.email and mail["Subject"] == "You have a new message"
    assert "Tuesday" not in mail.get_content()


def test_turning_match_mail_off_stops_it_and_the_page_still_shows_the_match(api, smtp, db, garden):
    from tests.conftest import csrf_token, sign_in

    sign_in(api, garden.bryn.account)
    account_page = api.get("/account")
    assert "Emails about your matches" in account_page.text
    refused = api.post("/account/match-emails", data={"csrf_token": csrf_token(api, "/account"), "choice": "maybe"})
    assert refused.status_code == 422 and "Choose whether we should email you" in refused.text  # only by tampering
    turned_off = api.post(
        "/account/match-emails", data={"csrf_token": csrf_token(api, "/account"), "choice": "no"}, follow_redirects=False
    )
    assert turned_off.status_code == 303
    db.expire_all()
    assert db.get(type(garden.bryn.account), garden.bryn.account.id).match_emails is False
    match = propose(api, garden).json()
    act(api, garden.bryn, match["id"], "accept", version=1)  # mails "You have both said yes": to Rhian only
    [only] = smtp.inbox.wait_for(1)
    assert only["To"] == garden.rhian.email
    assert len(smtp.inbox.wait_for(2, timeout=0.5)) == 1, "nothing for Bryn, who turned it off"
    listed = api.get("/api/v1/matches", headers=api_token(api, garden.bryn.account)).json()
    assert [m["id"] for m in listed] == [match["id"]]


def test_agreed_matches_take_the_offers_places_and_cancelling_frees_them(api, db, settings, garden):
    match = propose(api, garden).json()
    m = act(api, garden.bryn, match["id"], "accept", version=1).json()
    nia = citizen(db, settings, "Nia Trefor")
    second = request(db, nia)
    headers = api_token(api, nia.account)
    full = api.post("/api/v1/matches", json={"offer_id": garden.bryn_offer.id, "request_id": second.id}, headers=headers)
    assert full.status_code == 422 and "no places" in full.json()["errors"][0]["message"]
    found = api.get(f"/api/v1/help-requests/{second.id}/suggestions", headers=headers).json()
    assert garden.bryn_offer.id not in [s["offer_id"] for s in found], "a full offer is not suggested"
    cancelled = act(api, garden.rhian, match["id"], "cancel", version=m["version"], reason="Moved away")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    freed = api.post("/api/v1/matches", json={"offer_id": garden.bryn_offer.id, "request_id": second.id}, headers=headers)
    assert freed.status_code == 201, freed.text


def test_a_suggestion_a_run_stored_becomes_the_proposal(api, db, garden):
    stored = Match(offer_id=garden.bryn_offer.id, request_id=garden.need.id, score=800, explanation="Shares Gardening")
    db.add(stored)
    db.commit()
    listed = api.get("/api/v1/matches", headers=api_token(api, garden.bryn.account)).json()
    assert [(m["id"], m["status"]) for m in listed] == [(stored.id, "suggested")]
    asked = propose(api, garden)
    assert asked.status_code == 201 and asked.json()["id"] == stored.id and asked.json()["status"] == "proposed"
    assert len(matches(db)) == 1


def test_withdrawing_consent_or_closing_an_item_cancels_every_open_match_and_tells_the_other(api, smtp, db, settings, garden):
    from app.registry.models import ItemStatus

    agreed = propose(api, garden).json()
    act(api, garden.bryn, agreed["id"], "accept", version=1)
    smtp.inbox.wait_for(3)
    registry.set_person_consent(
        db, settings, api.app.state.plugins, person=garden.bryn.person, purpose=ConsentPurpose.matching, given=False,
        account=garden.bryn.account,
    )  # fmt: skip
    db.commit()
    [ended] = matches(db, id=agreed["id"])
    assert ended.status is MatchStatus.cancelled
    mails = smtp.inbox.wait_for(4)
    assert mails[-1]["To"] == garden.rhian.email and mails[-1]["Subject"] == "A match has been cancelled"
    assert "Bryn" not in mails[-1].get_content()

    asked = propose(api, garden, offer_item=garden.gwen_offer).json()
    closed = api.delete(f"/api/v1/help-requests/{garden.need.id}", headers=api_token(api, garden.rhian.account))
    assert closed.status_code in (200, 204), closed.text
    [gone] = matches(db, id=asked["id"])
    assert gone.status is MatchStatus.cancelled and db.get(type(garden.need), garden.need.id).status is ItemStatus.closed


def test_the_pages_walk_a_match_from_suggestion_to_completed_without_javascript(api, db, garden):
    from tests.conftest import csrf_token, sign_in

    def form(path, data, page):
        return api.post(path, data={"csrf_token": csrf_token(api, page), **data}, follow_redirects=False)

    sign_in(api, garden.rhian.account)
    page = api.get(f"/requests/{garden.need.id}/suggestions")
    assert page.status_code == 200 and garden.bryn_offer.title in page.text and "Ask to be put in touch" in page.text
    assert "Bryn" not in page.text
    asked = form("/matches/ask", {"offer_id": garden.bryn_offer.id, "request_id": garden.need.id}, "/matches")
    assert asked.status_code == 303
    match_path = asked.headers["location"]
    assert "Waiting for an answer" in api.get(match_path).text
    assert "Your matches" in api.get("/my").text and garden.bryn_offer.title in api.get("/matches").text

    api.cookies.clear()
    sign_in(api, garden.bryn.account)
    assert "Yes, put us in touch" in api.get(match_path).text
    assert form(match_path + "/accept", {"version": 1}, match_path).status_code == 303
    stale = form(match_path + "/accept", {"version": 1}, match_path)
    assert stale.status_code == 409 and "Someone changed this just now" in stale.text and "You both said yes" in stale.text
    assert form(match_path + "/messages", {"body": "See you Tuesday"}, match_path).status_code == 303
    assert form(match_path + "/messages", {"body": "  "}, match_path).status_code == 422
    assert "See you Tuesday" in api.get(match_path).text
    assert form(match_path + "/start", {"version": 2}, match_path).status_code == 303
    bad_time = form(match_path + "/complete", {"version": 3, "hours": "x"}, match_path)
    assert bad_time.status_code == 422 and "Enter the time given" in bad_time.text
    assert form(match_path + "/complete", {"version": 3, "hours": "1", "minutes": "30"}, match_path).status_code == 303
    done = api.get(match_path).text
    assert "Completed" in done and "Confirm the time" not in done

    api.cookies.clear()
    sign_in(api, garden.rhian.account)
    assert form(match_path + "/confirm-time", {"version": 4, "hours": "1", "minutes": "30"}, match_path).status_code == 303
    assert "1 hours 30 minutes" in api.get(match_path).text
    [stored] = matches(db)
    assert stored.status is MatchStatus.completed and stored.minutes_given == 90


def test_another_persons_match_page_is_404(api, garden):
    from tests.conftest import sign_in

    match = propose(api, garden).json()
    sign_in(api, garden.gwen.account)
    assert api.get(f"/matches/{match['id']}").status_code == 404
    assert api.get("/matches/999999").status_code == 404
    huge = "9" * 25  # past SQLite's 64-bit integers: no such record, never a 500
    assert api.get(f"/matches/{huge}").status_code == 404
    assert api.get(f"/api/v1/matches/{huge}", headers=api_token(api, garden.gwen.account)).status_code == 404


def test_asking_for_a_pair_that_no_longer_fits_says_why_on_the_page(api, db, garden):
    from tests.conftest import csrf_token, sign_in

    first = propose(api, garden).json()
    act(api, garden.bryn, first["id"], "decline", version=1)
    sign_in(api, garden.rhian.account)
    again = api.post(
        "/matches/ask",
        data={"csrf_token": csrf_token(api, "/matches"), "offer_id": garden.bryn_offer.id, "request_id": garden.need.id},
    )
    assert again.status_code == 422
    assert "This match was declined, so it is not suggested again" in again.text


def test_a_proposal_unanswered_past_the_limit_expires_frees_the_pair_and_tells_both(api, smtp, db, settings, garden):
    from app.matching import service
    from app.matching.jobs import EXPIRY

    stale = propose(api, garden).json()
    fresh = propose(api, garden, offer_item=garden.gwen_offer).json()
    smtp.inbox.wait_for(2)
    now = utcnow()
    db.execute(update(Match).where(Match.id == stale["id"]).values(proposed_at=now - timedelta(days=settings.match_answer_days, minutes=1)))
    db.execute(update(Match).where(Match.id == fresh["id"]).values(proposed_at=now - timedelta(days=settings.match_answer_days - 1)))
    db.commit()
    assert EXPIRY.schedule is not None, "the worker runs it on a schedule"

    assert service.expire_unanswered(db, settings, mailer=api.app.state.mailer) == 1
    db.commit()
    [ended] = matches(db, id=stale["id"])
    assert ended.status is MatchStatus.cancelled and ended.cancel_reason == "expired" and ended.ended_by is None
    [waiting] = matches(db, id=fresh["id"])
    assert waiting.status is MatchStatus.proposed, "one still inside the limit is left alone"
    told = smtp.inbox.wait_for(4)[2:]
    assert sorted(m["To"] for m in told) == sorted([garden.rhian.email, garden.bryn.email])
    assert all(m["Subject"] == "A match has been cancelled" and "not answered in time" in m.get_content() for m in told)
    # Not a decline: the pair may be suggested and asked for again.
    again = propose(api, garden)
    assert again.status_code == 201, again.text
    assert service.expire_unanswered(db, settings, mailer=None) == 0, "running again ends nothing more"


def test_declining_and_cancelling_on_the_pages_keep_the_reason(api, db, garden):
    from app.matching.models import DeclineReason
    from tests.conftest import csrf_token, sign_in

    declined = propose(api, garden).json()
    cancelled = propose(api, garden, offer_item=garden.gwen_offer).json()
    sign_in(api, garden.bryn.account)
    path = f"/matches/{declined['id']}"
    answer = api.post(path + "/decline", data={"csrf_token": csrf_token(api, path), "version": 1, "reason": "too_far", "note": " A bit far "},
                      follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303, answer.text
    [stored] = matches(db, id=declined["id"])
    assert stored.status is MatchStatus.declined and stored.decline_reason is DeclineReason.too_far and stored.decline_note == "A bit far"

    api.cookies.clear()
    sign_in(api, garden.rhian.account)
    path = f"/matches/{cancelled['id']}"
    unexplained = api.post(path + "/cancel", data={"csrf_token": csrf_token(api, path), "version": 1, "reason": " "}, follow_redirects=False)
    assert unexplained.status_code == 422 and "Say why you are cancelling" in unexplained.text
    done = api.post(path + "/cancel", data={"csrf_token": csrf_token(api, path), "version": 1, "reason": "Found help"}, follow_redirects=False)
    assert done.status_code == 303
    [ended] = matches(db, id=cancelled["id"])
    assert ended.status is MatchStatus.cancelled and ended.cancel_reason == "Found help"
