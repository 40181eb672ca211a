"""The optional e-mail channel (stdlib smtplib): short plain-text notices to people.

Used for what needs a person: a bank's endpoint that answered 410 and was disabled (to
admins), reminders of critical alerts nobody acknowledged, and a bank's daily report (PDF
attached, to `reports.lenders.<id>.email_to`). Best effort: a failed
send is logged, never retried; the webhook outbox is the durable channel.
"""
from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from typing import Sequence

from backend.ports.webhooks import Attachment

log = logging.getLogger("pledgewatch.email")


class SmtpNotifier:
    def __init__(self, *, host: str, port: int, sender: str, starttls: bool = False,
                 username: str | None = None, password: str | None = None, timeout_s: float = 10.0) -> None:
        self.host, self.port, self.sender, self.starttls = host, port, sender, starttls
        self.username, self.password, self.timeout_s = username, password, timeout_s

    def send(self, to: Sequence[str], subject: str, text: str, attachments: Sequence[Attachment] = ()) -> bool:
        if not to:
            return False
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, ", ".join(to), subject
        message.set_content(text)
        for attachment in attachments:
            maintype, subtype = attachment.content_type.split("/", 1)
            message.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("e-mail to %d recipient(s) failed: %s", len(to), type(exc).__name__)
            return False
        return True
