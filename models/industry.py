"""Which specialties an Industry account (行业主管部门) answers for: its queue and row scope (app/industry.py).

The administrator maintains the link (account page or `flask industry-scope`); changes are audited with the account.
"""
from sqlalchemy import Column, ForeignKey, Integer, String, Table

from models.base import Model

user_industry_specialty = Table(
    "user_industry_specialty",
    Model.metadata,
    Column("user_id", Integer, ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True),
    Column("specialty_code", String(20), ForeignKey("specialty.code"), primary_key=True, index=True),
)
