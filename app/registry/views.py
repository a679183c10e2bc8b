"""Portal pages: registration, the dashboard, profile, privacy choices, and the offer and request
journeys.

The journeys are built by `journey_router(kind, routes, subject)`: the same pages mounted for a
citizen's own items here, and (from the linkers issue) under a linker's URL for a person on
their caseload. Each mounting passes its own literal route names and its own subject resolver.
"""


from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from app.accounts import once
from app.accounts.dependencies import Actor, OptionalAccount, load_account, sign_in_response
from app.accounts.models import Account, Role
from app.core import i18n
from app.core.db import DbSession, atomic
from app.core.errors import InvalidInput, NotFound
from app.core.i18n import N_
from app.core.responses import see_other
from app.core.templating import render
from app.core.validation import parse
from app.privacy import service as privacy
from app.privacy.audit import AuditAction
from app.privacy.models import ConsentPurpose
from app.registry import availability, service, taxonomy
from app.registry.dependencies import (
    CITIZEN_OFFER_ROUTES,
    CITIZEN_REQUEST_ROUTES,
    CitizenActor,
    CitizenPerson,
    Journey,
    JourneyRoutes,
    citizen_journey_subject,
    load_item,
)
from app.registry.models import CitizenRegistration, ItemMode, Person, PersonUpdate, Urgency
from app.registry.service import OFFER, REQUEST, ItemKind

router = APIRouter(dependencies=[Depends(load_account)], include_in_schema=False)


class _Form(BaseModel):
    # Everything arrives as text and is kept as typed, so a refused answer is shown back whole;
    # the domain models decide what is allowed. The body size limit bounds the whole request.
    model_config = ConfigDict(extra="ignore")


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


REGISTER_FIELDS = ("name", "email", "password", "password_confirm", "postcode", "consent_profile")


def _all_registration_problems(db, form: RegisterForm, shape: InvalidInput) -> InvalidInput:
    """Every problem at once, in the order of the form, not only those the model could see."""
    more = service.registration_problems(
        db, email=form.email, password=form.password, password_confirm=form.password_confirm, name=form.name,
        profile_consent=form.consent_profile == "yes",
    )
    seen = {e.field for e in shape.errors}
    errors = shape.errors + [e for e in more if e.field not in seen and e.field != "name"]
    order = {field: position for position, field in enumerate(REGISTER_FIELDS)}
    return InvalidInput(sorted(errors, key=lambda e: order.get(e.field, len(order))))


@router.post("/register", name="registry:register_submit")
def register_submit(request: Request, db: DbSession, form: Annotated[RegisterForm, Form()]) -> Response:
    try:
        data = _registration(db, form)
    except InvalidInput as shape:
        problems = _all_registration_problems(db, form, shape)
        form.password = form.password_confirm = ""
        return _register_page(request, form, problems)
    try:
        with atomic(db):
            account, _person = service.register_citizen(
                db, request.app.state.settings, data=data, language=i18n.request_language(request)
            )
    except InvalidInput as error:
        form.password = form.password_confirm = ""
        return _register_page(request, form, error)
    return sign_in_response(request, db, account, request.url_for("registry:dashboard").path, flash="registered")


def _registration(db, form: RegisterForm) -> CitizenRegistration:
    return parse(
        CitizenRegistration,
        {
            "email": form.email,
            "password": form.password,
            "password_confirm": form.password_confirm,
            "name": form.name,
            "postcode": form.postcode,
            "consents": {
                "profile": form.consent_profile == "yes",
                "matching": form.consent_matching == "yes",
                "share_contact": form.consent_share_contact == "yes",
            },
        },
        context=service.lookups(db),
    )


# --- dashboard -------------------------------------------------------------------------------


def citizen_journey(kind: ItemKind, actor: Actor, person: Person) -> Journey:
    routes = CITIZEN_OFFER_ROUTES if kind is OFFER else CITIZEN_REQUEST_ROUTES
    return Journey(kind=kind, routes=routes, actor=actor, subject=person)


@router.get("/my", name="registry:dashboard")
def dashboard(request: Request, db: DbSession, actor: CitizenActor, person: CitizenPerson) -> Response:
    sections = []
    for kind, heading in ((OFFER, N_("What you offer")), (REQUEST, N_("Help you are looking for"))):
        items = service.list_items(db, kind=kind, person=person)
        sections.append(
            {
                "kind": kind,
                "journey": citizen_journey(kind, actor, person),
                "items": items,
                "skills": service.skills_of(db, kind=kind, item_ids=[i.id for i in items]),
                "heading": heading,
            }
        )
    return render(
        request,
        "registry/dashboard.html",
        {
            "person": person,
            "sections": sections,
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
        data = parse(PersonUpdate, form.model_dump(), context=service.lookups(db))
        with atomic(db):
            service.update_profile(db, person=person, data=data)
    except InvalidInput as error:
        db.refresh(person)
        return _profile_page(request, person, form, error)
    return see_other(request, request.url_for("registry:dashboard").path, flash="profile-saved")


def consent_rows(db, person: Person) -> list[dict]:
    records = privacy.current_records(db, person_id=person.id)
    recorders = {
        record.recorded_by_account_id for record in records.values()
        if record and record.recorded_by_account_id not in (None, person.account_id)
    }  # fmt: skip
    names = dict(db.execute(select(Account.id, Account.name).where(Account.id.in_(recorders))).all()) if recorders else {}
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
                # Someone else took this consent (a linker, by phone or on paper): say who.
                "recorded_by": names.get(record.recorded_by_account_id) if record else None,
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
    account: Annotated[Account, Depends(load_account)],
    actor: CitizenActor,
    person: CitizenPerson,
    purpose: str,
    given: Annotated[str, Form(max_length=10)] = "",
    confirmed: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    if purpose not in {p.value for p in privacy.CITIZEN_PURPOSES}:
        raise NotFound()
    if purpose == ConsentPurpose.profile.value and given != "yes" and confirmed != "yes":
        # Withdrawing this stops everything: say so first, in plain words, and ask once more.
        return render(request, "registry/withdraw_profile.html", {})
    with atomic(db):
        service.set_person_consent(
            db,
            request.app.state.settings,
            request.app.state.plugins,
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
        Step("about", N_("What do you enjoy or know about?"), ("title", "description")),
        Step("skills", N_("What could you help with?"), ("skills",)),
        Step("times", N_("When are you usually free?"), ("availability",)),
        Step("travel", N_("How far could you travel?"), ("mode", "max_distance_km", "postcode", "capacity")),
    ),
    "request": (
        Step("about", N_("What help are you looking for?"), ("title", "description")),
        Step("skills", N_("What kind of help is it?"), ("skills",)),
        Step("times", N_("When are you usually free?"), ("availability",)),
        Step("travel", N_("Where could the help happen?"), ("mode", "max_distance_km", "postcode", "urgency")),
    ),
}
DISTANCES = ("1", "2", "3", "5", "10", "20")
# Left empty, these keep what the item already has (its place comes from the profile).
KEEP_WHEN_EMPTY = ("postcode",)


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
    postcode: str = ""
    capacity: str = ""
    urgency: str = ""
    action: str = "continue"
    q: str = ""
    change: str = ""
    form_token: str = ""  # the first page's single-use token: a double click makes one draft


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
        postcode=item.postcode or "",
        capacity=str(getattr(item, "capacity", "")),
        urgency=getattr(item, "urgency", Urgency.normal).value if kind is REQUEST else "",
    )


MODE_TEXT = (
    (ItemMode.in_person, N_("In person")),
    (ItemMode.remote, N_("By phone or online")),
    (ItemMode.either, N_("Either")),
)


def _step_page(
    request: Request,
    db,
    journey: Journey,
    step: Step,
    index: int,
    item,
    form: StepForm,
    error: InvalidInput | None = None,
    status_code: int | None = None,
) -> Response:
    kind = journey.kind
    context = {
        "kind": kind,
        "journey": journey,
        "item": item,
        "step": step,
        "step_number": index + 1,
        "step_count": len(STEPS[kind.key]),
        "form": form,
        "errors": error.errors if error else [],
        "change": form.change == "1",
        "profile_postcode": journey.subject.postcode,
        # Kept when the page comes back with errors, so the corrected send is still the first.
        "form_token": (form.form_token or once.new_form_token()) if item is None else "",
    }
    if step.key == "about" and kind is OFFER and journey.routes.on_behalf:
        context["skill_ideas"] = service.skill_ideas(db)
    if step.key == "skills":
        context.update(_picker_context(db, form.q, form.skills))
    elif step.key == "times":
        context["grid"] = availability.grid_rows(availability.to_mask([s for s in form.availability if s in availability.SLOT_BITS]))
    elif step.key == "travel":
        context["modes"] = [{"value": mode.value, "text": text, "checked": form.mode == mode.value} for mode, text in MODE_TEXT]
        context["distances"] = DISTANCES
    return render(request, "registry/step.html", context, status_code=status_code or (422 if error else 200))


def _picker_context(db, query: str, selected: list[str]) -> dict:
    matches = taxonomy.search_skills_with_categories(db, query[:100])
    chosen = taxonomy.skills_by_codes(db, [code for code in selected if len(code) <= 60][:50])
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
    actor: CitizenActor,
    q: Annotated[str, Query(max_length=100)] = "",
    skills: Annotated[list[str], Query(max_length=50)] = [],  # noqa: B006 (FastAPI copies defaults)
) -> Response:
    """The filtered checkbox list, for htmx; without JavaScript the step page's Search button does this."""
    context = _picker_context(db, q, skills) | {"form": StepForm(skills=skills), "fragment": True}
    response = render(request, "registry/step.html", context, block="skill_options")
    response.headers["Vary"] = "HX-Request"
    return response


def _next_url(request: Request, journey: Journey, item, index: int, form: StepForm) -> str:
    if form.action == "save":
        return journey.url(request, "back")
    if form.change == "1" or index + 1 >= len(STEPS[journey.kind.key]):
        return journey.url(request, "check", item_id=item.id)
    return journey.url(request, "step", item_id=item.id, step=STEPS[journey.kind.key][index + 1].key)


def _answers(step: Step, form: StepForm) -> dict[str, Any]:
    answers = {field: getattr(form, field) for field in step.fields if hasattr(form, field)}
    answers = {k: v for k, v in answers.items() if not (k in KEEP_WHEN_EMPTY and v == "")}
    if form.action == "save":
        # Saving to come back later keeps what was answered; an unanswered question is not an error yet.
        answers = {field: value for field, value in answers.items() if value not in ("", [])}
    return answers


def _item_context(request: Request, db, journey: Journey, item, errors: list | None = None) -> dict:
    """Everything the item page shows, also when a status change was refused."""
    plugins = request.app.state.plugins
    sections = [s for provider in plugins.item_sections if (s := provider(request, db, journey, item))]
    return _summary_context(db, journey, item) | {
        "matching_consent": privacy.has_consent(db, person_id=journey.subject.id, purpose=ConsentPurpose.matching),
        "profile_consent": privacy.has_consent(db, person_id=journey.subject.id, purpose=ConsentPurpose.profile),
        "errors": errors or [],
        "sections": sections,
    }


def _summary_context(db, journey: Journey, item) -> dict:
    kind = journey.kind
    skills = service.skills_of(db, kind=kind, item_ids=[item.id])[item.id]
    return {
        "kind": kind,
        "journey": journey,
        "item": item,
        "skills": skills,
        "times": availability.describe(item.availability),
        "steps": STEPS[kind.key],
        "live": service.is_live(item),
        "profile_consent": privacy.has_consent(db, person_id=journey.subject.id, purpose=ConsentPurpose.profile),
    }


FLASH_FOR_ACTION = {"publish": "published", "pause": "paused", "reopen": "reopened", "close": "closed"}


def journey_router(kind: ItemKind, routes: JourneyRoutes, subject: Any, prefix: str) -> APIRouter:
    """The offer or request pages, for the person that `subject` (a dependency) resolves."""
    journeys = APIRouter(dependencies=[Depends(load_account)], include_in_schema=False)

    def journey_for(request: Request, resolved: Annotated[tuple, Depends(subject)]) -> Journey:
        actor, person, path_params = resolved
        return Journey(kind=kind, routes=routes, actor=actor, subject=person, path_params=path_params)

    ThisJourney = Annotated[Journey, Depends(journey_for)]

    @journeys.get(prefix + "/new", name=routes.new)
    def new_item(request: Request, db: DbSession, journey: ThisJourney) -> Response:
        return _step_page(request, db, journey, STEPS[kind.key][0], 0, None, StepForm())

    @journeys.post(prefix + "/new", name=routes.new_submit)
    def new_item_submit(request: Request, db: DbSession, journey: ThisJourney, form: Annotated[StepForm, Form()]) -> Response:
        step = STEPS[kind.key][0]

        def create() -> once.Answer:
            data = parse(kind.update_model, _answers(step, form), context=service.lookups(db))
            with atomic(db):
                item = service.create_draft(db, kind=kind, person=journey.subject, data=data)
            return once.Answer(303, _next_url(request, journey, item, 0, form))

        try:
            answer = once.form_once(db, account_id=journey.actor.account_id, token=form.form_token, run=create)
        except InvalidInput as error:
            return _step_page(request, db, journey, step, 0, None, form, error)
        flash = "draft-saved" if form.action == "save" and not answer.repeated else None
        return see_other(request, answer.body, flash=flash)

    @journeys.get(prefix + "/{item_id:int}/steps/{step}", name=routes.step)
    def step_page(
        request: Request, db: DbSession, journey: ThisJourney, item_id: int, step: str,
        change: Annotated[str, Query(max_length=1)] = "",
    ) -> Response:
        item = load_item(request, db, journey, item_id)
        index, current = _step(kind, step)
        form = _form_values(kind, item, db)
        form.change = change
        return _step_page(request, db, journey, current, index, item, form)

    @journeys.post(prefix + "/{item_id:int}/steps/{step}", name=routes.step_submit)
    def step_submit(
        request: Request, db: DbSession, journey: ThisJourney, item_id: int, step: str,
        form: Annotated[StepForm, Form()],
    ) -> Response:
        item = load_item(request, db, journey, item_id, AuditAction.changed)
        index, current = _step(kind, step)
        if form.action == "search":  # the skill picker without JavaScript: filter, keep what is ticked
            return _step_page(request, db, journey, current, index, item, form, status_code=200)
        try:
            data = parse(kind.update_model, _answers(current, form), context=service.lookups(db))
            with atomic(db):
                service.update_item(db, kind=kind, item=item, person=journey.subject, data=data)
        except InvalidInput as error:
            db.refresh(item)
            return _step_page(request, db, journey, current, index, item, form, error)
        flash = "draft-saved" if form.action == "save" else None
        return see_other(request, _next_url(request, journey, item, index, form), flash=flash)

    @journeys.get(prefix + "/{item_id:int}/check", name=routes.check)
    def check_page(request: Request, db: DbSession, journey: ThisJourney, item_id: int) -> Response:
        item = load_item(request, db, journey, item_id)
        context = _summary_context(db, journey, item) | {
            "errors": service.missing_for_publishing(db, kind=kind, item=item)
        }
        return render(request, "registry/check.html", context)

    @journeys.get(prefix + "/{item_id:int}", name=routes.item)
    def item_page(request: Request, db: DbSession, journey: ThisJourney, item_id: int) -> Response:
        item = load_item(request, db, journey, item_id)
        return render(request, "registry/item.html", _item_context(request, db, journey, item))

    @journeys.post(prefix + "/{item_id:int}/status", name=routes.status)
    def status_submit(
        request: Request, db: DbSession, journey: ThisJourney, item_id: int,
        action: Annotated[str, Form(max_length=20)] = "",
    ) -> Response:
        item = load_item(request, db, journey, item_id, AuditAction.changed)
        try:
            with atomic(db):
                service.change_status(db, kind=kind, item=item, action=action)
                if action == "close":
                    request.app.state.plugins.item_was_closed(db, kind_key=kind.key, item_id=item.id)
        except InvalidInput as error:
            db.refresh(item)
            if action == "publish":
                context = _summary_context(db, journey, item) | {"errors": error.errors}
                return render(request, "registry/check.html", context, status_code=422)
            return render(request, "registry/item.html", _item_context(request, db, journey, item, error.errors), status_code=422)
        return see_other(request, journey.url(request, "item", item_id=item.id), flash=FLASH_FOR_ACTION[action])

    return journeys


citizen_offers = journey_router(OFFER, CITIZEN_OFFER_ROUTES, citizen_journey_subject, "/offers")
citizen_requests = journey_router(REQUEST, CITIZEN_REQUEST_ROUTES, citizen_journey_subject, "/requests")
