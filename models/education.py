"""Continuing-education records (继续教育记录): hours a person completed, imported from training providers
or entered by provincial or ministry staff from a certificate the person presents."""
from sqlalchemy import CheckConstraint, Column, Date, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import relationship

from ground.clock import now_utc
from models.base import Model
from models.choices import EDUCATION_KINDS, EDUCATION_SOURCES


class ContinuingEducation(Model):
    __tablename__ = "continuing_education"
    __audited__ = True
    __table_args__ = (CheckConstraint("hours > 0", name="ck_continuing_education_hours"),)

    id = Column(Integer, primary_key=True)
    person_id = Column(Integer, ForeignKey("person.id"), nullable=False, index=True)
    # The specialty the course was for; empty: a general course, counted for every specialty.
    specialty_code = Column(String(20), ForeignKey("specialty.code"))
    kind = Column(String(12), nullable=False)  # EDUCATION_KINDS: compulsory 必修 / elective 选修
    hours = Column(Integer, nullable=False)
    completed_on = Column(Date, nullable=False, index=True)  # 结业日期: counts for the period it falls in
    provider = Column(String(100), nullable=False)  # training provider 培训单位
    course = Column(String(200), nullable=False)
    certificate_no = Column(String(40), nullable=False, unique=True)  # 培训证书编号: counted once
    attachment_id = Column(Integer, ForeignKey("attachment.id"))  # the certificate scan (entered records)
    source = Column(String(10), nullable=False)  # EDUCATION_SOURCES: import / entry
    entered_by_id = Column(Integer, ForeignKey("ab_user.id"))
    created_at = Column(DateTime, nullable=False, default=now_utc)

    person = relationship("Person", lazy="joined")
    specialty = relationship("Specialty", lazy="joined")
    attachment = relationship("Attachment")

    @property
    def kind_label(self):
        return EDUCATION_KINDS.label(self.kind)

    @property
    def source_label(self):
        return EDUCATION_SOURCES.label(self.source)

    def __str__(self):
        return f"{self.certificate_no} {self.course}"
