"""One-time SMS codes (kept hashed; used once; expire)."""
from sqlalchemy import Column, DateTime, Integer, String

from app.clock import now_utc

from .base import Model


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
