"""The demo linker's caseload: real work on the first sign-in, made through the real services,
once only, and gone with the demo borough."""

from __future__ import annotations

from sqlalchemy import func, select

from app.core.db import utcnow
from app.devtools.demo import delete_demo_data, generate_borough
from app.devtools.demo_caseload import CASELOAD_SIZE, POOL_SIZE, ensure_demo_caseload
from app.linkers import service
from app.linkers.models import CaseAssignment, CaseNote, FollowUp
from app.matching.models import Match, MatchStatus


def test_the_demo_linker_gets_a_caseload_with_every_kind_of_work(db, settings, linker):
    generate_borough(db, people=1500, seed=3)
    db.flush()
    summary = ensure_demo_caseload(db, settings, linker_id=linker.id, seed=3)
    assert summary["created"] is True and summary["people"] == CASELOAD_SIZE and summary["pool"] == POOL_SIZE

    worklist = service.worklist(db, settings, linker_id=linker.id, now=utcnow(), page_size=100)
    assert worklist.total == CASELOAD_SIZE
    # Something in every part of the dashboard's order of work.
    assert all(count > 0 for count in worklist.counts.values()), worklist.counts
    statuses = set(db.execute(select(Match.status).where(Match.brokered_by_account_id == linker.id)).scalars())
    assert {MatchStatus.accepted, MatchStatus.active, MatchStatus.completed, MatchStatus.declined, MatchStatus.cancelled} <= statuses
    assert db.execute(select(func.count()).select_from(Match).where(Match.status == MatchStatus.proposed)).scalar_one() >= 2
    assert db.execute(select(func.count()).select_from(CaseNote).where(CaseNote.sensitive.is_(True))).scalar_one() == 1
    assert service.pool(db)[1] >= POOL_SIZE

    # Seeding again changes nothing; removing the demo borough takes the caseload with it.
    assert ensure_demo_caseload(db, settings, linker_id=linker.id, seed=3) == {"created": False}
    delete_demo_data(db)
    db.flush()
    for model in (CaseAssignment, FollowUp, CaseNote, Match):
        assert db.execute(select(func.count()).select_from(model)).scalar_one() == 0, model.__name__
