"""create_app(settings): the one place where the domains are put together."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select

from app.core.config import Settings, get_settings
from app.core.db import make_engine, make_session_factory
from app.core.errors import install_error_handlers
from app.core.logs import install_log_scrubbers
from app.core.middleware import (
    BodySizeLimitMiddleware,
    CSRFMiddleware,
    SecurityHeadersMiddleware,
    UnexpectedErrorMiddleware,
)


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
    settings = settings or get_settings()
    logging.basicConfig(level=settings.log_level)
    install_log_scrubbers()
    engine = engine if engine is not None else make_engine(settings.database_url)
    session_factory = session_factory or make_session_factory(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        refuse_demo_accounts_in_production(settings, session_factory)
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

    from app import pages
    from app.accounts import api as accounts_api
    from app.accounts import views as accounts_views
    from app.matching import api as matching_api
    from app.matching import views as matching_views
    from app.privacy import views as privacy_views
    from app.registry import admin_views as registry_admin_views
    from app.registry import api as registry_api
    from app.registry import views as registry_views

    app.state.account_sections = [registry_views.account_consent_section]
    app.state.item_sections = [matching_views.item_suggestions_section]
    app.include_router(pages.router)
    app.include_router(accounts_views.router)
    app.include_router(privacy_views.router)
    app.include_router(registry_admin_views.router)
    app.include_router(matching_views.router)
    app.include_router(registry_views.router)
    app.include_router(accounts_api.router)
    app.include_router(registry_api.router)
    app.include_router(matching_api.router)

    app.mount("/static", StaticFiles(directory=settings.static_dir, check_dir=False), name="static")
    install_error_handlers(app)

    # Added innermost first: the security headers wrap everything, even the 500 page.
    app.add_middleware(CSRFMiddleware, settings=settings)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
    return app
