"""Administrators keep the skills taxonomy: add skills, rename them, edit synonyms, retire them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from app.accounts.dependencies import AdminOnly, load_account
from app.core.db import DbSession, atomic
from app.core.errors import InvalidInput
from app.core.responses import see_other
from app.core.templating import render
from app.core.validation import parse
from app.registry import service
from app.registry.models import Skill, SkillCategory, SkillCreate, SkillUpdate

router = APIRouter(dependencies=[Depends(load_account)], include_in_schema=False)


class SkillForm(BaseModel):
    model_config = ConfigDict(extra="ignore")  # kept as typed; SkillCreate / SkillUpdate decide

    name: str = ""
    synonyms: str = ""
    category: str = ""
    active: str = ""


def _categories(db) -> list[SkillCategory]:
    return list(db.execute(select(SkillCategory).order_by(SkillCategory.position, SkillCategory.id)).scalars())


def _list_page(request: Request, db, form: SkillForm, error: InvalidInput | None = None) -> Response:
    categories = _categories(db)
    skills = list(db.execute(select(Skill).order_by(Skill.category_id, Skill.position, Skill.id)).scalars())
    by_category = {c.id: [s for s in skills if s.category_id == c.id] for c in categories}
    return render(
        request,
        "registry/admin_skills.html",
        {"categories": categories, "by_category": by_category, "form": form, "errors": error.errors if error else []},
        status_code=422 if error else 200,
    )


@router.get("/admin/skills", name="registry:admin_skills")
def admin_skills(request: Request, db: DbSession, admin: AdminOnly) -> Response:
    return _list_page(request, db, SkillForm())


@router.post("/admin/skills", name="registry:admin_skill_create")
def admin_skill_create(request: Request, db: DbSession, admin: AdminOnly, form: Annotated[SkillForm, Form()]) -> Response:
    try:
        with atomic(db):
            service.create_skill(db, data=parse(SkillCreate, form.model_dump(exclude={"active"})))
    except InvalidInput as error:
        return _list_page(request, db, form, error)
    return see_other(request, request.url_for("registry:admin_skills").path, flash="skill-saved")


def _edit_page(request: Request, db, skill: Skill, form: SkillForm, error: InvalidInput | None = None) -> Response:
    return render(
        request,
        "registry/admin_skill_edit.html",
        {"skill": skill, "categories": _categories(db), "form": form, "errors": error.errors if error else []},
        status_code=422 if error else 200,
    )


@router.get("/admin/skills/{skill_id:int}", name="registry:admin_skill")
def admin_skill(request: Request, db: DbSession, admin: AdminOnly, skill_id: int) -> Response:
    skill = service.get_skill(db, skill_id=skill_id)
    category = db.get(SkillCategory, skill.category_id)
    form = SkillForm(name=skill.name, synonyms=", ".join(skill.synonym_list), category=category.code, active="yes" if skill.active else "")
    return _edit_page(request, db, skill, form)


@router.post("/admin/skills/{skill_id:int}", name="registry:admin_skill_update")
def admin_skill_update(
    request: Request, db: DbSession, admin: AdminOnly, skill_id: int, form: Annotated[SkillForm, Form()]
) -> Response:
    skill = service.get_skill(db, skill_id=skill_id)
    try:
        with atomic(db):
            service.update_skill(db, skill=skill, data=parse(SkillUpdate, form.model_dump()))
    except InvalidInput as error:
        db.refresh(skill)
        return _edit_page(request, db, skill, form, error)
    return see_other(request, request.url_for("registry:admin_skills").path, flash="skill-saved")
