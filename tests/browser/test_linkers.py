"""A community linker's day, in Debian's Chromium against a real uvicorn process: signed in from
an invitation an administrator sent on the admin page, they register someone without email (phone
only, consent given out loud), record an offer with them through the very journey citizens use,
broker it to a citizen's help request until both said yes, put the two in touch and record the
hours given; then record a "yes" Glenys gave by phone to a citizen's offer, log a call in one click
and finish a follow-up. axe (WCAG 2.2 A and AA) looks at every linker page and state on the way
(the pool, registration and its errors, the person, hand-over, the claim code and the public claim
page, each step of both mounted journeys, suggestions, and the match in every state), and the
caseload dashboard is used with JavaScript switched off.

The axe contexts bypass the CSP so that axe can be injected; the journey itself runs in a page with
the CSP enforced and its console watched.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import _context
from tests.browser.helpers import (
    KNOWN_POSTCODE,
    answer_about,
    answer_travel,
    create_live_offer,
    create_live_request,
    error_summary,
    expect_no_errors,
    field,
    flash,
    heading,
    new_person,
    register,
    sign_in,
    status_tag,
    strong_password,
    submit,
    tick_skills,
    tick_times,
    unique_email,
)
from tests.browser.test_accessibility import axe_violations, describe

pytestmark = pytest.mark.browser

# Skills and times no other browser test uses, so that each suggestion is near the top.
SKILL, SLOT = "Knitting and crochet", "Wednesday Evening"
LETTERS, LETTERS_SLOT = "Reading and writing letters", "Thursday Morning"
MATCH_HEADING = re.compile(r"^Match \d+$")
PHONE = "07700 900982"


@dataclass(frozen=True)
class Linker:
    name: str
    email: str
    password: str
    colleague: str  # another active linker, to hand people over to


def _invite(page: Page, name: str, email: str) -> None:
    page.goto("/admin/accounts")
    expect(heading(page)).to_have_text("Manage accounts")
    field(page, "Name").fill(name)
    field(page, "Email address").fill(email)
    page.get_by_label("Community linker").check()
    submit(page, "Create account")
    expect_no_errors(page)
    expect(flash(page)).to_contain_text("The account has been created")


@pytest.fixture(scope="session")
def linker(browser, live_server, shared_admin) -> Linker:
    """A linker account made as an administrator makes one (the admin page emails an invitation),
    with a password chosen from the link in that mail; and a colleague invited the same way."""
    who = Linker("Lowri Bevan", unique_email("linker"), strong_password(), "Rhodri Ellis")
    context = _context(browser, live_server, storage_state=shared_admin.storage_state)
    try:
        page = context.new_page()
        _invite(page, who.name, who.email)
        _invite(page, who.colleague, unique_email("linker-colleague"))
    finally:
        context.close()

    context = _context(browser, live_server)
    try:
        page = context.new_page()
        page.goto(live_server.reset_link_for(who.email))
        expect(heading(page)).to_have_text("Choose a new password")
        field(page, "New password").fill(who.password)
        field(page, "Type your new password again").fill(who.password)
        submit(page, "Save new password")
        expect_no_errors(page)
        expect(page).to_have_url(re.compile(r"/sign-in$"))
    finally:
        context.close()
    return who


def sign_in_linker(page: Page, who: Linker) -> None:
    """Signing in takes a linker straight to their caseload."""
    sign_in(page, who.email, who.password, name=who.name)
    expect(page).to_have_url(re.compile(r"/linkers$"))
    expect(heading(page)).to_have_text("Your caseload")


def expect_no_violations(page: Page, name: str) -> None:
    violations = axe_violations(page)
    assert not violations, (
        f"axe found {len(violations)} WCAG 2.2 A/AA violation(s) on {page.url} ({name}):\n" + describe(violations)
    )


class Axe:
    """One page where axe may be injected, signed in as whoever the journey's page is."""

    def __init__(self, axe_pages, storage_state: dict | None):
        self.page = axe_pages(storage_state)

    def at(self, url: str, expected_heading: str | re.Pattern, name: str) -> Page:
        self.page.goto(url)
        expect(heading(self.page)).to_have_text(expected_heading)
        expect_no_violations(self.page, name)
        return self.page


def register_form(page: Page, name: str, *, method: str, share_contact: bool) -> None:
    """The linker's assisted registration: phone only, each consent recorded separately."""
    field(page, "Their name").fill(name)
    field(page, "Their postcode").fill(KNOWN_POSTCODE)
    field(page, "Phone number (optional)").fill(PHONE)
    page.get_by_role("group", name="How would they like to be contacted?").get_by_role("radio", name="By phone").check()
    field(page, "Good times to contact them (optional)").fill("Weekday mornings, after ten")
    page.get_by_role("group", name="How did they give their answers?").get_by_role("radio", name=method).check()
    answers = {
        "Keep my details": True,
        "Suggest me to others": True,
        "Share my contact details after a match": share_contact,
        "Contact from a community linker": True,
    }
    for legend, agreed in answers.items():
        group = page.get_by_role("group", name=legend, exact=True)
        group.get_by_role("radio", name="Agreed" if agreed else "Not agreed", exact=True).check()


def london_today():
    return datetime.now(ZoneInfo("Europe/London")).date()


def status_of(page: Page):
    return page.locator("main .govuk-tag").first


def walk_journey(page: Page, axe: Axe, kind: str, title: str, skill: str, slot: str) -> str:
    """The registry's offer or help-request journey, mounted for the person: axe on every step.
    Returns the live item's URL."""
    questions = {
        "offers": ("What do you enjoy or know about?", "What could you help with?", "How far could you travel?"),
        "requests": ("What help are you looking for?", "What kind of help is it?", "Where could the help happen?"),
    }[kind]
    link = "Add an offer with them" if kind == "offers" else "Add a help request with them"
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name=link).click()
    expect(page).to_have_url(re.compile(rf"/linkers/people/\d+/{kind}/new$"))
    axe.at(page.url, questions[0], f"{kind} journey: about")
    answer_about(page, title, "Said on the phone to their linker, in their own words.")
    submit(page, "Continue")
    expect_no_errors(page)
    expect(page).to_have_url(re.compile(rf"/linkers/people/\d+/{kind}/\d+/steps/skills$"))
    item_url = page.url.removesuffix("/steps/skills")
    axe.at(page.url, questions[1], f"{kind} journey: skills")
    tick_skills(page, skill)
    submit(page, "Continue")
    expect_no_errors(page)
    axe.at(page.url, "When are you usually free?", f"{kind} journey: times")
    tick_times(page, slot)
    submit(page, "Continue")
    expect_no_errors(page)
    axe.at(page.url, questions[2], f"{kind} journey: travel")
    answer_travel(page, mode="In person", distance="Up to 2 km", capacity="1" if kind == "offers" else None)
    submit(page, "Continue")
    expect_no_errors(page)
    expect(heading(page)).to_have_text("Check your answers")
    axe.at(page.url, "Check your answers", f"{kind} journey: check")
    submit(page, "Make it live")
    expect_no_errors(page)
    expect(status_tag(page)).to_have_text("Live")
    expect(page).to_have_url(item_url)
    axe.at(item_url, title, f"{kind[:-1]}, live")
    return item_url


@dataclass
class Story:
    run: str
    linker: Linker
    citizen_page: Page
    citizen_email: str
    glenys: str = "Glenys Rowlands"

    def title(self, what: str) -> str:
        return f"{what} {self.run}"


def test_a_linker_brokers_an_offer_for_someone_without_email(browser, page, watcher, live_server, axe_pages, linker):
    # A citizen, registered online, has a live help request that fits what Glenys will offer.
    citizen_context = _context(browser, live_server)
    try:
        citizen_page = citizen_context.new_page()
        watcher.attach(citizen_page)
        citizen = new_person("linker-citizen", name="Bethan Hughes")
        register(citizen_page, citizen, matching=True)
        story = Story(uuid.uuid4().hex[:6], linker, citizen_page, citizen.email)
        create_live_request(citizen_page, story.title("Teach me to knit a scarf"), skills=(SKILL,), times=(SLOT,))

        page.goto("/sign-in")
        sign_in_linker(page, linker)
        axe = Axe(axe_pages, page.context.storage_state())
        axe.at("/linkers/pool", "People waiting for a linker", "pool")
        person_url = assisted_registration(page, axe, story)
        claim_code_and_handover(axe, axe_pages, story, person_url)
        broker_the_offer(page, axe, live_server, story, person_url)
        answer_on_their_behalf(page, axe, story, person_url)
        contact_and_follow_up(page, axe, story, person_url)
    finally:
        citizen_context.close()
    watcher.assert_clean()


def assisted_registration(page: Page, axe: Axe, story: Story) -> str:
    """Glenys has no email: a phone number, and her consents given out loud, each on its own."""
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name="Register someone").click()
    expect(heading(page)).to_have_text("Register someone")
    notice = page.locator("main details").filter(has_text=re.compile(r"The privacy notice \(version"))
    notice.locator("summary").click()
    expect(notice.locator(".govuk-details__text")).to_be_visible()
    axe.at("/linkers/register", "Register someone", "register")
    submit(axe.page, "Register them")  # empty: refused
    expect(error_summary(axe.page)).to_be_visible()
    expect(axe.page).to_have_title(re.compile(r"^Error: "))
    expect(axe.page.locator("#name-error")).to_be_visible()
    expect(axe.page.locator("#postcode-error")).to_be_visible()
    expect_no_violations(axe.page, "register with errors")

    register_form(page, story.glenys, method="Out loud (verbal)", share_contact=False)
    submit(page, "Register them")
    expect_no_errors(page)
    expect(flash(page)).to_contain_text("They are registered and on your caseload.")
    expect(heading(page)).to_have_text(story.glenys)
    person_url = page.url.split("#")[0]
    assert re.search(r"/linkers/people/\d+$", person_url), person_url
    expect(page.locator("main")).to_contain_text(f"Phone: {PHONE}")
    expect(page.locator("main")).not_to_contain_text("Email:")
    records = page.locator("main details").filter(has_text="Every consent record")
    records.locator("summary").click()
    for purpose in ("Keep my details", "Suggest me to others", "Contact from a community linker"):
        expect(records).to_contain_text(f"{purpose}, given, out loud (verbal), recorded by {story.linker.name}")
    axe.at(person_url, story.glenys, "person, just registered")
    return person_url


def claim_code_and_handover(axe: Axe, axe_pages, story: Story, person_url: str) -> None:
    """The pages a linker opens without changing anything the rest of the story needs."""
    axe.at(person_url + "/handover", "Hand over to another linker", "handover")
    expect(axe.page.get_by_role("radio", name=story.linker.colleague)).to_be_visible()
    submit(axe.page, "Hand over")  # nobody chosen: refused, and nothing changes
    expect(error_summary(axe.page)).to_be_visible()
    expect_no_violations(axe.page, "handover with errors")

    # A code to claim an online account later, and the public page where it is used.
    axe.at(person_url, story.glenys, "person")
    submit(axe.page, "Make a code to print or read out")
    expect(heading(axe.page)).to_have_text("A code to claim an online account")
    expect(axe.page.locator("#claim-code")).to_have_text(re.compile(r"^\s*[A-Z0-9]{4}(-[A-Z0-9]{4}){2}\s*$"))
    expect_no_violations(axe.page, "claim code")
    claim = Axe(axe_pages, None)
    claim.at("/claim", "Use the service online", "claim")
    submit(claim.page, "Continue")
    expect(error_summary(claim.page)).to_be_visible()
    expect_no_violations(claim.page, "claim with errors")


def broker_the_offer(page: Page, axe: Axe, live_server, story: Story, person_url: str) -> None:
    """The capabilities conversation, an offer made live with Glenys, and the linker asking for
    the citizen's help request on her behalf; the citizen says yes; they meet; hours recorded."""
    offer_title = story.title("Knitting lessons at the kitchen table")
    request_title = story.title("Teach me to knit a scarf")
    page.goto(person_url)
    expect(page.locator("main")).to_contain_text("What do people thank you for?")
    offer_url = walk_journey(page, axe, "offers", offer_title, SKILL, SLOT)

    # The suggestions come on the offer's page (htmx), and on their own page.
    expect(page.locator("#suggestions li").filter(has_text=request_title)).to_contain_text(SKILL)
    suggestions = axe.at(offer_url + "/suggestions", "People you could help", "offer suggestions")
    expect(suggestions.locator("main li").filter(has_text=request_title)).to_be_visible()
    page.goto(offer_url + "/suggestions")
    expect(heading(page)).to_have_text("People you could help")
    suggestion = page.locator("main li").filter(has_text=request_title)
    expect(suggestion).to_contain_text(SKILL)
    expect(page.locator("main")).not_to_contain_text(story.citizen_email)
    with page.expect_navigation(wait_until="load"):
        suggestion.get_by_role("button", name=re.compile(r"^Ask to be put in touch")).click()
    expect_no_errors(page)
    expect(flash(page)).to_contain_text("The match has been proposed.")
    expect(page).to_have_url(re.compile(r"/linkers/matches/\d+$"))
    match_url = page.url
    expect(heading(page)).to_have_text(MATCH_HEADING)
    expect(status_of(page)).to_have_text("Waiting for an answer")
    expect(page.locator("main")).to_contain_text(f"Brokered by {story.linker.name}")
    expect(page.locator("#side-offer")).to_contain_text("Answer: yes")
    expect(page.locator("#side-request")).to_contain_text("Answer: waiting")
    axe.at(match_url, MATCH_HEADING, "match, proposed by the linker")
    [asked] = live_server.messages_to(story.citizen_email)[-1:]
    assert asked["Subject"] == "Someone would like to be put in touch with you", asked["Subject"]
    assert story.glenys not in asked.get_content() and PHONE not in asked.get_content()

    # The citizen says yes on their own match page.
    citizen = story.citizen_page
    open_citizen_match(citizen, offer_title)
    submit(citizen, "Yes, put us in touch")
    expect_no_errors(citizen)
    expect(status_of(citizen)).to_have_text("You both said yes")

    # Accepted. Neither agreed to share contact details, so the linker puts them in touch.
    page.reload()
    expect(status_of(page)).to_have_text("You both said yes")
    expect(page.locator("#side-request")).to_contain_text("Answer: yes")
    expect(page.locator("main")).to_contain_text("They have not both agreed to share contact details")
    axe.at(match_url, MATCH_HEADING, "match, accepted")
    submit(page, "Show both contacts")
    expect_no_errors(page)
    expect(page.locator("main")).to_contain_text(PHONE)
    expect(page.locator("main")).to_contain_text(story.citizen_email)
    submit(axe.page, "Show both contacts")  # a page only a POST shows; seeing them again is audited again
    expect(axe.page.locator("main")).to_contain_text(PHONE)
    expect_no_violations(axe.page, "match, contacts shown")
    submit(page, "I have put them in touch")
    expect(flash(page)).to_contain_text("Thank you: you have put them in touch.")
    expect(page.locator("main")).to_contain_text("You put them in touch on")
    field(page, "Add a note").fill("Rang Glenys: she will bring spare needles on Wednesday.")
    submit(page, "Save the note")
    expect(flash(page)).to_contain_text("The note has been saved.")
    expect(page.locator("main")).to_contain_text("she will bring spare needles")

    # They meet: the linker records it for Glenys, with the time she tells them; the citizen agrees.
    submit(page, "They have started")
    expect(flash(page)).to_contain_text("The match has been updated.")
    expect(status_of(page)).to_have_text("Started")
    axe.at(match_url, MATCH_HEADING, "match, started")
    side = page.locator("#side-offer")
    side.get_by_label("Hours", exact=True).fill("1")
    side.get_by_label("Minutes", exact=True).fill("30")
    submit(page, "Record it as completed")
    expect_no_errors(page)
    expect(status_of(page)).to_have_text("Completed")
    citizen.reload()
    citizen.get_by_label("Hours", exact=True).fill("1")
    citizen.get_by_label("Minutes", exact=True).fill("30")
    submit(citizen, "Confirm the time")
    expect_no_errors(citizen)
    page.reload()
    expect(page.locator("main")).to_contain_text("Time given: 1 hours 30 minutes")
    axe.at(match_url, MATCH_HEADING, "match, completed")


def answer_on_their_behalf(page: Page, axe: Axe, story: Story, person_url: str) -> None:
    """Glenys asks for help too; the citizen offers it and asks; Glenys says yes on the phone and
    her linker records that, with how she said it."""
    request_title, offer_title = story.title("Someone to read my letters with me"), story.title("Help reading letters")
    page.goto(person_url)
    request_url = walk_journey(page, axe, "requests", request_title, LETTERS, LETTERS_SLOT)
    axe.at(request_url + "/suggestions", "People who could help", "request suggestions")

    citizen = story.citizen_page
    offer_url = create_live_offer(citizen, offer_title, skills=(LETTERS,), times=(LETTERS_SLOT,))
    citizen.goto(offer_url + "/suggestions")
    suggestion = citizen.locator("main li").filter(has_text=request_title)
    expect(suggestion).to_contain_text(LETTERS)
    expect(citizen.locator("main")).not_to_contain_text(story.glenys)
    with citizen.expect_navigation(wait_until="load"):
        suggestion.get_by_role("button", name=re.compile(r"^Ask to be put in touch")).click()
    expect(status_of(citizen)).to_have_text("Waiting for an answer")

    # The caseload shows that Glenys has a match waiting for her answer.
    page.goto("/linkers?need=answer_waiting")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=story.glenys, exact=True))
    expect(row).to_contain_text("Match waiting for their answer")
    with page.expect_navigation(wait_until="load"):
        row.get_by_role("link", name=story.glenys, exact=True).click()
    match_link = page.locator("#matches ~ ul").first.get_by_role("listitem").filter(has_text="their help request")
    expect(match_link).to_contain_text("Waiting for an answer")
    with page.expect_navigation(wait_until="load"):
        match_link.get_by_role("link").click()
    match_url = page.url
    side = page.locator("#side-request")
    expect(side).to_contain_text("Answer: waiting")
    axe.at(match_url, MATCH_HEADING, "match, waiting for their answer")
    side.get_by_label("How did they tell you?").first.select_option(label="by phone")
    submit(page, f"{story.glenys} said yes")
    expect_no_errors(page)
    expect(flash(page)).to_contain_text("The match has been updated.")
    expect(status_of(page)).to_have_text("You both said yes")
    expect(page.locator("#notes ~ .app-card").first).to_contain_text("Answered yes by phone, recorded by their linker.")
    citizen.reload()
    expect(status_of(citizen)).to_have_text("You both said yes")


def contact_and_follow_up(page: Page, axe: Axe, story: Story, person_url: str) -> None:
    """A call logged in one click; a follow-up added, then done with a note."""
    page.goto(person_url)
    expect(heading(page)).to_have_text(story.glenys)
    submit(page, "Reached them")
    expect(flash(page)).to_contain_text("The contact attempt has been recorded.")
    expect(page.locator("#contact ~ ul").first).to_contain_text("Reached them")

    axe.at(person_url, story.glenys, "person")
    submit(axe.page, "Add the follow-up")  # no date, nothing to do: refused
    expect(error_summary(axe.page)).to_be_visible()
    expect(axe.page.locator("#due_on-error")).to_be_visible()
    expect_no_violations(axe.page, "person, follow-up with errors")

    what = "Ring Glenys to ask how the first lesson went"
    page.get_by_label("Due on", exact=True).fill((london_today() + timedelta(days=1)).isoformat())
    page.get_by_label("What needs doing", exact=True).fill(what)
    submit(page, "Add the follow-up")
    expect_no_errors(page)
    expect(flash(page)).to_contain_text("The follow-up has been added.")
    card = page.locator(".app-card").filter(has_text=what)
    expect(card).to_contain_text("Due soon")
    axe.at(person_url, story.glenys, "person, with a follow-up")
    card.get_by_label("Note (needed if it was not done)").fill("Lesson went well; a second one booked.")
    with page.expect_navigation(wait_until="load"):
        card.get_by_role("button", name=re.compile(r"^Done\b")).click()
    expect_no_errors(page)
    expect(flash(page)).to_contain_text("The follow-up has been finished.")
    expect(card.locator(".govuk-tag")).to_have_text("Done")
    expect(card).to_contain_text("Lesson went well; a second one booked.")
    expect(card.get_by_role("button")).to_have_count(0)
    axe.at(person_url, story.glenys, "person, follow-up done")

    # The caseload shows her, with nothing overdue.
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name="Back to your caseload").click()
    expect(heading(page)).to_have_text("Your caseload")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=story.glenys, exact=True))
    expect(row).to_be_visible()
    expect(row).not_to_contain_text("Overdue")
    axe.at("/linkers", "Your caseload", "dashboard with a caseload")


def open_citizen_match(page: Page, title: str) -> None:
    page.goto("/matches")
    expect(heading(page)).to_have_text("Your matches")
    with page.expect_navigation(wait_until="load"):
        page.locator("main").get_by_role("link", name=title, exact=True).click()
    expect(heading(page)).to_have_text(title)


def test_the_caseload_dashboard_works_without_javascript(no_js_page, watcher, linker):
    page = no_js_page
    page.goto("/sign-in")
    sign_in_linker(page, linker)

    # Someone registered without JavaScript, their consent on a signed paper form.
    name = "Idris Pugh"
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name="Register someone").click()
    register_form(page, name, method="On a paper form they signed", share_contact=True)
    submit(page, "Register them")
    expect_no_errors(page)
    expect(heading(page)).to_have_text(name)

    page.goto("/linkers")
    expect(page.locator("main .app-counts")).to_contain_text("new people not contacted yet")

    # Filter by what needs doing and search by name.
    page.get_by_label("What needs doing", exact=True).select_option(label="New: not contacted yet")
    page.get_by_label("Name or postcode", exact=True).fill("Idris")
    submit(page, "Show")
    expect(page).not_to_have_url(re.compile(r"Idris"))  # a name never goes in an address
    expect(page.get_by_label("What needs doing", exact=True)).to_have_value("not_contacted")
    expect(page.get_by_label("Name or postcode", exact=True)).to_have_value("Idris")
    rows = page.locator("main tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(rows.first).to_contain_text("New: not contacted yet")
    expect(rows.first).to_contain_text(KNOWN_POSTCODE)

    # By ward, too: the choices are the wards of the caseload (everyone here lives at KNOWN_POSTCODE,
    # so there is one; the sample postcodes carry ward codes but no ward names).
    page.get_by_label("Name or postcode", exact=True).fill("")
    wards = page.get_by_label("Ward", exact=True).locator("option")
    expect(wards).to_have_count(2)
    page.get_by_label("Ward", exact=True).select_option(index=1)
    chosen = page.get_by_label("Ward", exact=True).input_value()
    assert chosen, "no ward to choose"
    submit(page, "Show")
    expect(page).to_have_url(re.compile(rf"[?&]ward={chosen}(&|$)"))
    expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()

    # A filter nobody matches says so.
    page.get_by_label("What needs doing", exact=True).select_option(label="Follow-up overdue")
    submit(page, "Show")
    expect(page.locator("main")).to_contain_text("Nobody matches these filters.")
    expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)

    # The counts at the top are links to the same filter; the person's record opens from the row.
    page.goto("/linkers")
    with page.expect_navigation(wait_until="load"):
        page.locator("main .app-counts").get_by_role("link", name=re.compile(r"new people not contacted yet")).click()
    expect(page).to_have_url(re.compile(r"\?need=not_contacted$"))
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name=name, exact=True).click()
    expect(heading(page)).to_have_text(name)
    watcher.assert_clean()


def test_a_linker_gives_a_copy_of_someones_data_and_erases_it_at_their_request(page, watcher, axe_pages, linker):
    """Someone on the caseload asks, by phone, what we hold and then to be forgotten."""
    page.goto("/sign-in")
    sign_in_linker(page, linker)
    name = "Morwenna Trevithick"
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name="Register someone").click()
    register_form(page, name, method="Out loud (verbal)", share_contact=False)
    submit(page, "Register them")
    expect_no_errors(page)
    person_url = page.url.split("#")[0]
    axe = Axe(axe_pages, page.context.storage_state())

    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name="Everything we hold about them, to read or print").click()
    expect(heading(page)).to_have_text(f"Everything we hold about {name}")
    expect(page.locator("main")).to_contain_text(PHONE)
    axe.at(page.url, f"Everything we hold about {name}", "export for a person")

    page.goto(person_url)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name="Erase their record, at their request").click()
    expect(heading(page)).to_have_text(f"Erase {name}'s record")
    erase_url = page.url
    axe.at(erase_url, f"Erase {name}'s record", "erase")
    submit(axe.page, "Erase their record")  # nothing chosen: refused, nothing erased
    expect(error_summary(axe.page)).to_contain_text("Choose how they asked")
    expect(error_summary(axe.page)).to_contain_text("Confirm that they asked for this")
    expect_no_violations(axe.page, "erase with errors")

    page.get_by_role("group", name="How did they ask?").get_by_role("radio", name="By phone").check()
    page.get_by_label("They asked for this, and I have told them it cannot be undone").check()
    submit(page, "Erase their record")
    expect_no_errors(page)
    expect(flash(page)).to_contain_text("Their record has been erased, as they asked.")
    expect(heading(page)).to_have_text("Your caseload")
    expect(page.locator("main")).not_to_contain_text(name)
    response = page.goto(person_url)
    assert response is not None and response.status == 404
    watcher.assert_clean()
