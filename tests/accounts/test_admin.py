"""Administrators create linker and staff accounts and deactivate accounts; nobody else may."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.accounts.models import Account
from tests.conftest import PASSWORD, post_form, sign_in


def test_anonymous_is_sent_to_sign_in(client):
    for path in ("/admin/accounts", "/account"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/sign-in?next=")


@pytest.mark.parametrize("persona", ["citizen", "linker", "staff"])
def test_other_roles_get_403(client, request, persona):
    account = request.getfixturevalue(persona)
    sign_in(client, account)
    assert client.get("/admin/accounts").status_code == 403
    create = post_form(
        client, "/admin/accounts", {"name": "X Person", "email": "x@example.org", "role": "admin"}, token_from="/account"
    )
    assert create.status_code == 403
    deactivate = post_form(client, f"/admin/accounts/{account.id}/deactivate", {}, token_from="/account")
    assert deactivate.status_code == 403


def test_admin_sees_accounts(client, admin, citizen):
    sign_in(client, admin)
    page = client.get("/admin/accounts")
    assert page.status_code == 200 and citizen.email in page.text
    assert page.headers["cache-control"] == "no-store"


def test_admin_creates_staff_account_with_outbox_mail(client, db, admin, settings):
    sign_in(client, admin)
    response = post_form(
        client, "/admin/accounts", {"name": "Sid Staff", "email": "sid@example.org", "role": "staff"}, token_from="/admin/accounts"
    )
    assert response.status_code == 303
    created = db.execute(select(Account).where(Account.email == "sid@example.org")).scalar_one()
    assert created.role.value == "staff"
    assert len(list(settings.outbox_dir.glob("*.eml"))) == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "", "email": "a@example.org", "role": "linker"}, "name"),
        ({"name": "Al", "email": "nope", "role": "linker"}, "email"),
        ({"name": "Al", "email": "a@example.org", "role": "citizen"}, "role"),
        ({"name": "Al", "email": "a@example.org", "role": "overlord"}, "role"),
        ({"name": "Al", "email": "ada@example.org", "role": "linker"}, "email"),
    ],
)
def test_admin_create_bad_input(client, db, admin, data, field):
    sign_in(client, admin)
    before = db.execute(select(func.count()).select_from(Account)).scalar_one()
    response = post_form(client, "/admin/accounts", data, token_from="/admin/accounts")
    assert response.status_code == 422 and f'href="#{field}"' in response.text
    assert db.execute(select(func.count()).select_from(Account)).scalar_one() == before


def test_deactivate_signs_the_person_out_and_reactivate_lets_them_back(client, other_client, db, admin, linker):
    sign_in(other_client, linker)
    sign_in(client, admin)
    assert post_form(client, f"/admin/accounts/{linker.id}/deactivate", {}, token_from="/admin/accounts").status_code == 303
    assert other_client.get("/account", follow_redirects=False).status_code == 303
    assert post_form(other_client, "/sign-in", {"email": linker.email, "password": PASSWORD}).status_code == 422
    assert post_form(client, f"/admin/accounts/{linker.id}/reactivate", {}, token_from="/admin/accounts").status_code == 303
    sign_in(other_client, linker)


def test_admin_cannot_deactivate_themselves(client, db, admin):
    sign_in(client, admin)
    response = post_form(client, f"/admin/accounts/{admin.id}/deactivate", {}, token_from="/admin/accounts")
    assert response.status_code == 422
    db.refresh(admin)
    assert admin.is_active


def test_unknown_account_id_is_404(client, admin):
    sign_in(client, admin)
    assert post_form(client, "/admin/accounts/999999/deactivate", {}, token_from="/admin/accounts").status_code == 404
    assert post_form(client, "/admin/accounts/not-a-number/deactivate", {}, token_from="/admin/accounts").status_code in (400, 404, 422)
