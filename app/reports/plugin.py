"""The reports' wiring: staff land on the reports; the nightly job works them out."""

from __future__ import annotations

from app.core.plugins import Plugins


def register(plugins: Plugins) -> None:
    from app.reports import jobs

    plugins.add_job(jobs.JOB)
    plugins.landing_pages["staff"] = "reports:summary"


def routers(plugins: Plugins) -> list:
    from app.reports import api, views

    return [views.router, api.router]
