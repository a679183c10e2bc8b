"""Settings: production refuses unsafe configuration, and refuses to start beside demo accounts."""

from __future__ import annotations

import secrets

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.accounts import service as accounts
from app.accounts.models import Role
from app.core.config import DEVELOPMENT_SECRET_KEY, Settings, get_settings
from app.main import UnsafeProductionState, create_app
from tests.conftest import PASSWORD


def strong_key() -> str:
    key = secrets.token_urlsafe(36)
    assert len(key) == 48
    return key


def production(**overrides) -> Settings:
    values = {"environment": "production", "secret_key": strong_key(), "smtp_host": "127.0.0.1", **overrides}
    return Settings(**values)


# --- Settings(...) validation ------------------------------------------------------------------


def test_production_refuses_the_development_secret_key():
    with pytest.raises(ValidationError, match="MARKETPLACE_SECRET_KEY"):
        production(secret_key=DEVELOPMENT_SECRET_KEY)


def test_production_refuses_the_default_secret_key_when_none_is_given():
    with pytest.raises(ValidationError, match="MARKETPLACE_SECRET_KEY"):
        Settings(environment="production", smtp_host="127.0.0.1")


@pytest.mark.parametrize("length", [0, 8, 31])
def test_production_refuses_a_short_secret_key(length):
    with pytest.raises(ValidationError, match="at least 32 characters"):
        production(secret_key="k" * length)


def test_production_accepts_a_32_character_key():
    assert production(secret_key="k" * 32).is_production


@pytest.mark.parametrize("smtp_host", [None, ""])
def test_production_refuses_a_missing_smtp_host(smtp_host):
    with pytest.raises(ValidationError, match="MARKETPLACE_SMTP_HOST"):
        production(smtp_host=smtp_host)


def test_a_valid_production_configuration_works():
    key = strong_key()
    settings = production(secret_key=key, smtp_host="mail.example.org")
    assert settings.is_production
    assert settings.secret_bytes == key.encode()
    assert settings.session_cookie_name.startswith("__Host-")
    assert settings.csrf_cookie_name.startswith("__Host-")


@pytest.mark.parametrize("environment", ["development", "test"])
def test_development_and_test_keep_their_safe_defaults(environment):
    settings = Settings(environment=environment)
    assert not settings.is_production
    assert settings.secret_key.get_secret_value() == DEVELOPMENT_SECRET_KEY
    assert not settings.session_cookie_name.startswith("__Host-")


def test_an_unknown_environment_is_refused():
    with pytest.raises(ValidationError):
        Settings(environment="staging")


def test_settings_come_from_marketplace_environment_variables(monkeypatch):
    key = strong_key()
    monkeypatch.setenv("MARKETPLACE_ENVIRONMENT", "production")
    monkeypatch.setenv("MARKETPLACE_SECRET_KEY", key)
    monkeypatch.setenv("MARKETPLACE_SMTP_HOST", "mail.example.org")
    monkeypatch.setenv("MARKETPLACE_COUNCIL_NAME", "Riverside Council")
    settings = get_settings()
    assert settings.is_production
    assert settings.secret_key.get_secret_value() == key
    assert settings.council_name == "Riverside Council"


def test_production_from_the_environment_refuses_a_missing_secret_key(monkeypatch):
    monkeypatch.delenv("MARKETPLACE_SECRET_KEY", raising=False)
    monkeypatch.setenv("MARKETPLACE_ENVIRONMENT", "production")
    monkeypatch.setenv("MARKETPLACE_SMTP_HOST", "mail.example.org")
    with pytest.raises(ValidationError, match="MARKETPLACE_SECRET_KEY"):
        get_settings()


# --- start-up refuses demo accounts in production ----------------------------------------------


@pytest.fixture()
def production_settings(database_url, tmp_path) -> Settings:
    return production(database_url=database_url, outbox_dir=tmp_path / "outbox")


def _demo_account(db):
    account = accounts.create_account(
        db, email="demo.citizen@example.org", name="Demo Citizen", role=Role.citizen, password=PASSWORD, is_demo=True
    )
    db.commit()
    return account


def test_production_refuses_to_start_with_a_demo_account(production_settings, engine, session_factory, db):
    _demo_account(db)
    app = create_app(production_settings, engine=engine, session_factory=session_factory)
    with pytest.raises(UnsafeProductionState, match="Demo accounts"):
        with TestClient(app):
            pass  # pragma: no cover - start-up must fail before this runs


def test_production_refuses_to_start_even_with_a_deactivated_demo_account(
    production_settings, engine, session_factory, db
):
    demo = _demo_account(db)
    demo.is_active = False
    db.add(demo)
    db.commit()
    app = create_app(production_settings, engine=engine, session_factory=session_factory)
    with pytest.raises(UnsafeProductionState):
        with TestClient(app):
            pass  # pragma: no cover


def test_production_starts_without_demo_accounts(production_settings, engine, session_factory, citizen, admin):
    app = create_app(production_settings, engine=engine, session_factory=session_factory)
    with TestClient(app, base_url="https://testserver") as client:
        response = client.get("/healthz")
        assert response.status_code == 200
        assert client.get("/").status_code == 200


def test_development_starts_with_demo_accounts(settings, engine, session_factory, db):
    _demo_account(db)
    app = create_app(settings, engine=engine, session_factory=session_factory)
    with TestClient(app) as client:
        assert client.get("/").status_code == 200


# --- the address `marketplace serve` puts in emailed links --------------------------------------


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("127.0.0.1", 8123, "http://127.0.0.1:8123"),
        ("localhost", 9000, "http://localhost:9000"),
        ("0.0.0.0", 8080, "http://127.0.0.1:8080"),  # a wildcard has no address of its own
        ("::", 8080, "http://[::1]:8080"),
        ("::1", 8001, "http://[::1]:8001"),
        ("[::1]", 8001, "http://[::1]:8001"),
    ],
)
def test_served_base_url(host, port, expected):
    from app.core.config import served_base_url

    assert served_base_url(host, port) == expected


@pytest.mark.parametrize("written", ["warning", "Warning", " WARNING "])
def test_the_log_level_may_be_written_in_any_case(written):
    import logging

    settings = Settings(environment="test", log_level=written)
    assert settings.log_level == "WARNING"
    logging.getLogger("marketplace.test").setLevel(settings.log_level)  # what create_app does with it


def test_an_unknown_log_level_is_refused_with_a_message():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="MARKETPLACE_LOG_LEVEL must be one of"):
        Settings(environment="test", log_level="loud")
