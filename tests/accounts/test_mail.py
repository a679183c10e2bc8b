"""Password reset and account invitations, delivered through a real local SMTP server."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.accounts.models import Account, PasswordResetToken
from app.main import create_app
from tests.conftest import PASSWORD, post_form, sign_in
from tests.smtp import SmtpServer

NEW_PASSWORD = "marigold-canal-bicycle-9"


@pytest.fixture()
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture()
def mail_client(settings, engine, session_factory, smtp):
    mail_settings = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_starttls": False}
    )
    app = create_app(mail_settings, engine=engine, session_factory=session_factory)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def path_of(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def test_forgotten_password_sends_a_working_single_use_link(mail_client, smtp, citizen):
    response = post_form(mail_client, "/forgotten-password", {"email": citizen.email})
    assert response.status_code == 200 and "Check your email" in response.text
    [message] = smtp.inbox.wait_for(1)
    assert message["To"] == citizen.email
    link = smtp.inbox.link_in(message)
    assert link.startswith("http://127.0.0.1:8000/reset-password?token=")

    page = mail_client.get(path_of(link))
    assert page.status_code == 200 and "Choose a new password" in page.text
    token = link.split("token=")[1]
    reset = post_form(
        mail_client,
        "/reset-password",
        {"token": token, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
    )
    assert reset.status_code == 303 and reset.headers["location"] == "/sign-in"
    sign_in(mail_client, citizen, NEW_PASSWORD)

    again = mail_client.get(path_of(link))
    assert again.status_code == 400 and "This link has expired" in again.text


def test_unknown_email_gets_the_same_answer_and_no_mail(mail_client, smtp):
    response = post_form(mail_client, "/forgotten-password", {"email": "nobody@example.org"})
    assert response.status_code == 200 and "Check your email" in response.text
    assert smtp.inbox.wait_for(1, timeout=0.5) == []


def test_forgotten_password_bad_email_is_explained(mail_client, smtp):
    response = post_form(mail_client, "/forgotten-password", {"email": "nobody"})
    assert response.status_code == 422 and 'href="#email"' in response.text
    assert smtp.inbox.messages == []


def test_expired_reset_link_is_refused(mail_client, smtp, db, citizen):
    post_form(mail_client, "/forgotten-password", {"email": citizen.email})
    [message] = smtp.inbox.wait_for(1)
    token = smtp.inbox.link_in(message).split("token=")[1]
    row = db.execute(select(PasswordResetToken).where(PasswordResetToken.account_id == citizen.id)).scalar_one()
    row.expires_at = row.created_at - timedelta(seconds=1)
    db.add(row)
    db.commit()
    response = post_form(
        mail_client, "/reset-password", {"token": token, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    )
    assert response.status_code == 400 and "This link has expired" in response.text
    sign_in(mail_client, citizen, PASSWORD)


def test_reset_with_a_weak_password_is_explained(mail_client, smtp, citizen):
    post_form(mail_client, "/forgotten-password", {"email": citizen.email})
    token = smtp.inbox.link_in(smtp.inbox.wait_for(1)[0]).split("token=")[1]
    response = post_form(
        mail_client, "/reset-password", {"token": token, "password": "qwertyuiop", "password_confirm": "qwertyuiop"}
    )
    assert response.status_code == 422 and 'href="#password"' in response.text


def test_admin_invitation_is_emailed_and_sets_a_password(mail_client, smtp, db, admin):
    sign_in(mail_client, admin)
    response = post_form(
        mail_client,
        "/admin/accounts",
        {"name": "Lowri Linker", "email": "lowri@example.org", "role": "linker"},
        token_from="/admin/accounts",
    )
    assert response.status_code == 303
    [message] = smtp.inbox.wait_for(1)
    assert message["To"] == "lowri@example.org"
    token = smtp.inbox.link_in(message).split("token=")[1]
    account = db.execute(select(Account).where(Account.email == "lowri@example.org")).scalar_one()
    assert account.role.value == "linker" and account.password_hash is None

    mail_client.cookies.clear()
    post_form(mail_client, "/reset-password", {"token": token, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    sign_in(mail_client, "lowri@example.org", NEW_PASSWORD)
