"""No N+1 on the caseload dashboard: the number of SQL statements for the page (and for
`service.worklist`) is the same for a caseload of 5 people as for one of 40, and small.

Every person on the caseload has one of each thing the worklist looks at (an overdue follow-up,
one due this week, a contact attempt, an offer with a match waiting for their answer or accepted
without shared contact), so a query
per person, per row shown or per match anywhere (in the service or in the template) would make
the counts differ: 5 rows are shown for the small caseload and a full page (25) for the large.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event

from app.core.db import utcnow
from app.core.validation import parse
from app.linkers import service, timeliness
from app.linkers.models import AttemptOutcome
from app.matching import service as matching
from app.matching import workflow
from app.matching.models import MatchSide
from app.registry import service as registry
from app.registry.service import OFFER
from tests.conftest import sign_in
from tests.linkers.conftest import assisted
from tests.matching.conftest import TWO_KM, citizen, request
from tests.registry.conftest import OFFER_BODY

SMALL, LARGE = 5, 40

# The bounds are the counts measured on both databases, whatever the caseload's size:
# - `service.worklist`: 7 = the savepoint the test harness opens for a unit of work (a real
#   request opens a transaction instead) + 6 reads: the caseload's people, their open follow-ups,
#   matches waiting for their answer on the offer side and on the request side, accepted matches
#   to put in touch, and the people reached since they joined the caseload.
# - the page, `/linkers`: 13 = savepoint + the session with its account (one read) + the same
#   6 reads + the ward names + the pool's size and its first row (2) + the caseload's wards for
#   the filter (1) + the savepoint's release at the end of the unit of work.
# No slack is left for growth: a new query on the dashboard should be a choice made here.
WORKLIST_BOUND = 7
PAGE_BOUND = 13


@contextmanager
def counting(engine):
    statements: list[str] = []

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before_cursor_execute)


def caseload(db, settings, linker, size: int, seeker_name: str) -> None:
    """`size` people, each with work of every kind on the dashboard."""
    seeker = citizen(db, settings, seeker_name, TWO_KM)
    today = timeliness.local_date(utcnow())
    for number in range(size):
        person = assisted(db, settings, linker, f"{seeker_name.split()[0]} Person {number:02d}")
        service.add_follow_up(db, person_id=person.id, by_id=linker.id, due_on=today - timedelta(days=2), what="Ring", check_date=False)
        service.add_follow_up(db, person_id=person.id, by_id=linker.id, due_on=today, what="Write")
        outcome = AttemptOutcome.reached if number % 2 else AttemptOutcome.no_answer
        service.record_attempt(db, settings, person_id=person.id, linker_id=linker.id, outcome=outcome)
        offer = registry.create_item(db, kind=OFFER, person=person, data=parse(OFFER.create_model, OFFER_BODY | {"max_distance_km": 5}))
        wanted = request(db, seeker, title=f"Help with my garden {number}")
        match = matching.propose_match(db, settings, offer_id=offer.id, request_id=wanted.id, side=MatchSide.request)
        if number % 3 == 0:  # both said yes, neither shares contact: the linker puts them in touch
            matching.change_match(db, match=match, side=MatchSide.offer, seen_version=match.version, event=workflow.Event.accept)
        db.commit()


def worklist_statements(engine, db, settings, linker) -> tuple[int, int]:
    db.commit()  # each measure starts a unit of work of its own (the harness's savepoint included)
    with counting(engine) as statements:
        found = service.worklist(db, settings, linker_id=linker.id, now=utcnow())
    return len(statements), found.total


def page_statements(engine, client, path: str = "/linkers") -> int:
    best = None
    for _ in range(2):  # the fewer of two: a session's once-a-minute touch is not the page's work
        with counting(engine) as statements:
            response = client.get(path)
        assert response.status_code == 200
        best = len(statements) if best is None else min(best, len(statements))
    return best


def test_the_dashboard_costs_the_same_number_of_queries_for_5_people_as_for_40(
    engine, client, other_client, db, settings, places, linker, second_linker
):
    caseload(db, settings, linker, SMALL, "Sam Seeker")
    caseload(db, settings, second_linker, LARGE, "Lou Seeker")

    small, small_total = worklist_statements(engine, db, settings, linker)
    large, large_total = worklist_statements(engine, db, settings, second_linker)
    assert (small_total, large_total) == (SMALL, LARGE)
    assert small == large, f"service.worklist: {small} statements for {SMALL} people, {large} for {LARGE}"
    assert large <= WORKLIST_BOUND, large

    sign_in(client, linker)
    sign_in(other_client, second_linker)
    page_small = page_statements(engine, client)
    page_large = page_statements(engine, other_client)
    assert page_small == page_large, f"/linkers: {page_small} statements for {SMALL} people, {page_large} for {LARGE}"
    assert page_large <= PAGE_BOUND, page_large

    # The filters and the second page cost no more.
    for path in ("/linkers?page=2", "/linkers?need=follow_up_overdue", "/linkers?ward=S13002483"):
        assert page_statements(engine, other_client, path) == page_large, path
