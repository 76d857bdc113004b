"""The register kept true over time: the nightly work of DOMAIN.md "Over time", each for a given date.

Every job here takes the day it runs for (ops/schedule.py runs it inside `clock.as_of(day)`), is idempotent (a
lapse looks at the row's state first; applications move through the engine's guarded System moves; a message is
keyed by its event, app/notifications.py), commits in batches and writes one audit row with its figures:

- `lapse`: specialties past their valid-until date lapse the next day (unless a renewal naming them is under
  review); a registration whose specialties have all lapsed lapses, and its certificates expire.
- `age_limit`: on the day the holder reaches the age limit the registration lapses ("over_age").
- `expire_unconfirmed`: applications the employer left unconfirmed longer than APPLICATION_EXPIRY_DAYS expire;
  the enterprise is reminded before.
- `objection_clock`: a change of employer the previous employer neither released nor objected to proceeds.
- `stage_limits`: enterprises are told about each application near or past its statutory limit; provinces and
  the ministry get one daily digest that points to the 超期督办 page.
- `reminders`: specialty expiry, the age limit ahead, a downloaded copy's printed validity, returned applications
  not resubmitted.
A reminder with several lead times (90/30/7 days) sends the tightest one due, so a day the job missed never
sends two at once.
"""
from __future__ import annotations

import logging
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import and_, exists, select

from app import notifications, workflow
from app.audit import record
from app.business_types import shared
from app.rules import unconfirmed_expiry
from app.services.workdays import working_days_between
from ground import roles as R
from ground.clock import add_years, china_day
from ground.extensions import db
from ground.vocabulary import IN_PROGRESS_STATES, State
from models import (Application, Certificate, Person, Registration, RegistrationSpecialty,
                    application_specialty)

log = logging.getLogger(__name__)
BATCH = 500


def _tightest(days_left: int, lead_times) -> int | None:
    """The smallest lead time that `days_left` has reached (None: none yet)."""
    due = [t for t in lead_times if 0 <= days_left <= t]
    return min(due) if due else None


def _summary(name: str, figures: dict) -> dict:
    record(f"lifecycle.{name}", "Lifecycle", None,
           summary=", ".join(f"{k} {v}" for k, v in figures.items() if k != "as_of") or "nothing to do",
           detail=figures)
    db.session.commit()
    return figures


def _config(key):
    return current_app.config["LIFECYCLE"][key]


# --- Lapse ---------------------------------------------------------------------------------------
def _under_renewal():
    """A renewal under review names this specialty of this registration's holder."""
    return exists().where(Application.person_id == Registration.person_id, Application.business_type == "renewal",
                          Application.state.in_(sorted(IN_PROGRESS_STATES)),
                          application_specialty.c.application_id == Application.id,
                          application_specialty.c.specialty_code == RegistrationSpecialty.specialty_code)


def lapse(as_of: date) -> dict:
    figures = {"as_of": as_of.isoformat(), "specialties_lapsed": 0, "registrations_lapsed": 0,
               "certificates_expired": 0}
    while True:
        batch = db.session.scalars(
            select(RegistrationSpecialty).join(Registration)
            .where(RegistrationSpecialty.status == "active", RegistrationSpecialty.valid_until < as_of,
                   Registration.status == "active", ~_under_renewal())
            .order_by(RegistrationSpecialty.id).limit(BATCH)).all()
        if not batch:
            break
        for held in batch:
            day = held.valid_until + timedelta(days=1)
            held.status, held.lapsed_on = "lapsed", day
            notifications.send("specialty_lapsed", f"specialty_lapsed:{held.id}:{held.valid_until}",
                               notifications.applicant_users(held.registration.person_id),
                               {"specialty": held.specialty_code, "day": day, "until": held.valid_until},
                               f"registration:{held.registration_id}")
            figures["specialties_lapsed"] += 1
        db.session.commit()
    still_active = exists().where(RegistrationSpecialty.registration_id == Registration.id,
                                  RegistrationSpecialty.status == "active")
    last_id = 0
    while True:
        batch = db.session.scalars(select(Registration).where(Registration.status == "active", ~still_active,
                                                              Registration.id > last_id)
                                   .order_by(Registration.id).limit(BATCH)).all()
        if not batch:
            break
        for registration in batch:
            last_id = registration.id
            day = max((s.lapsed_on for s in registration.specialties if s.lapsed_on), default=as_of)
            figures["certificates_expired"] += _lapse_registration(registration, day, "expired")
            figures["registrations_lapsed"] += 1
        db.session.commit()
    return _summary("lapse", figures)


def _lapse_registration(registration, day: date, reason: str) -> int:
    expired = shared.lapse_registration(db.session, registration, day, reason)
    notifications.send("registration_lapsed", f"registration_lapsed:{registration.id}:{day}",
                       notifications.applicant_users(registration.person_id),
                       {"registration": registration.number, "day": day, "reason": reason},
                       f"registration:{registration.id}")
    return expired


# --- Age limit -----------------------------------------------------------------------------------
def age_limit(as_of: date) -> dict:
    limits = shared.configured_limits()
    figures = {"as_of": as_of.isoformat(), "registrations_ended": 0, "certificates_expired": 0}
    latest_birth = add_years(as_of, -limits["AGE_LIMIT"]) + timedelta(days=1)  # 29 February births: see age_on
    last_id = 0
    while True:
        batch = db.session.scalars(select(Registration).join(Person, Registration.person_id == Person.id)
                                   .where(Registration.status == "active", Person.birth_date <= latest_birth,
                                          Registration.id > last_id)
                                   .order_by(Registration.id).limit(BATCH)).all()
        if not batch:
            break
        for registration in batch:
            last_id = registration.id
            person = registration.person
            if not shared.over_age_limit(person, as_of, limits):
                continue
            day = shared.age_limit_day(person, limits)
            figures["certificates_expired"] += _lapse_registration(registration, day, "over_age")
            figures["registrations_ended"] += 1
        db.session.commit()
    return _summary("age_limit", figures)


# --- Applications waiting too long ------------------------------------------------------------------
def _system_move(application_id: int, action: str) -> bool:
    """Take a System move; False when it is not possible (any more): another run, or a person, was first."""
    try:
        workflow.apply(application_id, workflow.Move(action), None, as_system=True)
        return True
    except workflow.WorkflowError as exc:
        log.info("application %s: %s not taken (%s)", application_id, action, exc.message)
        return False


def _ids(query) -> list[int]:
    return list(db.session.scalars(query))


def expire_unconfirmed(as_of: date) -> dict:
    days = shared.configured_limits()["APPLICATION_EXPIRY_DAYS"]
    lead = _config("UNCONFIRMED_REMIND_DAYS")
    figures = {"as_of": as_of.isoformat(), "expired": 0, "reminders": 0}
    # Only those within the longest lead time of expiring (the rest have nothing due).
    horizon = as_of - timedelta(days=days - max(lead, default=0))
    waiting = db.session.scalars(select(Application).where(Application.state == State.ENTERPRISE,
                                                           Application.state_changed_at < horizon + timedelta(days=1))
                                 .order_by(Application.id)).all()
    for app in waiting:
        expires_on = unconfirmed_expiry(app)
        if as_of >= expires_on:
            figures["expired"] += _system_move(app.id, "expire")
            continue
        tight = _tightest((expires_on - as_of).days, lead)
        if tight is not None:
            figures["reminders"] += notifications.send(
                "unconfirmed_expiring", f"unconfirmed_expiring:{app.id}:{app.version}:{tight}",
                notifications.enterprise_users(app.enterprise_id),
                notifications.application_params(app, day=expires_on), f"application:{app.id}")
    db.session.commit()
    return _summary("expire_unconfirmed", figures)


def objection_clock(as_of: date) -> dict:
    figures = {"as_of": as_of.isoformat(), "released_by_silence": 0}
    for app_id in _ids(select(Application.id).where(Application.state == State.RELEASE,
                                                    Application.stage_deadline < as_of).order_by(Application.id)):
        figures["released_by_silence"] += _system_move(app_id, "release_by_silence")
    return _summary("objection_clock", figures)


# --- Statutory limits ------------------------------------------------------------------------------
def stage_limits(as_of: date) -> dict:
    """Enterprises: one message per application near or past its limit. Provinces and the ministry: one digest
    a day per office (their queues hold thousands), pointing to the 超期督办 page."""
    lead = _config("STAGE_REMIND_WORKING_DAYS")
    figures = {"as_of": as_of.isoformat(), "due": 0, "overdue": 0, "messages": 0}
    digests: dict[tuple, dict] = {}
    rows = db.session.scalars(select(Application).where(
        Application.state.in_(sorted(IN_PROGRESS_STATES - {State.RELEASE})), Application.stage_deadline.isnot(None),
        Application.stage_deadline <= as_of + timedelta(days=lead * 2 + 14)).order_by(Application.id)).all()
    for app in rows:
        left = working_days_between(as_of, app.stage_deadline)
        if app.stage_deadline < as_of:
            kind, figures["overdue"] = "stage_overdue", figures["overdue"] + 1
        elif left <= lead:
            kind, figures["due"] = "stage_due", figures["due"] + 1
        else:
            continue
        owner = workflow.STAGE_OWNER[app.state]
        if owner == R.ENTERPRISE:
            figures["messages"] += notifications.send(
                kind, f"{kind}:{app.id}:{app.version}", notifications.stage_holders(app),
                notifications.application_params(app, state=app.state, deadline=app.stage_deadline),
                f"application:{app.id}")
        else:
            office = (owner, app.province_code if owner == R.PROVINCE else None)
            digest = digests.setdefault(office, {"overdue": 0, "due": 0})
            digest["overdue" if kind == "stage_overdue" else "due"] += 1
    for (owner, province), counts in sorted(digests.items(), key=lambda d: (d[0][0], d[0][1] or "")):
        users = notifications.province_users(province) if owner == R.PROVINCE else notifications.ministry_users()
        figures["messages"] += notifications.send(
            "overdue_digest", f"overdue_digest:{owner}:{province or ''}:{as_of}", users,
            {**counts, "days": lead}, "overdue")
    db.session.commit()
    return _summary("stage_limits", figures)


# --- Reminders to people -----------------------------------------------------------------------------
def reminders(as_of: date) -> dict:
    limits = shared.configured_limits()
    figures = {"as_of": as_of.isoformat(), "specialty_expiring": 0, "age_limit_ahead": 0, "copy_expiring": 0,
               "returned_waiting": 0}
    lead = _config("SPECIALTY_REMIND_DAYS")
    expiring = db.session.scalars(select(RegistrationSpecialty).join(Registration).where(
        RegistrationSpecialty.status == "active", Registration.status == "active",
        RegistrationSpecialty.valid_until >= as_of,
        RegistrationSpecialty.valid_until <= as_of + timedelta(days=max(lead, default=0)))).all()
    for held in expiring:
        tight = _tightest((held.valid_until - as_of).days, lead)
        opens, _ = shared.renewal_window(as_of, held.valid_until, limits)
        figures["specialty_expiring"] += notifications.send(
            "specialty_expiring", f"specialty_expiring:{held.id}:{held.valid_until}:{tight}",
            notifications.applicant_users(held.registration.person_id),
            {"specialty": held.specialty_code, "day": held.valid_until, "opens": opens},
            f"registration:{held.registration_id}")
    lead = _config("AGE_LIMIT_REMIND_DAYS")
    earliest_birth = add_years(as_of + timedelta(days=max(lead, default=0) + 1), -limits["AGE_LIMIT"])
    latest_birth = add_years(as_of, -limits["AGE_LIMIT"]) + timedelta(days=1)
    nearing = db.session.scalars(select(Person).join(Registration, Registration.person_id == Person.id).where(
        Registration.status == "active", Person.birth_date >= earliest_birth, Person.birth_date <= latest_birth)).all()
    for person in nearing:
        day = shared.age_limit_day(person, limits)
        tight = _tightest((day - as_of).days, lead)
        if tight is None or day <= as_of:
            continue
        figures["age_limit_ahead"] += notifications.send(
            "age_limit_ahead", f"age_limit_ahead:{person.id}:{day}:{tight}", notifications.applicant_users(person.id),
            {"limit": limits["AGE_LIMIT"], "day": day}, f"registration:{person.registration.id}")
    lead = _config("COPY_REMIND_DAYS")
    copies = db.session.scalars(select(Certificate).where(
        Certificate.status == "valid", Certificate.copy_valid_until >= as_of,
        Certificate.copy_valid_until <= as_of + timedelta(days=max(lead, default=0)))).all()
    for certificate in copies:
        tight = _tightest((certificate.copy_valid_until - as_of).days, lead)
        figures["copy_expiring"] += notifications.send(
            "copy_expiring", f"copy_expiring:{certificate.id}:{certificate.copy_valid_until}:{tight}",
            notifications.applicant_users(certificate.person_id),
            {"certificate": certificate.number, "day": certificate.copy_valid_until}, f"certificate:{certificate.id}")
    lead = _config("RETURNED_REMIND_DAYS")
    returned = db.session.scalars(select(Application).where(
        Application.state == State.RETURNED,
        Application.state_changed_at < as_of - timedelta(days=min(lead, default=0) - 1))).all()
    for app in returned:
        since = china_day(app.state_changed_at)
        passed = [d for d in lead if (as_of - since).days >= d]
        if not passed:
            continue
        figures["returned_waiting"] += notifications.send(
            "returned_waiting", f"returned_waiting:{app.id}:{app.version}:{max(passed)}",
            notifications.applicant_users(app.person_id), notifications.application_params(app, day=since),
            f"application:{app.id}")
    db.session.commit()
    return _summary("reminders", figures)


# In the order they run each night (ops/schedule.py): lapses and ends first, so reminders see the new state.
NIGHTLY = (("lifecycle-lapse", lapse), ("lifecycle-age-limit", age_limit),
           ("lifecycle-expire-unconfirmed", expire_unconfirmed), ("lifecycle-objection-clock", objection_clock),
           ("lifecycle-stage-limits", stage_limits), ("lifecycle-reminders", reminders))


def run_all(as_of: date) -> dict:
    """Every nightly job for one day, in order (the simulation and `flask jobs run` use the schedule instead)."""
    return {name: job(as_of) for name, job in NIGHTLY}
