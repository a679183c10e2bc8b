"""Two citizens from a suggestion to a completed match, in Debian's Chromium against a real
uvicorn process: one with JavaScript on (CSP enforced), one with JavaScript off, with messages,
the contact one of them agreed to share, the mail they get, and axe on the match pages."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import (
    create_live_offer,
    create_live_request,
    expect_no_errors,
    error_summary,
    flash,
    heading,
    new_person,
    register,
    submit,
)
from tests.browser.test_accessibility import axe_violations, describe

pytestmark = pytest.mark.browser


def open_match(page: Page, title: str) -> None:
    page.goto("/matches")
    expect(heading(page)).to_have_text("Your matches")
    with page.expect_navigation(wait_until="load"):
        page.locator("main").get_by_role("link", name=title, exact=True).click()
    expect(heading(page)).to_have_text(title)


def status_of(page: Page):
    return page.locator("main .govuk-tag").first


def test_two_citizens_walk_from_suggestion_to_completed(page, no_js_page, watcher, live_server, axe_pages):
    run = uuid.uuid4().hex[:6]
    offer_title, request_title = f"Hedge trimming, tools and all {run}", f"My hedge needs a trim {run}"

    olwen = new_person("match-olwen", name="Olwen Pritchard")
    register(page, olwen, matching=True, share_contact=True)
    create_live_offer(page, offer_title, times=("Sunday Evening",))

    dewi = new_person("match-dewi", name="Dewi Morgan")
    asker = no_js_page  # works without JavaScript
    register(asker, dewi, matching=True)
    request_url = create_live_request(asker, request_title, times=("Sunday Evening",))

    # Dewi sees what Olwen offers (never who she is) and asks to be put in touch.
    asker.goto(request_url + "/suggestions")
    expect(heading(asker)).to_have_text("People who could help")
    suggestion = asker.locator("main li").filter(has_text=offer_title)
    expect(suggestion).to_contain_text("Gardening")
    expect(asker.locator("main")).not_to_contain_text("Olwen")
    with asker.expect_navigation(wait_until="load"):
        suggestion.get_by_role("button", name=re.compile(r"^Ask to be put in touch")).click()
    expect(flash(asker)).to_contain_text("We have asked the other person")
    expect(heading(asker)).to_have_text(offer_title)
    expect(status_of(asker)).to_have_text("Waiting for an answer")
    [asked] = live_server.messages_to(olwen.email)[-1:]
    assert asked["Subject"] == "Someone would like to be put in touch with you" and "Dewi" not in asked.get_content()

    # Olwen says yes: she gave no contact of Dewi's to see, he sees hers (she agreed to share it).
    open_match(page, request_title)
    submit(page, "Yes, put us in touch")
    expect(status_of(page)).to_have_text("You both said yes")
    expect(page.locator("main")).to_contain_text("A community linker will put you in touch")
    page.get_by_label("Write a message", exact=True).fill("Sunday at six suits me. Olwen")
    submit(page, "Send message")
    expect(flash(page)).to_contain_text("Your message has been sent")

    asker.reload()
    expect(status_of(asker)).to_have_text("You both said yes")
    expect(asker.locator("main")).to_contain_text(f"You can contact Olwen: {olwen.email}")
    expect(asker.locator("#messages ~ .govuk-inset-text")).to_contain_text("Sunday at six suits me")
    violations = axe_violations(_axe_copy(axe_pages, asker))
    assert not violations, describe(violations)

    # Dewi answers the optional wellbeing questions: a missing answer is named, then all four kept.
    asker.get_by_role("link", name="Answer the questions").click()
    expect(heading(asker)).to_have_text("How you are feeling")
    violations = axe_violations(_axe_copy(axe_pages, asker))
    assert not violations, describe(violations)
    _choose_wellbeing(asker, {"satisfied": "6", "worthwhile": "7", "happy": "5"})
    submit(asker, "Save the answers")
    expect(error_summary(asker)).to_contain_text("Choose a number from 0 to 10 for how anxious you felt yesterday")
    violations = axe_violations(_axe_copy(axe_pages, asker))
    assert not violations, f"error state:\n{describe(violations)}"
    _choose_wellbeing(asker, {"anxious": "3"})
    submit(asker, "Save the answers")
    expect(flash(asker)).to_contain_text("Your answers have been saved")
    expect(asker.locator("#wellbeing")).to_have_count(0)

    # Dewi marks it started; Olwen completes it with the time; Dewi confirms the same time.
    submit(asker, "We have started")
    expect(status_of(asker)).to_have_text("Started")
    page.reload()
    page.get_by_label("Hours", exact=True).fill("1")
    page.get_by_label("Minutes", exact=True).fill("30")
    page.get_by_label(re.compile(r"^How did it go")).fill("A tidy hedge. Diolch!")
    submit(page, "Mark as completed")
    expect_no_errors(page)
    expect(status_of(page)).to_have_text("Completed")
    asker.reload()
    asker.get_by_label("Hours", exact=True).fill("1")
    asker.get_by_label("Minutes", exact=True).fill("30")
    submit(asker, "Confirm the time")
    expect(asker.locator("main")).to_contain_text("1 hours 30 minutes")
    asker.get_by_role("link", name="Answer the questions").click()
    expect(asker.locator("main")).to_contain_text("Now that your match is done")
    _choose_wellbeing(asker, {"satisfied": "7", "worthwhile": "7", "happy": "8", "anxious": "2"})
    submit(asker, "Save the answers")
    expect(flash(asker)).to_contain_text("Your answers have been saved")
    asker.goto("/matches")
    expect(asker.locator("main")).to_contain_text("Nothing to do: thank you")
    violations = axe_violations(_axe_copy(axe_pages, asker))
    assert not violations, describe(violations)
    watcher.assert_clean()


def _choose_wellbeing(page: Page, scores: dict[str, str]) -> None:
    """Choose a score for each question, found by a word of its legend."""
    for word, score in scores.items():
        question = page.get_by_role("group", name=re.compile(word))
        question.get_by_label(score, exact=True).check()


def _axe_copy(axe_pages, page: Page) -> Page:
    """The same page, signed in as the same person, in a context where axe may be injected."""
    copy = axe_pages(page.context.storage_state())
    copy.goto(page.url)
    return copy
