"""Matching's wiring: suggestions on the item pages, the API, and what a withdrawn consent ends."""

from __future__ import annotations

from app.core.plugins import Plugins


def register(plugins: Plugins) -> None:
    from app.matching import jobs, service, views

    plugins.add_job(jobs.JOB)
    plugins.item_sections.append(views.item_suggestions_section)
    plugins.consent_withdrawn.append(service.cancel_suggestions_on_withdrawal)


def routers() -> list:
    from app.matching import api, views

    return [views.citizen_offer_suggestions, views.citizen_request_suggestions, api.router]
