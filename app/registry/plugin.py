"""The register's wiring: its pages and API, the account page's privacy choices, the rule that a
citizen may act for their own person, and what a withdrawn `profile` consent does here."""

from __future__ import annotations

from app.core.i18n import N_
from app.core.plugins import Plugins

FLASH_MESSAGES = {
    "registered": N_("Your account has been created. You are now signed in."),
    "profile-saved": N_("Your details have been saved."),
    "consent-given": N_("Thank you. Your choice has been saved."),
    "consent-withdrawn": N_("Your choice has been saved. It takes effect straight away."),
    "draft-saved": N_("Your answers have been saved. You can come back and finish at any time."),
    "published": N_("It is now live. We will look for people who could be a good match."),
    "paused": N_("It is paused. Nobody will be matched with it until you reopen it."),
    "reopened": N_("It is live again."),
    "closed": N_("It is closed. We have kept the record, and you can reopen it later."),
    "skill-saved": N_("The skill has been saved."),
}


def register(plugins: Plugins) -> None:
    from app.registry import dependencies, service, views

    plugins.add_flash_messages(FLASH_MESSAGES)
    plugins.person_access.append(dependencies.own_person_rule)
    plugins.acted_for.append(dependencies.own_person_ids)
    plugins.account_sections.append(views.account_consent_section)
    plugins.consent_withdrawn.append(service.pause_items_without_profile_consent)
    from app.registry import privacy

    plugins.add_exporter("registry", privacy.export)
    plugins.add_eraser("registry", privacy.erase)
    plugins.person_of_account = privacy.person_of_account
    plugins.email_changed.append(service.follow_account_email)
    plugins.retention = privacy.Retention(plugins)
    plugins.add_page_mount("journeys", views.journey_router)


def routers(plugins: Plugins) -> list:
    from app.registry import admin_views, api, views

    return [admin_views.router, views.router, views.citizen_offers, views.citizen_requests, api.router]
