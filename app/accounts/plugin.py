"""The accounts domain's wiring: its pages, its API, its flash messages, and its part in the
privacy rights (export, erasure, purging expired sign-in secrets)."""

from __future__ import annotations

from app.core.i18n import N_
from app.core.plugins import Plugins

FLASH_MESSAGES = {
    "signed-out": N_("You have signed out."),
    "password-changed": N_("Your password has been changed. Any other devices have been signed out."),
    "two-step-needed": N_("Before you can see anyone's details, turn on two-step sign-in for your account."),
    "sign-in-again": N_("That took too long. Please sign in again."),
    "email-changed": N_("Your email address has been changed. Any other devices have been signed out."),
    "session-ended": N_("That device has been signed out."),
    "sessions-ended": N_("Every other device has been signed out."),
    "two-step-off": N_("Two-step sign-in is off for that account. They will set it up again when they next sign in."),
    "password-reset": N_("Your password has been reset. You can now sign in."),
    "account-created": N_("The account has been created and an email sent to set a password."),
    "account-deactivated": N_("The account has been deactivated and signed out everywhere."),
    "account-reactivated": N_("The account has been reactivated."),
}


def register(plugins: Plugins) -> None:
    from app.accounts import privacy

    plugins.add_flash_messages(FLASH_MESSAGES)
    plugins.add_exporter("accounts", privacy.export)
    plugins.add_eraser("accounts", privacy.erase)
    plugins.add_purger("accounts", privacy.purge_expired_secrets)


def routers(plugins: Plugins) -> list:
    from app.accounts import api, views

    return [views.router, api.router]
