"""The audit log: append-only (database triggers refuse UPDATE and DELETE; see the migration)."""
from sqlalchemy import JSON, Column, DateTime, Integer, String, Text

from ground.clock import now_utc

from models.base import Model


class AuditLog(Model):
    __tablename__ = "audit_log"

    id = Column(Integer, primary_key=True)
    created_at = Column(DateTime, nullable=False, default=now_utc, index=True)
    user_id = Column(Integer, index=True)  # no FK: the log outlives accounts
    username = Column(String(100), index=True)
    role = Column(String(40))
    action = Column(String(40), nullable=False, index=True)
    object_type = Column(String(40), nullable=False, index=True)
    object_id = Column(String(40), index=True)
    summary = Column(Text)
    detail = Column(JSON)
    ip = Column(String(45), index=True)
