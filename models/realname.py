"""Online real-name verification requests made to a provider (app/services/realname.py)."""
from sqlalchemy import Column, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import relationship

from ground.clock import now_utc

from models.base import Model


class RequestStatus:
    """What became of an online request: waiting for the provider's answer, then verified or failed."""

    PENDING = "pending"
    VERIFIED = "verified"
    FAILED = "failed"


class RealnameRequest(Model):
    __tablename__ = "realname_request"
    __audited__ = True

    id = Column(Integer, primary_key=True)
    person_id = Column(Integer, ForeignKey("person.id"), nullable=False, index=True)
    provider = Column(String(60), nullable=False)
    nonce = Column(String(64), nullable=False, unique=True)
    status = Column(String(20), nullable=False, default=RequestStatus.PENDING, index=True)
    detail = Column(String(500))
    created_at = Column(DateTime, nullable=False, default=now_utc, index=True)
    expires_at = Column(DateTime, nullable=False)
    completed_at = Column(DateTime)

    person = relationship("Person")

    def __str__(self):
        return f"{self.provider} {self.status}"
