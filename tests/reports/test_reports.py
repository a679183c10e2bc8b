"""The reports as staff see them: every figure published safely, for staff and admins only,
nothing personal in any page, CSV or API answer, friendly errors, snapshots and the nightly job."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from app.accounts.models import Role
from app.core.db import utcnow
from app.registry.models import HelpRequest, Offer, Person, SkillCategory
from app.reports import views
from app.reports.models import ReportSnapshot
from tests.conftest import api_token, make_account, sign_in

PAGES = (
    "/reports",
    "/reports/participation?by=ward",
    "/reports/participation?by=month",
    "/reports/participation?by=skill_category",
    "/reports/linkers?by=ward",
    "/reports/linkers?by=month",
    "/reports/social-value",
    "/reports/outcomes",
)
CSVS = (
    "/reports/participation.csv?by=ward",
    "/reports/participation.csv?by=month&table=people",
    "/reports/participation.csv?by=skill_category",
    "/reports/linkers.csv?by=ward",
    "/reports/social-value.csv",
    "/reports/outcomes.csv",
)
APIS = (
    "/api/v1/reports/participation?by=ward",
    "/api/v1/reports/participation?by=month",
    "/api/v1/reports/participation?by=skill_category",
    "/api/v1/reports/social-value",
    "/api/v1/reports/linker-work?by=ward",
    "/api/v1/reports/outcomes",
)
CONTRACT_FIELDS = {
    "key", "label", "people_registered", "people_with_offer", "people_with_request", "people_giving_and_receiving",
    "offers_live", "offers_with_home", "requests_live", "requests_met", "matches_proposed", "matches_accepted",
    "matches_completed", "hours_given",
}  # fmt: skip
COUNT_FIELDS = CONTRACT_FIELDS - {"key", "label"}


def _published_counts(figures: dict) -> list:
    return [figures[name] for name in COUNT_FIELDS]


def test_staff_see_participation_by_every_breakdown_through_the_api(client, staff, borough):
    headers = api_token(client, staff)
    for by in ("ward", "month", "skill_category"):
        response = client.get(f"/api/v1/reports/participation?by={by}", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert {"by", "from", "to", "rows", "totals", "disclosure"} <= set(body)
        assert body["by"] == by and body["rows"]
        assert set(body["disclosure"]) >= {"rule", "suppressed_cells"}
        for figures in [*body["rows"], body["totals"]]:
            assert CONTRACT_FIELDS - {"key", "label"} <= set(figures)
            for value in _published_counts(figures):
                assert value is None or (isinstance(value, int) and value % 5 == 0 and not 1 <= value <= 7)
        assert body["totals"]["people_registered"] >= 100
        assert body["totals"]["matches_completed"] > 0 and body["totals"]["hours_given"] > 0
    months = client.get("/api/v1/reports/participation?by=month&from=2026-01-01&to=2026-03-31", headers=headers).json()
    assert [row["key"] for row in months["rows"]] == ["2026-01", "2026-02", "2026-03"]
    assert months["from"] == "2026-01-01" and months["to"] == "2026-03-31"


def test_small_wards_are_folded_and_a_lone_small_cell_takes_another_with_it(client, staff, db, borough):
    from app.registry.models import Ward

    db.add(Ward(code="Z05999999", name="Tiny Ward"))
    db.add_all(Person(name=f"Tiny {i}", ward_code="Z05999999", postcode=None) for i in range(3))
    db.commit()
    body = client.get("/api/v1/reports/participation?by=ward", headers=api_token(client, staff)).json()
    keys = [row["key"] for row in body["rows"]]
    assert "Z05999999" not in keys and keys[-1] == "other"
    assert body["rows"][-1]["label"] == "Other wards"
    assert len(keys) == len(set(keys))
    for name in COUNT_FIELDS:
        column = [row[name] for row in body["rows"]] + [body["totals"][name]]
        assert column.count(None) != 1, name


def test_social_value_shows_its_figures_and_their_sources(client, staff, borough, settings):
    body = client.get("/api/v1/reports/social-value", headers=api_token(client, staff)).json()
    assert set(body) >= {"hours_given", "value_per_hour", "regular_volunteers", "value_per_volunteer_year", "total_value", "source"}
    assert body["value_per_hour"] == settings.social_value_per_hour
    assert body["value_per_volunteer_year"] == settings.social_value_per_volunteer_year
    assert "National Living Wage" in body["source"] and "DCMS" in body["source"]
    assert body["hours_given"] % 5 == 0 and body["hours_given"] > 0
    from datetime import date

    years = ((date.fromisoformat(body["to"]) - date.fromisoformat(body["from"])).days + 1) / 365.25
    expected = body["regular_volunteers"] * body["value_per_volunteer_year"] * years + body["other_hours"] * body["value_per_hour"]
    assert body["total_value"] == round(expected) and body["total_value"] > 0
    assert "counted twice" in body["method"]


@pytest.mark.parametrize("role", [Role.citizen, Role.linker])
def test_citizens_and_linkers_get_403_from_every_report_route(client, db, role):
    account = make_account(db, role=role, email=f"{role.value}-reports@example.com", name="Someone")
    headers = api_token(client, account)
    for path in APIS:
        assert client.get(path, headers=headers).status_code == 403, path
    sign_in(client, account)
    for path in PAGES + CSVS:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 403, path


def test_without_signing_in_pages_ask_to_sign_in_and_the_api_says_401(client):
    for path in PAGES + CSVS:
        response = client.get(path, follow_redirects=False)
        assert response.status_code in (303, 307) and "/sign-in" in response.headers["location"], path
    for path in APIS:
        assert client.get(path).status_code == 401, path


def _personal_strings(db) -> tuple[set[str], re.Pattern]:
    people = db.execute(select(Person.name, Person.email, Person.phone, Person.postcode)).all()
    found = set()
    for name, email, phone, postcode in people:
        found |= {value for value in (name, email, phone, postcode) if value}
    for model in (Offer, HelpRequest):
        for title, description in db.execute(select(model.title, model.description)):
            found.add(description)
            if len(title) > 30:
                found.add(title)
    postcode = re.compile(r"\bNB\d{1,2} ?\d[A-Z]{2}\b")
    return found, postcode


def test_no_report_response_holds_a_name_email_phone_postcode_or_free_text(client, staff, db, borough):
    personal, postcode = _personal_strings(db)
    sign_in(client, staff)
    headers = api_token(client, staff)
    bodies = [client.get(path).text for path in PAGES + CSVS]
    bodies += [client.get(path, headers=headers).text for path in APIS]
    assert all(bodies)
    for body in bodies:
        assert not postcode.search(body)
        leaked = [value for value in personal if value in body]
        assert not leaked, leaked[:3]


def test_staff_land_on_the_reports_and_see_every_page(client, staff, borough):
    response = sign_in(client, staff)
    assert response.headers["location"].endswith("/reports")
    for path in PAGES:
        page = client.get(path)
        assert page.status_code == 200, path
        assert "[c]" in page.text or "Download CSV" in page.text or "Social value" in page.text
    participation = client.get("/reports/participation?by=ward").text
    assert participation.count('role="img"') == len(views.PARTICIPATION_TABLES)
    assert participation.count("<table") == len(views.PARTICIPATION_TABLES)
    assert "<title id=" in participation and "<desc id=" in participation
    assert "<script" not in participation.split("<svg", 1)[1].split("</svg>", 1)[0]
    summary = client.get("/reports").text
    assert "Headline figures" in summary and "People who give as well as receive" in summary


def test_admins_see_the_reports_too(client, admin, borough):
    sign_in(client, admin)
    assert client.get("/reports").status_code == 200
    assert client.get("/api/v1/reports/participation", headers=api_token(client, admin)).status_code == 200


def test_a_csv_is_a_real_table_with_hidden_figures_marked_and_formulas_defused(client, staff, db, borough):
    category = db.execute(select(SkillCategory).order_by(SkillCategory.id)).scalars().first()
    category.name = "=HYPERLINK(\"http://evil.example\")"
    db.add(category)
    db.commit()
    sign_in(client, staff)
    response = client.get("/reports/participation.csv?by=skill_category")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header = rows[0]
    assert header[0] == "Skill category" and "People registered" in header and "Hours given" in header
    labels = [row[0] for row in rows[1:]]
    assert "'=HYPERLINK(\"http://evil.example\")" in labels
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)
    assert rows[-2][0] == "Total"
    for row in rows[1:-1]:
        for cell in row[1:]:
            assert cell == "[c]" or cell == "" or re.fullmatch(r"\d+(\.\d)?", cell), row


@pytest.mark.parametrize("value", ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_cells_that_a_spreadsheet_would_run_are_prefixed(value):
    assert views.safe_cell(value) == "'" + value
    assert views.safe_cell(None) == "[c]"
    assert views.safe_cell("Abbey Fields") == "Abbey Fields"


@pytest.mark.parametrize(
    "query, message",
    [
        ("by=ward&from=2026-13-01", "Enter a real date"),
        ("by=ward&from=2026-06-01&to=2026-05-01", "on or before its end"),
        ("by=ward&to=2999-01-01", "cannot be in the future"),
        ("by=street", "Choose ward, month or skill category"),
        ("by=month&ward=Z99999999", "Choose a ward from the list"),
        ("by=ward&from=2000-01-01&to=2026-01-01", "5 years or less"),
    ],
)
def test_bad_filters_get_a_clear_message_on_the_page_and_a_422_from_the_api(client, staff, borough, query, message):
    headers = api_token(client, staff)
    api = client.get(f"/api/v1/reports/participation?{query}", headers=headers)
    assert api.status_code == 422 and message in api.text
    sign_in(client, staff)
    page = client.get(f"/reports/participation?{query}")
    assert page.status_code == 422 and message in page.text and "There is a problem" in page.text


def test_a_report_is_kept_for_the_day_and_the_nightly_job_works_out_the_usual_ones(client, staff, db, borough, app):
    headers = api_token(client, staff)
    first = client.get("/api/v1/reports/participation?by=ward", headers=headers).json()
    again = client.get("/api/v1/reports/participation?by=ward", headers=headers).json()
    assert first["computed_at"] == again["computed_at"]
    from app.reports import jobs

    worked_out = jobs.refresh(app.state.jobs.context, now=utcnow())
    assert worked_out == len(jobs.USUAL)
    later = client.get("/api/v1/reports/participation?by=ward", headers=headers).json()
    assert later["computed_at"] > first["computed_at"]
    kept = db.execute(select(ReportSnapshot.report, ReportSnapshot.by)).all()
    assert {("participation", "ward"), ("participation", "month"), ("social_value", "")} <= set(kept)
    # Only published figures are kept: nothing in a snapshot lies in 1-7.
    for (figures,) in db.execute(select(ReportSnapshot.figures)):
        for row in [*figures.get("rows", []), figures.get("totals", {})]:
            for name in COUNT_FIELDS & set(row):
                assert row[name] is None or not 1 <= row[name] <= 7
