"""Settings from the environment (prefix MARKETPLACE_), with safe defaults for development."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEVELOPMENT_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MARKETPLACE_", env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET_KEY)
    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'marketplace.db'}"
    base_url: str = "http://127.0.0.1:8000"

    council_name: str = "Northbridge Borough Council"
    service_name: str = "Community Asset Marketplace"

    templates_dir: Path = PROJECT_ROOT / "templates"
    static_dir: Path = PROJECT_ROOT / "app" / "static"
    # htmx is served by the app itself; a council may point this at a CDN instead (URL + SRI hash).
    htmx_url: str | None = None
    htmx_integrity: str | None = None

    session_idle_minutes: int = 30
    session_absolute_hours: int = 8
    api_token_minutes: int = 60
    password_reset_minutes: int = 60

    login_max_failures_per_account: int = 10
    login_max_failures_per_address: int = 50
    login_window_minutes: int = 5
    login_cooloff_minutes: int = 15

    max_body_bytes: int = 256 * 1024

    mail_from: str = "Community Asset Marketplace <no-reply@marketplace.invalid>"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = 10.0
    outbox_dir: Path = PROJECT_ROOT / "var" / "outbox"

    # Matching: how much each part of a score counts (they are normalised by their sum), and how
    # many of each request's best offers the whole-area allocation considers.
    match_weight_skills: float = 0.45
    match_weight_distance: float = 0.25
    match_weight_time: float = 0.20
    match_weight_fresh: float = 0.10
    match_weight_category: float = Field(default=0.0, ge=0.0, lt=1.0)
    match_remote_distance_part: float = 0.5
    match_candidates_per_request: int = 25

    # Linkers' timeliness targets: a new person contacted within this many working days, a
    # proposed match answered within this many days (after that it expires and frees the place).
    # "Due soon" starts this many days before a limit. The weekday digest goes out at this hour.
    linker_contact_working_days: int = Field(default=5, ge=1, le=60)
    match_answer_days: int = Field(default=14, ge=1, le=120)
    due_soon_days: int = Field(default=2, ge=0, le=30)
    linker_digest_hour: int = Field(default=8, ge=0, le=23)
    # How long a printed or emailed one-time code for claiming an online account stays usable.
    claim_code_days: int = Field(default=30, ge=1, le=365)

    # Retention (the privacy notice states these): people with no sign-in, no live item and no
    # open match for `retention_months` are written to, then erased `retention_warning_days`
    # later unless they sign in; audit events are kept for `audit_retention_months`.
    retention_months: int = Field(default=24, ge=1, le=240)
    retention_warning_days: int = Field(default=30, ge=1, le=365)
    audit_retention_months: int = Field(default=72, ge=1, le=600)

    # Social value (reports): what an hour given and a regular volunteer's year are worth, with
    # where each figure comes from (shown beside it). Defaults are public figures; a council
    # using its own TOMs proxies or a licensed value set puts those here, never in the code.
    social_value_per_hour: float = Field(default=12.71, ge=0, le=10_000)
    social_value_per_hour_source: str = Field(
        default="Replacement cost: the National Living Wage for people aged 21 and over, from April 2026 (£12.71 an hour)",
        max_length=300,
    )
    social_value_per_volunteer_year: float = Field(default=2012.0, ge=0, le=1_000_000)
    social_value_per_volunteer_year_source: str = Field(
        default="DCMS and London Economics, the wellbeing value of regular volunteering, 2021 to 2022 (£2,012 a volunteer a year)",
        max_length=300,
    )

    # Background jobs (app/core/jobs.py): each job is retried this many times, this far apart,
    # before it counts as failed. `jobs_immediate` runs jobs in the process that enqueues them,
    # just after the commit (tests; a quick look without `marketplace worker`).
    jobs_retries: int = Field(default=3, ge=0, le=20)
    jobs_retry_delay_seconds: float = Field(default=30.0, ge=0)
    jobs_immediate: bool = False

    log_level: str = "INFO"

    # Per worker process: database connections, and as many request threads (so no thread waits
    # for a connection); beyond `busy_queue` more requests waiting, new ones get 503 at once.
    db_pool_size: int = Field(default=4, ge=1, le=200)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    busy_queue: int = Field(default=100, ge=0, le=10_000)

    # Two-step sign-in for linkers, staff and admins before they see any personal data or report.
    # Unset: on, except in tests (which turn it on where they test it). Production refuses "off".
    second_factor_required: bool | None = None

    @property
    def second_factor_is_required(self) -> bool:
        if self.second_factor_required is None:
            return self.environment != "test"
        return self.second_factor_required

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level_in_capitals(cls, value: object) -> object:
        """`warning` and `WARNING` mean the same; logging only knows the second."""
        level = value.strip().upper() if isinstance(value, str) else value
        if level not in ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"):
            raise ValueError("MARKETPLACE_LOG_LEVEL must be one of debug, info, warning, error or critical")
        return level

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment == "production":
            secret = self.secret_key.get_secret_value()
            if secret == DEVELOPMENT_SECRET_KEY or len(secret) < 32:
                raise ValueError(
                    "MARKETPLACE_SECRET_KEY must be set to a random value of at least 32 characters "
                    "in production (for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
                )
            if self.second_factor_required is False:
                raise ValueError(
                    "MARKETPLACE_SECOND_FACTOR_REQUIRED cannot be false in production: linkers, staff and "
                    "admins see personal data and must use two-step sign-in"
                )
            if not self.smtp_host:
                raise ValueError("MARKETPLACE_SMTP_HOST must be set in production: mail cannot go to a local outbox")
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def session_cookie_name(self) -> str:
        # The __Host- prefix makes browsers insist on Secure, Path=/ and no Domain.
        return "__Host-marketplace_session" if self.is_production else "marketplace_session"

    @property
    def csrf_cookie_name(self) -> str:
        return "__Host-marketplace_csrf" if self.is_production else "marketplace_csrf"

    @cached_property
    def secret_bytes(self) -> bytes:
        return self.secret_key.get_secret_value().encode()


def get_settings() -> Settings:
    return Settings()


def served_base_url(host: str, port: int) -> str:
    """The address a server bound to host:port answers at, for emailed links in development.

    A wildcard bind (0.0.0.0, ::) has no address of its own: the loopback one is used, which only
    works on the same machine (set MARKETPLACE_BASE_URL for anything else).
    """
    host = host.strip().strip("[]")
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"http://{host}:{port}"
