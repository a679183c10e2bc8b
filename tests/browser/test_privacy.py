"""A citizen uses their privacy rights in Debian's Chromium against a real uvicorn process: they
find "Your data" from their account, see who has looked at their record, read and download
everything held about them, start to withdraw "Keep my details" and think better of it, then
delete their account (a wrong password first) and cannot sign in again. axe (WCAG 2.2 A and AA)
looks at every page and state on the way; the journey itself runs with the CSP enforced."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import (
    create_live_offer,
    error_summary,
    expect_sign_in_refused,
    field,
    heading,
    new_person,
    register,
    submit,
    submit_sign_in,
)
from tests.browser.test_accessibility import axe_violations, describe

pytestmark = pytest.mark.browser

EXPORT_KEYS = {"account", "person", "offers", "help_requests", "matches", "messages", "consents", "consent_history",
               "access_log", "generated_at"}  # fmt: skip


def _axe(axe_pages, page: Page, expected_heading: str, act=None) -> None:
    """The same page, as the same person, in a context axe may be injected into."""
    checked = axe_pages(page.context.storage_state())
    checked.goto(page.url)
    if act is not None:
        act(checked)
    expect(heading(checked)).to_have_text(expected_heading)
    violations = axe_violations(checked)
    assert not violations, f"{expected_heading}:\n{describe(violations)}"


def test_a_citizen_sees_downloads_and_deletes_their_data(page, watcher, axe_pages):
    person = new_person("privacy", name="Wynne Quarrendon")
    register(page, person)
    create_live_offer(page, "Ironing for a neighbour")

    page.goto("/account")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name="your data").click()
    expect(heading(page)).to_have_text("Your data")
    expect(page.locator("main")).to_contain_text("Nobody other than you has looked at your record.")
    _axe(axe_pages, page, "Your data")

    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name="Read my data on a page").click()
    expect(heading(page)).to_have_text("Everything we hold about you")
    expect(page.locator("main")).to_contain_text("Ironing for a neighbour")
    expect(page.locator("main")).to_contain_text(person.email)
    _axe(axe_pages, page, "Everything we hold about you")

    page.go_back()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download my data as a file (JSON, for another service)").click()
    data = json.loads(download.value.path().read_text(encoding="utf-8"))
    assert set(data) == EXPORT_KEYS and data["person"]["name"] == person.name
    assert [offer["title"] for offer in data["offers"]] == ["Ironing for a neighbour"]

    # "Keep my details": asked first, in plain words; "No" changes nothing.
    page.goto("/account")
    submit(page, "Withdraw – keep my details")
    expect(heading(page)).to_have_text("Stop keeping your details?")
    expect(page.locator("main")).to_contain_text("your offers and requests are paused")

    def open_confirmation(checked: Page) -> None:
        checked.goto("/account")
        submit(checked, "Withdraw – keep my details")

    _axe(axe_pages, page, "Stop keeping your details?", act=open_confirmation)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name="No, keep things as they are").click()
    expect(page.locator("#privacy-choices ~ dl").first).to_contain_text("Agreed")

    # Delete my account: the password again, and what happens, first.
    page.goto("/account/data")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name="Delete my account").click()
    expect(heading(page)).to_have_text("Delete your account")
    expect(page.locator("main")).to_contain_text("a former member")
    _axe(axe_pages, page, "Delete your account")

    field(page, "Enter your password to confirm").fill("not my password at all")
    submit(page, "Delete my account for good")
    expect(error_summary(page)).to_contain_text("Enter your password correctly to delete your account")
    expect(page).to_have_title(re.compile(r"^Error: Delete your account"))

    def wrong_password(checked: Page) -> None:
        field(checked, "Enter your password to confirm").fill("still not it")
        submit(checked, "Delete my account for good")

    _axe(axe_pages, page, "Delete your account", act=wrong_password)

    field(page, "Enter your password to confirm").fill(person.password)
    submit(page, "Delete my account for good")
    expect(heading(page)).to_have_text("Your account has been deleted")
    expect(page.get_by_role("navigation", name="Your account")).not_to_contain_text("Signed in as")
    _axe(axe_pages, page, "Your account has been deleted")

    submit_sign_in(page, person.email, person.password)
    expect_sign_in_refused(page)
    watcher.assert_clean()
