"""Wellbeing outcomes: the ONS answers of people who answered before and after, as averages and
bands worked out the slow way agree with the report; nothing is shown below 10 people; the page,
CSV and API say the same."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, timedelta
from statistics import fmean

from sqlalchemy import select, update

from app.core.db import utcnow
from app.linkers.timeliness import local_date
from app.matching import wellbeing
from app.matching.models import WellbeingAnswer, WellbeingStage
from app.reports import service
from tests.conftest import api_token, sign_in


def _aware(moment):
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _slow_pairs(db, period):
    """Each person's starting point and latest answer after a match in the period, by hand."""
    rows = list(db.execute(select(WellbeingAnswer)).scalars())
    before = {a.person_id: a for a in rows if a.stage is WellbeingStage.before}
    latest: dict[int, WellbeingAnswer] = {}
    for answer in sorted(rows, key=lambda a: (_aware(a.answered_at), a.id)):
        in_period = period.start <= _aware(answer.answered_at) < period.end
        if answer.stage is WellbeingStage.after and in_period and answer.person_id in before:
            latest[answer.person_id] = answer
    return [(before[person], after) for person, after in latest.items()]


def test_averages_and_bands_agree_with_the_answers_worked_out_by_hand(db, borough):
    assert borough["wellbeing_answers"] > 0
    period = service.default_period(local_date(utcnow()))
    pairs = _slow_pairs(db, period)
    assert len(pairs) >= 10, "the demo history gives enough people"
    report = service.outcomes(db, period=period)
    assert report["enough_people"] is True
    assert report["people_answered_both"] == (len(pairs) + 2) // 5 * 5
    for row in report["measures"]:
        measure = row["measure"]
        first = [getattr(b, measure) for b, _a in pairs]
        then = [getattr(a, measure) for _b, a in pairs]
        assert row["mean_before"] == round(fmean(first), 1)
        assert row["mean_after"] == round(fmean(then), 1)
        assert row["mean_change"] == round(
            fmean([t - f for f, t in zip(first, then, strict=True)]), 1
        )
        exact = defaultdict(lambda: [0, 0])
        for column, values in enumerate((first, then)):
            for value in values:
                exact[wellbeing.band(measure, value)][column] += 1
        assert [band["band"] for band in row["bands"]] == list(wellbeing.bands(measure))
        for band in row["bands"]:
            for column, key in enumerate(("before", "after")):
                shown, true = band[key], exact[band["band"]][column]
                assert shown is None or (shown % 5 == 0 and abs(shown - true) <= 2), (measure, band)
            hidden = [b[key] for b in row["bands"] if b[key] is None]
            assert len(hidden) != 1, "a lone hidden band could be worked out from the total"


def test_below_10_people_nothing_is_shown_but_that_there_are_too_few(db, borough):
    period = service.default_period(local_date(utcnow()))
    pairs = _slow_pairs(db, period)
    keep = {after.id for _before, after in pairs[:9]}
    # Move every other "after" answer out of the period: 9 people answered both in it.
    long_ago = utcnow() - timedelta(days=800)
    db.execute(
        update(WellbeingAnswer)
        .where(WellbeingAnswer.stage == WellbeingStage.after, WellbeingAnswer.id.not_in(keep))
        .values(answered_at=long_ago)
    )
    db.flush()
    assert len(_slow_pairs(db, period)) == 9
    report = service.outcomes(db, period=period)
    assert report["enough_people"] is False and report["people_answered_both"] is None
    for row in report["measures"]:
        assert (row["mean_before"], row["mean_after"], row["mean_change"]) == (None, None, None)
        assert all(band["before"] is None and band["after"] is None for band in row["bands"])


def test_the_page_csv_and_api_show_the_same_published_figures(client, staff, borough):
    sign_in(client, staff)
    body = client.get("/api/v1/reports/outcomes", headers=api_token(client, staff)).json()
    assert set(body) == {
        "from",
        "to",
        "people_answered_both",
        "enough_people",
        "measures",
        "disclosure",
        "computed_at",
    }
    assert [m["measure"] for m in body["measures"]] == list(wellbeing.MEASURES)
    page = client.get("/reports/outcomes")
    assert page.status_code == 200
    assert 'role="img"' in page.text and "Average scores out of 10, before and after" in page.text
    assert page.text.count("<table") == 1 + len(wellbeing.MEASURES)
    life = body["measures"][0]
    assert f"{life['mean_before']:.1f}" in page.text and f"{life['mean_after']:.1f}" in page.text
    rows = list(
        csv.reader(io.StringIO(client.get("/reports/outcomes.csv").content.decode("utf-8-sig")))
    )
    assert rows[0] == ["Question", "Band", "Scores", "Before", "After", "Change"]
    assert rows[1][3] == str(body["people_answered_both"])
    average = next(r for r in rows if r[0] == "Life satisfaction" and r[1] == "Average")
    assert average[3:5] == [str(life["mean_before"]), str(life["mean_after"])]
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert "Wellbeing outcomes" in client.get("/reports").text
