"""A person (natural person, identified by the citizen ID number) and their uploaded materials."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import relationship, validates

from ground.clock import now_utc
from ground.identifiers import birth_date_of, clean_id_number, clean_mobile, gender_of, mask_id_number

from models.base import Model, Timestamps
from models.choices import (ATTACHMENT_KINDS, DEGREES, EDUCATION_LEVELS, ETHNICITIES, GENDERS, REALNAME_STATUSES,
                            RealnameStatus)


class Person(Timestamps, Model):
    __tablename__ = "person"
    # "Starts with" searches (views/interface.py) on PostgreSQL: LIKE 'x%' needs pattern-ops indexes.
    __table_args__ = (
        Index("ix_person_name_prefix", "name", postgresql_ops={"name": "varchar_pattern_ops"}),
        Index("ix_person_id_number_prefix", "id_number", postgresql_ops={"id_number": "varchar_pattern_ops"}),
    )
    __audited__ = True

    id = Column(Integer, primary_key=True)
    id_number = Column(String(18), unique=True, nullable=False)
    name = Column(String(50), nullable=False, index=True)
    gender = Column(String(1), nullable=False)
    birth_date = Column(Date, nullable=False, index=True)
    ethnicity = Column(String(2))
    phone = Column(String(11), index=True)
    email = Column(String(120))
    education = Column(String(20))
    degree = Column(String(20))
    school = Column(String(100))
    graduation_date = Column(Date)
    major = Column(String(100))
    realname_status = Column(String(20), nullable=False, default=RealnameStatus.UNVERIFIED, index=True)
    realname_method = Column(String(20))
    realname_verified_at = Column(DateTime)
    realname_requested_at = Column(DateTime, index=True)  # on-site queue: oldest first
    realname_note = Column(String(500))  # why an on-site check was rejected
    # Province that performs the on-site real-name check (DOMAIN: Province sees persons awaiting it).
    realname_province_code = Column(String(2), ForeignKey("province.code"), index=True)

    realname_province = relationship("Province")
    attachments = relationship("Attachment", back_populates="person", order_by="Attachment.id")
    qualifications = relationship("Qualification", back_populates="person", order_by="Qualification.id")
    registration = relationship("Registration", back_populates="person", uselist=False)

    @validates("id_number")
    def _normalise_id_number(self, key, value):
        number = clean_id_number(value)
        self.birth_date = birth_date_of(number)
        self.gender = gender_of(number)
        return number

    @validates("phone")
    def _normalise_phone(self, key, value):
        return clean_mobile(value) if value else None

    @validates("ethnicity")
    def _check_ethnicity(self, key, value):
        if value and value not in ETHNICITIES:
            raise ValueError(str(_l("Unknown ethnicity.")))
        return value or None

    @property
    def masked_id_number(self):
        return mask_id_number(self.id_number)

    @property
    def gender_label(self):
        return GENDERS.label(self.gender)

    @property
    def ethnicity_label(self):
        return ETHNICITIES.label(self.ethnicity)

    @property
    def education_label(self):
        return EDUCATION_LEVELS.label(self.education)

    @property
    def degree_label(self):
        return DEGREES.label(self.degree)

    @property
    def realname_label(self):
        return REALNAME_STATUSES.label(self.realname_status)

    @property
    def is_verified(self) -> bool:
        return self.realname_status == RealnameStatus.VERIFIED

    def latest_attachment(self, kind):
        found = [a for a in self.attachments if a.kind == kind and a.is_current]
        return found[-1] if found else None

    def __str__(self):
        return f"{self.name}（{self.masked_id_number}）"


class Attachment(Model):
    __tablename__ = "attachment"
    __audited__ = True

    id = Column(Integer, primary_key=True)
    person_id = Column(Integer, ForeignKey("person.id"), nullable=False, index=True)
    application_id = Column(Integer, ForeignKey("application.id"), index=True)
    kind = Column(String(20), nullable=False, index=True)
    filename = Column(String(200), nullable=False)
    content_type = Column(String(60), nullable=False)
    size = Column(Integer, nullable=False)
    sha256 = Column(String(64), nullable=False)
    storage_key = Column(String(200), nullable=False, unique=True)  # path relative to the storage root
    is_current = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime, nullable=False, default=now_utc, index=True)

    person = relationship("Person", back_populates="attachments", lazy="joined")

    @property
    def kind_label(self):
        return ATTACHMENT_KINDS.label(self.kind)

    def __str__(self):
        return f"{self.kind_label}: {self.filename}"
