"""Electronic registration certificates (电子证书): a new number for every issue."""
from sqlalchemy import JSON, Column, Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import relationship

from app.clock import now_utc

from .base import Model
from .choices import CERTIFICATE_STATUSES


class Certificate(Model):
    __tablename__ = "certificate"
    __audited__ = True

    id = Column(Integer, primary_key=True)
    number = Column(String(20), nullable=False, unique=True)
    registration_id = Column(Integer, ForeignKey("registration.id"), nullable=False, index=True)
    person_id = Column(Integer, ForeignKey("person.id"), nullable=False, index=True)
    application_id = Column(Integer, ForeignKey("application.id"), index=True)
    status = Column(String(20), nullable=False, default="valid", index=True)
    issued_on = Column(Date, nullable=False, index=True)
    valid_until = Column(Date, nullable=False, index=True)
    # Snapshot of what the certificate shows, so later changes never alter an issued certificate.
    holder_name = Column(String(50), nullable=False, index=True)
    registration_number = Column(String(20), nullable=False, index=True)
    enterprise_name = Column(String(200), nullable=False)
    specialties = Column(JSON, nullable=False)  # [{"code", "name", "valid_until"}]
    revoked_on = Column(Date)
    revoke_reason = Column(Text)
    replaced_by_id = Column(Integer, ForeignKey("certificate.id"), index=True)
    created_at = Column(DateTime, nullable=False, default=now_utc)

    person = relationship("Person", lazy="joined")
    registration = relationship("Registration")
    replaced_by = relationship("Certificate", remote_side=[id])

    @property
    def status_label(self):
        return CERTIFICATE_STATUSES.label(self.status)

    @property
    def specialty_summary(self):
        return "；".join(f"{s['name']} {s['valid_until']}" for s in self.specialties or [])

    def __str__(self):
        return self.number
