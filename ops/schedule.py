"""The schedule: every periodic job in one table (name, when, what, enabled), run by Celery beat.

Beat sends `schedule.run(NAME)`; the run claims a `PeriodicRun` row for its slot (the day, for daily work), so a
second beat or a message delivered twice does nothing the second time. `flask jobs run NAME --date D` runs one
by hand as of a given date. Each entry's work takes the date it runs for and returns its figures; it must be
idempotent on its own too (the lifecycle rules hang their nightly work here).
Run exactly one beat per deployment (docs/OPERATIONS.md).
"""
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable

from celery import shared_task
from celery.schedules import crontab
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from ground.clock import as_of as clock_as_of, now_utc, today
from ground.extensions import db
from models import PeriodicRun
from app import conflicts, employer_status, jobs, lifecycle, notifications
from reports import snapshots


@dataclass(frozen=True)
class Periodic:
    name: str
    label: object
    when: object  # a celery crontab, or a timedelta
    run: Callable[[date], dict]
    enabled: Callable[[dict], bool] = lambda config: True
    once_per_day: bool = True  # claim a PeriodicRun per day; False for frequent housekeeping that is idempotent


def _reap(as_of: date) -> dict:
    return jobs.reap()


def _purge(as_of: date) -> dict:
    return jobs.purge()


def _backup(as_of: date) -> dict:
    job = jobs.start("backup", {"scheduled_for": as_of.isoformat()}, None)
    return {"job": job.id}


def _statistics(as_of: date) -> dict:
    """Today's national statistics (no filters), in each language, shared by every dashboard."""
    return {f"job_{lang}": job_id for lang, job_id in snapshots.national(as_of).items()}


def _deliver(as_of: date) -> dict:
    return notifications.deliver()


_LIFECYCLE_LABELS = {
    "lifecycle-lapse": _l("Lapse specialties and registrations past their valid-until date"),
    "lifecycle-age-limit": _l("End registrations at the age limit"),
    "lifecycle-expire-unconfirmed": _l("Expire applications the employer never confirmed; remind before"),
    "lifecycle-objection-clock": _l("Let changes of employer proceed when the objection period passed in silence"),
    "lifecycle-stage-limits": _l("Remind stage holders of statutory time limits"),
    "lifecycle-reminders": _l("Remind people of expiries, the age limit, copies and returned applications"),
}

SCHEDULE: list[Periodic] = [
    # The lifecycle rules, each night in this order (app/lifecycle.py): lapses before the reminders.
    *(Periodic(name, _LIFECYCLE_LABELS[name], crontab(hour=0, minute=5 + 5 * i), work)
      for i, (name, work) in enumerate(lifecycle.NIGHTLY)),
    # Employer status (app/employer_status.py) after the lifecycle rules; the conflict check (挂证, app/conflicts.py).
    Periodic("employer-status", _l("Return applications naming an employer no longer qualified; tell its registered "
                                   "people"), crontab(hour=0, minute=40), employer_status.nightly),
    Periodic("conflict-check", _l("Match registrations against the social-insurance data (conflicts)"),
             crontab(hour=1, minute=0), conflicts.nightly),
    Periodic("deliver-notifications", _l("Send pending text messages and e-mails of the message centre"),
             timedelta(minutes=1), _deliver, once_per_day=False),
    Periodic("purge-notifications", _l("Delete messages past their keeping time"), crontab(hour=3, minute=20),
             notifications.purge),
    Periodic("reap-lost-jobs", _l("Run again the jobs whose worker was lost"), timedelta(minutes=1), _reap,
             once_per_day=False),
    Periodic("purge-job-results", _l("Delete job results past their keeping time"), crontab(hour=3, minute=10),
             _purge),
    Periodic("nightly-backup", _l("Back up the database and the files"), crontab(hour=2, minute=0), _backup,
             enabled=lambda config: config.get("SCHEDULE_BACKUP", False)),
    Periodic("nightly-statistics", _l("Compute the national statistics for the new day"), crontab(hour=0, minute=20),
             _statistics, enabled=lambda config: config.get("STATISTICS_CACHE_SECONDS", 0) > 0),
]


def find(name: str) -> Periodic:
    for entry in SCHEDULE:
        if entry.name == name:
            return entry
    raise KeyError(name)


def beat_schedule(config) -> dict:
    """Celery beat's schedule: the enabled entries."""
    return {entry.name: {"task": "schedule.run", "schedule": entry.when, "args": (entry.name,),
                         "options": {"queue": "default"}}
            for entry in SCHEDULE if entry.enabled(config)}


def run(name: str, as_of: date | None = None, force: bool = False) -> dict | None:
    """Run one entry for `as_of` (today in China by default). None when this day's run already happened
    (force: run again anyway; the work is idempotent)."""
    entry = find(name)
    as_of = as_of or today()
    record = None
    if entry.once_per_day:
        record = PeriodicRun(name=name, slot=as_of.isoformat(), as_of=as_of, started_at=now_utc())
        db.session.add(record)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            if not force:
                return None
            record = None
    try:
        with clock_as_of(as_of):  # the rules see `as_of` as today
            figures = entry.run(as_of) or {}
    except Exception as exc:
        db.session.rollback()
        if record is not None:  # free the slot: the next beat (or a person) tries again
            db.session.execute(update(PeriodicRun).where(PeriodicRun.id == record.id)
                               .values(error=type(exc).__name__, slot=f"x{record.id}"))
            db.session.commit()
        raise
    if record is not None:
        db.session.execute(update(PeriodicRun).where(PeriodicRun.id == record.id)
                           .values(finished_at=now_utc(), outcome=figures))
        db.session.commit()
    return figures


@shared_task(name="schedule.run", ignore_result=True, acks_late=True)
def run_scheduled(name: str):
    if find(name).enabled(current_app.config):
        run(name)
