"""Matching through HTTP: the suggestions contract, ownership, roles, privacy and the portal pages."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.matching.models import Match, MatchRun
from tests.conftest import api_token, sign_in

SUGGESTION_KEYS = {"score", "distance_km", "shared_skills", "shared_slots", "explanation"}
RUN_KEYS = {
    "id", "ward_code", "status", "error", "requests_considered", "offers_considered", "candidate_pairs",
    "requests_covered", "offers_used", "new_suggestions", "total_score", "seconds",
}


def others_of(garden, *owners):
    """Names and emails of everyone in the garden except the owners: none may appear in a response."""
    people = [garden.rhian, garden.bryn, garden.gwen, garden.ffion]
    words = []
    for who in people:
        if who in owners:
            continue
        words += [who.email, who.name, *who.name.split()]
    return words


def assert_private(text: str, words) -> None:
    lowered = text.lower()
    for word in words:
        assert word.lower() not in lowered, f"{word!r} appears in the response"


def test_suggestions_for_a_help_request(client, garden):
    headers = api_token(client, garden.rhian.account)
    response = client.get(f"/api/v1/help-requests/{garden.need.id}/suggestions?limit=10", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert [s["offer_id"] for s in body] == [garden.bryn_offer.id, garden.gwen_offer.id]
    for s in body:
        assert set(s) == SUGGESTION_KEYS | {"offer_id"}
        assert isinstance(s["score"], float) and 0 < s["score"] <= 1
        assert s["shared_skills"] == ["gardening"]
    assert [s["score"] for s in body] == sorted((s["score"] for s in body), reverse=True)
    best = body[0]
    assert best["distance_km"] == 1.5
    assert best["shared_slots"] == ["tue-am"]
    assert best["explanation"] == "Shares Gardening · about 1.5 km apart · both free Tuesday mornings"
    assert body[1]["distance_km"] == 2.0 and body[1]["shared_slots"] == ["wed-pm"]
    assert_private(response.text, others_of(garden, garden.rhian))

    one = client.get(f"/api/v1/help-requests/{garden.need.id}/suggestions", params={"limit": 1}, headers=headers)
    assert [s["offer_id"] for s in one.json()] == [garden.bryn_offer.id]


def test_suggestions_for_an_offer(client, garden):
    headers = api_token(client, garden.bryn.account)
    response = client.get(f"/api/v1/offers/{garden.bryn_offer.id}/suggestions", headers=headers)
    assert response.status_code == 200
    [s] = response.json()
    assert set(s) == SUGGESTION_KEYS | {"request_id"}
    assert s["request_id"] == garden.need.id
    assert s["distance_km"] == 1.5 and s["shared_skills"] == ["gardening"] and s["shared_slots"] == ["tue-am"]
    assert s["explanation"] == "Shares Gardening · about 1.5 km apart · both free Tuesday mornings"
    assert_private(response.text, others_of(garden, garden.bryn))
    # Ffion is too far from anyone who asked: an empty list, not an error.
    ffion_headers = api_token(client, garden.ffion.account)
    ffion = client.get(f"/api/v1/offers/{garden.ffion_offer.id}/suggestions", headers=ffion_headers)
    assert ffion.status_code == 200 and ffion.json() == []


def test_another_persons_items_are_not_found(client, garden):
    headers = api_token(client, garden.bryn.account)
    assert client.get(f"/api/v1/help-requests/{garden.need.id}/suggestions", headers=headers).status_code == 404
    assert client.get(f"/api/v1/offers/{garden.gwen_offer.id}/suggestions", headers=headers).status_code == 404
    # An id that does not exist looks just the same.
    assert client.get("/api/v1/offers/999999/suggestions", headers=headers).status_code == 404


def test_suggestions_need_a_signed_in_citizen(client, garden, staff):
    assert client.get(f"/api/v1/help-requests/{garden.need.id}/suggestions").status_code == 401
    assert client.get(f"/api/v1/offers/{garden.bryn_offer.id}/suggestions").status_code == 401
    # Staff have no items of their own and may not read a citizen's suggestions here.
    response = client.get(f"/api/v1/help-requests/{garden.need.id}/suggestions", headers=api_token(client, staff))
    assert response.status_code in (403, 404)


@pytest.mark.parametrize("limit", ["0", "51", "-1", "ten"])
def test_limit_out_of_range_is_refused(client, garden, limit):
    headers = api_token(client, garden.rhian.account)
    response = client.get(f"/api/v1/help-requests/{garden.need.id}/suggestions", params={"limit": limit}, headers=headers)
    assert response.status_code == 422
    offer_headers = api_token(client, garden.bryn.account)
    url = f"/api/v1/offers/{garden.bryn_offer.id}/suggestions"
    response = client.get(url, params={"limit": limit}, headers=offer_headers)
    assert response.status_code == 422


def count_runs(db) -> tuple[int, int]:
    db.expire_all()
    return (
        db.execute(select(func.count()).select_from(MatchRun)).scalar_one(),
        db.execute(select(func.count()).select_from(Match)).scalar_one(),
    )


def start_and_poll(client, headers, body=None) -> dict:
    """POST a run (202, queued at once), then poll it until it is finished or failed."""
    response = client.post("/api/v1/matching/runs", json=body if body is not None else {}, headers=headers)
    assert response.status_code == 202, response.text
    queued = response.json()
    assert set(queued) == {"id", "status"} and queued["status"] == "queued"
    for _ in range(50):
        polled = client.get(f"/api/v1/matching/runs/{queued['id']}", headers=headers)
        assert polled.status_code == 200, polled.text
        if polled.json()["status"] in ("finished", "failed"):
            return polled.json()
    raise AssertionError(f"run {queued['id']} never finished")


def test_only_admins_and_linkers_start_a_run(client, db, garden, staff, admin, linker):
    assert client.post("/api/v1/matching/runs", json={}).status_code == 401
    for who in (garden.rhian.account, staff):
        response = client.post("/api/v1/matching/runs", json={}, headers=api_token(client, who))
        assert response.status_code == 403, who.role
    assert count_runs(db) == (0, 0)

    figures = start_and_poll(client, api_token(client, admin))
    assert set(figures) == RUN_KEYS
    assert figures["status"] == "finished" and figures["error"] is None
    assert figures["requests_considered"] == 1 and figures["offers_considered"] == 3
    assert figures["requests_covered"] == 1 and figures["offers_used"] == 1 and figures["new_suggestions"] == 1
    assert figures["total_score"] > 0 and figures["seconds"] >= 0 and figures["ward_code"] is None
    assert count_runs(db) == (1, 1)
    assert db.get(MatchRun, figures["id"]).triggered_by_account_id == admin.id

    again = start_and_poll(client, api_token(client, linker))
    assert again["status"] == "finished"
    assert again["new_suggestions"] == 0  # Rhian already holds an open suggestion
    assert count_runs(db) == (2, 1)


def test_run_status_is_for_admins_and_linkers_only(client, db, garden, staff, admin):
    run = start_and_poll(client, api_token(client, admin))
    url = f"/api/v1/matching/runs/{run['id']}"
    assert client.get(url).status_code == 401
    for who in (garden.rhian.account, staff):
        assert client.get(url, headers=api_token(client, who)).status_code == 403
    response = client.get(url, headers=api_token(client, admin))
    assert response.status_code == 200
    assert_private(response.text, others_of(garden))
    assert client.get("/api/v1/matching/runs/999999", headers=api_token(client, admin)).status_code == 404


def test_a_run_for_an_area_waits_while_another_run_holds_the_area(client, app, db, garden, admin):
    """Two runs for the same area never overlap: while the whole borough's lock is held (as by a
    run in progress in another process), a new run is refused, stays queued and says why; a run
    for another area is not held up; once the lock is free the queued run goes ahead."""
    from app.core.jobs import JobRun, JobStatus
    from app.matching.jobs import area_lock_name, run_now

    jobs = app.state.jobs
    headers = api_token(client, admin)
    with jobs.context.lock(area_lock_name(None)):
        response = client.post("/api/v1/matching/runs", json={}, headers=headers)
        assert response.status_code == 202
        run_id = response.json()["id"]
        waiting = client.get(f"/api/v1/matching/runs/{run_id}", headers=headers).json()
        assert waiting["status"] == "queued"
        assert waiting["error"] == "AreaBusy: another run for the same area was still running"
        assert waiting["new_suggestions"] == 0 and count_runs(db) == (1, 0)
        db.expire_all()
        [job] = db.execute(select(JobRun).where(JobRun.name == "matching_run")).scalars().all()
        assert job.status is JobStatus.retrying and job.attempts == 1

        other = start_and_poll(client, headers, {"ward_code": "S13002483"})  # another area: not held up
        assert other["status"] == "finished"

    # The lock is free: the queued run (as its retry will) goes ahead and finishes.
    run_now(jobs.context.settings, jobs.context, run_id)
    done = client.get(f"/api/v1/matching/runs/{run_id}", headers=headers).json()
    assert done["status"] == "finished" and done["error"] is None and done["new_suggestions"] == 1


def test_a_run_whose_area_stays_busy_fails_for_good_on_its_last_try(app, db, garden):
    from app.core.jobs import JobRefused
    from app.matching.jobs import area_lock_name, run_now

    jobs = app.state.jobs
    run = MatchRun(ward_code=None)
    db.add(run)
    db.commit()
    with jobs.context.lock(area_lock_name(None)):
        with pytest.raises(JobRefused):
            run_now(jobs.context.settings, jobs.context, run.id, last_try=True)
    db.expire_all()
    failed = db.get(MatchRun, run.id)
    assert failed.status.value == "failed" and "another run for the same area" in failed.error


def test_a_rolled_back_request_enqueues_no_run(app, db, garden, admin):
    from app.core.jobs import JobRun, pending
    from app.matching.jobs import RUN_JOB, queue_run

    run = queue_run(db, app.state.jobs, account=admin, ward_code=None)
    assert pending(db, RUN_JOB) == [None]
    db.rollback()
    assert pending(db, RUN_JOB) == []
    db.commit()  # a later commit of the same session must not enqueue what was rolled back
    assert count_runs(db) == (0, 0)
    assert db.execute(select(JobRun)).first() is None  # no job ever ran
    assert run.id is not None


def test_a_run_refuses_unknown_fields(client, admin, places):
    response = client.post("/api/v1/matching/runs", json={"everything": True}, headers=api_token(client, admin))
    assert response.status_code == 422


# --- the portal ---------------------------------------------------------------------------------------


def test_the_offer_page_links_to_its_suggestions(client, garden):
    sign_in(client, garden.bryn.account)
    page = client.get(f"/offers/{garden.bryn_offer.id}")
    assert page.status_code == 200
    url = f"/offers/{garden.bryn_offer.id}/suggestions"
    assert f'hx-get="{url}"' in page.text and f'href="{url}"' in page.text


def test_the_suggestions_page_and_its_htmx_fragment(client, garden):
    sign_in(client, garden.bryn.account)
    url = f"/offers/{garden.bryn_offer.id}/suggestions"
    explanation = "Shares Gardening · about 1.5 km apart · both free Tuesday mornings"

    page = client.get(url)
    assert page.status_code == 200
    assert "<html" in page.text and explanation in page.text
    assert "HX-Request" in page.headers["vary"]
    assert_private(page.text, others_of(garden, garden.bryn))

    fragment = client.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text.lower() and "<body" not in fragment.text.lower()
    assert explanation in fragment.text
    assert "HX-Request" in fragment.headers["vary"]
    assert_private(fragment.text, others_of(garden, garden.bryn))


def test_the_request_suggestions_page(client, garden):
    sign_in(client, garden.rhian.account)
    page = client.get(f"/requests/{garden.need.id}/suggestions")
    assert page.status_code == 200
    assert "Shares Gardening · about 1.5 km apart · both free Tuesday mornings" in page.text
    assert "Shares Gardening · about 2 km apart · both free Wednesday afternoons" in page.text
    assert page.text.index("about 1.5 km") < page.text.index("about 2 km")  # best first
    assert_private(page.text, others_of(garden, garden.rhian))


def test_another_persons_suggestions_page_is_not_found(client, garden):
    sign_in(client, garden.bryn.account)
    assert client.get(f"/offers/{garden.gwen_offer.id}/suggestions").status_code == 404
    assert client.get(f"/offers/{garden.gwen_offer.id}/suggestions", headers={"HX-Request": "true"}).status_code == 404
    assert client.get(f"/requests/{garden.need.id}/suggestions").status_code == 404


def test_withdrawing_consent_through_the_api_takes_effect_on_the_next_call(client, db, garden, admin):
    rhian, bryn = api_token(client, garden.rhian.account), api_token(client, garden.bryn.account)
    url = f"/api/v1/help-requests/{garden.need.id}/suggestions"
    assert [s["offer_id"] for s in client.get(url, headers=rhian).json()] == [garden.bryn_offer.id, garden.gwen_offer.id]

    response = client.put("/api/v1/me/consents/matching", json={"given": False}, headers=bryn)
    assert response.status_code == 200

    assert [s["offer_id"] for s in client.get(url, headers=rhian).json()] == [garden.gwen_offer.id]
    mine = client.get(f"/api/v1/offers/{garden.bryn_offer.id}/suggestions", headers=bryn)
    assert mine.status_code == 200 and mine.json() == []
    run = start_and_poll(client, api_token(client, admin))
    assert run["status"] == "finished" and run["new_suggestions"] == 1
    db.expire_all()
    assert db.execute(select(Match.offer_id, Match.request_id)).all() == [(garden.gwen_offer.id, garden.need.id)]
