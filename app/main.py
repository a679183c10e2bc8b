"""create_app(settings): the one place where the domains are put together."""

from __future__ import annotations

import importlib
import logging
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select

from app.core.config import Settings, get_settings
from app.core.db import make_engine, make_session_factory, write_session_factory
from app.core.error_handlers import install_error_handlers
from app.core.jobs import build_jobs
from app.core.logs import install_log_scrubbers
from app.core.mail import Mailer
from app.core.middleware import (
    BodySizeLimitMiddleware,
    BusyMiddleware,
    CSRFMiddleware,
    DatabaseTroubleMiddleware,
    NulCharacterMiddleware,
    SecurityHeadersMiddleware,
    UnexpectedErrorMiddleware,
)
from app.core.plugins import Plugins
from app.core.routes import remember_route_paths

# Lowest first: each domain may use the hooks of those before it, never those after.
DOMAINS = ("app.accounts", "app.privacy", "app.registry", "app.matching", "app.linkers", "app.reports")


def domain_plugins(domains: tuple[str, ...] = DOMAINS) -> list:
    return [importlib.import_module(f"{name}.plugin") for name in domains]


def build_plugins(domains: tuple[str, ...] = DOMAINS) -> Plugins:
    """Every domain's hooks, registered in dependency order: the same wiring for app and worker."""
    from app.core import mail

    plugins = Plugins()
    mail.register(plugins)  # core's own job: outgoing mail
    for module in domain_plugins(domains):
        module.register(plugins)
    return plugins


# Connections beyond the request threads' own, for work outside requests (the suggestion index's
# background rebuild), so that it never takes a connection an admitted request is counting on.
BACKGROUND_CONNECTIONS = 2


def pool_options(settings: Settings) -> dict:
    """One connection per request thread (as many as requests admitted at once, see
    `BusyMiddleware`), plus a few for background work."""
    return {
        "pool_size": settings.db_pool_size,
        "max_overflow": BACKGROUND_CONNECTIONS,
        "pool_timeout": settings.db_pool_timeout_seconds,
    }


class UnsafeProductionState(RuntimeError):
    pass


def refuse_demo_accounts_in_production(settings: Settings, session_factory) -> None:
    from app.accounts.models import Account

    if not settings.is_production:
        return
    with session_factory() as db:
        if db.execute(select(Account.id).where(Account.is_demo.is_(True)).limit(1)).first() is not None:
            raise UnsafeProductionState(
                "Demo accounts exist in this database. Production refuses to start with them: "
                "remove them, or point MARKETPLACE_DATABASE_URL at the production database."
            )


def create_app(settings: Settings | None = None, *, engine=None, session_factory=None) -> FastAPI:
    from app import pages

    settings = settings or get_settings()
    logging.basicConfig(level=settings.log_level)
    install_log_scrubbers()
    engine = engine if engine is not None else make_engine(settings.database_url, **pool_options(settings))
    session_factory = session_factory or make_session_factory(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        refuse_demo_accounts_in_production(settings, session_factory)
        # As many threads for sync routes as connections in the pool, so no thread waits for one.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.db_pool_size
        yield

    app = FastAPI(
        title=f"{settings.service_name} API",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # Swagger UI would load scripts from a CDN; the CSP forbids that.
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory
    app.state.write_session_factory = write_session_factory(session_factory)

    plugins = build_plugins()
    app.state.plugins = plugins
    # The same queue and jobs as `marketplace worker` (see app.core.jobs).
    app.state.jobs = build_jobs(settings, session_factory, plugins)
    app.state.mailer = plugins.mailer = Mailer(settings, app.state.jobs)
    app.include_router(pages.router)
    for module in domain_plugins():
        for router in module.routers(plugins):
            app.include_router(router)

    app.mount("/static", StaticFiles(directory=settings.static_dir, check_dir=False), name="static")
    install_error_handlers(app)
    remember_route_paths(app.router)

    # Added innermost first: the security headers wrap everything, even the 500 page.
    app.add_middleware(CSRFMiddleware, settings=settings)
    app.add_middleware(NulCharacterMiddleware)
    app.add_middleware(DatabaseTroubleMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(BusyMiddleware, threads=settings.db_pool_size, queue=settings.busy_queue)
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
    return app
