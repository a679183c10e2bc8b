"""What a person does on the real pages, written once for every browser test."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from playwright.sync_api import Page, expect


def unique_email(label: str = "person") -> str:
    return f"{label}.{secrets.token_hex(4)}@browser.example.org"


def strong_password() -> str:
    """A password the zxcvbn check accepts, different every time."""
    words = ["harbour", "meadow", "lantern", "walnut", "orchard", "pebble", "thistle", "copper", "willow"]
    picked = secrets.SystemRandom().sample(words, 3)
    return "-".join(picked) + f"-{secrets.randbelow(900) + 100}"


KNOWN_POSTCODE = "AB10 1AB"  # in tests/data/onspd_sample.csv, loaded by the live_server fixture


@dataclass
class Person:
    name: str
    email: str
    password: str
    postcode: str = KNOWN_POSTCODE


def new_person(label: str = "citizen", name: str = "Nia Jones") -> Person:
    return Person(name=name, email=unique_email(label), password=strong_password())


def field(page: Page, label: str):
    return page.get_by_label(label, exact=True)


def heading(page: Page):
    return page.get_by_role("heading", level=1)


def flash(page: Page):
    return page.locator(".govuk-notification-banner--success")


def error_summary(page: Page):
    return page.locator(".govuk-error-summary")


def account_nav(page: Page):
    return page.get_by_role("navigation", name="Your account")


def submit(page: Page, button: str, *, within: str = "main") -> None:
    """Press a form's button and wait for the page the server answers with."""
    with page.expect_navigation(wait_until="load"):
        page.locator(within).get_by_role("button", name=button, exact=True).click()


def expect_no_errors(page: Page) -> None:
    summary = error_summary(page)
    if summary.count():
        raise AssertionError(f"the form was refused: {' '.join(summary.inner_text().split())}")


def expect_signed_in(page: Page, person: Person | str) -> None:
    name = person if isinstance(person, str) else person.name
    expect(account_nav(page)).to_contain_text(f"Signed in as {name}")
    expect(account_nav(page).get_by_role("button", name="Sign out")).to_be_visible()


def expect_signed_out(page: Page) -> None:
    expect(account_nav(page).get_by_role("link", name="Sign in")).to_be_visible()
    expect(account_nav(page)).not_to_contain_text("Signed in as")


def fill_registration(
    page: Page, person: Person, *, agree: bool = True, matching: bool = False, share_contact: bool = False
) -> None:
    if not page.url.split("?")[0].endswith("/register"):
        page.goto("/register")
    expect(heading(page)).to_have_text("Create an account")
    field(page, "Your name").fill(person.name)
    field(page, "Email address").fill(person.email)
    field(page, "Your postcode").fill(person.postcode)
    field(page, "Create a password").fill(person.password)
    field(page, "Type your password again").fill(person.password)
    if agree:
        page.get_by_label(re.compile(r"^Keep my details")).check()
    if matching:
        page.get_by_label(re.compile(r"^Suggest me to others")).check()
    if share_contact:
        page.get_by_label(re.compile(r"^Share my contact details")).check()


def register(page: Page, person: Person, *, matching: bool = True, share_contact: bool = False) -> None:
    """Create a citizen account through the form: it signs the person in and shows their dashboard.
    "Keep my details" is always ticked, and "Suggest me to others" unless told not to (nothing
    goes live without it); sharing contact only when asked for."""
    fill_registration(page, person, matching=matching, share_contact=share_contact)
    submit(page, "Create account")
    expect_no_errors(page)
    expect(page).to_have_url(re.compile(r"/my$"))
    expect(flash(page)).to_contain_text("Your account has been created")
    expect_signed_in(page, person)


def submit_sign_in(page: Page, email: str, password: str) -> None:
    if not page.url.split("?")[0].endswith("/sign-in"):
        page.goto("/sign-in")
    expect(heading(page)).to_have_text("Sign in")
    field(page, "Email address").fill(email)
    field(page, "Password").fill(password)
    submit(page, "Sign in")


def sign_in(page: Page, email: str, password: str, *, name: str | None = None) -> None:
    submit_sign_in(page, email, password)
    expect_no_errors(page)
    expect(account_nav(page)).to_contain_text("Signed in as" if name is None else f"Signed in as {name}")


def sign_out(page: Page) -> None:
    submit(page, "Sign out", within="nav[aria-label='Your account']")
    expect(flash(page)).to_contain_text("You have signed out.")
    expect_signed_out(page)


def expect_sign_in_refused(page: Page) -> None:
    expect(page).to_have_title(re.compile(r"^Error: Sign in"))
    expect(error_summary(page)).to_be_visible()
    expect(error_summary(page)).to_contain_text("There is a problem")
    expect(error_summary(page).get_by_role("link", name="Enter a correct email address and password")).to_be_visible()
    expect_signed_out(page)


def change_password(page: Page, current: str, new: str, confirm: str | None = None) -> None:
    page.goto("/account")
    expect(heading(page)).to_have_text("Your account")
    field(page, "Current password").fill(current)
    field(page, "New password").fill(new)
    field(page, "Type your new password again").fill(new if confirm is None else confirm)
    submit(page, "Change password")


# --- the citizen portal: the offer and help-request journeys ---------------------------------


def status_tag(page: Page):
    """The status tag beside an item's heading ("Live", "Paused", "Closed", "Not finished")."""
    return page.locator("main h1 ~ p .govuk-tag")


def summary_value(page: Page, key: str):
    """The value of one row of a summary list, by its key ("Usually free", "Skills", ...)."""
    row = page.locator(".govuk-summary-list__row").filter(
        has=page.locator(".govuk-summary-list__key", has_text=re.compile(rf"^\s*{re.escape(key)}\s*$"))
    )
    return row.locator(".govuk-summary-list__value")


def answer_about(page: Page, title: str, description: str = "") -> None:
    """Question 1: the title ("In a few words...") and the optional description."""
    page.get_by_role("textbox", name=re.compile(r"^In a few words")).fill(title)
    if description:
        field(page, "Tell us a bit more (optional)").fill(description)


def tick_skills(page: Page, *names: str) -> None:
    for name in names:
        page.get_by_role("checkbox", name=name, exact=True).check()


def tick_times(page: Page, *slots: str) -> None:
    """Tick slots of the availability grid by their (visually hidden) labels, like "Tuesday Morning"."""
    for slot in slots:
        page.get_by_role("checkbox", name=slot, exact=True).check()


def answer_travel(
    page: Page, *, mode: str = "In person", distance: str = "Up to 2 km", capacity: str | None = None,
    urgency: str | None = None,
) -> None:
    page.get_by_role("radio", name=mode, exact=True).check()
    page.get_by_role("radio", name=re.compile(rf"^{re.escape(distance)}\b")).check()
    if capacity is not None:
        field(page, "How many people could you help at once?").fill(capacity)
    if urgency is not None:
        page.get_by_role("radio", name=urgency, exact=True).check()


def create_live_offer(
    page: Page, title: str, *, skills: tuple[str, ...] = ("Gardening",),
    times: tuple[str, ...] = ("Tuesday Morning",),
) -> str:
    """Walk the whole offer journey from the dashboard and make it live; returns the item's URL."""
    page.goto("/my")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name="Tell us what you could offer").click()
    answer_about(page, title)
    submit(page, "Continue")
    tick_skills(page, *skills)
    submit(page, "Continue")
    tick_times(page, *times)
    submit(page, "Continue")
    answer_travel(page)
    submit(page, "Continue")
    expect_no_errors(page)
    expect(heading(page)).to_have_text("Check your answers")
    submit(page, "Make it live")
    expect_no_errors(page)
    expect(status_tag(page)).to_have_text("Live")
    return page.url


def create_live_request(
    page: Page, title: str, *, skills: tuple[str, ...] = ("Gardening",),
    times: tuple[str, ...] = ("Tuesday Morning",), distance: str = "Up to 2 km",
) -> str:
    """Walk the whole help-request journey from the dashboard and make it live; returns its URL."""
    page.goto("/my")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name="Ask for help").click()
    answer_about(page, title)
    submit(page, "Continue")
    tick_skills(page, *skills)
    submit(page, "Continue")
    tick_times(page, *times)
    submit(page, "Continue")
    answer_travel(page, distance=distance)
    submit(page, "Continue")
    expect_no_errors(page)
    expect(heading(page)).to_have_text("Check your answers")
    submit(page, "Make it live")
    expect_no_errors(page)
    expect(status_tag(page)).to_have_text("Live")
    return page.url
