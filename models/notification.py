"""Messages (消息中心): one row per event and recipient, shown in the app and delivered by channel; the e-mail outbox.

`event` names what happened ("application.returned:42:7", "specialty.expiry:31:2027-03-01:30"); the unique
(user, event) pair is what makes a message arrive once, however often the job that sends it runs. The text is
rendered from `kind` and `params` in the reader's language when shown (app/notifications.py holds the templates);
`subject` names the thing it concerns, which the message centre links to as the reader may see it.
"""
from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint

from ground.clock import now_utc

from models.base import Model

# Delivery states of the SMS and e-mail channels: null = the channel does not apply to this message.
DELIVERY_STATES = ("pending", "sent", "throttled", "no_address", "failed")


class Notification(Model):
    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("user_id", "event", name="uq_notification_user_event"),
        Index("ix_notification_user_unread", "user_id", "read_at", "id"),
    )

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False)
    event = Column(String(160), nullable=False)
    kind = Column(String(40), nullable=False, index=True)
    params = Column(JSON, nullable=False, default=dict)
    subject = Column(String(60))  # what it concerns, "application:42": the message centre links to its page
    created_at = Column(DateTime, nullable=False, default=now_utc, index=True)
    read_at = Column(DateTime)
    sms_state = Column(String(12), index=True)
    email_state = Column(String(12), index=True)
    delivered_at = Column(DateTime)

    def __str__(self):
        return f"{self.kind} #{self.id}"


class EmailOutbox(Model):
    """Every e-mail the platform sends, as handed to the mailer (the default mailer only writes here)."""

    __tablename__ = "email_outbox"

    id = Column(Integer, primary_key=True)
    address = Column(String(120), nullable=False, index=True)
    subject = Column(String(200), nullable=False)
    body = Column(Text, nullable=False)
    backend = Column(String(100), nullable=False)
    created_at = Column(DateTime, nullable=False, default=now_utc, index=True)

    def __str__(self):
        return f"{self.address} {self.created_at:%Y-%m-%d %H:%M}"
