"""Matching's wiring: suggestions on the item pages, the API, and what a withdrawn consent ends."""

from __future__ import annotations

from app.core.plugins import Plugins


def register(plugins: Plugins) -> None:
    from app.matching import jobs, match_views, service, views

    plugins.add_flash_messages(match_views.FLASH_MESSAGES)
    plugins.add_job(jobs.JOB)
    plugins.add_job(jobs.EXPIRY)
    plugins.item_sections.append(views.item_suggestions_section)
    plugins.account_sections.append(match_views.account_mail_section)
    plugins.add_page_mount("suggestions", views.suggestions_router)
    def cancel_matches_on_withdrawal(db, *, person_id: int, purpose) -> None:
        service.cancel_matches_on_withdrawal(db, person_id=person_id, purpose=purpose, mailer=plugins.mailer)

    def cancel_matches_of_closed_item(db, *, kind_key: str, item_id: int) -> None:
        service.cancel_matches_of_item(db, kind_key=kind_key, item_id=item_id, mailer=plugins.mailer)

    plugins.consent_withdrawn.append(cancel_matches_on_withdrawal)
    from app.matching import privacy

    plugins.add_exporter("matching", privacy.export)
    plugins.add_eraser("matching", lambda db, subject, settings=None: privacy.erase(db, subject, settings, mailer=plugins.mailer))
    plugins.activity_rules.append(privacy.open_match_rule)
    plugins.item_closed.append(cancel_matches_of_closed_item)


def routers(plugins: Plugins) -> list:
    from app.matching import api, match_views, views

    return [views.citizen_offer_suggestions, views.citizen_request_suggestions, match_views.router, api.router]
