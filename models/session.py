"""Signed-in sessions kept on the server: the cookie carries a random id whose hash is stored here, so a
session can end on the server (sign-out, idle or absolute timeout, password change, deactivation) even
when someone kept a copy of the cookie."""
from sqlalchemy import Column, DateTime, ForeignKey, Integer, String

from ground.clock import now_utc

from models.base import Model


class UserSession(Model):
    __tablename__ = "user_session"

    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("ab_user.id"), nullable=False, index=True)
    token_hash = Column(String(64), nullable=False, unique=True)
    created_at = Column(DateTime, nullable=False, default=now_utc)
    last_seen_at = Column(DateTime, nullable=False, default=now_utc)
    ended_at = Column(DateTime, index=True)
    ended_reason = Column(String(20))  # logout / idle / lifetime / password / inactive / replaced
    ip = Column(String(45))
