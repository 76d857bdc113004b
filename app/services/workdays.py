"""Working days: Chinese public holidays and make-up working days (调休) from the calendar table the
administrator keeps (models/calendar.py), chinese-calendar for the dates the table does not name in the years
the library knows, Monday-Friday otherwise (logged once per year; the administrator's home page flags it).

The table is kept in the shared cache (ground/cache.py: Redis across hosts when configured) for
CALENDAR_CACHE_SECONDS under a version key; an edit writes a new version, so every host reads the table again at once.
"""
import logging
import uuid
from datetime import date, datetime, timedelta

import chinese_calendar
from flask import current_app, g, has_app_context
from sqlalchemy import extract, func, select

from ground import cache as shared_cache
from ground.clock import china_day
from ground.extensions import db
from ground.vocabulary import State
from models import CalendarDay

log = logging.getLogger(__name__)
_warned_years: set[int] = set()
TABLE_KEY = "workdays:table:"  # + the calendar's version: a new version after every edit
VERSION_KEY = "workdays:version"


def clear_cache() -> None:
    """After a write to the calendar table: every process and host reads it again at once (a new version in the
    shared cache), this request included."""
    if not has_app_context():
        return
    g.pop("_workdays_table", None)
    shared_cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=0)


def _read_table() -> dict:
    return {day.isoformat(): workday
            for day, workday in db.session.execute(select(CalendarDay.day, CalendarDay.is_workday)).all()}


def _table_days() -> dict:
    """{date: is_workday} of the calendar table: from the shared cache (CALENDAR_CACHE_SECONDS), kept for the rest
    of the request or job."""
    if not has_app_context():
        return {}
    if "_workdays_table" not in g:
        version = shared_cache.get(VERSION_KEY) or "0"
        ttl = current_app.config.get("CALENDAR_CACHE_SECONDS", 60)
        raw = shared_cache.cached(TABLE_KEY + str(version), _read_table, timeout=ttl) if ttl > 0 else _read_table()
        g._workdays_table = {date.fromisoformat(day): bool(workday) for day, workday in raw.items()}
    return g._workdays_table


_library_days: dict[date, bool | None] = {}


def _library_workday(day: date):
    """chinese-calendar's answer, or None for a year it has no data for (cached: it is slow per call)."""
    if day not in _library_days:
        try:
            _library_days[day] = chinese_calendar.is_workday(day)
        except NotImplementedError:  # chinese-calendar's signal for a year it has no holiday data for
            _library_days[day] = None
    return _library_days[day]


def library_knows(year: int) -> bool:
    return _library_workday(date(year, 6, 1)) is not None


def is_workday(day: date) -> bool:
    entered = _table_days().get(day)
    if entered is not None:
        return entered
    known = _library_workday(day)
    if known is not None:
        return known
    if day.year not in _warned_years:
        _warned_years.add(day.year)
        log.warning("no holiday data for %s (calendar table or chinese-calendar); counting Monday-Friday", day.year)
    return day.weekday() < 5


def years_without_data(day: date) -> list[int]:
    """The years deadlines are counted in now (this one, and the next from CALENDAR_WARN_FROM_MONTH) that have
    neither rows in the calendar table nor chinese-calendar data."""
    years = [day.year] + ([day.year + 1] if day.month >= current_app.config["CALENDAR_WARN_FROM_MONTH"] else [])
    entered = set(db.session.scalars(select(extract("year", CalendarDay.day)).where(
        CalendarDay.day >= date(years[0], 1, 1), CalendarDay.day <= date(years[-1], 12, 31)).distinct()))
    return [y for y in years if int(y) not in {int(e) for e in entered} and not library_knows(y)]


def add_working_days(start: date, days: int) -> date:
    """The date on which `days` working days after `start` have passed."""
    day = start
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_workday(day):
            remaining -= 1
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (negative if end is earlier)."""
    if end < start:
        return -working_days_between(end, start)
    return sum(1 for n in range(1, (end - start).days + 1) if is_workday(start + timedelta(days=n)))


def stage_deadline(business_type: str, state: str, entered_at: datetime) -> date | None:
    """Statutory deadline of a stage entered at `entered_at`, or None if the stage has no time limit."""
    if state == State.RELEASE:  # the previous employer's objection period counts calendar days (our rule)
        return china_day(entered_at) + timedelta(days=current_app.config["RULES"]["OBJECTION_DAYS"])
    limit = current_app.config["STAGE_TIME_LIMITS"].get(business_type, {}).get(state)
    if not limit:
        return None
    return add_working_days(china_day(entered_at), limit)


def stage_working_days(entered_at: datetime | None, left_at: datetime) -> int | None:
    """Working days spent in a stage entered at `entered_at` and left at `left_at` (naive UTC), as the
    statutory limits count them: the day of entry does not count, the day of leaving does."""
    if entered_at is None:
        return None
    return max(0, working_days_between(china_day(entered_at), china_day(left_at)))
