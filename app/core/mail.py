"""Outgoing mail: written from templates in the recipient's language, sent only after commit.

`send_after_commit(db, mailer, message)` is the one call site for mail that belongs to a unit of
work: the message waits on the database session and goes when that session's transaction
commits; a rollback (of the whole transaction, or of the savepoint it was queued in) discards
it, so nobody is sent a link to a row that was never saved. A later background job queue that
lives in the database replaces the body of `send_after_commit` alone (insert the job in the same
transaction), and the callers stay as they are.

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

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from app.core import i18n
from app.core.config import Settings
from app.core.db import utcnow

logger = logging.getLogger("marketplace.mail")

_QUEUE_KEY = "marketplace.mail_after_commit"


@dataclass(frozen=True)
class MailMessage:
    to: str
    subject: str
    body: str


class Mailer:
    def __init__(self, settings: Settings):
        self.settings = settings

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


# --- after commit --------------------------------------------------------------------------------


@dataclass
class _Queued:
    transaction: SessionTransaction
    mailer: Mailer
    message: MailMessage


def send_after_commit(db: Session, mailer: Mailer, message: MailMessage) -> None:
    """Send `message` once `db`'s transaction has committed; forget it if it rolls back."""
    _listen(db)
    db.connection()  # make sure a transaction has begun, so the message belongs to it
    transaction = db.get_nested_transaction() or db.get_transaction()
    db.info.setdefault(_QUEUE_KEY, []).append(_Queued(transaction, mailer, message))


def pending_mail(db: Session) -> list[MailMessage]:
    """What would be sent if the session committed now (for tests and diagnostics)."""
    return [queued.message for queued in db.info.get(_QUEUE_KEY, [])]


def _listen(db: Session) -> None:
    if not event.contains(db, "after_commit", _after_commit):
        event.listen(db, "after_commit", _after_commit)
        event.listen(db, "after_soft_rollback", _after_soft_rollback)
        event.listen(db, "after_transaction_end", _after_transaction_end)


def _within(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


def _after_soft_rollback(db: Session, previous_transaction: SessionTransaction) -> None:
    # A rolled-back savepoint drops only what was queued inside it; the whole transaction, all.
    queue = db.info.get(_QUEUE_KEY)
    if queue:
        queue[:] = [queued for queued in queue if not _within(queued.transaction, previous_transaction)]


def _after_transaction_end(db: Session, transaction: SessionTransaction) -> None:
    # A session closed without committing ends its transaction without a rollback event.
    if transaction.parent is None and not transaction.nested:
        queue = db.info.get(_QUEUE_KEY)
        if queue:
            queue[:] = [queued for queued in queue if not _within(queued.transaction, transaction)]


def _after_commit(db: Session) -> None:
    # SQLAlchemy fires this for a released savepoint too: wait for the outermost transaction.
    # Then the data is saved whatever happens next, so a delivery failure is logged, not raised.
    if db.in_nested_transaction():
        return
    queue = db.info.pop(_QUEUE_KEY, [])
    for queued in queue:
        try:
            queued.mailer.send_message(queued.message)
        except Exception as exc:  # noqa: BLE001 (mail must not undo a committed request)
            logger.error("mail could not be sent after commit (%s): %s", type(exc).__name__, queued.message.subject)
