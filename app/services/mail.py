"""E-mail through a pluggable mailer (config MAIL_BACKEND), like the SMS gateway.

The default `OutboxMailer` only records each message in the EmailOutbox table; `SmtpMailer` sends through the
SMTP relay named by MAIL_SERVER, MAIL_PORT, MAIL_USERNAME, MAIL_PASSWORD, MAIL_USE_TLS and MAIL_SENDER. Another
service implements `Mailer.send`.
"""
import abc
import logging
import smtplib
from email.message import EmailMessage

from flask import current_app

from ground import clock
from app.services import backends
from ground.extensions import db
from models import EmailOutbox

log = logging.getLogger(__name__)


class Mailer(abc.ABC):
    name = "mailer"

    @abc.abstractmethod
    def send(self, address: str, subject: str, body: str) -> None:
        """Deliver one plain-text message; raise on failure."""


class OutboxMailer(Mailer):
    """Default: records the message in EmailOutbox (same session, flushed)."""

    name = "outbox"

    def send(self, address: str, subject: str, body: str) -> None:
        db.session.add(EmailOutbox(address=address, subject=subject[:200], body=body, backend=self.name,
                                   created_at=clock.now_utc()))
        db.session.flush()


class SmtpMailer(Mailer):
    """An SMTP relay (the government intranet's mail server)."""

    name = "smtp"

    def send(self, address: str, subject: str, body: str) -> None:
        config = current_app.config
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = config["MAIL_SENDER"], address, subject
        message.set_content(body)
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
            if config["MAIL_USE_TLS"]:
                smtp.starttls()
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            smtp.send_message(message)


def mailer() -> Mailer:
    """The configured mailer (MAIL_BACKEND)."""
    return backends.configured("MAIL_BACKEND")
