"""axe-core on every page and every state of it a person can meet: WCAG 2.2 A and AA, no violations.

axe has to be injected as a script, which the site's CSP rightly forbids, so these contexts bypass
the CSP. The CSP itself is checked by the journeys in test_journeys.py, never here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import AXE_JS, LiveServer, SignedIn
from tests.browser.helpers import (
    account_nav,
    change_password,
    error_summary,
    field,
    flash,
    heading,
    new_person,
    register,
    sign_out,
    strong_password,
    submit,
    submit_sign_in,
    unique_email,
)

pytestmark = pytest.mark.browser

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


def axe_violations(page: Page) -> list[dict]:
    page.wait_for_load_state("load")
    page.add_script_tag(path=str(AXE_JS))
    return page.evaluate(
        """async (tags) => {
            const results = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return results.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({target: n.target, summary: n.failureSummary})),
            }));
        }""",
        WCAG_TAGS,
    )


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}  {v['helpUrl']}")
        for node in v["nodes"]:
            lines.append(f"    at {json.dumps(node['target'])}: {(node['summary'] or '').replace(chr(10), ' ')}")
    return "\n".join(lines)


# --- the pages, each in the state to check ---------------------------------------------------
# Each function leaves the page where axe should look and returns the expected <h1>. `who` is the
# shared citizen or admin whose saved session the page was opened with (see PageState.signed_in).


def _reset_link(page: Page, server: LiveServer, email: str) -> str:
    page.goto("/forgotten-password")
    field(page, "Email address").fill(email)
    submit(page, "Send me a link")
    expect(heading(page)).to_have_text("Check your email")
    return server.reset_link_for(email)


def home(page, server, who):
    page.goto("/")
    return "Share what you can do, find the help you need"


def home_signed_in(page, server, who):
    page.goto("/")
    expect(account_nav(page)).to_contain_text(f"Signed in as {who.name}")
    return "Share what you can do, find the help you need"


def home_signed_out_with_banner(page, server, who):
    register(page, new_person("axe-home"))
    sign_out(page)
    return "Share what you can do, find the help you need"


def privacy_notice(page, server, who):
    page.goto("/privacy")
    return "Privacy notice"


def register_empty(page, server, who):
    page.goto("/register")
    return "Create an account"


def register_errors(page, server, who):
    page.goto("/register")
    field(page, "Email address").fill("not an email address")
    field(page, "Your postcode").fill("ZZ99 9ZZ")
    field(page, "Create a password").fill("short")
    field(page, "Type your password again").fill("different")
    submit(page, "Create account")
    expect(error_summary(page)).to_be_visible()
    # name, email, postcode, password and the consent to keep the details
    expect(error_summary(page).get_by_role("listitem")).to_have_count(5)
    expect(page.locator(".govuk-error-message")).to_have_count(5)
    return "Create an account"


def dashboard_after_registration(page, server, who):
    register(page, new_person("axe-dashboard"))
    expect(flash(page)).to_be_visible()
    return "Your offers and requests"


def sign_in_empty(page, server, who):
    page.goto("/sign-in")
    return "Sign in"


def sign_in_error(page, server, who):
    submit_sign_in(page, unique_email("nobody"), "not-the-right-password")
    expect(error_summary(page)).to_be_visible()
    return "Sign in"


def forgotten_password(page, server, who):
    page.goto("/forgotten-password")
    return "Reset your password"


def forgotten_password_error(page, server, who):
    page.goto("/forgotten-password")
    field(page, "Email address").fill("nobody at example")
    submit(page, "Send me a link")
    expect(error_summary(page)).to_be_visible()
    return "Reset your password"


def reset_sent(page, server, who):
    page.goto("/forgotten-password")
    field(page, "Email address").fill(unique_email("nobody"))
    submit(page, "Send me a link")
    return "Check your email"


def reset_password(page, server, who):
    # A real token from the mail. Opening the link does not use it up, nor change the password.
    page.goto(_reset_link(page, server, who.email))
    return "Choose a new password"


def reset_password_errors(page, server, who):
    page.goto(_reset_link(page, server, who.email))
    field(page, "New password").fill(strong_password())
    field(page, "Type your new password again").fill(strong_password())
    submit(page, "Save new password")
    expect(error_summary(page)).to_be_visible()  # the passwords differ: nothing changed
    return "Choose a new password"


def reset_expired(page, server, who):
    page.goto("/reset-password?token=this-link-is-not-valid")
    return "This link has expired"


def account_settings(page, server, who):
    page.goto("/account")
    return "Your account"


def account_settings_errors(page, server, who):
    change_password(page, "this-is-not-my-password", strong_password())
    expect(error_summary(page)).to_be_visible()  # a refused change leaves the sessions alone
    return "Your account"


def account_settings_changed(page, server, who):
    person = new_person("axe-account")
    register(page, person)
    change_password(page, person.password, strong_password())
    expect(flash(page)).to_be_visible()
    return "Your account"


def admin_accounts(page, server, who):
    page.goto("/admin/accounts")
    return "Manage accounts"


def admin_accounts_role_error(page, server, who):
    page.goto("/admin/accounts")
    submit(page, "Create account")
    expect(page.locator("#role-error")).to_be_visible()
    return "Manage accounts"


def admin_accounts_field_errors(page, server, who):
    page.goto("/admin/accounts")
    field(page, "Email address").fill("not an email address")
    page.get_by_label("Community linker").check()
    submit(page, "Create account")
    expect(page.locator("#name-error")).to_be_visible()
    expect(page.locator("#email-error")).to_be_visible()
    return "Manage accounts"


def admin_accounts_after_changes(page, server, who):
    """A new linker, then deactivated: the flash banner and both kinds of status tag."""
    page.goto("/admin/accounts")
    email = unique_email("axe-linker")
    field(page, "Name").fill("Lee Linker")
    field(page, "Email address").fill(email)
    page.get_by_label("Community linker").check()
    submit(page, "Create account")
    expect(flash(page)).to_contain_text("The account has been created")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("row").filter(has_text=email).get_by_role("button", name="Deactivate").click()
    expect(flash(page)).to_contain_text("deactivated")
    expect(page.get_by_role("row").filter(has_text=email)).to_contain_text("Deactivated")
    expect(page.get_by_role("row").filter(has_text=who.email)).to_contain_text("Active")
    return "Manage accounts"


def not_found(page, server, who):
    response = page.goto("/no-such-page")
    assert response is not None and response.status == 404
    return "Page not found"


def forbidden(page, server, who):
    response = page.goto("/admin/accounts")
    assert response is not None and response.status == 403
    return "You do not have permission to see this page"


@dataclass(frozen=True)
class PageState:
    id: str
    reach: Callable[[Page, LiveServer, SignedIn | None], str]
    signed_in: str | None = None  # "citizen" or "admin": open the page with that saved session


STATES = [
    PageState("home", home),
    PageState("home-signed-in", home_signed_in, "citizen"),
    PageState("home-signed-out-with-banner", home_signed_out_with_banner),
    PageState("privacy-notice", privacy_notice),
    PageState("register", register_empty),
    PageState("register-errors", register_errors),
    PageState("dashboard-after-registration", dashboard_after_registration),
    PageState("sign-in", sign_in_empty),
    PageState("sign-in-error", sign_in_error),
    PageState("forgotten-password", forgotten_password),
    PageState("forgotten-password-error", forgotten_password_error),
    PageState("check-your-email", reset_sent),
    PageState("reset-password", reset_password, "citizen"),
    PageState("reset-password-errors", reset_password_errors, "citizen"),
    PageState("reset-link-expired", reset_expired),
    PageState("account", account_settings, "citizen"),
    PageState("account-errors", account_settings_errors, "citizen"),
    PageState("account-password-changed", account_settings_changed),
    PageState("admin-accounts", admin_accounts, "admin"),
    PageState("admin-accounts-role-error", admin_accounts_role_error, "admin"),
    PageState("admin-accounts-field-errors", admin_accounts_field_errors, "admin"),
    PageState("admin-accounts-after-changes", admin_accounts_after_changes, "admin"),
    PageState("404", not_found),
    PageState("403", forbidden, "citizen"),
]


@pytest.mark.parametrize("state", STATES, ids=[s.id for s in STATES])
def test_page_has_no_wcag_violations(request, axe_pages, live_server, state):
    who = request.getfixturevalue(f"shared_{state.signed_in}") if state.signed_in else None
    page = axe_pages(who.storage_state if who else None)
    expected_heading = state.reach(page, live_server, who)
    expect(heading(page)).to_have_text(expected_heading)
    violations = axe_violations(page)
    assert not violations, (
        f"axe found {len(violations)} WCAG 2.2 A/AA violation(s) on {page.url} ({state.id}):\n"
        + describe(violations)
    )


def test_axe_is_really_checking(axe_pages):
    """Guard against a silent pass: axe must find a problem put there on purpose."""
    page = axe_pages()
    page.goto("/sign-in")
    page.evaluate("() => { document.querySelector('label[for=email]').remove(); }")
    ids = {v["id"] for v in axe_violations(page)}
    assert "label" in ids, ids
