"""One-time SMS codes (kept hashed; used once; expire)."""
from sqlalchemy import Column, DateTime, Integer, String

from ground.clock import now_utc

from models.base import Model


class SmsCode(Model):
    __tablename__ = "sms_code"

    id = Column(Integer, primary_key=True)
    phone = Column(String(11), nullable=False, index=True)
    purpose = Column(String(20), nullable=False)
    code_hash = Column(String(200), nullable=False)
    created_at = Column(DateTime, nullable=False, default=now_utc)
    expires_at = Column(DateTime, nullable=False)
    used_at = Column(DateTime)
    attempts = Column(Integer, nullable=False, default=0)


class SmsOutbox(Model):
    """Every SMS the platform sends, as handed to the gateway (the default gateway only writes here)."""

    __tablename__ = "sms_outbox"

    id = Column(Integer, primary_key=True)
    phone = Column(String(11), nullable=False, index=True)
    purpose = Column(String(20), nullable=False, index=True)
    text = Column(String(500), nullable=False)
    backend = Column(String(100), nullable=False)
    created_at = Column(DateTime, nullable=False, default=now_utc, index=True)

    def __str__(self):
        return f"{self.phone} {self.created_at:%Y-%m-%d %H:%M}"
