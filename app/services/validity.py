"""Validity periods of a registered specialty (DOMAIN.md): `years` long from the first day, ending the
day before the same date `years` later; a renewal's period starts the day after the old one ends.

Pure date arithmetic shared by the approval effects and the bulk-data generator; the number of years is
the VALIDITY_YEARS rule.
"""
from datetime import date, timedelta

from ground.clock import add_years


def validity_end(start: date, years: int) -> date:
    """Last valid day of a period of `years` years starting on `start` (29 February: see add_years)."""
    return add_years(start, years) - timedelta(days=1)


def renewed_period(valid_until: date, years: int) -> tuple[date, date]:
    """(first day, last day) of the period that follows one ending on `valid_until`."""
    start = valid_until + timedelta(days=1)
    return start, validity_end(start, years)
