"""The register kept true over time: the nightly work of DOMAIN.md "Over time", each for a given date.

Every job here takes the day it runs for and runs as of it (`nightly`: the rules and guards it calls see that day
as today, whoever calls it), is idempotent (a lapse looks at the row's state first; applications move through the
engine's guarded System moves; a message is keyed by its event, app/notifications.py), commits in batches and
writes one audit row with its figures. NIGHTLY is their order:

- `expire_unconfirmed`: applications the employer left unconfirmed longer than APPLICATION_EXPIRY_DAYS expire;
  the enterprise is reminded before.
- `objection_clock`: a change of employer the previous employer neither released nor objected to proceeds.
- `lapse`: specialties past their valid-until date lapse the next day (unless a renewal naming them is under
  review); a registration whose specialties have all lapsed lapses, and its certificates expire.
- `age_limit`: on the day the holder reaches the age limit the registration lapses ("over_age").
- `stage_limits`: enterprises are told about each application near or past its statutory limit; provinces and
  the ministry get one daily digest that points to the 超期督办 page.
- `reminders`: specialty expiry (not while a renewal names it), the age limit ahead, a downloaded copy's printed
  validity, returned applications not resubmitted.
A reminder with several lead times (90/30/7 days) sends the tightest one due, so a day the job missed never
sends two at once; a reminder whose message may have been purged (NOTIFICATION_KEEP_DAYS) is never sent again.
"""
from __future__ import annotations

import functools
import logging
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import case, exists, func, select

from app import notifications, workflow
from app.audit import record
from app.business_types import shared
from app.rules import unconfirmed_expiry
from app.services.workdays import add_working_days
from ground import roles as R
from ground.clock import add_years, as_of as clock_as_of, china_day
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


def nightly(job):
    """A nightly job runs as of its date: the rules and guards it calls see `as_of` as today, whoever calls it
    (ops/schedule.py does the same; a job called alone, or a catch-up for a past day, must not see the real date)."""
    @functools.wraps(job)
    def for_day(as_of: date) -> dict:
        with clock_as_of(as_of):
            return job(as_of)
    return for_day


# --- Lapse ---------------------------------------------------------------------------------------
def _under_renewal():
    """A renewal under review names this specialty of this registration's holder."""
    return exists().where(Application.person_id == Registration.person_id, Application.business_type == "renewal",
                          Application.state.in_(sorted(IN_PROGRESS_STATES)),
                          application_specialty.c.application_id == Application.id,
                          application_specialty.c.specialty_code == RegistrationSpecialty.specialty_code)


def _batches(query, key):
    """The rows of `query` in batches of BATCH, in ascending `key`; the session commits after each batch."""
    last = None
    while True:
        rows = db.session.scalars((query if last is None else query.where(key > last)).order_by(key)
                                  .limit(BATCH)).all()
        if not rows:
            return
        yield rows
        last = getattr(rows[-1], key.key)
        db.session.commit()


@nightly
def lapse(as_of: date) -> dict:
    figures = {"as_of": as_of.isoformat(), "specialties_lapsed": 0, "registrations_lapsed": 0,
               "certificates_expired": 0}
    for batch in _batches(select(RegistrationSpecialty).join(Registration).where(
            RegistrationSpecialty.status == "active", RegistrationSpecialty.valid_until < as_of,
            Registration.status == "active", ~_under_renewal()), RegistrationSpecialty.id):
        for held in batch:
            day = held.valid_until + timedelta(days=1)
            held.status, held.lapsed_on = "lapsed", day
            notifications.send("specialty_lapsed", f"specialty_lapsed:{held.id}:{held.valid_until}",
                               notifications.applicant_users(held.registration.person_id),
                               {"specialty": held.specialty_code, "day": day, "until": held.valid_until},
                               f"registration:{held.registration_id}")
            figures["specialties_lapsed"] += 1
    still_active = exists().where(RegistrationSpecialty.registration_id == Registration.id,
                                  RegistrationSpecialty.status == "active")
    for batch in _batches(select(Registration).where(Registration.status == "active", ~still_active),
                          Registration.id):
        for registration in batch:
            day = max((s.lapsed_on for s in registration.specialties if s.lapsed_on), default=as_of)
            figures["certificates_expired"] += _lapse_registration(registration, day, "expired")
            figures["registrations_lapsed"] += 1
    return _summary("lapse", figures)


def _lapse_registration(registration, day: date, reason: str) -> int:
    expired = shared.lapse_registration(db.session, registration, day, reason)
    notifications.send("registration_lapsed", f"registration_lapsed:{registration.id}:{day}",
                       notifications.applicant_users(registration.person_id),
                       {"registration": registration.number, "day": day, "reason": reason},
                       f"registration:{registration.id}")
    return expired


# --- Age limit -----------------------------------------------------------------------------------
@nightly
def age_limit(as_of: date) -> dict:
    limits = shared.configured_limits()
    figures = {"as_of": as_of.isoformat(), "registrations_ended": 0, "certificates_expired": 0}
    latest_birth = add_years(as_of, -limits["AGE_LIMIT"]) + timedelta(days=1)  # 29 February births: see age_on
    for batch in _batches(select(Registration).join(Person, Registration.person_id == Person.id)
                          .where(Registration.status == "active", Person.birth_date <= latest_birth),
                          Registration.id):
        for registration in batch:
            person = registration.person
            if not shared.over_age_limit(person, as_of, limits):
                continue
            day = shared.age_limit_day(person, limits)
            figures["certificates_expired"] += _lapse_registration(registration, day, "over_age")
            figures["registrations_ended"] += 1
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


@nightly
def expire_unconfirmed(as_of: date) -> dict:
    days = shared.configured_limits()["APPLICATION_EXPIRY_DAYS"]
    lead = _config("UNCONFIRMED_REMIND_DAYS")
    figures = {"as_of": as_of.isoformat(), "expired": 0, "reminders": 0}
    # Only those within the longest lead time of expiring (the rest have nothing due).
    horizon = as_of - timedelta(days=days - max(lead, default=0))
    waiting = db.session.scalars(select(Application).where(Application.state == State.ENTERPRISE,
                                                           Application.state_changed_at < horizon + timedelta(days=1))
                                 .order_by(Application.id)).all()
    due = [(app.id, unconfirmed_expiry(app)) for app in waiting]
    # Expiries first, each in its own transaction (a move the engine refuses rolls back only itself), then the
    # reminders of those still waiting, in one.
    for app_id, expires_on in due:
        if as_of >= expires_on:
            figures["expired"] += _system_move(app_id, "expire")
    remind = []
    for app_id, expires_on in due:
        tight = _tightest((expires_on - as_of).days, lead)
        app = db.session.get(Application, app_id)
        if as_of < expires_on and tight is not None and app.state == State.ENTERPRISE:  # (not moved meanwhile)
            remind.append((app, expires_on, tight))
    employers = notifications.enterprise_users_of(app.enterprise_id for app, _, _ in remind)
    messages = [(f"unconfirmed_expiring:{app.id}:{app.version}:{tight}", employers.get(app.enterprise_id, []),
                 notifications.application_params(app, day=expires_on), f"application:{app.id}")
                for app, expires_on, tight in remind]
    figures["reminders"] = notifications.send_many("unconfirmed_expiring", messages)
    db.session.commit()
    return _summary("expire_unconfirmed", figures)


@nightly
def objection_clock(as_of: date) -> dict:
    figures = {"as_of": as_of.isoformat(), "released_by_silence": 0}
    for app_id in _ids(select(Application.id).where(Application.state == State.RELEASE,
                                                    Application.stage_deadline < as_of).order_by(Application.id)):
        figures["released_by_silence"] += _system_move(app_id, "release_by_silence")
    return _summary("objection_clock", figures)


# --- Statutory limits ------------------------------------------------------------------------------
@nightly
def stage_limits(as_of: date) -> dict:
    """Enterprises and industry departments: one message per application near or past its limit. Provinces and
    the ministry: one digest
    a day per office (their queues hold thousands, counted in SQL), pointing to the 超期督办 page."""
    lead = _config("STAGE_REMIND_WORKING_DAYS")
    figures = {"as_of": as_of.isoformat(), "due": 0, "overdue": 0, "messages": 0}
    # A deadline before this day has at most `lead` working days left (working_days_between(as_of, d) <= lead).
    due_before = add_working_days(as_of, lead + 1)
    timed = sorted(IN_PROGRESS_STATES - {State.RELEASE})  # the previous employer's period is the objection clock's
    # Enterprises and industry departments: a message per application (the department: its specialties' accounts).
    enterprise_states = [s for s in timed if workflow.STAGE_OWNER[s] in (R.ENTERPRISE, R.INDUSTRY)]
    office_states = [s for s in timed if workflow.STAGE_OWNER[s] in (R.PROVINCE, R.MINISTRY)]

    held = db.session.scalars(select(Application).where(
        Application.state.in_(enterprise_states), Application.stage_deadline < due_before)
        .order_by(Application.id)).all()
    holders = notifications.enterprise_users_of(workflow.holder_enterprise_id(app) for app in held
                                                if workflow.STAGE_OWNER[app.state] == R.ENTERPRISE)
    messages: dict[str, list] = {"stage_due": [], "stage_overdue": []}
    for app in held:
        kind = "stage_overdue" if app.stage_deadline < as_of else "stage_due"
        figures["overdue" if kind == "stage_overdue" else "due"] += 1
        users = (notifications.industry_users(app) if workflow.STAGE_OWNER[app.state] == R.INDUSTRY
                 else holders.get(workflow.holder_enterprise_id(app), []))
        messages[kind].append((f"{kind}:{app.id}:{app.version}", users,
                               notifications.application_params(app, state=app.state, deadline=app.stage_deadline),
                               f"application:{app.id}"))
    for kind, batch in messages.items():
        figures["messages"] += notifications.send_many(kind, batch)

    overdue = case((Application.stage_deadline < as_of, 1), else_=0)
    digests: dict[tuple, dict] = {}
    for state, province, late, count in db.session.execute(
            select(Application.state, Application.province_code, overdue, func.count())
            .where(Application.state.in_(office_states), Application.stage_deadline < due_before)
            .group_by(Application.state, Application.province_code, overdue)):
        owner = workflow.STAGE_OWNER[state]
        digest = digests.setdefault((owner, province if owner == R.PROVINCE else None), {"overdue": 0, "due": 0})
        digest["overdue" if late else "due"] += count
        figures["overdue" if late else "due"] += count
    for (owner, province), counts in sorted(digests.items(), key=lambda d: (d[0][0], d[0][1] or "")):
        users = notifications.province_users(province) if owner == R.PROVINCE else notifications.ministry_users()
        figures["messages"] += notifications.send(
            "overdue_digest", f"overdue_digest:{owner}:{province or ''}:{as_of}", users,
            {**counts, "days": lead}, "overdue")
    db.session.commit()
    return _summary("stage_limits", figures)


# --- Reminders to people -----------------------------------------------------------------------------
# Each night most reminders in a window were sent already: the messages of one kind go out together
# (notifications.send_many: one look-up of what the recipients hold, one insert of the rest).
@nightly
def reminders(as_of: date) -> dict:
    limits = shared.configured_limits()
    figures = {"as_of": as_of.isoformat(), "specialty_expiring": 0, "age_limit_ahead": 0, "copy_expiring": 0,
               "returned_waiting": 0}

    lead = _config("SPECIALTY_REMIND_DAYS")
    expiring = db.session.execute(select(RegistrationSpecialty, Registration.person_id).join(Registration).where(
        RegistrationSpecialty.status == "active", Registration.status == "active", ~_under_renewal(),
        RegistrationSpecialty.valid_until >= as_of,
        RegistrationSpecialty.valid_until <= as_of + timedelta(days=max(lead, default=0)))).tuples().all()
    users = notifications.applicant_users_of(person_id for _, person_id in expiring)
    figures["specialty_expiring"] = notifications.send_many("specialty_expiring", [
        (f"specialty_expiring:{held.id}:{held.valid_until}:{_tightest((held.valid_until - as_of).days, lead)}",
         users.get(person_id, []),
         {"specialty": held.specialty_code, "day": held.valid_until,
          "opens": shared.renewal_window(as_of, held.valid_until, limits)[0]},
         f"registration:{held.registration_id}")
        for held, person_id in expiring])

    lead = _config("AGE_LIMIT_REMIND_DAYS")
    # Those reaching the limit after today and within the longest lead time (a day's slack each side for
    # 29 February births; age_limit_day decides).
    earliest_birth = add_years(as_of, -limits["AGE_LIMIT"]) - timedelta(days=1)
    latest_birth = add_years(as_of + timedelta(days=max(lead, default=0)), -limits["AGE_LIMIT"]) + timedelta(days=1)
    nearing = db.session.execute(select(Person, Registration.id).join(Registration, Registration.person_id == Person.id)
                                 .where(Registration.status == "active", Person.birth_date >= earliest_birth,
                                        Person.birth_date <= latest_birth)).tuples().all()
    users = notifications.applicant_users_of(person.id for person, _ in nearing)
    messages = []
    for person, registration_id in nearing:
        day = shared.age_limit_day(person, limits)
        tight = _tightest((day - as_of).days, lead)
        if tight is not None and day > as_of:
            messages.append((f"age_limit_ahead:{person.id}:{day}:{tight}", users.get(person.id, []),
                             {"limit": limits["AGE_LIMIT"], "day": day}, f"registration:{registration_id}"))
    figures["age_limit_ahead"] = notifications.send_many("age_limit_ahead", messages)

    lead = _config("COPY_REMIND_DAYS")
    copies = db.session.scalars(select(Certificate).where(
        Certificate.status == "valid", Certificate.copy_valid_until >= as_of,
        Certificate.copy_valid_until <= as_of + timedelta(days=max(lead, default=0)))).all()
    users = notifications.applicant_users_of(certificate.person_id for certificate in copies)
    figures["copy_expiring"] = notifications.send_many("copy_expiring", [
        (f"copy_expiring:{c.id}:{c.copy_valid_until}:{_tightest((c.copy_valid_until - as_of).days, lead)}",
         users.get(c.person_id, []), {"certificate": c.number, "day": c.copy_valid_until}, f"certificate:{c.id}")
        for c in copies])

    lead = _config("RETURNED_REMIND_DAYS")
    keep = current_app.config["NOTIFICATION_KEEP_DAYS"]
    returned = db.session.scalars(select(Application).where(
        Application.state == State.RETURNED,
        Application.state_changed_at < as_of - timedelta(days=min(lead, default=0) - 1),
        Application.state_changed_at > as_of - timedelta(days=max(lead, default=0) + keep + 1))).all()
    users = notifications.applicant_users_of(app.person_id for app in returned)
    messages = []
    for app in returned:
        since = china_day(app.state_changed_at)
        passed = [d for d in lead if (as_of - since).days >= d]
        # A return can wait for ever: once its last reminder may have been purged, never send it again.
        if passed and (as_of - since).days - max(passed) < keep:
            messages.append((f"returned_waiting:{app.id}:{app.version}:{max(passed)}", users.get(app.person_id, []),
                             notifications.application_params(app, day=since), f"application:{app.id}"))
    figures["returned_waiting"] = notifications.send_many("returned_waiting", messages)
    db.session.commit()
    return _summary("reminders", figures)


# In the order they run each night (ops/schedule.py): the System's moves first (a renewal that expires tonight no
# longer holds its specialties' lapse), then lapses and ends, then the messages, which see the new state.
NIGHTLY = (("lifecycle-expire-unconfirmed", expire_unconfirmed), ("lifecycle-objection-clock", objection_clock),
           ("lifecycle-lapse", lapse), ("lifecycle-age-limit", age_limit),
           ("lifecycle-stage-limits", stage_limits), ("lifecycle-reminders", reminders))


def run_all(as_of: date) -> dict:
    """Every nightly job for one day, in order (the scheduler runs each through ops/schedule.py instead)."""
    return {name: job(as_of) for name, job in NIGHTLY}
