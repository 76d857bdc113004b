"""Fixtures of the working-day calendar tests: rows a test adds are removed, and a year chinese-calendar lacks."""
import pytest
from sqlalchemy import delete, select, true

from app.services import workdays
from ground.extensions import db
from models import CalendarDay

UNKNOWN = 2027  # no State Council notice in chinese-calendar yet


@pytest.fixture
def fresh_calendar(app):
    """Rows this test adds are removed afterwards (other tests count deadlines on the same database)."""
    with app.app_context():
        before = set(db.session.scalars(select(CalendarDay.id)))
    with app.app_context():
        workdays.clear_cache()
    yield
    with app.app_context():
        db.session.execute(delete(CalendarDay).where(CalendarDay.id.not_in(before) if before else true()))
        db.session.commit()
        workdays.clear_cache()


@pytest.fixture
def unknown_year():
    if workdays.library_knows(UNKNOWN):
        pytest.skip(f"chinese-calendar knows {UNKNOWN} now: pick a later year for these tests")
    return UNKNOWN
