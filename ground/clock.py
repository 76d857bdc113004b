"""Time in one place: naive UTC timestamps in the database, dates in China Standard Time.

Tests move time by monkeypatching `now_utc` (in every module that imported it). `as_of(day)` fixes `today()`
alone, for a nightly job run for a given day; timestamps the job writes stay the real time.
"""
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


_AS_OF: ContextVar[date | None] = ContextVar("as_of", default=None)


@contextmanager
def as_of(day: date):
    """Within the block, `today()` is `day`: a nightly job run for a given date (`flask jobs run --date`)."""
    token = _AS_OF.set(day)
    try:
        yield day
    finally:
        _AS_OF.reset(token)


def today() -> date:
    """Today's date in China, the date every rule (validity, windows, age) counts from."""
    fixed = _AS_OF.get()
    if fixed is not None:
        return fixed
    return now_utc().replace(tzinfo=timezone.utc).astimezone(CHINA_TZ).date()


def china_day(moment: datetime) -> date:
    """The date in China of a naive UTC timestamp."""
    return moment.replace(tzinfo=timezone.utc).astimezone(CHINA_TZ).date()


def china_minute(moment: datetime) -> str:
    """A naive UTC timestamp as China's local time to the minute (2026-12-06 10:41)."""
    return moment.replace(tzinfo=timezone.utc).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def add_years(day: date, years: int) -> date:
    """Same day `years` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def age_on(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
