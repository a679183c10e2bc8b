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


# --- what the messages say -------------------------------------------------------------------------


def body_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_the_invitation_is_an_invitation_not_a_password_reset(mail_client, smtp, admin):
    sign_in(mail_client, admin)
    post_form(
        mail_client,
        "/admin/accounts",
        {"name": "Lowri Linker", "email": "lowri@example.org", "role": "linker"},
        token_from="/admin/accounts",
    )
    [message] = smtp.inbox.wait_for(1)
    body = " ".join(body_of(message).split())
    assert message["Subject"] == "Your invitation to the Community Asset Marketplace"
    assert body.startswith("Hello Lowri Linker,")
    assert (
        "Ada Admin has invited you to join Northbridge Borough Council's Community Asset Marketplace "
        "as a community linker." in body
    )
    assert "choose your password with this link. It works once, and lasts 3 days:" in body
    words = body.replace(smtp.inbox.link_in(message), "")
    assert "reset" not in words.lower() and "reset" not in message["Subject"].lower()


def test_a_staff_invitation_says_what_staff_do(mail_client, smtp, admin):
    sign_in(mail_client, admin)
    post_form(
        mail_client,
        "/admin/accounts",
        {"name": "Sol Staff", "email": "sol@example.org", "role": "staff"},
        token_from="/admin/accounts",
    )
    body = " ".join(body_of(smtp.inbox.wait_for(1)[0]).split())
    assert "as a member of council staff." in body and "totals only" in body


def test_the_reset_email_says_it_is_a_reset(mail_client, smtp, citizen):
    post_form(mail_client, "/forgotten-password", {"email": citizen.email})
    [message] = smtp.inbox.wait_for(1)
    body = " ".join(body_of(message).split())
    assert message["Subject"] == "Reset your Community Asset Marketplace password"
    assert body.startswith("Hello Cara Citizen,")
    assert "choose a new password with this link within 60 minutes:" in body
    assert "your password has not changed" in body and "invited" not in body


def test_mail_is_written_in_the_recipients_language(mail_client, smtp, db, citizen):
    citizen.language = "cy"
    db.add(citizen)
    db.commit()
    # The person asking is browsing in English; the mail follows the account's setting.
    post_form(mail_client, "/forgotten-password", {"email": citizen.email}, headers={"Accept-Language": "en"})
    [message] = smtp.inbox.wait_for(1)
    body = " ".join(body_of(message).split())
    assert message["Subject"] == "Ailosod eich cyfrinair ar gyfer Community Asset Marketplace"
    assert body.startswith("Helo Cara Citizen,") and "o fewn 60 munud:" in body
    # The link still works.
    assert smtp.inbox.link_in(message).startswith("http://127.0.0.1:8000/reset-password?token=")


# --- sent only after commit ------------------------------------------------------------------------


def queued_mailer(settings, session_factory):
    """A mailer whose `send_after_commit` goes through the job queue, as in the application."""
    from app.core.jobs import build_jobs
    from app.core.mail import Mailer
    from app.main import build_plugins

    return Mailer(settings, build_jobs(settings, session_factory, build_plugins()))


@pytest.fixture()
def mail_settings(settings, smtp):
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_starttls": False})


def test_mail_waits_for_the_commit(session_factory, mail_settings, smtp, citizen):
    from app.accounts import service
    from app.core.mail import pending_mail

    db = session_factory()
    try:
        service.request_password_reset(db, mail_settings, queued_mailer(mail_settings, session_factory), email=citizen.email)
        assert [m.to for m in pending_mail(db)] == [citizen.email]
        assert smtp.inbox.wait_for(1, timeout=0.3) == []  # not before the commit
        db.commit()
        [message] = smtp.inbox.wait_for(1)
        assert message["To"] == citizen.email and pending_mail(db) == []
    finally:
        db.close()


def test_a_rolled_back_transaction_sends_nothing(session_factory, mail_settings, smtp, citizen):
    from app.accounts import service
    from app.core.mail import pending_mail

    db = session_factory()
    try:
        service.request_password_reset(db, mail_settings, queued_mailer(mail_settings, session_factory), email=citizen.email)
        db.rollback()
        assert pending_mail(db) == []
        db.commit()  # a later commit of the same session must not send what was rolled back
        assert smtp.inbox.wait_for(1, timeout=0.5) == []
        # ... and no reset link was saved for the mail to point at.
        assert db.execute(select(PasswordResetToken).where(PasswordResetToken.account_id == citizen.id)).first() is None
    finally:
        db.close()


def test_a_session_closed_without_commit_sends_nothing(session_factory, mail_settings, smtp, citizen):
    from app.accounts import service
    db = session_factory()
    service.request_password_reset(db, mail_settings, queued_mailer(mail_settings, session_factory), email=citizen.email)
    db.close()
    assert smtp.inbox.wait_for(1, timeout=0.5) == []


def test_a_rolled_back_savepoint_drops_only_its_own_mail(session_factory, mail_settings, smtp, db, citizen, other_citizen):
    from app.accounts import service
    mailer = queued_mailer(mail_settings, session_factory)
    work = session_factory()
    try:
        service.request_password_reset(work, mail_settings, mailer, email=citizen.email)
        with pytest.raises(RuntimeError):
            with work.begin_nested():
                service.request_password_reset(work, mail_settings, mailer, email=other_citizen.email)
                raise RuntimeError("the step failed")
        with work.begin_nested():  # a released savepoint is not yet a commit
            pass
        assert smtp.inbox.wait_for(1, timeout=0.3) == []
        work.commit()
        [message] = smtp.inbox.wait_for(1)
        assert message["To"] == citizen.email
        assert smtp.inbox.wait_for(2, timeout=0.5) == [message]
    finally:
        work.close()


def test_a_delivery_failure_after_commit_is_logged_not_shown(settings, engine, session_factory, db, citizen, caplog):
    from tests.smtp import free_port

    # Nothing listens on this port: delivery fails after the request's data is committed.
    broken = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": free_port(), "smtp_starttls": False})
    app = create_app(broken, engine=engine, session_factory=session_factory)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = post_form(client, "/forgotten-password", {"email": citizen.email})
    assert response.status_code == 200 and "Check your email" in response.text
    assert db.execute(select(PasswordResetToken).where(PasswordResetToken.account_id == citizen.id)).first() is not None
    # The mail job failed and waits for its retry; what is recorded names the error, not the person.
    from app.core.jobs import JobRun, JobStatus

    db.expire_all()
    [job] = db.execute(select(JobRun).where(JobRun.name == "mail_send")).scalars().all()
    assert (job.status, job.attempts, job.error) == (JobStatus.retrying, 1, "ConnectionRefusedError")
    assert any(r.name == "huey" and "Unhandled exception" in r.getMessage() for r in caplog.records)
    assert all(citizen.email not in r.getMessage() for r in caplog.records)
