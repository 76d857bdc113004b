"""Qualification roster (资格证书): imported by the ministry, one entry per person and specialty."""
from sqlalchemy import Boolean, Column, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import relationship

from models.base import Model, Timestamps


class Qualification(Timestamps, Model):
    __tablename__ = "qualification"
    __audited__ = True
    __table_args__ = (UniqueConstraint("person_id", "specialty_code", name="uq_qualification_person_specialty"),)

    id = Column(Integer, primary_key=True)
    person_id = Column(Integer, ForeignKey("person.id"), nullable=False, index=True)
    certificate_no = Column(String(32), unique=True, nullable=False)
    specialty_code = Column(String(20), ForeignKey("specialty.code"), nullable=False, index=True)
    qualified_on = Column(Date, nullable=False, index=True)  # date the qualification certificate was signed
    is_temporary = Column(Boolean, nullable=False, default=False)  # 临时执业证书 holder

    person = relationship("Person", back_populates="qualifications", lazy="joined")
    specialty = relationship("Specialty", lazy="joined")

    def __str__(self):
        return f"{self.certificate_no} {self.specialty}"
