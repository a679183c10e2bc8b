"""The privacy domain's wiring: the privacy notice and the rights pages and API, its own part of
an export and an erasure (consents, the access log), the audit trail's retention, and the daily
retention purge.

Consent records and the audit trail are used by the domains above through `app.privacy.service`
and `app.privacy.dependencies`; their exporters and erasers are assembled by `app.privacy.rights`.
"""

from __future__ import annotations

from app.core.plugins import Plugins


def register(plugins: Plugins) -> None:
    from app.privacy import jobs, rights, views

    plugins.add_exporter("privacy", rights.privacy_export)
    plugins.add_eraser("privacy", rights.privacy_erase)
    plugins.account_sections.append(views.account_data_section)
    plugins.add_job(jobs.JOB)


def routers(plugins: Plugins) -> list:
    from app.privacy import api, views

    return [views.router, api.router]
