"""The optional ONS wellbeing questions on a match page: asked once before a person's first match
and again after each completed one, private to the person (export and erasure include them), and
refused kindly when a value is missing or the questions were answered already."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.main import create_app
from app.matching import wellbeing
from app.matching.models import MatchStatus, WellbeingAnswer, WellbeingStage
from app.privacy import rights
from app.privacy.models import ErasureChannel
from app.core.plugins import DataSubject
from tests.conftest import api_token, csrf_token, sign_in
from tests.matching.conftest import PLUGINS

ANSWERS = {"life_satisfaction": "6", "worthwhile": "7", "happiness": "5", "anxiety": "4"}


@pytest.fixture()
def client(settings, engine, session_factory):
    app = create_app(settings, engine=engine, session_factory=session_factory)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _api(client, who, path, **body):
    response = client.post(path, json=body, headers=api_token(client, who.account))
    assert response.status_code in (200, 201), response.text
    return response.json()


def _accepted_match(client, garden) -> dict:
    match = _api(
        client,
        garden.rhian,
        "/api/v1/matches",
        offer_id=garden.bryn_offer.id,
        request_id=garden.need.id,
    )
    return _api(
        client, garden.bryn, f"/api/v1/matches/{match['id']}/accept", version=match["version"]
    )


def _complete(client, garden, match: dict) -> dict:
    started = _api(
        client, garden.rhian, f"/api/v1/matches/{match['id']}/start", version=match["version"]
    )
    return _api(
        client,
        garden.bryn,
        f"/api/v1/matches/{match['id']}/complete",
        version=started["version"],
        minutes_given=60,
    )


def _answer(client, match_id: int, stage: str, **answers):
    page = f"/matches/{match_id}/wellbeing"
    data = {"csrf_token": csrf_token(client, f"/matches/{match_id}"), "stage": stage, **answers}
    return client.post(page, data=data, follow_redirects=False)


def _stored(db, person_id: int) -> list[WellbeingAnswer]:
    db.expire_all()
    query = (
        select(WellbeingAnswer)
        .where(WellbeingAnswer.person_id == person_id)
        .order_by(WellbeingAnswer.id)
    )
    return list(db.execute(query).scalars())


@pytest.mark.parametrize(
    ("measure", "expected"),
    [
        ("happiness", ["low"] * 5 + ["medium"] * 2 + ["high"] * 2 + ["very_high"] * 2),
        ("life_satisfaction", ["low"] * 5 + ["medium"] * 2 + ["high"] * 2 + ["very_high"] * 2),
        ("anxiety", ["very_low"] * 2 + ["low"] * 2 + ["medium"] * 2 + ["high"] * 5),
    ],
)
def test_scores_fall_in_the_ons_bands(measure, expected):
    assert [wellbeing.band(measure, score) for score in range(11)] == expected
    assert list(dict.fromkeys(expected)) == list(wellbeing.bands(measure))
    with pytest.raises(ValueError):
        wellbeing.band(measure, 11)


@pytest.mark.parametrize(
    ("status", "starting_point", "completed_before", "after_this", "due"),
    [
        (MatchStatus.proposed, False, False, False, WellbeingStage.before),
        (MatchStatus.active, False, False, False, WellbeingStage.before),
        (MatchStatus.accepted, True, False, False, None),  # one starting point per person
        (MatchStatus.accepted, False, True, False, None),  # too late: they have had a match already
        (MatchStatus.suggested, False, False, False, None),  # nobody has asked for it yet
        (MatchStatus.completed, False, True, False, WellbeingStage.after),
        (MatchStatus.completed, True, True, True, None),
        (MatchStatus.cancelled, False, False, False, None),
    ],
)
def test_when_the_questions_are_asked(status, starting_point, completed_before, after_this, due):
    assert wellbeing.stage_due(
        match_status=status, has_starting_point=starting_point, has_completed_match=completed_before,
        answered_after_this_match=after_this,
    ) is due  # fmt: skip


def test_both_people_answer_before_and_after_and_each_sees_only_their_own(client, db, garden):
    match = _accepted_match(client, garden)
    sign_in(client, garden.rhian.account)
    page = client.get(f"/matches/{match['id']}")
    assert "How are you feeling? (optional)" in page.text
    form = client.get(f"/matches/{match['id']}/wellbeing")
    assert (
        form.status_code == 200
        and "Overall, how satisfied are you with your life nowadays?" in form.text
    )

    missing = _answer(
        client, match["id"], "before", life_satisfaction="6", worthwhile="11", happiness=""
    )
    assert missing.status_code == 422
    for message in (
        "how worthwhile the things you do feel",
        "how happy you felt yesterday",
        "how anxious you felt yesterday",
    ):
        assert f"Choose a number from 0 to 10 for {message}" in missing.text
    assert 'value="6" checked' in missing.text, "what was chosen is kept"
    assert _stored(db, garden.rhian.person.id) == [], "nothing half-written"

    saved = _answer(client, match["id"], "before", **ANSWERS)
    assert saved.status_code == 303 and saved.headers["location"] == f"/matches/{match['id']}"
    [before] = _stored(db, garden.rhian.person.id)
    assert (before.stage, before.life_satisfaction, before.anxiety) == (WellbeingStage.before, 6, 4)
    assert before.recorded_by_account_id == garden.rhian.account.id
    assert "How are you feeling? (optional)" not in client.get(f"/matches/{match['id']}").text
    again = client.get(f"/matches/{match['id']}/wellbeing", follow_redirects=False)
    assert again.status_code == 303, "answered already: back to the match"
    twice = _answer(client, match["id"], "before", **ANSWERS)
    assert twice.status_code == 303 and len(_stored(db, garden.rhian.person.id)) == 1

    done = _complete(client, garden, match)
    assert done["status"] == "completed"
    assert "Now that your match is done" in client.get(f"/matches/{match['id']}/wellbeing").text
    wrong_stage = _answer(client, match["id"], "before", **ANSWERS)
    assert (
        wrong_stage.status_code == 422
        and "These questions have been answered already" in wrong_stage.text
    )
    assert _answer(client, match["id"], "after", **{**ANSWERS, "happiness": "8"}).status_code == 303
    stages = [(a.stage, a.happiness) for a in _stored(db, garden.rhian.person.id)]
    assert stages == [(WellbeingStage.before, 5), (WellbeingStage.after, 8)]

    # Bryn never sees Rhian's answers, and is asked only about his own time ("after" only: his
    # first match is already done).
    client.cookies.clear()
    sign_in(client, garden.bryn.account)
    bryns = client.get(f"/matches/{match['id']}/wellbeing")
    assert "Now that your match is done" in bryns.text and "checked" not in bryns.text
    assert _stored(db, garden.bryn.person.id) == []


def test_someone_else_gets_404_and_a_form_without_csrf_is_refused(client, db, garden):
    match = _accepted_match(client, garden)
    sign_in(client, garden.gwen.account)
    assert client.get(f"/matches/{match['id']}/wellbeing").status_code == 404
    token = csrf_token(client, "/matches")
    stranger = client.post(
        f"/matches/{match['id']}/wellbeing",
        data={"csrf_token": token, "stage": "before", **ANSWERS},
    )
    assert stranger.status_code == 404
    client.cookies.clear()
    sign_in(client, garden.rhian.account)
    forged = client.post(f"/matches/{match['id']}/wellbeing", data={"stage": "before", **ANSWERS})
    assert forged.status_code == 403
    assert _stored(db, garden.rhian.person.id) == [] and _stored(db, garden.gwen.person.id) == []


def test_answers_are_in_the_export_and_go_at_erasure(client, db, settings, garden):
    match = _accepted_match(client, garden)
    sign_in(client, garden.rhian.account)
    assert _answer(client, match["id"], "before", **ANSWERS).status_code == 303
    exported = client.get(
        "/api/v1/me/export", headers=api_token(client, garden.rhian.account)
    ).json()
    [entry] = [m for m in exported["matches"] if m["id"] == match["id"]]
    [given] = entry["my_wellbeing_answers"]
    assert {k: given[k] for k in wellbeing.MEASURES} == {k: int(v) for k, v in ANSWERS.items()}
    assert given["stage"] == "before"
    bryns = client.get("/api/v1/me/export", headers=api_token(client, garden.bryn.account)).json()
    assert all(m["my_wellbeing_answers"] == [] for m in bryns["matches"]), "never the other side's"

    subject = DataSubject(garden.rhian.person.id, garden.rhian.account.id)
    rights.erase(db, PLUGINS, settings, subject, channel=ErasureChannel.online)
    db.commit()
    assert _stored(db, garden.rhian.person.id) == []
