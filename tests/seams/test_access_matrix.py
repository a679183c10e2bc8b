"""The access matrix of the whole application, generated from its own routes.

Every route (pages and API) has one row: the linkers' routes in `tests/linkers/test_access.py`
(`LINKER_ACCESS`), every other route here (`ACCESS`). A new route without a row fails
`test_every_route_of_the_app_has_a_row`. Each row says what each caller gets, following the
table in DESIGN.md (deny by default; another person's object answers 404, like one that does not
exist):

- anonymous: pages redirect to sign-in (303), the API answers 401, public pages 200;
- `owner`: the citizen whose request, offer and match the ids name: 2xx or 3xx;
- `other_citizen`: the same ids: 404; their own lists: 2xx;
- `linker` (the other side's linker), `other_linker`, `staff`, `admin`: refused by role (403)
  on citizens' routes; staff and admins read reports; admins run the administration pages.

The ids are real (built by `build_world`), in the state each route needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from app.core.validation import parse
from app.registry import service as registry
from app.registry.models import Skill
from app.registry.service import OFFER
from tests.conftest import make_account
from app.matching.models import MatchRun
from tests.linkers.test_access import ACCESS as LINKER_ACCESS
from tests.linkers.test_access import accepted
from tests.matching.conftest import citizen as make_citizen
from tests.linkers.test_access import OK, SIGN_IN, Personas, RouteInfo, build_world, check, fill, walk_routes
from tests.registry.conftest import OFFER_BODY, REQUEST_BODY

IGNORED = ("/static",)  # the files of the front end, the same for everyone
PERSONAS = ("anonymous", "other_citizen", "linker", "other_linker", "staff", "admin", "owner")


def app_routes(app) -> dict[str, RouteInfo]:
    found: dict[str, RouteInfo] = {}
    for path, route in walk_routes(app.router.routes):
        if path.startswith(IGNORED):
            continue
        methods = sorted(set(getattr(route, "methods", None) or ()) - {"HEAD", "OPTIONS"})
        assert len(methods) == 1, (route.name, methods)
        assert route.name not in found, f"two routes are named {route.name}"
        found[route.name] = RouteInfo(route.name, methods[0], path)
    return found


@dataclass(frozen=True)
class Row:
    anonymous: Any = SIGN_IN
    owner: Any = OK
    other_citizen: Any = 404
    linker: Any = 403
    other_linker: Any = 403
    staff: Any = 403
    admin: Any = 403
    body: Callable | None = None
    setup: Callable | None = None
    asked_last: str = "owner"  # the caller whose answer may change things, asked after every refusal

    def expected(self, persona: str) -> Any:
        return getattr(self, persona)


def citizens(status: Any = OK, **kw) -> Row:
    """A citizen's own page or API without an id: every citizen reaches their own. `status` for
    a form refused on its merits (after access was granted)."""
    return Row(owner=status, other_citizen=status, **kw)


def everyone(status: Any = OK, **kw) -> Row:
    return Row(anonymous=status, owner=status, other_citizen=status, linker=status, other_linker=status, staff=status, admin=status, **kw)


def signed_in(status: Any = OK, **kw) -> Row:
    """The account's own pages: every signed-in account has one. `status` for a form sent with
    a wrong password or code (refused on its merits, after access was granted)."""
    return Row(owner=status, other_citizen=status, linker=status, other_linker=status, staff=status, admin=status, **kw)


def reports(**kw) -> Row:
    return Row(owner=403, other_citizen=403, staff=OK, admin=OK, asked_last="staff", **kw)


def admins(status: Any = OK, **kw) -> Row:
    return Row(owner=403, other_citizen=403, admin=status, asked_last="admin", **kw)


def runs(**kw) -> Row:
    """Whole-area matching runs: linkers and admins start them and follow them."""
    return Row(owner=403, other_citizen=403, linker=kw.pop("status", OK), other_linker=OK, admin=OK, asked_last="admin", **kw)


SIGN_IN_FORM = lambda w: {"email": "nobody@example.org", "password": "wrong"}  # noqa: E731

ACCESS: dict[str, Row] = {
    # --- public ---
    "openapi": everyone(),
    "pages:home": everyone(),
    "pages:favicon": everyone(),
    "pages:healthz": everyone(),
    "pages:readyz": everyone(),
    "pages:set_language": everyone(body=lambda w: {"language": "cy", "next": "/"}),
    "privacy:notice": everyone(),
    "privacy:notice_version": everyone(),
    "accounts:sign_in": everyone(),
    "accounts:sign_in_submit": everyone(422, body=SIGN_IN_FORM),
    "accounts:sign_in_code": everyone(body=lambda w: {"ticket": "1.1.x", "code": "123456"}),  # a bad ticket: back to sign in
    "accounts:forgotten_password": everyone(),
    "accounts:forgotten_password_submit": everyone(body=lambda w: {"email": "nobody@example.org"}),
    "accounts:reset_password": everyone(400),  # no token: a bad request for anyone
    "accounts:reset_password_submit": everyone(400, body=lambda w: {"token": "x", "password": "x", "password_confirm": "x"}),
    "registry:register": everyone(),
    "registry:register_submit": everyone(422, body=lambda w: {"name": ""}),
    "api:token": everyone(401, body=SIGN_IN_FORM),
    "api:register": everyone(422, body=lambda w: {}),
    "api:skills": everyone(),
    # --- the account's own ---
    "accounts:sign_out": signed_in(anonymous=303),  # signed out already: home
    "accounts:settings": signed_in(),
    "accounts:change_password": signed_in(422, body=lambda w: {"current_password": "wrong"}),
    "accounts:change_email": signed_in(422, body=lambda w: {"new_email": "x@example.org", "email_password": "wrong"}),
    "accounts:end_session": signed_in(404, body=lambda w: {"session": "0" * 16}),  # nobody's: like another's
    "accounts:end_other_sessions": signed_in(),
    "accounts:two_step": signed_in(),
    "accounts:two_step_confirm": signed_in(422, body=lambda w: {"code": "000000"}),
    "accounts:recovery_codes": signed_in(),
    "api:revoke_token": signed_in(),
    "api:me": signed_in(),
    "api:totp_begin": signed_in(),
    "api:totp_confirm": signed_in(422, body=lambda w: {"code": "000000"}),
    "api:my_sessions": signed_in(),
    "api:end_my_session": signed_in(404),
    "privacy:my_data": citizens(),
    "privacy:export_json": citizens(),
    "privacy:export_page": citizens(),
    "privacy:delete_account": citizens(),
    "privacy:delete_account_submit": citizens(422, body=lambda w: {"password": "wrong"}),
    "privacy:deleted": everyone(),
    "api:my_export": citizens(),
    "api:my_access_log": citizens(),
    "api:erase_me": citizens(422, body=lambda w: {"password": "wrong"}),
    # --- administration ---
    "accounts:admin_accounts": admins(),
    "accounts:admin_create": admins(422, body=lambda w: {"name": "", "email": "", "role": ""}),
    "accounts:admin_deactivate": admins(),
    "accounts:admin_reactivate": admins(),
    "accounts:admin_two_step_off": admins(),
    "accounts:admin_jobs": admins(),
    "privacy:admin_audit": admins(),
    "registry:admin_skills": admins(),
    "registry:admin_skill_create": admins(422, body=lambda w: {"name": ""}),
    "registry:admin_skill": admins(),
    "registry:admin_skill_update": admins(422, body=lambda w: {"name": ""}),
    # --- reports ---
    "reports:summary": reports(),
    "reports:participation": reports(),
    "reports:participation_csv": reports(),
    "reports:linkers": reports(),
    "reports:linkers_csv": reports(),
    "reports:social_value": reports(),
    "reports:social_value_csv": reports(),
    "reports:outcomes": reports(),
    "reports:outcomes_csv": reports(),
    "participation": reports(),
    "social_value": reports(),
    "linker_work": reports(),
    "outcomes": reports(),
    # --- a citizen's offers, requests, consents and matches ---
    "registry:dashboard": citizens(),
    "registry:profile": citizens(),
    "registry:profile_submit": citizens(422, body=lambda w: {"name": ""}),
    "registry:consent_update": citizens(body=lambda w: {"given": "yes"}),
    "registry:skill_picker": citizens(),
    "registry:offers_new": citizens(),
    "registry:offers_new_submit": citizens(body=lambda w: {"title": "Fixing bikes", "action": "continue"}),
    "registry:offers_step": Row(),
    "registry:offers_step_submit": Row(body=lambda w: {"title": "Fixing bikes", "action": "continue"}),
    "registry:offers_check": Row(),
    "registry:offers_item": Row(),
    "registry:offers_status": Row(body=lambda w: {"action": "pause"}),
    "registry:requests_new": citizens(),
    "registry:requests_new_submit": citizens(body=lambda w: {"title": "Help with shopping", "action": "continue"}),
    "registry:requests_step": Row(),
    "registry:requests_step_submit": Row(body=lambda w: {"title": "Help with shopping", "action": "continue"}),
    "registry:requests_check": Row(),
    "registry:requests_item": Row(),
    "registry:requests_status": Row(body=lambda w: {"action": "pause"}),
    "api:offer_create": citizens(body=lambda w: OFFER_BODY),
    "api:offer_list": citizens(),
    "api:offer_read": Row(),
    "api:offer_update": Row(body=lambda w: {"description": "Updated"}),
    "api:offer_close": Row(),
    "api:request_create": citizens(body=lambda w: REQUEST_BODY),
    "api:request_list": citizens(),
    "api:request_read": Row(),
    "api:request_update": Row(body=lambda w: {"description": "Updated"}),
    "api:request_close": Row(),
    "api:consents": citizens(),
    "api:consent_history": citizens(),
    "api:consent_update": citizens(body=lambda w: {"given": True}),
    "matching:offer_suggestions": Row(),
    "matching:request_suggestions": Row(),
    "api:offer_suggestions": Row(),
    "api:request_suggestions": Row(),
    "matching:mail_choice": citizens(422, body=lambda w: {"match_emails": "maybe"}),
    "matching:ask": Row(body=lambda w: {"offer_id": str(w.offer.id), "request_id": str(w.spare.id)}),
    "matching:matches": citizens(),
    "matching:match": Row(),
    "matching:match_message": Row(setup=accepted, body=lambda w: {"body": "Hello"}),
    "matching:wellbeing": Row(),
    "matching:wellbeing_save": Row(body=lambda w: {"stage": "before", "life_satisfaction": "6", "worthwhile": "7", "happiness": "5", "anxiety": "3"}),
    "matching:match_action": Row(body=lambda w: {"version": str(w.refresh().version), "reason": "Plans changed"}),
    "api:matching_run": runs(body=lambda w: {}),
    "api:matching_run_status": runs(),
}


def test_every_route_of_the_app_has_a_row(app):
    routes = app_routes(app)
    assert len(routes) > 190
    both = set(LINKER_ACCESS) | set(ACCESS)
    assert not set(LINKER_ACCESS) & set(ACCESS), "a route with two rows"
    assert sorted(set(routes) - both) == [], "a route without a row in the access matrix"
    assert sorted(both - set(routes)) == [], "a row for a route that no longer exists"


def test_the_matrix_size(app):
    """How many answers the two matrices check: every route asked by every caller."""
    routes = app_routes(app)
    print(f"\naccess matrix: {len(routes)} routes x {len(PERSONAS)} callers = {len(routes) * len(PERSONAS)} answers")


def world_params(world, route: RouteInfo, skill_id: int, target_account_id: int) -> dict[str, Any]:
    item = world.seeker_offer.id if "/offers" in route.path else world.wanted.id
    return {
        "item_id": item, "match_id": world.match.id, "step": "about", "purpose": "share_contact", "action": "cancel",
        "account_id": target_account_id, "skill_id": skill_id, "session_id": "0" * 16, "run_id": world.run.id, "version": "1.1",
    }  # fmt: skip


@pytest.mark.parametrize("name", sorted(ACCESS))
def test_access(name, app, db, settings, places, staff, admin, linker, second_linker):
    route = app_routes(app)[name]
    row = ACCESS[name]
    world = build_world(db, settings, linker, second_linker)
    world.seeker_offer = registry.create_item(db, kind=OFFER, person=world.seeker.person, data=parse(OFFER.create_model, OFFER_BODY))
    world.run = MatchRun(triggered_by_account_id=admin.id)
    db.add(world.run)
    other_citizen = make_citizen(db, settings, "Owen Other").account
    db.commit()
    if row.setup:
        row.setup(world)
    target = make_account(db, role=world.seeker.account.role, email="tess@example.org", name="Tess Target")
    skill_id = db.query(Skill.id).first()[0]
    personas = Personas(app, {"owner": world.seeker.account, "other_citizen": other_citizen, "staff": staff, "admin": admin,
                              "linker": linker, "other_linker": second_linker})  # fmt: skip
    try:
        params = world_params(world, route, skill_id, target.id)
        for persona in [p for p in PERSONAS if p != row.asked_last] + [row.asked_last]:
            body = row.body(world) if row.body else None
            response = personas.send(persona, route, fill(route.path, params), body)
            check(response, row.expected(persona), route, persona)
    finally:
        personas.close()
