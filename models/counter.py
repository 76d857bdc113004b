"""Named counters for serial numbers (application, registration and certificate numbers)."""
from sqlalchemy import BigInteger, Column, String

from models.base import Model


class Counter(Model):
    __tablename__ = "counter"

    name = Column(String(40), primary_key=True)
    value = Column(BigInteger, nullable=False, default=0)
