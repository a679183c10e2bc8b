"""A linker asks someone on their caseload the wellbeing questions (by phone, say) and records the
answers for them: the same form and rules as the citizen's own page, kept as the person's answers
with the linker named as who typed them in."""

from __future__ import annotations

from sqlalchemy import select

from app.matching.models import WellbeingAnswer, WellbeingStage
from tests.conftest import csrf_token, sign_in
from tests.linkers.test_access import build_world

ANSWERS = {"life_satisfaction": "4", "worthwhile": "6", "happiness": "5", "anxiety": "7"}


def test_a_linker_records_the_answers_someone_gave_them(
    client, db, settings, places, linker, second_linker
):
    world = build_world(db, settings, linker, second_linker)
    sign_in(client, linker)
    match_page = f"/linkers/matches/{world.match.id}"
    page = client.get(match_page)
    assert "Ask Peggy Phone the wellbeing questions (optional)" in page.text
    form = client.get(f"{match_page}/wellbeing?side=offer")
    assert form.status_code == 200 and "Ask Peggy Phone these four questions" in form.text

    token = csrf_token(client, match_page)
    missing = client.post(
        f"{match_page}/wellbeing", data={"csrf_token": token, "side": "offer", "stage": "before"}
    )
    assert missing.status_code == 422 and "Choose a number from 0 to 10" in missing.text
    saved = client.post(
        f"{match_page}/wellbeing", data={"csrf_token": token, "side": "offer", "stage": "before", **ANSWERS},
        follow_redirects=False,
    )  # fmt: skip
    assert saved.status_code == 303 and saved.headers["location"] == match_page
    db.expire_all()
    [answer] = db.execute(select(WellbeingAnswer)).scalars().all()
    assert (answer.person_id, answer.stage, answer.anxiety) == (
        world.person.id,
        WellbeingStage.before,
        7,
    )
    assert answer.recorded_by_account_id == linker.id
    assert "the wellbeing questions (optional)" not in client.get(match_page).text

    # The other side is not on this linker's caseload: they cannot answer for them.
    refused = client.get(f"{match_page}/wellbeing?side=request")
    assert refused.status_code == 422
    assert len(db.execute(select(WellbeingAnswer)).scalars().all()) == 1
