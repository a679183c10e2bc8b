"""Portal pages: the dashboard, profile, privacy choices and the offer and request journeys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict

from app.accounts.deps import OptionalAccount, load_account, require_role
from app.accounts.models import Account, Role
from app.accounts.views import see_other, sign_in_response
from app.core.db import DbSession, atomic
from app.core.errors import InvalidInput, NotFound
from app.core.templating import render
from app.privacy import service as privacy
from app.privacy.models import ConsentPurpose
from app.registry import availability, service, taxonomy
from app.registry.models import ItemMode, Person, Urgency
from app.registry.service import KINDS, OFFER, ItemKind

router = APIRouter(dependencies=[Depends(load_account)], include_in_schema=False)

Citizen = Annotated[Account, Depends(require_role(Role.citizen))]


def citizen_person(db: DbSession, account: Citizen) -> Person:
    return service.person_for_account(db, account=account)


CitizenPerson = Annotated[Person, Depends(citizen_person)]


class _Form(BaseModel):
    model_config = ConfigDict(extra="ignore", str_max_length=10_000)


# --- registration (account, person and consents together) -----------------------------------


class RegisterForm(_Form):
    name: str = ""
    email: str = ""
    password: str = ""
    password_confirm: str = ""
    postcode: str = ""
    consent_profile: str = ""
    consent_matching: str = ""
    consent_share_contact: str = ""


def _register_page(request: Request, form: RegisterForm, error: InvalidInput | None = None) -> Response:
    return render(
        request,
        "registry/register.html",
        {"form": form, "errors": error.errors if error else [], "purposes": privacy.PURPOSE_TEXT},
        status_code=422 if error else 200,
    )


@router.get("/register", name="registry:register")
def register_page(request: Request, account: OptionalAccount) -> Response:
    if account is not None:
        return RedirectResponse(request.url_for("pages:home").path, status_code=303)
    return _register_page(request, RegisterForm())


@router.post("/register", name="registry:register_submit")
def register_submit(request: Request, db: DbSession, form: Annotated[RegisterForm, Form()]) -> Response:
    try:
        with atomic(db):
            account, _person = service.register_citizen(
                db,
                request.app.state.settings,
                email=form.email,
                password=form.password,
                password_confirm=form.password_confirm,
                name=form.name,
                postcode=form.postcode,
                consents={
                    "profile": form.consent_profile == "yes",
                    "matching": form.consent_matching == "yes",
                    "share_contact": form.consent_share_contact == "yes",
                },
            )
    except InvalidInput as error:
        form.password = form.password_confirm = ""
        return _register_page(request, form, error)
    return sign_in_response(request, db, account, request.url_for("registry:dashboard").path, flash="registered")


# --- dashboard -------------------------------------------------------------------------------


@router.get("/my", name="registry:dashboard")
def dashboard(request: Request, db: DbSession, person: CitizenPerson) -> Response:
    offers = service.list_items(db, kind=OFFER, person=person)
    requests = service.list_items(db, kind=service.REQUEST, person=person)
    offer_skills = service.skills_of(db, kind=OFFER, item_ids=[o.id for o in offers])
    request_skills = service.skills_of(db, kind=service.REQUEST, item_ids=[r.id for r in requests])
    return render(
        request,
        "registry/dashboard.html",
        {
            "person": person,
            "sections": [
                {"kind": OFFER, "items": offers, "skills": offer_skills, "heading": "What you offer"},
                {"kind": service.REQUEST, "items": requests, "skills": request_skills, "heading": "Help you are looking for"},
            ],
            "matching_consent": privacy.has_consent(db, person_id=person.id, purpose=ConsentPurpose.matching),
            "describe": availability.describe,
        },
    )


# --- profile and privacy choices -------------------------------------------------------------


class ProfileForm(_Form):
    name: str = ""
    phone: str = ""
    preferred_contact: str = ""
    postcode: str = ""
    access_needs: str = ""
    language_needs: str = ""


def _profile_page(request: Request, person: Person, form: ProfileForm, error: InvalidInput | None = None) -> Response:
    return render(
        request,
        "registry/profile.html",
        {"person": person, "form": form, "errors": error.errors if error else []},
        status_code=422 if error else 200,
    )


@router.get("/profile", name="registry:profile")
def profile_page(request: Request, person: CitizenPerson) -> Response:
    form = ProfileForm(
        name=person.name,
        phone=person.phone or "",
        preferred_contact=person.preferred_contact.value,
        postcode=person.postcode or "",
        access_needs=person.access_needs or "",
        language_needs=person.language_needs or "",
    )
    return _profile_page(request, person, form)


@router.post("/profile", name="registry:profile_submit")
def profile_submit(
    request: Request, db: DbSession, person: CitizenPerson, form: Annotated[ProfileForm, Form()]
) -> Response:
    try:
        with atomic(db):
            service.update_profile(db, person=person, raw=form.model_dump())
    except InvalidInput as error:
        db.refresh(person)
        return _profile_page(request, person, form, error)
    return see_other(request, request.url_for("registry:dashboard").path, flash="profile-saved")


def consent_rows(db, person: Person) -> list[dict]:
    records = privacy.current_records(db, person_id=person.id)
    rows = []
    for purpose in privacy.CITIZEN_PURPOSES:
        record = records[purpose]
        title, text = privacy.PURPOSE_TEXT[purpose]
        rows.append(
            {
                "purpose": purpose.value,
                "title": title,
                "text": text,
                "given": bool(record and record.state.value == "given"),
                "record": record,
            }
        )
    return rows


def account_consent_section(request: Request, db, account: Account) -> dict | None:
    """The privacy choices shown on the account page, for citizens."""
    if account.role is not Role.citizen:
        return None
    try:
        person = service.person_for_account(db, account=account)
    except NotFound:
        return None
    return {"template": "registry/_consents.html", "consents": consent_rows(db, person)}


@router.post("/account/consents/{purpose}", name="registry:consent_update")
def consent_update(
    request: Request,
    db: DbSession,
    account: Citizen,
    person: CitizenPerson,
    purpose: str,
    given: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    if purpose not in {p.value for p in privacy.CITIZEN_PURPOSES}:
        raise NotFound()
    with atomic(db):
        service.set_person_consent(
            db,
            request.app.state.settings,
            person=person,
            purpose=ConsentPurpose(purpose),
            given=given == "yes",
            account=account,
        )
    flash = "consent-given" if given == "yes" else "consent-withdrawn"
    return see_other(request, request.url_for("accounts:settings").path + "#privacy-choices", flash=flash)


# --- the journeys ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    key: str
    question: str
    fields: tuple[str, ...]


STEPS = {
    "offer": (
        Step("about", "What do you enjoy or know about?", ("title", "description")),
        Step("skills", "What could you help with?", ("skills",)),
        Step("times", "When are you usually free?", ("availability",)),
        Step("travel", "How far could you travel?", ("mode", "max_distance_km", "capacity")),
    ),
    "request": (
        Step("about", "What help are you looking for?", ("title", "description")),
        Step("skills", "What kind of help is it?", ("skills",)),
        Step("times", "When are you usually free?", ("availability",)),
        Step("travel", "Where could the help happen?", ("mode", "max_distance_km", "urgency")),
    ),
}
DISTANCES = ("1", "2", "3", "5", "10", "20")


def _kind(request: Request) -> ItemKind:
    """Which journey this is, from the first segment of the path (/offers/… or /requests/…)."""
    return KINDS[request.url.path.split("/")[1]]


def url(request: Request, kind: ItemKind, action: str, **params) -> str:
    return request.url_for(f"registry:{kind.path}_{action}", **params).path


def _step(kind: ItemKind, key: str) -> tuple[int, Step]:
    for index, step in enumerate(STEPS[kind.key]):
        if step.key == key:
            return index, step
    raise NotFound()


class StepForm(_Form):
    title: str = ""
    description: str = ""
    skills: list[str] = []
    availability: list[str] = []
    mode: str = ""
    max_distance_km: str = ""
    capacity: str = ""
    urgency: str = ""
    action: str = "continue"
    q: str = ""
    change: str = ""


def _form_values(kind: ItemKind, item, db) -> StepForm:
    if item is None:
        return StepForm()
    skills = service.skills_of(db, kind=kind, item_ids=[item.id])[item.id]
    return StepForm(
        title=item.title,
        description=item.description,
        skills=[s.code for s in skills],
        availability=availability.from_mask(item.availability),
        mode=item.mode.value,
        max_distance_km=f"{item.max_distance_km:g}",
        capacity=str(getattr(item, "capacity", "")),
        urgency=getattr(item, "urgency", Urgency.normal).value if kind.key == "request" else "",
    )


def _step_page(
    request: Request,
    db,
    kind: ItemKind,
    step: Step,
    index: int,
    item,
    form: StepForm,
    error: InvalidInput | None = None,
    status_code: int | None = None,
) -> Response:
    context = {
        "kind": kind,
        "item": item,
        "step": step,
        "step_number": index + 1,
        "step_count": len(STEPS[kind.key]),
        "form": form,
        "errors": error.errors if error else [],
        "change": form.change == "1",
    }
    if step.key == "skills":
        context.update(_picker_context(db, form.q, form.skills))
    elif step.key == "times":
        context["grid"] = availability.grid_rows(availability.to_mask([s for s in form.availability if s in availability.SLOT_BITS]))
    elif step.key == "travel":
        context["modes"] = [
            {"value": mode.value, "text": text, "checked": form.mode == mode.value}
            for mode, text in (
                (ItemMode.in_person, "In person"),
                (ItemMode.remote, "By phone or online"),
                (ItemMode.either, "Either"),
            )
        ]
        context["distances"] = DISTANCES
    return render(
        request, "registry/step.html", context, status_code=status_code or (422 if error else 200)
    )


def _picker_context(db, query: str, selected: list[str]) -> dict:
    matches = taxonomy.search_skills_with_categories(db, query)
    chosen = taxonomy.skills_by_codes(db, selected)
    groups: dict[str, list] = {}
    for skill, category in matches:
        groups.setdefault(category.name, []).append(skill)
    hidden = [code for code in chosen if code not in {skill.code for skill, _ in matches}]
    return {
        "q": query,
        "skill_groups": groups,
        "selected": set(chosen),
        "selected_hidden": [chosen[code] for code in hidden],
    }


@router.get("/skills/picker", name="registry:skill_picker")
def skill_picker(
    request: Request,
    db: DbSession,
    account: Citizen,
    q: Annotated[str, Query(max_length=100)] = "",
    skills: Annotated[list[str], Query(max_length=50)] = [],  # noqa: B006 (FastAPI copies defaults)
) -> Response:
    """The filtered checkbox list, for htmx; without JavaScript the step page's Search button does this."""
    context = _picker_context(db, q, skills) | {"form": StepForm(skills=skills), "fragment": True}
    response = render(request, "registry/step.html", context, block="skill_options")
    response.headers["Vary"] = "HX-Request"
    return response


def _next_url(request: Request, kind: ItemKind, item, index: int, form: StepForm) -> str:
    if form.action == "save":
        return request.url_for("registry:dashboard").path
    if form.change == "1" or index + 1 >= len(STEPS[kind.key]):
        return url(request, kind, "check", item_id=item.id)
    return url(request, kind, "step", item_id=item.id, step=STEPS[kind.key][index + 1].key)


def _raw_for(step: Step, form: StepForm) -> dict:
    raw = {field: getattr(form, field) for field in step.fields}
    if form.action == "save":
        # Saving to come back later keeps what was answered; an unanswered question is not an error yet.
        raw = {field: value for field, value in raw.items() if value not in ("", [])}
    return raw


def new_item(request: Request, db: DbSession, person: CitizenPerson) -> Response:
    item_kind = _kind(request)
    return _step_page(request, db, item_kind, STEPS[item_kind.key][0], 0, None, StepForm())


def new_item_submit(
    request: Request, db: DbSession, person: CitizenPerson, form: Annotated[StepForm, Form()]
) -> Response:
    item_kind = _kind(request)
    step = STEPS[item_kind.key][0]
    try:
        with atomic(db):
            item = service.create_item(db, kind=item_kind, person=person, raw=_raw_for(step, form), publish=False)
    except InvalidInput as error:
        return _step_page(request, db, item_kind, step, 0, None, form, error)
    return see_other(request, _next_url(request, item_kind, item, 0, form), flash="draft-saved" if form.action == "save" else None)


def step_page(
    request: Request, db: DbSession, person: CitizenPerson, item_id: int, step: str,
    change: Annotated[str, Query(max_length=1)] = "",
) -> Response:
    item_kind = _kind(request)
    item = service.get_item(db, kind=item_kind, item_id=item_id, person=person)
    index, current = _step(item_kind, step)
    form = _form_values(item_kind, item, db)
    form.change = change
    return _step_page(request, db, item_kind, current, index, item, form)


def step_submit(
    request: Request, db: DbSession, person: CitizenPerson, item_id: int, step: str,
    form: Annotated[StepForm, Form()],
) -> Response:
    item_kind = _kind(request)
    item = service.get_item(db, kind=item_kind, item_id=item_id, person=person)
    index, current = _step(item_kind, step)
    if form.action == "search":  # the skill picker without JavaScript: filter, keep what is ticked
        return _step_page(request, db, item_kind, current, index, item, form, status_code=200)
    try:
        with atomic(db):
            service.update_item(db, kind=item_kind, item=item, person=person, raw=_raw_for(current, form))
    except InvalidInput as error:
        db.refresh(item)
        return _step_page(request, db, item_kind, current, index, item, form, error)
    return see_other(request, _next_url(request, item_kind, item, index, form), flash="draft-saved" if form.action == "save" else None)


def _summary_context(db, kind: ItemKind, item) -> dict:
    skills = service.skills_of(db, kind=kind, item_ids=[item.id])[item.id]
    return {
        "kind": kind,
        "item": item,
        "skills": skills,
        "times": availability.describe(item.availability),
        "steps": STEPS[kind.key],
        "live": service.is_live(item),
    }


def check_page(request: Request, db: DbSession, person: CitizenPerson, item_id: int) -> Response:
    item_kind = _kind(request)
    item = service.get_item(db, kind=item_kind, item_id=item_id, person=person)
    context = _summary_context(db, item_kind, item) | {"errors": service.missing_for_publishing(db, kind=item_kind, item=item)}
    return render(request, "registry/check.html", context)


def item_page(request: Request, db: DbSession, person: CitizenPerson, item_id: int) -> Response:
    item_kind = _kind(request)
    item = service.get_item(db, kind=item_kind, item_id=item_id, person=person)
    sections = [section for provider in request.app.state.item_sections if (section := provider(request, item_kind, item))]
    context = _summary_context(db, item_kind, item) | {
        "matching_consent": privacy.has_consent(db, person_id=person.id, purpose=ConsentPurpose.matching),
        "errors": [],
        "sections": sections,
    }
    return render(request, "registry/item.html", context)


def status_submit(
    request: Request, db: DbSession, person: CitizenPerson, item_id: int,
    action: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    item_kind = _kind(request)
    item = service.get_item(db, kind=item_kind, item_id=item_id, person=person)
    try:
        with atomic(db):
            service.change_status(db, kind=item_kind, item=item, action=action)
    except InvalidInput as error:
        db.refresh(item)
        template = "registry/check.html" if action == "publish" else "registry/item.html"
        context = _summary_context(db, item_kind, item) | {"errors": error.errors, "matching_consent": True}
        return render(request, template, context, status_code=422)
    flash = {"publish": "published", "pause": "paused", "reopen": "reopened", "close": "closed"}[action]
    return see_other(request, url(request, item_kind, "item", item_id=item.id), flash=flash)


def _add_kind_routes(path: str) -> None:
    prefix = f"/{path}"
    routes = [
        ("GET", "/new", new_item, "new"),
        ("POST", "/new", new_item_submit, "new_submit"),
        ("GET", "/{item_id:int}/steps/{step}", step_page, "step"),
        ("POST", "/{item_id:int}/steps/{step}", step_submit, "step_submit"),
        ("GET", "/{item_id:int}/check", check_page, "check"),
        ("GET", "/{item_id:int}", item_page, "item"),
        ("POST", "/{item_id:int}/status", status_submit, "status"),
    ]
    for method, suffix, handler, action in routes:
        router.add_api_route(prefix + suffix, handler, methods=[method], name=f"registry:{path}_{action}")


for _path in ("offers", "requests"):
    _add_kind_routes(_path)
