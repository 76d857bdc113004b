"""An application (注册申报) of one of the eight business types, and its transition log.

Only app.workflow writes `state`, `version` and the stage columns.
"""
from sqlalchemy import (Column, Date, DateTime, ForeignKey, Index, Integer, String, Table, Text)
from sqlalchemy.orm import relationship

from ground.clock import now_utc
from ground.vocabulary import ACTION_LABELS, STATE_LABELS, TYPE_LABELS

from models.base import Model, Timestamps
from models.choices import APPLICATION_REASONS, INDUSTRY_OPINIONS, REFUSAL_REASONS

application_specialty = Table(
    "application_specialty",
    Model.metadata,
    Column("application_id", Integer, ForeignKey("application.id", ondelete="CASCADE"), primary_key=True),
    Column("specialty_code", String(20), ForeignKey("specialty.code"), primary_key=True, index=True),
)


class Application(Timestamps, Model):
    __tablename__ = "application"
    __audited__ = True
    __table_args__ = (
        Index("ix_application_state_province", "state", "province_code"),
        Index("ix_application_state_enterprise", "state", "enterprise_id"),
        Index("ix_application_type_state", "business_type", "state"),
        # A province's queue, oldest first.
        Index("ix_application_queue", "province_code", "state", "state_changed_at"),
        Index("ix_application_number_prefix", "number", postgresql_ops={"number": "varchar_pattern_ops"}),
    )

    id = Column(Integer, primary_key=True)
    number = Column(String(20), unique=True)  # assigned on first save: SQ + date + serial
    business_type = Column(String(20), nullable=False, index=True)
    person_id = Column(Integer, ForeignKey("person.id"), nullable=False, index=True)
    # The enterprise named by the application (new employer for a change); it confirms and sees it.
    enterprise_id = Column(Integer, ForeignKey("enterprise.id"), index=True)
    previous_enterprise_id = Column(Integer, ForeignKey("enterprise.id"), index=True)
    # Province that reviews it; fixed at submission from the enterprise (see app/rules.py).
    province_code = Column(String(2), ForeignKey("province.code"), index=True)
    registration_id = Column(Integer, ForeignKey("registration.id"), index=True)

    state = Column(String(20), nullable=False, default="draft", index=True)
    version = Column(Integer, nullable=False, default=1)
    submitted_at = Column(DateTime, index=True)
    state_changed_at = Column(DateTime, nullable=False, default=now_utc, index=True)
    stage_deadline = Column(Date, index=True)
    last_opinion = Column(Text)
    # The previous employer's objection to a change of employer (the province decides on it).
    objection = Column(Text)
    # The applicant's reminders to the enterprise holding the stage (催办): how many, and the last one.
    reminder_count = Column(Integer, nullable=False, default=0)
    last_reminded_at = Column(DateTime)

    # Type-specific fields (which ones a type uses: its declaration's `fields`, app/business_types/).
    contract_start = Column(Date)
    contract_end = Column(Date)
    reason = Column(String(40))
    reason_text = Column(Text)
    new_name = Column(String(50))
    new_id_number = Column(String(18))
    pass_certificate_no = Column(String(32))
    # A cancellation reported by the employer: the day the person left (not in the future).
    leaving_date = Column(Date)

    announcement_id = Column(Integer, ForeignKey("announcement_batch.id"), index=True)
    created_by_id = Column(Integer, ForeignKey("ab_user.id"), index=True)

    person = relationship("Person", lazy="joined")
    enterprise = relationship("Enterprise", foreign_keys=[enterprise_id], lazy="joined")
    previous_enterprise = relationship("Enterprise", foreign_keys=[previous_enterprise_id])
    province = relationship("Province")
    registration = relationship("Registration")
    specialties = relationship("Specialty", secondary=application_specialty, lazy="selectin", order_by="Specialty.sort_order")
    announcement = relationship("AnnouncementBatch", back_populates="applications")
    transitions = relationship("TransitionLog", back_populates="application", order_by="TransitionLog.id")

    @property
    def business_type_label(self):
        return TYPE_LABELS.get(self.business_type, self.business_type)

    @property
    def state_label(self):
        return STATE_LABELS.get(self.state, self.state)

    @property
    def reason_label(self):
        return APPLICATION_REASONS.label(self.reason) if self.reason else ""

    @property
    def specialty_names(self):
        return "、".join(str(s) for s in self.specialties)

    def __str__(self):
        return self.number or f"#{self.id}"


class TransitionLog(Model):
    """One row per workflow transition: who, in which role, from which state to which, with what opinion."""

    __tablename__ = "transition_log"
    __table_args__ = (
        # Stage durations and refusals per period (reports/statistics.py): index-only scans.
        Index("ix_transition_log_stats", "created_at", "from_state", "business_type", "province_code", "stage_days"),
        Index("ix_transition_log_action_created", "action", "created_at"),
    )

    id = Column(Integer, primary_key=True)
    application_id = Column(Integer, ForeignKey("application.id"), nullable=False, index=True)
    action = Column(String(20), nullable=False, index=True)
    from_state = Column(String(20), nullable=False)
    to_state = Column(String(20), nullable=False)
    user_id = Column(Integer, ForeignKey("ab_user.id"), index=True)
    username = Column(String(100), index=True)
    role = Column(String(40), index=True)
    opinion = Column(Text)
    reason = Column(String(40), index=True)  # refusals: REFUSAL_REASONS; industry opinions: INDUSTRY_OPINIONS
    created_at = Column(DateTime, nullable=False, default=now_utc, index=True)
    # Facts for the statistics, copied when the move is made so reports need no join or date arithmetic:
    # the application's type and province, and the working days spent in `from_state` before this move.
    business_type = Column(String(20))
    province_code = Column(String(2))
    stage_days = Column(Integer)

    application = relationship("Application", back_populates="transitions", lazy="joined")

    @property
    def reason_label(self):
        if not self.reason:
            return ""
        return (INDUSTRY_OPINIONS if self.action == "opine" else REFUSAL_REASONS).label(self.reason)

    @property
    def action_label(self):
        return ACTION_LABELS.get(self.action, self.action)

    @property
    def from_label(self):
        return STATE_LABELS.get(self.from_state, self.from_state)

    @property
    def to_label(self):
        return STATE_LABELS.get(self.to_state, self.to_state)
