"""Outgoing mail: written from templates in the recipient's language, sent only after commit.

`send_after_commit(db, mailer, message)` is the one call site for mail that belongs to a unit of
work: the message waits on the database session and is put on the job queue
(`app.core.jobs.enqueue_after_commit`) when that session's transaction commits; a rollback (of the
whole transaction, or of the savepoint it was queued in) discards it, so nobody is sent a link to
a row that was never saved. The worker sends it as the `mail_send` job, retried on failure.

Delivery is SMTP when configured, otherwise a local outbox folder (development and tests).
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.core import i18n, jobs
from app.core.config import Settings
from app.core.db import utcnow

logger = logging.getLogger("marketplace.mail")


@dataclass(frozen=True)
class MailMessage:
    to: str
    subject: str
    body: str


class Mailer:
    def __init__(self, settings: Settings, jobs: "jobs.Jobs | None" = None):
        self.settings = settings
        self.jobs = jobs  # the queue that `send_after_commit` uses

    def send(self, *, to: str, subject: str, body: str) -> None:
        """Send now. Mail about database changes goes through `send_after_commit` instead."""
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain="marketplace.invalid")
        message.set_content(body)
        if self.settings.smtp_host:
            self._send_smtp(message)
        else:
            self._write_outbox(message)

    def send_message(self, message: MailMessage) -> None:
        self.send(to=message.to, subject=message.subject, body=message.body)

    def _send_smtp(self, message: EmailMessage) -> None:
        s = self.settings
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_username and s.smtp_password:
                smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
            smtp.send_message(message)
        logger.info("mail sent through SMTP: %s", message["Subject"])

    def _write_outbox(self, message: EmailMessage) -> Path:
        outbox = Path(self.settings.outbox_dir)
        outbox.mkdir(parents=True, exist_ok=True)
        path = outbox / f"{utcnow():%Y%m%dT%H%M%S%f}.eml"
        path.write_bytes(bytes(message))
        # The path and subject only: the recipient and the body (with its link) stay in the file.
        logger.warning("mail written to the local outbox (no SMTP configured): %s  subject: %s", path, message["Subject"])
        return path


# --- messages from templates ---------------------------------------------------------------------


def render_mail(settings: Settings, template_name: str, /, *, to: str, language: str, **context: Any) -> MailMessage:
    """A message from `templates/emails/<template_name>.txt`, in `language`.

    The template has a `subject` block and a `body` block; both are plain text (no escaping)
    and every sentence in them is translatable.
    """
    from app.core.templating import jinja_env

    language = i18n.supported(language) or i18n.DEFAULT_LANGUAGE
    template = jinja_env(settings.templates_dir).get_template(f"emails/{template_name}.txt")
    ctx = template.new_context({**i18n.template_context(language), "settings": settings, **context})
    subject = " ".join("".join(template.blocks["subject"](ctx)).split())
    body = "".join(template.blocks["body"](ctx)).strip() + "\n"
    return MailMessage(to=to, subject=subject, body=body)


# --- after commit, through the job queue -------------------------------------------------------

MAIL_JOB = "mail_send"


def send_after_commit(db: Session, mailer: Mailer, message: MailMessage) -> None:
    """Queue `message` as a mail job once `db`'s transaction has committed; forget it if it rolls
    back. The worker sends it (and retries it) with its own settings."""
    if mailer.jobs is None:
        raise RuntimeError("this Mailer has no job queue: build it as Mailer(settings, jobs)")
    task = mailer.jobs.task(MAIL_JOB)
    jobs.enqueue_after_commit(db, task, message.to, message.subject, message.body, label=message)


def pending_mail(db: Session) -> list[MailMessage]:
    """What would be queued if the session committed now (for tests and diagnostics)."""
    return jobs.pending(db, MAIL_JOB)


def send_mail_job(context: jobs.JobContext, to: str, subject: str, body: str, *, task: Any = None) -> None:
    """The mail job: deliver one message (SMTP, or the outbox in development). A failure raises,
    so the queue retries it; sending twice is possible only if SMTP fails after accepting it."""
    Mailer(context.settings).send(to=to, subject=subject, body=body)


def register(plugins: Any) -> None:
    plugins.add_job(jobs.JobSpec(MAIL_JOB, send_mail_job))
