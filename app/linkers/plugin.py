"""The linkers' wiring: the caseload access rule, their pages and API, the weekday digest, and
the pool choice ("a community linker may contact me") on a citizen's account page."""

from __future__ import annotations

from app.core.plugins import Plugins


def register(plugins: Plugins) -> None:
    from app.linkers import admin_views, dependencies, jobs, service, views

    plugins.person_access.append(dependencies.caseload_rule)
    plugins.acted_for.append(lambda db, actor: service.caseload_ids(actor.account_id) if actor.role.value == "linker" else None)
    plugins.add_flash_messages(views.FLASH_MESSAGES)
    plugins.add_flash_messages(admin_views.FLASH_MESSAGES)
    plugins.add_job(jobs.JOB)
    plugins.landing_pages["linker"] = "linkers:dashboard"
    from app.linkers import privacy

    plugins.add_exporter("linkers", privacy.export)
    plugins.add_eraser("linkers", privacy.erase)
    plugins.add_purger("linkers", privacy.purge_expired_claims)
    plugins.activity_rules.append(privacy.casework_rule)


def routers(plugins: Plugins) -> list:
    from app.linkers import admin_views, api, views

    return [views.router, admin_views.router, *views.caseload_journeys(plugins), api.router]
