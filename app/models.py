"""Every table, imported in one place for Alembic and the schema-drift test."""

from sqlmodel import SQLModel

from app.accounts.models import Account, ApiToken, LoginAttempt, PasswordResetToken, UserSession

metadata = SQLModel.metadata

__all__ = ["Account", "ApiToken", "LoginAttempt", "PasswordResetToken", "UserSession", "metadata"]
