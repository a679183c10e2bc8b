"""The linkers' access matrix, generated from the app's own routes.

Every route whose path starts with `/linkers`, `/api/v1/linker` or `/api/v1/matches` (the match
API that linkers use on behalf of a person on their caseload), and the public `/claim` page, has
one row in `ACCESS`. A new route without a row fails `test_every_linker_route_has_a_row`.

Each row says what each of these gets:

- anonymous: pages redirect to sign-in (303), the API answers 401;
- a citizen, staff, an admin: 403 (`require_actor(Role.linker)` refuses the role before any id is
  looked at; the match API admits citizens, who get 404 for a match they are not a side of);
- `linker`, whose caseload holds the person: 2xx or 3xx;
- `second_linker`, for the same ids: 404, exactly like an id that does not exist (checked too).

Path parameters are filled with real ids made in the test (a person on `linker`'s caseload, their
note, follow-up, offer and help request, and a match where their offer is a side), in the state
each route needs. POSTs carry a CSRF token (pages) and a minimal valid body. The check is about
access, not the business outcome, but a 5xx is always a failure. Every read or change of a
person's record through an id is an audit event: allowed for their linker, refused for another.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.core.db import utcnow
from app.core.validation import parse
from app.linkers import service, timeliness
from app.linkers.models import CaseNote, FollowUp
from app.matching import service as matching
from app.matching import workflow
from app.matching.models import Match, MatchSide
from app.privacy.audit import AuditEvent, AuditOutcome
from app.privacy.models import ConsentPurpose
from app.registry import service as registry
from app.registry.models import HelpRequest, Offer, Person
from app.registry.service import OFFER, REQUEST
from tests.conftest import api_token, csrf_token, sign_in
from tests.linkers.conftest import PERSON_BODY, assisted
from tests.matching.conftest import PLUGINS, TWO_KM, Citizen, citizen, request
from tests.registry.conftest import OFFER_BODY, REQUEST_BODY

PREFIXES = ("/linkers", "/api/v1/linker", "/api/v1/matches")
PUBLIC_PATHS = ("/claim",)
MISSING = 987654


# --- the app's own routes ---------------------------------------------------------------------


def walk_routes(routes, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(full path, route) for every route, including those of included routers (FastAPI keeps
    an included router as one entry that points at the original router and its prefix)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from walk_routes(inner.routes, prefix + (getattr(context, "prefix", "") or ""))
        elif getattr(route, "endpoint", None) is None and getattr(route, "routes", None):
            yield from walk_routes(route.routes, prefix + getattr(route, "path", ""))  # a Mount of routes
        else:
            yield prefix + getattr(route, "path", ""), route


@dataclass(frozen=True)
class RouteInfo:
    name: str
    method: str
    path: str

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")

    @property
    def params(self) -> list[str]:
        return re.findall(r"{(\w+)(?::\w+)?}", self.path)


def linker_routes(app) -> dict[str, RouteInfo]:
    found: dict[str, RouteInfo] = {}
    for path, route in walk_routes(app.router.routes):
        if not (path.startswith(PREFIXES) or path in PUBLIC_PATHS):
            continue
        methods = sorted(set(getattr(route, "methods", None) or ()) - {"HEAD", "OPTIONS"})
        assert len(methods) == 1, (route.name, methods)
        assert route.name not in found, f"two routes are named {route.name}"
        found[route.name] = RouteInfo(route.name, methods[0], path)
    return found


def fill(path: str, values: dict[str, Any]) -> str:
    return re.sub(r"{(\w+)(?::\w+)?}", lambda m: str(values[m.group(1)]), path)


# --- the world the ids come from --------------------------------------------------------------


@dataclass
class World:
    db: Any
    settings: Any
    linker: Any
    second_linker: Any
    person: Person  # on linker's caseload
    offer: Offer  # the person's (live)
    help_request: HelpRequest  # the person's (live)
    seeker: Citizen  # a citizen whose request matches the person's offer
    wanted: HelpRequest
    spare: HelpRequest  # another of the seeker's requests, not matched yet
    match: Match  # proposed by the seeker: the person's answer is waiting
    note: CaseNote
    follow_up: FollowUp
    waiting: Citizen  # in the pool (asked for a linker)

    def refresh(self) -> Match:
        self.db.expire_all()
        self.match = self.db.get(Match, self.match.id)
        return self.match

    def change(self, event: str, side: MatchSide, **data) -> None:
        match = self.refresh()
        matching.change_match(
            self.db, match=match, side=side, seen_version=match.version, event=workflow.Event(event),
            broker_account_id=self.linker.id if side is MatchSide.offer else None, **data,
        )  # fmt: skip
        self.db.commit()
        self.refresh()


def build_world(db, settings, linker, second_linker) -> World:
    person = assisted(db, settings, linker, "Peggy Phone")
    offer = registry.create_item(
        db, kind=OFFER, person=person,
        data=parse(OFFER.create_model, OFFER_BODY | {"max_distance_km": 5, "availability": ["tue-am", "sat-pm"]}),
    )  # fmt: skip
    help_request = registry.create_item(db, kind=REQUEST, person=person, data=parse(REQUEST.create_model, REQUEST_BODY))
    db.commit()
    seeker = citizen(db, settings, "Sid Seeker", TWO_KM)
    wanted = request(db, seeker)
    spare = request(db, seeker, title="Someone to help with weeding")
    match = matching.propose_match(db, settings, offer_id=offer.id, request_id=wanted.id, side=MatchSide.request)
    note = service.add_note(db, person_id=person.id, author_id=linker.id, body="Rang: keen on gardening")
    follow_up = service.add_follow_up(db, person_id=person.id, by_id=linker.id, due_on=timeliness.local_date(utcnow()), what="Ring back")
    db.commit()
    waiting = citizen(db, settings, "Wendy Waiting")
    registry.set_person_consent(
        db, settings, PLUGINS, person=waiting.person, purpose=ConsentPurpose.linker_contact, given=True, account=waiting.account
    )  # fmt: skip
    db.commit()
    return World(db, settings, linker, second_linker, person, offer, help_request, seeker, wanted, spare, match, note, follow_up, waiting)


def default_params(world: World, route: RouteInfo) -> dict[str, Any]:
    item = world.offer.id if "/offers/" in route.path else world.help_request.id
    return {
        "person_id": world.person.id, "note_id": world.note.id, "follow_up_id": world.follow_up.id,
        "match_id": world.match.id, "item_id": item, "step": "about", "purpose": "share_contact", "action": "accept",
        "account_id": world.linker.id,
    }  # fmt: skip


# Match states a route needs for its owner to succeed (the person's offer is the offer side).
def accepted(w: World) -> None:
    w.change("accept", MatchSide.offer)


def active(w: World) -> None:
    accepted(w)
    w.change("start", MatchSide.offer)


def completed_by_the_seeker(w: World) -> None:
    active(w)
    w.change("complete", MatchSide.request, minutes=60)


# --- the table -------------------------------------------------------------------------------

OK = "ok"  # any 2xx or 3xx
SIGN_IN = "sign in"  # a page: 303 to the sign-in page; the API: 401
Outcome = int | str
PERSONAS = ("anonymous", "citizen", "staff", "admin", "other_linker", "linker")


def in_order(owner: str) -> list[str]:
    """Everyone refused first (a refusal changes nothing), the route's owner last."""
    return [p for p in PERSONAS if p != owner] + [owner]


@dataclass(frozen=True)
class Row:
    anonymous: Outcome = SIGN_IN
    citizen: Outcome = 403
    staff: Outcome = 403
    admin: Outcome = 403
    other_linker: Outcome = 404
    linker: Outcome = OK
    body: Callable[[World], dict] | None = None
    params: Callable[[World], dict] | None = None  # overrides the default path parameters
    other_params: Callable[[World], dict] | None = None  # for `other_linker` only
    setup: Callable[[World], None] | None = None
    audited: bool = True  # reads/changes through an id leave an audit event (allowed or refused)
    missing: Outcome | None = 404  # the owner with every id replaced by one that does not exist
    owner: str = "linker"  # the persona the route is for (asked last, and for the missing id)

    def expected(self, persona: str) -> Outcome:
        return getattr(self, persona)


def own(**kw) -> Row:
    """A linker route without an id: any linker reaches their own (dashboard, pool, register)."""
    return Row(other_linker=OK, audited=False, missing=None, **kw)


def admin_only(**kw) -> Row:
    """The admins' caseload pages under `/linkers/admin`: admins only, every person they see audited."""
    return Row(admin=OK, linker=403, other_linker=403, owner="admin", **kw)


def match_api(**kw) -> Row:
    """`/api/v1/matches/{id}`: citizens and linkers pass the role check; the match decides."""
    return Row(citizen=404, **kw)


def version(extra: dict | None = None) -> Callable[[World], dict]:
    def body(w: World) -> dict:
        return {"version": w.refresh().version, "on_behalf_of": "offer"} | (extra or {})

    return body


def page_version(extra: dict | None = None) -> Callable[[World], dict]:
    def body(w: World) -> dict:
        return {"version": str(w.refresh().version), "side": "offer"} | (extra or {})

    return body


def today() -> str:
    return timeliness.local_date(utcnow()).isoformat()

POOL = lambda w: {"person_id": w.waiting.person.id}
OFFER_FORM = lambda w: {"title": "Fixing bikes", "action": "continue"}
REGISTER_FORM = {
    "name": "Rob Register", "postcode": "AB10 1AB", "phone": "01632 960 002", "preferred_contact": "phone",
    "consent_profile": "yes", "consent_matching": "yes", "consent_method": "verbal",
}  # fmt: skip

ACCESS: dict[str, Row] = {
    # --- pages ---
    "linkers:dashboard": own(),
    "linkers:pool": own(),
    "linkers:dashboard_search": own(body=lambda w: {"q": "Peggy"}),
    # Picking up someone already on a caseload is the friendly "another linker has just added this
    # person" (409), the same answer the loser of a race gets (tests/linkers/test_api.py); it shows
    # nothing about them. A missing id is 404.
    "linkers:pick_up": Row(params=POOL, other_params=lambda w: {"person_id": w.person.id}, other_linker=409, audited=False),
    "linkers:register": own(),
    "linkers:register_submit": own(body=lambda w: REGISTER_FORM),
    "linkers:person": Row(),
    "linkers:attempt": Row(body=lambda w: {"outcome": "reached"}),
    "linkers:note": Row(body=lambda w: {"body": "Called back"}),
    "linkers:note_edit": Row(body=lambda w: {"body": "Rang: keen on gardening and DIY"}),
    "linkers:follow_up": Row(body=lambda w: {"due_on": today(), "what": "Ring about the lift"}),
    "linkers:follow_up_done": Row(body=lambda w: {"result": "done"}),
    "linkers:consent": Row(body=lambda w: {"given": "yes", "method": "verbal"}),
    "linkers:claim_code": Row(body=lambda w: {"send": "print"}),
    "linkers:handover": Row(),
    "linkers:export": Row(),
    "linkers:erase": Row(),
    "linkers:erase_submit": Row(body=lambda w: {"channel": "phone", "requested_on": today(), "confirmed": "yes"}),
    "linkers:handover_submit": Row(body=lambda w: {"to_account_id": str(w.second_linker.id), "note": "Over to you"}),
    "linkers:ask": Row(body=lambda w: {"offer_id": str(w.offer.id), "request_id": str(w.spare.id)}),
    "linkers:match": Row(),
    "linkers:match_contacts": Row(setup=accepted),
    "linkers:match_introduced": Row(setup=accepted),
    "linkers:match_note": Row(body=lambda w: {"body": "Both keen"}),
    "linkers:match_action": Row(body=page_version({"channel": "phone"})),
    "linkers:match_wellbeing": Row(),
    "linkers:match_wellbeing_save": Row(
        body=lambda w: {"side": "offer", "stage": "before", "life_satisfaction": "6", "worthwhile": "7", "happiness": "5", "anxiety": "3"}
    ),
    # The public page where a person claims an account: anyone may open it (signed in, it goes home).
    "linkers:claim": Row(anonymous=200, citizen=303, staff=303, admin=303, other_linker=303, linker=303, audited=False, missing=None),
    # ...and anyone may send it: a wrong code is the same plain refusal for everybody.
    "linkers:claim_submit": Row(
        anonymous=422, citizen=422, staff=422, admin=422, other_linker=422, linker=422, audited=False, missing=None,
        body=lambda w: {"code": "AAAA-BBBB-CCCC", "email": "new@example.org", "password": "x", "password_confirm": "x"},
    ),
    # Admins look after caseloads: sizes, a linker's people, moving a person with a note.
    "linkers:admin_caseloads": admin_only(audited=False, missing=None),
    "linkers:admin_caseload": admin_only(),
    "linkers:admin_reassign": admin_only(),
    "linkers:admin_reassign_submit": admin_only(body=lambda w: {"to_account_id": str(w.second_linker.id), "note": "Lina covers this ward"}),
    # The registry's journeys, mounted for a person on the caseload.
    "linkers:offers_new": Row(),
    "linkers:offers_new_submit": Row(body=OFFER_FORM),
    "linkers:offers_step": Row(),
    "linkers:offers_step_submit": Row(body=OFFER_FORM),
    "linkers:offers_check": Row(),
    "linkers:offers_item": Row(),
    "linkers:offers_status": Row(body=lambda w: {"action": "pause"}),
    "linkers:offer_suggestions": Row(),
    "linkers:requests_new": Row(),
    "linkers:requests_new_submit": Row(body=OFFER_FORM),
    "linkers:requests_step": Row(),
    "linkers:requests_step_submit": Row(body=OFFER_FORM),
    "linkers:requests_check": Row(),
    "linkers:requests_item": Row(),
    "linkers:requests_status": Row(body=lambda w: {"action": "pause"}),
    "linkers:request_suggestions": Row(),
    # --- the linkers' API ---
    "api:linker_register": own(body=lambda w: PERSON_BODY | {"name": "Rob Register"}),
    "api:linker_caseload": own(),
    "api:linker_caseload_search": own(body=lambda w: {"q": "Peggy"}),
    "api:linker_person": Row(),
    "api:linker_pool": own(),
    "api:linker_assign": Row(params=POOL, other_params=lambda w: {"person_id": w.person.id}, other_linker=409, audited=False),
    "api:linker_handover": Row(body=lambda w: {"to_account_id": w.second_linker.id, "note": "Over to you"}),
    "api:linker_consents": Row(),
    "api:linker_person_export": Row(),
    "api:linker_person_erase": Row(body=lambda w: {"channel": "letter", "requested_on": today()}),
    "api:linker_offer_create": Row(body=lambda w: OFFER_BODY),
    "api:linker_request_create": Row(body=lambda w: REQUEST_BODY),
    "api:linker_note_create": Row(body=lambda w: {"body": "Called back"}),
    "api:linker_notes": Row(),
    "api:linker_contact_attempt": Row(body=lambda w: {"outcome": "no_answer"}),
    "api:linker_follow_up_create": Row(body=lambda w: {"due_on": today(), "what": "Ring about the lift"}),
    "api:linker_follow_up_done": Row(body=lambda w: {"note": "Rang"}),
    "api:linker_follow_ups": own(),
    "api:linker_claim_code": Row(body=lambda w: {}),
    "api:linker_match_contacts": Row(setup=accepted),
    # --- the match API, used by a linker for a person on their caseload ---
    "api:matches": own(citizen=200),  # everyone's own list: a citizen's, a linker's caseload's
    "api:match_propose": Row(
        citizen=404, audited=False, missing=404, body=lambda w: {"offer_id": w.offer.id, "request_id": w.spare.id}
    ),
    "api:match": match_api(),
    "api:match_accept": match_api(body=version()),
    "api:match_decline": match_api(body=version({"reason": "other"})),
    "api:match_start": match_api(setup=accepted, body=version()),
    "api:match_complete": match_api(setup=active, body=version({"minutes_given": 90})),
    "api:match_confirm_time": match_api(setup=completed_by_the_seeker, body=version({"minutes_given": 60})),
    "api:match_cancel": match_api(body=version({"reason": "Moved away"})),
    "api:match_messages": match_api(),
    "api:match_message": match_api(setup=accepted, body=lambda w: {"body": "Hello from Peggy's linker"}),
}


def test_every_linker_route_has_a_row(app):
    routes = linker_routes(app)
    assert len(routes) > 60
    assert sorted(set(routes) - set(ACCESS)) == [], "a route without a row in the access matrix"
    assert sorted(set(ACCESS) - set(routes)) == [], "a row for a route that no longer exists"


# --- running one row -------------------------------------------------------------------------


class Personas:
    """A signed-in client (pages) or a bearer token (API) for each persona, made when first asked."""

    def __init__(self, app, accounts: dict[str, Any]):
        self.app = app
        self.accounts = accounts
        self.clients: dict[str, TestClient] = {}
        self.tokens: dict[str, str] = {}
        self.headers: dict[str, dict] = {}

    def client(self, persona: str) -> TestClient:
        if persona not in self.clients:
            client = TestClient(self.app, raise_server_exceptions=False)
            client.__enter__()
            if persona != "anonymous":
                sign_in(client, self.accounts[persona])
            self.tokens[persona] = csrf_token(client, "/sign-in")
            self.clients[persona] = client
        return self.clients[persona]

    def api_headers(self, persona: str) -> dict:
        if persona == "anonymous":
            return {}
        if persona not in self.headers:
            self.headers[persona] = api_token(self.client("anonymous"), self.accounts[persona])
        return self.headers[persona]

    def send(self, persona: str, route: RouteInfo, path: str, body: dict | None):
        if route.is_api:
            client = self.client("anonymous")  # no cookie is ever sent to the API: bearer tokens only
            kwargs: dict = {"headers": self.api_headers(persona)}
            if route.method != "GET":
                kwargs["json"] = body if body is not None else {}
            return client.request(route.method, path, follow_redirects=False, **kwargs)
        client = self.client(persona)
        if route.method == "GET":
            return client.get(path, follow_redirects=False)
        return client.post(path, data={"csrf_token": self.tokens[persona], **(body or {})}, follow_redirects=False)

    def close(self) -> None:
        for client in self.clients.values():
            client.__exit__(None, None, None)


@pytest.fixture()
def personas(app, citizen, staff, admin, linker, second_linker):
    made = Personas(app, {"citizen": citizen, "staff": staff, "admin": admin, "linker": linker, "other_linker": second_linker})
    yield made
    made.close()


def check(response, expected: Outcome, route: RouteInfo, who: str) -> None:
    status = response.status_code
    where = f"{route.method} {route.path} as {who}: {status}"
    assert status < 500, where + "\n" + response.text[:2000]
    if expected == OK:
        assert 200 <= status < 400, where + "\n" + response.text[:2000]
    elif expected == SIGN_IN:
        if route.is_api:
            assert status == 401, where
        else:
            assert status == 303 and response.headers["location"].startswith("/sign-in"), where
    else:
        assert status == expected, where + "\n" + response.text[:2000]
    if status == 403 and not route.is_api:
        assert "Your form has expired" not in response.text, where + ": refused by the CSRF check, not by access"


def audit_after(db, since: int, actor_id: int) -> list[AuditEvent]:
    db.expire_all()
    return list(
        db.execute(
            select(AuditEvent).where(AuditEvent.id > since, AuditEvent.actor_account_id == actor_id).order_by(AuditEvent.id)
        ).scalars()
    )


def last_audit_id(db) -> int:
    db.expire_all()
    return db.execute(select(func.max(AuditEvent.id))).scalar() or 0


@pytest.mark.parametrize("name", sorted(ACCESS))
def test_access(name, app, db, settings, places, personas, linker, second_linker):
    route = linker_routes(app)[name]
    row = ACCESS[name]
    world = build_world(db, settings, linker, second_linker)
    if row.setup:
        row.setup(world)
    params = default_params(world, route) | (row.params(world) if row.params else {})
    subjects = {world.person.id, world.seeker.person.id}

    for persona in in_order(row.owner):
        values = params | (row.other_params(world) if persona == "other_linker" and row.other_params else {})
        if persona == row.owner and row.missing is not None and any(p.endswith("_id") for p in route.params):
            # An id that does not exist answers exactly like another linker's person.
            missing = {k: (MISSING if k.endswith("_id") else v) for k, v in values.items()}
            body = row.body(world) if row.body else None
            check(personas.send(persona, route, fill(route.path, missing), body), row.missing, route, f"{persona}, missing id")
        since = last_audit_id(db)
        body = row.body(world) if row.body else None
        response = personas.send(persona, route, fill(route.path, values), body)
        check(response, row.expected(persona), route, persona)

        # Who reads or changes a person's record through an id is in the audit trail: allowed for
        # the route's owner, refused for another linker (whose probe must leave a trace).
        audited_as = {row.owner: AuditOutcome.allowed} | ({"other_linker": AuditOutcome.refused} if row.owner == "linker" else {})
        if row.audited and persona in audited_as:
            actor = personas.accounts[persona]
            events = [e for e in audit_after(db, since, actor.id) if e.route == name]
            assert events, f"{name} as {persona}: no audit event"
            assert {e.outcome for e in events} == {audited_as[persona]}, (name, persona, [(e.action, e.outcome) for e in events])
            assert {e.subject_person_id for e in events} <= subjects, (name, persona)
            assert {e.actor_role for e in events} == {actor.role.value}
            if persona == row.owner:
                assert world.person.id in {e.subject_person_id for e in events}, name


def test_refusals_by_role_leave_no_trace_of_a_person(client, db, settings, places, citizen, staff, admin, linker):
    """The role check comes first: citizens, staff and admins are refused before any person is
    loaded, so nothing about the person (not even that they exist) is read, and nothing is
    audited against them."""
    person = assisted(db, settings, linker)
    before = last_audit_id(db)
    for account in (citizen, staff, admin):
        client.cookies.clear()
        sign_in(client, account)
        for path in (f"/linkers/people/{person.id}", f"/linkers/people/{MISSING}"):
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 403
            assert "Peggy" not in response.text
    db.expire_all()
    assert db.execute(select(AuditEvent).where(AuditEvent.id > before, AuditEvent.subject_person_id == person.id)).first() is None


def test_a_linker_reading_a_persons_record_is_audited_each_time(client, db, settings, places, linker):
    person = assisted(db, settings, linker)
    sign_in(client, linker)
    before = last_audit_id(db)
    for _ in range(2):
        assert client.get(f"/linkers/people/{person.id}").status_code == 200
    headers = api_token(client, linker)
    assert client.get(f"/api/v1/linker/people/{person.id}", headers=headers).status_code == 200
    events = audit_after(db, before, linker.id)
    assert [(e.route, e.action.value, e.outcome.value, e.subject_person_id) for e in events] == [
        ("linkers:person", "viewed", "allowed", person.id),
        ("linkers:person", "viewed", "allowed", person.id),
        ("api:linker_person", "viewed", "allowed", person.id),
    ]


def test_another_linkers_person_looks_exactly_like_one_that_does_not_exist(client, db, settings, places, linker, second_linker):
    theirs = assisted(db, settings, linker)
    sign_in(client, second_linker)
    for template in ("/linkers/people/{}", "/linkers/people/{}/handover", "/linkers/people/{}/offers/new"):
        probed, missing = template.format(theirs.id), template.format(MISSING)
        seen, absent = client.get(probed), client.get(missing)
        assert seen.status_code == absent.status_code == 404
        # The pages differ only where they name their own address (the language switcher returns there).
        assert seen.text.replace(probed, "/PATH") == absent.text.replace(missing, "/PATH")
    headers = api_token(client, second_linker)
    for template in ("/api/v1/linker/people/{}", "/api/v1/linker/people/{}/consents", "/api/v1/linker/people/{}/notes"):
        seen, absent = (client.get(template.format(i), headers=headers) for i in (theirs.id, MISSING))
        assert seen.status_code == absent.status_code == 404 and seen.json() == absent.json()
