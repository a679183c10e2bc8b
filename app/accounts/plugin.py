"""The accounts domain's wiring: its pages, its API, its flash messages, and its part in the
privacy rights (export, erasure, purging expired sign-in secrets)."""

from __future__ import annotations

from app.core.i18n import N_
from app.core.plugins import Plugins

FLASH_MESSAGES = {
    "signed-out": N_("You have signed out."),
    "password-changed": N_("Your password has been changed. Any other devices have been signed out."),
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
