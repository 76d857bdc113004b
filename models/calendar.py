"""The working-day calendar as data: public holidays and make-up working days (调休) the administrator keeps.

A row says what a date is; a date without a row is what chinese-calendar says for the years it knows, and a
weekday (Monday-Friday) otherwise (app/services/workdays.py).
"""
from sqlalchemy import Boolean, Column, Date, DateTime, Integer, String

from ground.clock import now_utc

from models.base import Model, Choices

from flask_babel import lazy_gettext as _l

CALENDAR_SOURCES = Choices(("admin", _l("Entered by the administrator")), ("import", _l("Imported from a notice")),
                           ("chinese-calendar", _l("chinese-calendar library")))


class CalendarDay(Model):
    __tablename__ = "calendar_day"
    __audited__ = True

    id = Column(Integer, primary_key=True)
    day = Column(Date, nullable=False, unique=True)
    # True: a make-up working day on a weekend; False: a public holiday (no work).
    is_workday = Column(Boolean, nullable=False, default=False)
    name = Column(String(60), nullable=False, default="")
    source = Column(String(20), nullable=False, default="admin")
    created_at = Column(DateTime, nullable=False, default=now_utc)

    @property
    def source_label(self):
        return CALENDAR_SOURCES.label(self.source)

    def __str__(self):
        return f"{self.day:%Y-%m-%d} {self.name}"
