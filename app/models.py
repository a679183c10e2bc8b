"""Every table, imported in one place for Alembic and the schema-drift test."""

from sqlmodel import SQLModel

from app.accounts.models import (
    Account,
    ApiToken,
    LoginAttempt,
    OnceOnly,
    PasswordResetToken,
    RecoveryCode,
    UserSession,
)
from app.core.changes import ChangeLog, ChangeStamp
from app.core.jobs import JobRun
from app.linkers.models import (
    AccountClaim,
    CaseAssignment,
    CaseNote,
    ContactAttempt,
    DigestSent,
    FollowUp,
    MatchIntroduction,
)
from app.matching.models import Match, MatchMessage, MatchRun, WellbeingAnswer
from app.privacy.audit import AuditEvent
from app.privacy.models import ConsentRecord, ErasureRecord
from app.registry.models import (
    HelpRequest,
    HelpRequestSkill,
    Offer,
    OfferSkill,
    Person,
    PostcodeLocation,
    Skill,
    SkillCategory,
    Ward,
)
from app.reports.models import ReportSnapshot

metadata = SQLModel.metadata

__all__ = [
    "Account",
    "AccountClaim",
    "ApiToken",
    "AuditEvent",
    "CaseAssignment",
    "CaseNote",
    "ChangeLog",
    "ChangeStamp",
    "ConsentRecord",
    "ContactAttempt",
    "DigestSent",
    "ErasureRecord",
    "FollowUp",
    "HelpRequest",
    "HelpRequestSkill",
    "JobRun",
    "LoginAttempt",
    "Match",
    "MatchIntroduction",
    "MatchMessage",
    "MatchRun",
    "OnceOnly",
    "Offer",
    "OfferSkill",
    "PasswordResetToken",
    "Person",
    "PostcodeLocation",
    "RecoveryCode",
    "ReportSnapshot",
    "Skill",
    "SkillCategory",
    "UserSession",
    "Ward",
    "WellbeingAnswer",
    "metadata",
]
