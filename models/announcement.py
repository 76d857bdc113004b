"""Announcement batches (公告): approved applications are published together under one number."""
from sqlalchemy import Column, Date, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import relationship

from ground.clock import now_utc

from models.base import Model
from models.choices import ANNOUNCEMENT_STATES, BatchState


class AnnouncementBatch(Model):
    __tablename__ = "announcement_batch"
    __audited__ = True
    __table_args__ = (UniqueConstraint("year", "sequence", name="uq_announcement_year_sequence"),)
    __sort_by__ = {"number": ("year", "sequence"), "state_label": ("state",)}  # lists sort these properties so

    id = Column(Integer, primary_key=True)
    title = Column(String(200), nullable=False, index=True)
    year = Column(Integer)  # number parts, assigned at publication: 2026年第12批
    sequence = Column(Integer)
    state = Column(String(20), nullable=False, default=BatchState.DRAFT, index=True)
    published_on = Column(Date, index=True)
    created_at = Column(DateTime, nullable=False, default=now_utc)
    created_by_id = Column(Integer, ForeignKey("ab_user.id"), index=True)

    applications = relationship("Application", back_populates="announcement", order_by="Application.id")

    @property
    def number(self):
        if self.year is None:
            return ""
        return f"{self.year}年第{self.sequence}批"

    @property
    def state_label(self):
        return ANNOUNCEMENT_STATES.label(self.state)

    def __str__(self):
        return self.number or self.title
