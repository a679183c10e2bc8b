"""The privacy domain's wiring: the privacy notice pages.

Consent records and the audit trail are used by the domains above through `app.privacy.service`
and `app.privacy.dependencies`; exporters and erasers (the privacy-rights issue) are collected in
`Plugins.exporters` / `Plugins.erasers`, one per domain.
"""

from __future__ import annotations

from app.core.plugins import Plugins


def register(plugins: Plugins) -> None:
    pass


def routers(plugins: Plugins) -> list:
    from app.privacy import views

    return [views.router]
