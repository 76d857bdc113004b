"""An employer (企业), identified by its unified social credit code, registered in one province; its status
(正常 / 停业 / 吊销 / 注销) with the day it took effect and its source, and the history of status changes."""
from sqlalchemy import Column, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import relationship, validates

from ground.clock import now_utc
from ground.identifiers import CONTACT_PHONE_MAX, clean_contact_phone, clean_credit_code

from models.base import Model, Timestamps
from models.choices import ENTERPRISE_STATUS_SOURCES, ENTERPRISE_STATUSES


class Enterprise(Timestamps, Model):
    __tablename__ = "enterprise"
    # "Starts with" searches (views/interface.py) on PostgreSQL: LIKE 'x%' needs pattern-ops indexes.
    __table_args__ = (
        Index("ix_enterprise_name_prefix", "name", postgresql_ops={"name": "varchar_pattern_ops"}),
        Index("ix_enterprise_credit_code_prefix", "credit_code", postgresql_ops={"credit_code": "varchar_pattern_ops"}),
    )
    __audited__ = True

    id = Column(Integer, primary_key=True)
    credit_code = Column(String(18), unique=True, nullable=False)
    name = Column(String(200), nullable=False, index=True)
    province_code = Column(String(2), ForeignKey("province.code"), nullable=False, index=True)
    address = Column(String(200))
    legal_representative = Column(String(50))
    contact_phone = Column(String(CONTACT_PHONE_MAX))  # a mobile or a landline (clean_contact_phone)
    # The current status (models.choices.ENTERPRISE_STATUSES); only app/employer_status.py writes it, with a row
    # of EnterpriseStatusChange.
    status = Column(String(20), nullable=False, default="active", server_default="active", index=True)
    status_since = Column(Date)
    status_source = Column(String(20))

    province = relationship("Province", lazy="joined")
    status_changes = relationship("EnterpriseStatusChange", back_populates="enterprise",
                                  order_by="EnterpriseStatusChange.id.desc()", lazy="select")

    @validates("credit_code")
    def _normalise_credit_code(self, key, value):
        return clean_credit_code(value)

    @validates("contact_phone")
    def _normalise_phone(self, key, value):
        return clean_contact_phone(value) if value else None

    @property
    def status_label(self):
        return ENTERPRISE_STATUSES.label(self.status or "active")

    @property
    def is_active(self) -> bool:
        return (self.status or "active") == "active"

    @property
    def status_history(self) -> str:
        """Every status change, newest first: 2026-11-01 注销（全国企业登记导入）…"""
        return "；".join(str(change) for change in self.status_changes)

    def __str__(self):
        return self.name


class EnterpriseStatusChange(Model):
    """One change of an enterprise's status: what, from which day, from which source, by whom and when."""

    __tablename__ = "enterprise_status_change"
    __audited__ = True

    id = Column(Integer, primary_key=True)
    enterprise_id = Column(Integer, ForeignKey("enterprise.id"), nullable=False, index=True)
    status = Column(String(20), nullable=False)
    previous_status = Column(String(20), nullable=False)
    effective_on = Column(Date, nullable=False)
    source = Column(String(20), nullable=False)  # models.choices.ENTERPRISE_STATUS_SOURCES
    note = Column(Text)
    user_id = Column(Integer, ForeignKey("ab_user.id"), index=True)
    username = Column(String(100))
    created_at = Column(DateTime, nullable=False, default=now_utc, index=True)

    enterprise = relationship("Enterprise", back_populates="status_changes")

    @property
    def status_label(self):
        return ENTERPRISE_STATUSES.label(self.status)

    @property
    def source_label(self):
        return ENTERPRISE_STATUS_SOURCES.label(self.source)

    def __str__(self):
        return f"{self.effective_on} {self.status_label}（{self.source_label}）"
