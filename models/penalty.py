"""Penalty and credit records (不良行为记录): what an authority decided against a person, with its legal ground,
decision document and period. app/penalties.py records them and turns them into refusal grounds."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import relationship

from ground.clock import now_utc

from models.base import Model, Timestamps
from models.choices import PENALTY_GROUNDS, PENALTY_KINDS

MINISTRY_AUTHORITY = _l("Ministry of Housing and Urban-Rural Development")


class PenaltyRecord(Timestamps, Model):
    __tablename__ = "penalty_record"
    # "Starts with" searches (views/interface.py) on PostgreSQL: LIKE 'x%' needs pattern-ops indexes.
    __table_args__ = (
        Index("ix_penalty_record_decision_number_prefix", "decision_number",
              postgresql_ops={"decision_number": "varchar_pattern_ops"}),
    )
    __audited__ = True

    id = Column(Integer, primary_key=True)
    person_id = Column(Integer, ForeignKey("person.id"), nullable=False, index=True)
    kind = Column(String(30), nullable=False, index=True)  # models.choices.PENALTY_KINDS
    ground_code = Column(String(30), nullable=False)  # models.choices.PENALTY_GROUNDS
    ground_text = Column(Text)  # the article and wording of the decision
    decision_number = Column(String(60), nullable=False)  # 决定文号
    decided_on = Column(Date, nullable=False, index=True)
    # The period the decision runs (a suspension, a sentence): from / to; to is empty while it has no end date.
    period_from = Column(Date)
    period_to = Column(Date)
    # A criminal sentence for a crime in construction practice (5-year bar) or for another one (3 years).
    practice_related = Column(Boolean, nullable=False, default=False)
    # Issuing authority: a province (GB/T 2260 code) or the ministry (empty).
    authority_province_code = Column(String(2), ForeignKey("province.code"), index=True)
    public = Column(Boolean, nullable=False, default=True)  # the public register shows it (within its period)
    # The decision document, in the object store under `penalties/<key>` (never served to the public).
    document_key = Column(String(200), nullable=False, unique=True)
    document_filename = Column(String(200), nullable=False)
    document_content_type = Column(String(60), nullable=False)
    document_size = Column(Integer, nullable=False)
    document_sha256 = Column(String(64), nullable=False)
    recorded_by_fk = Column(Integer, ForeignKey("ab_user.id"), nullable=False)
    recorded_at = Column(DateTime, nullable=False, default=now_utc, index=True)

    person = relationship("Person", lazy="joined")
    authority_province = relationship("Province", lazy="joined")
    recorded_by = relationship("AppUser", lazy="joined")

    @property
    def kind_label(self):
        return PENALTY_KINDS.label(self.kind)

    @property
    def ground_label(self):
        return PENALTY_GROUNDS.label(self.ground_code)

    @property
    def authority_label(self):
        if self.authority_province is not None:
            return _l("%(province)s construction authority", province=self.authority_province)
        return MINISTRY_AUTHORITY

    @property
    def period_label(self):
        if self.period_from is None and self.period_to is None:
            return "—"
        return f"{self.period_from or '…'} – {self.period_to or '…'}"

    def __str__(self):
        return f"{self.kind_label} {self.decision_number}"
