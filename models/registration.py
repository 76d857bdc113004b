"""A person's registration (注册): number, employer, status and each registered specialty's validity."""
from sqlalchemy import Boolean, Column, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import relationship

from models.base import Model, Timestamps
from models.choices import APPLICATION_REASONS, LAPSE_REASONS, REGISTRATION_STATUSES, REVOCATION_REASONS


class Registration(Timestamps, Model):
    __tablename__ = "registration"
    # "Starts with" searches (views/interface.py) on PostgreSQL: LIKE 'x%' needs pattern-ops indexes.
    __table_args__ = (
        Index("ix_registration_number_prefix", "number", postgresql_ops={"number": "varchar_pattern_ops"}),
    )
    __audited__ = True

    id = Column(Integer, primary_key=True)
    person_id = Column(Integer, ForeignKey("person.id"), nullable=False, unique=True)
    # Full number: the leading character follows the current employer's province; the digits never change.
    number = Column(String(20), nullable=False, unique=True)
    number_digits = Column(String(19), nullable=False, unique=True)
    enterprise_id = Column(Integer, ForeignKey("enterprise.id"), nullable=False, index=True)
    status = Column(String(20), nullable=False, default="active", index=True)
    initial_province_code = Column(String(2), ForeignKey("province.code"), nullable=False, index=True)
    registered_on = Column(Date, nullable=False, index=True)
    contract_start = Column(Date)
    contract_end = Column(Date)
    is_temporary = Column(Boolean, nullable=False, default=False)
    cancelled_on = Column(Date)
    cancel_reason = Column(String(40))
    cancel_note = Column(Text)
    # Lapsed (注册失效): the day and why (models.choices.LAPSE_REASONS); set by the lifecycle jobs.
    lapsed_on = Column(Date)
    lapse_reason = Column(String(20))

    person = relationship("Person", back_populates="registration", lazy="joined")
    enterprise = relationship("Enterprise", lazy="joined")
    specialties = relationship(
        "RegistrationSpecialty", back_populates="registration", order_by="RegistrationSpecialty.id",
        cascade="all, delete-orphan", lazy="selectin",
    )

    @property
    def status_label(self):
        return REGISTRATION_STATUSES.label(self.status)

    @property
    def lapse_reason_label(self):
        return LAPSE_REASONS.label(self.lapse_reason) if self.lapse_reason else ""

    @property
    def cancel_reason_label(self):
        return APPLICATION_REASONS.label(self.cancel_reason)

    @property
    def revoked_by_law(self) -> bool:
        """Cancelled on a revocation ground (撤销注册): `cancelled_on` is the revocation day."""
        return self.status == "cancelled" and self.cancel_reason in REVOCATION_REASONS

    @property
    def active_specialties(self):
        return [s for s in self.specialties if s.status == "active"]

    def specialty(self, code):
        return next((s for s in self.specialties if s.specialty_code == code), None)

    @property
    def specialty_summary(self):
        """Active specialties with their valid-until dates, e.g. 建筑工程 2029-11-23；市政公用工程 2028-05-01."""
        return "；".join(f"{s.specialty} {s.valid_until}" for s in self.active_specialties)

    def __str__(self):
        return self.number


class RegistrationSpecialty(Model):
    __tablename__ = "registration_specialty"
    __audited__ = True
    __table_args__ = (UniqueConstraint("registration_id", "specialty_code", name="uq_registration_specialty"),)

    id = Column(Integer, primary_key=True)
    registration_id = Column(Integer, ForeignKey("registration.id"), nullable=False, index=True)
    specialty_code = Column(String(20), ForeignKey("specialty.code"), nullable=False, index=True)
    valid_from = Column(Date, nullable=False)
    valid_until = Column(Date, nullable=False, index=True)
    status = Column(String(20), nullable=False, default="active")  # active, lapsed, cancelled
    lapsed_on = Column(Date)

    registration = relationship("Registration", back_populates="specialties")
    specialty = relationship("Specialty", lazy="joined")

    def __str__(self):
        return f"{self.specialty} {self.valid_until:%Y-%m-%d}"
