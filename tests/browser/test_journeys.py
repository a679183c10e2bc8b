"""Journeys through the real pages, in Debian's Chromium, against a real uvicorn process.

These contexts enforce the site's Content-Security-Policy: a script or style the policy blocks
shows up on the console, and the watcher turns that into a failure.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import (
    account_nav,
    change_password,
    error_summary,
    expect_sign_in_refused,
    expect_signed_in,
    expect_signed_out,
    field,
    flash,
    heading,
    new_person,
    register,
    sign_in,
    sign_out,
    strong_password,
    submit,
    submit_sign_in,
)

pytestmark = pytest.mark.browser


def test_register_sign_out_sign_in_and_change_password(page, watcher, live_server):
    person = new_person("journey", name="Nia Jones")

    page.goto("/")
    expect(heading(page)).to_have_text("Share what you can do, find the help you need")
    # The scripts ran under the CSP: GOV.UK Frontend initialised and htmx is loaded from this site.
    expect(page.locator("body")).to_have_class(re.compile(r"\bgovuk-frontend-supported\b"))
    assert page.evaluate("typeof window.htmx") == "object"
    expect_signed_out(page)

    # Register: straight in, signed in.
    page.get_by_role("button", name="Create an account").click()  # the start button is a link with role=button
    expect(heading(page)).to_have_text("Create an account")
    register(page, person)
    expect(heading(page)).to_have_text("Your offers and requests")
    page.locator(".app-header__name").click()  # the council's name leads home
    expect(page.locator("main")).to_contain_text(f"You are signed in as {person.name} (citizen)")

    sign_out(page)
    expect(page).to_have_url(re.compile(r"/$"))

    # Sign in again through the header link.
    account_nav(page).get_by_role("link", name="Sign in").click()
    sign_in(page, person.email, person.password, name=person.name)

    # Change the password on /account.
    account_nav(page).get_by_role("link", name="Your account").click()
    expect(heading(page)).to_have_text("Your account")
    expect(page.locator(".govuk-summary-list").first).to_contain_text(person.email)
    new_password = strong_password()
    change_password(page, person.password, new_password)
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(flash(page)).to_contain_text("Your password has been changed")
    expect_signed_in(page, person)  # this device got a fresh session

    sign_out(page)

    # The old password is refused, with the error summary shown and focused.
    submit_sign_in(page, person.email, person.password)
    expect_sign_in_refused(page)
    expect(error_summary(page)).to_be_focused()  # GOV.UK Frontend's error summary, running under the CSP
    expect(field(page, "Email address")).to_have_value(person.email)
    expect(field(page, "Password")).to_have_value("")

    # The new one works.
    sign_in(page, person.email, new_password, name=person.name)
    page.goto("/account")
    expect(page.locator(".govuk-summary-list").first).to_contain_text(person.email)

    watcher.assert_clean()


def test_password_input_show_button_works_under_csp(page, watcher):
    page.goto("/sign-in")
    password = field(page, "Password")
    expect(password).to_have_attribute("type", "password")
    page.get_by_role("button", name="Show password").click()
    expect(password).to_have_attribute("type", "text")
    watcher.assert_clean()


def test_change_password_errors_are_shown_and_nothing_changes(page, watcher):
    person = new_person("wrongcurrent")
    register(page, person)
    change_password(page, "not-my-password-at-all", strong_password())
    expect(page).to_have_title(re.compile(r"^Error: Your account"))
    expect(error_summary(page)).to_contain_text("Your current password is not correct")
    expect(page.locator("#current_password-error")).to_contain_text("Your current password is not correct")
    # The summary is focused on arrival, and its link takes you to the field.
    expect(error_summary(page)).to_be_focused()
    error_summary(page).get_by_role("link", name="Your current password is not correct").click()
    expect(field(page, "Current password")).to_be_focused()
    sign_out(page)
    sign_in(page, person.email, person.password, name=person.name)
    watcher.assert_clean()


def test_signed_out_visitor_is_sent_to_sign_in_and_back(page, watcher, live_server):
    page.goto("/account")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Faccount$"))
    submit_sign_in(page, live_server.admin_email, live_server.admin_password)
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(heading(page)).to_have_text("Your account")
    expect(account_nav(page).get_by_role("link", name="Manage accounts")).to_be_visible()
    watcher.assert_clean()


def test_site_works_without_javascript(no_js_page, watcher):
    page = no_js_page
    person = new_person("nojs", name="Idris Evans")

    page.goto("/")
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bjs-enabled\b"))
    register(page, person)

    sign_out(page)
    submit_sign_in(page, person.email, "wrong-password-entirely")
    expect_sign_in_refused(page)
    sign_in(page, person.email, person.password, name=person.name)

    new_password = strong_password()
    change_password(page, person.password, new_password)
    expect(flash(page)).to_contain_text("Your password has been changed")
    sign_out(page)
    sign_in(page, person.email, new_password, name=person.name)
    watcher.assert_clean()


def test_password_reset_by_emailed_link(page, watcher, live_server):
    person = new_person("reset", name="Rhys Price")
    register(page, person)
    sign_out(page)

    page.goto("/sign-in")
    page.get_by_role("link", name="I have forgotten my password").click()
    expect(heading(page)).to_have_text("Reset your password")
    field(page, "Email address").fill(person.email)
    submit(page, "Send me a link")
    expect(heading(page)).to_have_text("Check your email")

    link = live_server.reset_link_for(person.email)
    assert link.startswith(f"{live_server.url}/reset-password?token="), link
    token = parse_qs(urlsplit(link).query)["token"][0]
    assert len(token) >= 32

    page.goto(link)
    expect(heading(page)).to_have_text("Choose a new password")
    new_password = strong_password()
    field(page, "New password").fill(new_password)
    field(page, "Type your new password again").fill(new_password)
    submit(page, "Save new password")
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    expect(flash(page)).to_contain_text("Your password has been reset")

    submit_sign_in(page, person.email, person.password)
    expect_sign_in_refused(page)
    sign_in(page, person.email, new_password, name=person.name)

    # The link worked once only.
    page.goto(link)
    expect(heading(page)).to_have_text("This link has expired")
    watcher.assert_clean()


def test_password_reset_asks_again_when_passwords_differ(no_js_page, watcher, live_server):
    page = no_js_page
    person = new_person("resetmismatch")
    register(page, person)
    sign_out(page)
    page.goto("/forgotten-password")
    field(page, "Email address").fill(person.email)
    submit(page, "Send me a link")
    expect(heading(page)).to_have_text("Check your email")

    page.goto(live_server.reset_link_for(person.email))
    field(page, "New password").fill(strong_password())
    field(page, "Type your new password again").fill(strong_password())
    submit(page, "Save new password")
    expect(error_summary(page)).to_contain_text("The passwords do not match")
    expect(heading(page)).to_have_text("Choose a new password")

    # The link is still good after the mistake.
    new_password = strong_password()
    field(page, "New password").fill(new_password)
    field(page, "Type your new password again").fill(new_password)
    submit(page, "Save new password")
    expect(flash(page)).to_contain_text("Your password has been reset")
    sign_in(page, person.email, new_password, name=person.name)
    watcher.assert_clean()


def test_changing_the_password_signs_out_other_devices(browser, live_server, page, watcher):
    person = new_person("twodevices")
    register(page, person)

    other_context = browser.new_context(base_url=live_server.url, locale="en-GB")
    try:
        other = other_context.new_page()
        watcher.attach(other)
        sign_in(other, person.email, person.password, name=person.name)

        change_password(page, person.password, strong_password())
        expect(flash(page)).to_contain_text("Your password has been changed")
        expect_signed_in(page, person)

        other.goto("/account")
        expect(other).to_have_url(re.compile(r"/sign-in\?next=%2Faccount$"))
        expect_signed_out(other)
    finally:
        other_context.close()
    watcher.assert_clean()
