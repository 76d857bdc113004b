"""The lifecycle tests run on a database of their own: the nightly jobs act on every row, so they must not meet
(or move) the rows of the rest of the suite.

`clock` moves time: `clock.set(day)` makes `now_utc()` (in every module that imported it) and `today()` that day
in China; jobs run for a day through `run(name, day)` (ops.schedule, inside `ground.clock.as_of`).
"""
import contextlib
import sys
from datetime import date, datetime, time, timezone

import pytest

from tests.conftest import app_on_own_database  # first: it sets the test environment up
from ground import clock as ground_clock

_REAL_NOW = ground_clock.now_utc


@pytest.fixture(scope="package")
def app(backend, tmp_path_factory):
    with app_on_own_database(backend, tmp_path_factory) as application:
        yield application


def china_moment(day: date, hour: int = 10) -> datetime:
    """Naive UTC of `hour` o'clock on `day` in China."""
    return datetime.combine(day, time(hour), tzinfo=ground_clock.CHINA_TZ).astimezone(timezone.utc).replace(tzinfo=None)


class Clock:
    """Stops `now_utc` at a chosen moment, in ground.clock and in every module that imported it by name."""

    def __init__(self):
        self.moment = None
        self._patched = []

    def _now(self):
        return self.moment

    def set(self, day: date, hour: int = 10) -> datetime:
        self.moment = china_moment(day, hour)
        if not self._patched:
            for module in list(sys.modules.values()):
                if getattr(module, "now_utc", None) is _REAL_NOW:
                    self._patched.append(module)
                    module.now_utc = self._now
        return self.moment

    def restore(self):
        for module in self._patched:
            module.now_utc = _REAL_NOW
        self._patched = []


@contextlib.contextmanager
def stopped_clock():
    stopped = Clock()
    try:
        yield stopped
    finally:
        stopped.restore()


@pytest.fixture
def clock():
    with stopped_clock() as stopped:
        yield stopped


def run(name: str, day: date) -> dict:
    """Run a nightly job for `day` through the schedule (again, if another test already ran it for that day)."""
    from ops import schedule

    return schedule.run(name, day, force=True)
