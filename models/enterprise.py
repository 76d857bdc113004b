"""An employer (企业), identified by its unified social credit code, registered in one province."""
from sqlalchemy import Column, ForeignKey, Index, Integer, String
from sqlalchemy.orm import relationship, validates

from ground.identifiers import clean_credit_code, clean_mobile

from models.base import Model, Timestamps


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
    contact_phone = Column(String(11))

    province = relationship("Province", lazy="joined")

    @validates("credit_code")
    def _normalise_credit_code(self, key, value):
        return clean_credit_code(value)

    @validates("contact_phone")
    def _normalise_phone(self, key, value):
        return clean_mobile(value) if value else None

    def __str__(self):
        return self.name
