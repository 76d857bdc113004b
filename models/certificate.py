"""Electronic registration certificates (电子证书): a new number for every issue."""
from sqlalchemy import Column, Date, DateTime, ForeignKey, Index, Integer, JSON, String, Text
from sqlalchemy.orm import relationship

from ground.clock import now_utc

from models.base import Model
from models.choices import CERTIFICATE_STATUSES


class Certificate(Model):
    __tablename__ = "certificate"
    # "Starts with" searches (views/interface.py) on PostgreSQL: LIKE 'x%' needs pattern-ops indexes.
    __table_args__ = (
        Index("ix_certificate_holder_name_prefix", "holder_name", postgresql_ops={"holder_name": "varchar_pattern_ops"}),
        Index("ix_certificate_registration_number_prefix", "registration_number", postgresql_ops={"registration_number": "varchar_pattern_ops"}),
        Index("ix_certificate_number_prefix", "number", postgresql_ops={"number": "varchar_pattern_ops"}),
    )
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
    # The validity printed on the latest copy its holder downloaded (reminded before it passes).
    copy_valid_until = Column(Date)
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
