"""Personal data never goes into a URL (browser history, server and proxy logs, a shared screen):
every route's path and query parameters are ids, codes or choices from a fixed list, and the
addresses the pages link to, post to and redirect to never carry a name, email, phone or postcode."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import sign_in
from tests.linkers.test_access import build_world, walk_routes

# Every query parameter the app reads, and why it is not personal data. A new one fails the test
# until it is added here with its reason.
QUERY_PARAMETERS = {
    "next": "a path on this site to return to after signing in",
    "token": "a one-time reset secret, emailed to the account holder (not data about anyone)",
    "page": "a page number",
    "person": "an admin's audit search: a person's id (digits only, checked)",
    "account": "an admin's audit search: an account's id (digits only, checked)",
    "q": "the skill picker's search among skill names (the caseload's name search is a POST)",
    "skills": "skill codes from the taxonomy",
    "change": "a flag: came from the check page",
    "limit": "how many suggestions",
    "ward": "a ward code (an area of thousands of people)",
    "need": "a worklist filter from a fixed list",
    "side": "offer or request",
    "when": "a follow-up filter from a fixed list",
    "by": "a report breakdown from a fixed list",
    "from": "a report's first month",
    "to": "a report's last month",
    "table": "which report table to download",
}
PATH_PARAMETERS = {"item_id", "match_id", "person_id", "note_id", "follow_up_id", "account_id", "run_id", "session_id",
                   "skill_id", "step", "purpose", "action", "path", "version"}  # fmt: skip
SKILL_SEARCH = "/skills/picker"


def query_names(dependant) -> set[str]:
    names = {q.alias or q.name for q in dependant.query_params}
    for sub in dependant.dependencies:
        names |= query_names(sub)
    return names


def test_every_route_takes_only_ids_codes_and_choices_in_its_url(app):
    seen = set()
    for path, route in walk_routes(app.router.routes):
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            continue
        for name in re.findall(r"{(\w+)(?::\w+)?}", path):
            assert name in PATH_PARAMETERS, f"{path}: path parameter {name!r} is not known to be free of personal data"
        for name in query_names(dependant):
            assert name in QUERY_PARAMETERS, f"{path}: query parameter {name!r}: add it to QUERY_PARAMETERS with why it is safe"
            if name == "q":
                assert path == SKILL_SEARCH, f"{path}: a free-text search of people goes in a POST body"
            seen.add(name)
    assert seen == set(QUERY_PARAMETERS), sorted(set(QUERY_PARAMETERS) - seen)


URL_ATTRIBUTES = re.compile(r'(?:href|action|src|hx-get|hx-post)="([^"]*)"')


def urls_on(response) -> list[str]:
    found = URL_ATTRIBUTES.findall(response.text)
    if "location" in response.headers:
        found.append(response.headers["location"])
    return found


def test_no_link_form_or_redirect_carries_a_persons_details(app, db, settings, places, linker, second_linker):
    world = build_world(db, settings, linker, second_linker)
    person, seeker = world.person, world.seeker.person
    secrets_ = {person.name, person.name.split()[-1], person.phone or "x" * 40, person.postcode, person.postcode.replace(" ", ""),
                seeker.name, seeker.name.split()[-1], seeker.email, seeker.postcode, seeker.postcode.replace(" ", "")}  # fmt: skip
    as_linker = TestClient(app, raise_server_exceptions=False)
    sign_in(as_linker, linker)
    as_citizen = TestClient(app, raise_server_exceptions=False)
    sign_in(as_citizen, world.seeker.account)
    pages = {
        as_linker: ["/linkers", f"/linkers/people/{person.id}", f"/linkers/matches/{world.match.id}", "/linkers/pool",
                    f"/linkers/people/{person.id}/offers/{world.offer.id}", f"/linkers/people/{person.id}/handover"],
        as_citizen: ["/my", "/profile", f"/requests/{world.wanted.id}", f"/matches/{world.match.id}", "/account", "/account/data"],
    }  # fmt: skip
    checked = 0
    for client, paths in pages.items():
        for path in paths:
            response = client.get(path, follow_redirects=False)
            assert response.status_code in (200, 303), (path, response.status_code)
            for url in urls_on(response):
                for secret in secrets_:
                    assert secret.lower() not in url.lower(), f"{path} links to {url!r}, which holds {secret!r}"
                checked += 1
    assert checked > 100
