"""Working days with Chinese public holidays and make-up working days (调休), via chinese-calendar.

Years the library does not know yet fall back to Monday–Friday (logged once per year).
"""
import logging
from functools import lru_cache
from datetime import date, datetime, timedelta, timezone

import chinese_calendar
from flask import current_app

from ground.clock import CHINA_TZ

log = logging.getLogger(__name__)
_warned_years: set[int] = set()


@lru_cache(maxsize=16384)  # pages count working days for every row; chinese-calendar is slow per call
def is_workday(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:  # chinese-calendar's signal for a year it has no holiday data for
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning("chinese-calendar has no holiday data for %s; counting Monday-Friday", day.year)
        return day.weekday() < 5


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
    limit = current_app.config["STAGE_TIME_LIMITS"].get(business_type, {}).get(state)
    if not limit:
        return None
    return add_working_days(_china_day(entered_at), limit)


def _china_day(moment: datetime) -> date:
    return moment.replace(tzinfo=timezone.utc).astimezone(CHINA_TZ).date()


def stage_working_days(entered_at: datetime | None, left_at: datetime) -> int | None:
    """Working days spent in a stage entered at `entered_at` and left at `left_at` (naive UTC), as the
    statutory limits count them: the day of entry does not count, the day of leaving does."""
    if entered_at is None:
        return None
    return max(0, working_days_between(_china_day(entered_at), _china_day(left_at)))
