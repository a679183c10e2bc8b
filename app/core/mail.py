"""Outgoing mail: SMTP when configured, otherwise a local outbox folder (development and tests)."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from app.core.config import Settings
from app.core.db import utcnow

logger = logging.getLogger("marketplace.mail")


class Mailer:
    def __init__(self, settings: Settings):
        self.settings = settings

    def send(self, *, to: str, subject: str, body: str) -> None:
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
