"""Many requests at once against a served app: each thing happens once, and one racer wins."""

from __future__ import annotations

import concurrent.futures
import json
import re

import httpx
from sqlalchemy import func, select

from app.accounts.models import OnceOnly
from app.registry.models import Offer
from tests.conftest import CSRF_RE, PASSWORD
from tests.registry.conftest import OFFER_BODY

RACERS = 100


def offers_of(served, person_id: int) -> int:
    with served.session_factory() as db:
        return db.execute(select(func.count()).select_from(Offer).where(Offer.person_id == person_id)).scalar_one()


def at_once(count: int, send):
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: send(), range(count)))


def test_a_hundred_identical_posts_with_one_idempotency_key_make_one_offer(served):
    key = {"Idempotency-Key": "8d0c3f6e-5b1e-4c55-9a7e-0f6a2b1c9d44"}
    answers = at_once(RACERS, lambda: served.call("POST", "/api/v1/offers", OFFER_BODY, headers=key))
    assert {status for status, _ in answers} == {201}
    assert len({body for _, body in answers}) == 1, "every repeat gets exactly the first answer"
    created = json.loads(answers[0][1])
    assert created["title"] == OFFER_BODY["title"]
    assert offers_of(served, served.ids["rhian_person"]) == 1
    # Later, the same key still answers the same, and creates nothing.
    status, body = served.call("POST", "/api/v1/offers", OFFER_BODY, headers=key)
    assert (status, body) == (201, answers[0][1])
    assert offers_of(served, served.ids["rhian_person"]) == 1


def test_the_same_key_with_a_different_request_is_refused_and_changes_nothing(served):
    key = {"Idempotency-Key": "k-1"}
    assert served.call("POST", "/api/v1/offers", OFFER_BODY, headers=key)[0] == 201
    status, body = served.call("POST", "/api/v1/offers", OFFER_BODY | {"title": "Fixing bikes"}, headers=key)
    assert status == 422
    assert json.loads(body)["errors"][0]["field"] == "Idempotency-Key"
    assert offers_of(served, served.ids["rhian_person"]) == 1


def test_keys_belong_to_one_account(served):
    key = {"Idempotency-Key": "shared-by-accident"}
    assert served.call("POST", "/api/v1/offers", OFFER_BODY, headers=key)[0] == 201
    status, body = served.call("POST", "/api/v1/offers", OFFER_BODY, headers=key, who="bryn")
    assert status == 201 and json.loads(body)["id"] != 0
    assert offers_of(served, served.ids["bryn_person"]) == 1


def test_a_refused_request_does_not_use_up_its_key(served):
    key = {"Idempotency-Key": "first-try-was-wrong"}
    assert served.call("POST", "/api/v1/offers", OFFER_BODY | {"skills": []}, headers=key)[0] == 422
    with served.session_factory() as db:
        assert db.execute(select(func.count()).select_from(OnceOnly)).scalar_one() == 0
    # A corrected request reusing the key is the first with it, so it runs. (Its fingerprint differs
    # from the refused one, which was never stored.)
    assert served.call("POST", "/api/v1/offers", OFFER_BODY, headers=key)[0] == 201
    assert offers_of(served, served.ids["rhian_person"]) == 1


def test_without_a_key_each_post_is_its_own(served):
    assert [served.call("POST", "/api/v1/offers", OFFER_BODY)[0] for _ in range(2)] == [201, 201]
    assert offers_of(served, served.ids["rhian_person"]) == 2


# --- a double-clicked page form ----------------------------------------------------------------

FORM_TOKEN_RE = re.compile(r'name="form_token" value="([^"]+)"')


def signed_in_browser(served, email: str) -> httpx.Client:
    browser = httpx.Client(base_url=f"http://{served.host}:{served.port}", timeout=60, follow_redirects=False)
    token = CSRF_RE.search(browser.get("/sign-in").text).group(1)
    answer = browser.post("/sign-in", data={"csrf_token": token, "email": email, "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return browser


def test_a_double_clicked_new_offer_form_makes_one_draft(served):
    browser = signed_in_browser(served, "rhian.evans@example.org")
    page = browser.get("/offers/new").text
    form = {"csrf_token": CSRF_RE.search(page).group(1), "form_token": FORM_TOKEN_RE.search(page).group(1),
            "title": "Fixing bikes", "description": "Punctures and brakes", "action": "continue"}  # fmt: skip
    cookies = dict(browser.cookies)

    def click():
        # Each click is its own connection, as a browser's second click is when the first hangs.
        with httpx.Client(base_url=browser.base_url, cookies=cookies, timeout=60) as tab:
            return tab.post("/offers/new", data=form, follow_redirects=False)

    clicks = at_once(10, click)
    assert {answer.status_code for answer in clicks} == {303}
    assert len({answer.headers["location"] for answer in clicks}) == 1, "every click goes to the one draft"
    assert offers_of(served, served.ids["rhian_person"]) == 1
    # A fresh form (a new token) is a new offer.
    page = browser.get("/offers/new").text
    again = form | {"csrf_token": CSRF_RE.search(page).group(1), "form_token": FORM_TOKEN_RE.search(page).group(1)}
    assert browser.post("/offers/new", data=again).status_code == 303
    assert offers_of(served, served.ids["rhian_person"]) == 2


def test_a_refused_first_page_keeps_its_token_so_the_corrected_send_still_counts_once(served):
    browser = signed_in_browser(served, "rhian.evans@example.org")
    page = browser.get("/offers/new").text
    token = FORM_TOKEN_RE.search(page).group(1)
    form = {"csrf_token": CSRF_RE.search(page).group(1), "form_token": token, "title": "", "action": "continue"}
    refused = browser.post("/offers/new", data=form)
    assert refused.status_code == 422 and FORM_TOKEN_RE.search(refused.text).group(1) == token
    form["title"] = "Fixing bikes"
    assert [browser.post("/offers/new", data=form).status_code for _ in range(2)] == [303, 303]
    assert offers_of(served, served.ids["rhian_person"]) == 1


# --- two linkers, one person in the pool -------------------------------------------------------


def test_two_linkers_picking_up_the_same_person_at_once_one_gets_them(served):
    from app.linkers.models import CaseAssignment

    path = f"/api/v1/linker/people/{served.ids['waiting']}/assign"
    tries = ["lee", "lina"] * 10
    with concurrent.futures.ThreadPoolExecutor(len(tries)) as pool:
        answers = list(pool.map(lambda who: (who, served.call("POST", path, who=who)[0]), tries))
    statuses = sorted(status for _, status in answers)
    assert statuses == [200] + [409] * (len(tries) - 1), statuses
    winner = next(who for who, status in answers if status == 200)
    with served.session_factory() as db:
        rows = db.execute(select(CaseAssignment).where(CaseAssignment.person_id == served.ids["waiting"])).scalars().all()
    assert [(row.linker_account_id, row.ended_at) for row in rows] == [(served.ids[winner], None)]
    # The other linker sees the person as taken (409), never as theirs.
    loser = "lina" if winner == "lee" else "lee"
    assert served.call("POST", path, who=loser)[0] == 409
