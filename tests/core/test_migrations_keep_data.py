"""Migrations never lose rows. SQLite rebuilds a table to change it; with foreign keys enforced,
dropping the old parent table would cascade into its children (matches, messages, skill links),
so `migrations/env.py` switches them off for the migration and checks every key afterwards. This
runs the privacy migration (0014) down and up again on a register with data, on both databases."""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from sqlalchemy import func, select, text
from sqlmodel import Session

from app.accounts.models import Account, Role
from app.core.db import make_engine, utcnow
from app.linkers.models import CaseAssignment, CaseNote, MatchIntroduction
from app.matching.models import Match, MatchMessage, MatchSide
from app.migrations_support import alembic_config, upgrade_to_head
from app.privacy.models import ConsentMethod, ConsentPurpose, ConsentRecord, ConsentState
from app.registry.models import HelpRequest, HelpRequestSkill, Offer, OfferSkill, Person, Skill

COUNTED = ("person", "offer", "help_request", "offer_skill", "help_request_skill", "match", "match_message",
           "match_introduction", "case_note", "case_assignment", "consent_record")  # fmt: skip


def _fill(engine) -> None:
    with Session(engine) as db:
        linker = Account(email="l@example.org", name="L", role=Role.linker)
        db.add(linker)
        db.flush()
        giver, seeker = Person(name="Giver"), Person(name="Seeker")
        db.add_all([giver, seeker])
        db.flush()
        skill = db.execute(select(Skill).order_by(Skill.id)).scalars().first()
        later = utcnow() + timedelta(days=90)
        offer, need = Offer(person_id=giver.id, title="o", expires_at=later), HelpRequest(person_id=seeker.id, title="r", expires_at=later)
        db.add_all([offer, need])
        db.flush()
        match = Match(offer_id=offer.id, request_id=need.id, score=500, explanation="x")
        db.add_all([OfferSkill(offer_id=offer.id, skill_id=skill.id), HelpRequestSkill(request_id=need.id, skill_id=skill.id), match])
        db.flush()
        db.add_all([
            MatchMessage(match_id=match.id, sender_side=MatchSide.offer, body="hello"),
            MatchIntroduction(match_id=match.id, linker_account_id=linker.id),
            CaseNote(person_id=seeker.id, match_id=match.id, author_account_id=linker.id, body="note"),
            CaseAssignment(person_id=seeker.id, linker_account_id=linker.id),
            ConsentRecord(person_id=giver.id, purpose=ConsentPurpose.profile, state=ConsentState.given, notice_version="1.1",
                          notice_hash="0" * 64, method=ConsentMethod.online),
        ])  # fmt: skip
        db.commit()


def _counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        counts = {table: connection.execute(select(func.count()).select_from(text(table))).scalar_one() for table in COUNTED}
        counts["case_note_with_match"] = connection.execute(text("SELECT COUNT(*) FROM case_note WHERE match_id IS NOT NULL")).scalar_one()
    return counts


def test_the_privacy_migration_keeps_every_row_down_and_up(databases):
    url = databases.new("keep")
    upgrade_to_head(url)
    engine = make_engine(url)
    try:
        _fill(engine)
        before = _counts(engine)
        assert all(before.values()), before
        command.downgrade(alembic_config(url), "0013")
        assert _counts(engine) == before
        upgrade_to_head(url)
        assert _counts(engine) == before
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":  # and the keys are enforced again afterwards
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    finally:
        engine.dispose()
