"""Social-insurance conflicts (挂证): a registration held at one enterprise while another pays the person's social
insurance, as the nightly match (app/conflicts.py) found it; and the payment records the CSV source imports."""
from sqlalchemy import Column, Date, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import relationship

from ground.clock import now_utc

from models.base import Model


class SocialInsuranceRecord(Model):
    """One month's social-insurance payment for a person by an enterprise (the CSV backend's data)."""

    __tablename__ = "social_insurance_record"
    __table_args__ = (UniqueConstraint("id_number", "month", "credit_code", name="uq_social_insurance_record"),)

    id = Column(Integer, primary_key=True)
    id_number = Column(String(18), nullable=False, index=True)
    credit_code = Column(String(18), nullable=False)
    month = Column(String(7), nullable=False, index=True)  # YYYY-MM
    imported_at = Column(DateTime, nullable=False, default=now_utc)


class InsuranceConflict(Model):
    """A mismatch between the registered employer and the enterprise paying the person's social insurance.
    Open while `resolved_on` is empty; the same mismatch found again after it was resolved is a new row."""

    __tablename__ = "insurance_conflict"
    __audited__ = True
    __table_args__ = (Index("ix_insurance_conflict_open", "resolved_on", "province_code"),)

    id = Column(Integer, primary_key=True)
    person_id = Column(Integer, ForeignKey("person.id"), nullable=False, index=True)
    registration_id = Column(Integer, ForeignKey("registration.id"), nullable=False, index=True)
    enterprise_id = Column(Integer, ForeignKey("enterprise.id"), nullable=False, index=True)  # registered employer
    province_code = Column(String(2), ForeignKey("province.code"), nullable=False, index=True)  # the employer's
    paying_credit_code = Column(String(18), nullable=False)
    paying_name = Column(String(200))  # the payer's name when it is an enterprise of the directory
    month = Column(String(7), nullable=False)  # the latest month the mismatch was seen in
    first_seen = Column(Date, nullable=False)
    last_seen = Column(Date, nullable=False)
    resolved_on = Column(Date, index=True)

    person = relationship("Person", lazy="joined")
    registration = relationship("Registration")
    enterprise = relationship("Enterprise", lazy="joined")

    @property
    def payer(self) -> str:
        return f"{self.paying_name}（{self.paying_credit_code}）" if self.paying_name else self.paying_credit_code
