"""A member of council staff, invited by an administrator, signs in and lands on the reports; they
open every report page, change the period with the form (no JavaScript needed), download a CSV,
and meet a friendly error for a period that ends before it starts. axe (WCAG 2.2 A and AA) looks
at every page; the journey runs with the CSP enforced."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import _context
from tests.browser.helpers import (
    error_summary,
    expect_no_errors,
    field,
    flash,
    heading,
    sign_in,
    strong_password,
    submit,
    unique_email,
)
from tests.browser.test_accessibility import axe_violations, describe

pytestmark = pytest.mark.browser

PAGES = (
    ("/reports", "Reports"),
    ("/reports/participation?by=ward", "Participation by ward"),
    ("/reports/participation?by=month", "Participation by month"),
    ("/reports/participation?by=skill_category", "Participation by skill category"),
    ("/reports/linkers?by=ward", "Linker work by ward"),
    ("/reports/linkers?by=month", "Linker work by month"),
    ("/reports/social-value", "Social value"),
    ("/reports/outcomes", "Wellbeing outcomes"),
)


@pytest.fixture(scope="session")
def staff_member(browser, live_server, shared_admin) -> tuple[str, str]:
    email, password = unique_email("staff"), strong_password()
    context = _context(browser, live_server, storage_state=shared_admin.storage_state)
    try:
        page = context.new_page()
        page.goto("/admin/accounts")
        field(page, "Name").fill("Carys Pugh")
        field(page, "Email address").fill(email)
        page.get_by_label("Council staff").check()
        submit(page, "Create account")
        expect(flash(page)).to_contain_text("The account has been created")
    finally:
        context.close()
    context = _context(browser, live_server)
    try:
        page = context.new_page()
        page.goto(live_server.reset_link_for(email))
        field(page, "New password").fill(password)
        field(page, "Type your new password again").fill(password)
        submit(page, "Save new password")
        expect_no_errors(page)
    finally:
        context.close()
    return email, password


def test_staff_read_every_report_page(page: Page, staff_member, axe_pages, watcher):
    email, password = staff_member
    sign_in(page, email, password, name="Carys Pugh")
    expect(page).to_have_url(re.compile(r"/reports$"))
    expect(heading(page)).to_have_text("Reports")
    checked = axe_pages(page.context.storage_state())
    for path, title in PAGES:
        page.goto(path)
        expect(heading(page)).to_have_text(title)
        checked.goto(page.url)
        violations = axe_violations(checked)
        assert not violations, f"{path}:\n{describe(violations)}"

    page.goto("/reports/participation?by=month")
    charts = page.locator("svg[role='img']")
    expect(charts.first).to_be_visible()
    assert charts.count() == page.locator("main table").count()
    field(page, "From").fill("2026-01-01")
    field(page, "To").fill("2026-03-31")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Show figures").click()
    expect(page.locator("main h1 + p")).to_contain_text("From 1 January 2026 to 31 March 2026")
    expect(page.locator("main table").first.locator("tbody th[scope='row']")).to_have_count(4)  # 3 months and the total

    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("^Download CSV")).first.click()
    text = open(download.value.path(), encoding="utf-8-sig").read()
    assert text.startswith("Month,")

    field(page, "From").fill("2026-05-01")
    field(page, "To").fill("2026-04-01")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Show figures").click()
    expect(error_summary(page)).to_contain_text("The start of the period must be on or before its end")
    checked.goto(page.url)
    violations = axe_violations(checked)
    assert not violations, f"error state:\n{describe(violations)}"
    watcher.assert_clean()
