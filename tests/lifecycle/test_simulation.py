"""The issue's acceptance test: three years of nights over a small register, and the register stays true.

A seeded population of some 250 people (registered holders with specialties expiring at spread dates, some with
two, some nearing the age limit, one born on 29 February; applications waiting for their employer; changes of
employer waiting for the previous employer; returned applications) lives through three years, day by day. Each
night the nightly jobs run as of that night (app.lifecycle.NIGHTLY in order, and the notifications' purge), except
on missed nights (the scheduler was down: the next night catches up, which also keeps the test quick); each day
people act: renewals in the window (some never confirmed by the employer), confirmations, reviews, releases and
objections, re-registrations, new applicants and changes.

After every night: no active registration without an active specialty; no active specialty past its date unless a
renewal under review names it, and none lapsed while one does; nobody at the age limit holds an active registration
or a valid certificate; no application waits for its employer past its expiry, or for the previous employer past
the objection period; every new message is a first for its (user, event), purged ones included, and each reminder
is the one due on the day it was sent (the tightest lead time reached). On some nights the jobs run again through
ops.schedule.run: that changes nothing but the jobs' own audit summary rows (decided: a run records that it ran),
and a third time the schedule refuses the day's slot and nothing at all is written. At the end: every expired
application has exactly one 'expire' move, by the System; each reminder series went out in order, each lead time
once; lapse dates are the day after the valid-until date or the age-limit day; every registration kept its number's
digits. SIMULATION_DAYS=n shortens the run while working on it (the closing check that every story happened
expects the three years).
"""
import os
import random
import sqlite3
from collections import Counter, defaultdict
from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select

from app import lifecycle, notifications, rules, workflow
from app.business_types import shared
from ground.clock import add_years, age_on, as_of as clock_as_of, china_day
from ground.extensions import db
from ground.identifiers import make_id_number
from models import (Application, AuditLog, Certificate, Notification, Person, Registration,
                    RegistrationSpecialty, TransitionLog)
from ops import schedule
from tests import factories as f
from tests.conftest import app_on_own_database
from tests.lifecycle.conftest import stopped_clock

SEED = 15
START = date(2024, 1, 1)
END = START + timedelta(days=int(os.environ.get("SIMULATION_DAYS", 3 * 365 + 1)))
HOLDERS, NEAR_AGE_LIMIT, WAITING, CHANGES, RETURNED = 120, 16, 24, 12, 12
# Chances that a night is missed (the scheduler was down: the next night catches up; this keeps the test quick
# too), that its jobs run twice, that someone new applies on a day, or changes employer; the share of holders who
# renew.
MISSED_NIGHT, RERUN_NIGHT, NEW_APPLICANT, NEW_CHANGE, RENEWERS = 0.5, 0.04, 0.03, 0.012, 0.45
JOBS = [name for name, _ in lifecycle.NIGHTLY] + ["purge-notifications"]


def _no_fsync(dbapi_connection, _record):
    """A throw-away database: commits need not reach the disk (thousands of nightly commits)."""
    cursor = dbapi_connection.cursor()
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor.execute("PRAGMA synchronous = OFF")
    else:
        cursor.execute("SET synchronous_commit TO OFF")
        dbapi_connection.commit()
    cursor.close()


@pytest.fixture(scope="module")
def world(backend, tmp_path_factory):
    with app_on_own_database(backend, tmp_path_factory) as application:
        with application.app_context():
            event.listen(db.engine, "connect", _no_fsync)
            db.engine.dispose()
        yield application


class Simulation:
    def __init__(self, app, clock):
        self.app, self.clock, self.rng = app, clock, random.Random(SEED)
        self.limits = app.config["RULES"]
        self.lead = app.config["LIFECYCLE"]
        self.staff = f.Staff()
        self.plans: dict[date, list] = defaultdict(list)  # day → [(callable, args)]
        self.renewers: set[int] = set()  # person ids who renew (materials on file)
        self.returners: set[int] = set()  # person ids who let it lapse, then re-register (materials on file)
        self.stalling: set[int] = set()  # application ids their employer never confirms
        self.usernames: dict[int, str] = {}  # person id → username
        self.digits: dict[int, str] = {}  # registration id → number digits at the start
        self.sent: set[tuple[int, str]] = set()  # (user, event) of every message seen
        self.series: dict[tuple, list] = defaultdict(list)  # (user, reminder series) → lead times in sent order
        self.last_message_id = 0
        self.kinds = Counter()  # messages sent, by kind (the table is purged after NOTIFICATION_KEEP_DAYS)
        self.reruns = 0

    # --- The population ------------------------------------------------------------------------
    def populate(self):
        rng = self.rng
        self.clock.set(START - timedelta(days=120))
        self.enterprises = {p: [f.make_enterprise(p) for _ in range(2)] for p in ("11", "31", "44")}
        for province, enterprises in self.enterprises.items():
            self.staff.province(province)
            for enterprise in enterprises:
                self.staff.enterprise(enterprise)
        self.staff.ministry  # noqa: B018 (creates the account)
        everyone = [e for es in self.enterprises.values() for e in es]

        self.clock.set(START - timedelta(days=1))
        for n in range(HOLDERS + NEAR_AGE_LIMIT):
            renewer = rng.random() < RENEWERS
            returner = not renewer and rng.random() < 0.25
            username, person_id = f.make_registered(rng.choice(everyone), expires_in_days=rng.randint(1, 1000),
                                                    materials=renewer or returner)
            self.usernames[person_id] = username
            if renewer:
                self.renewers.add(person_id)
            if returner:
                self.returners.add(person_id)
            person = db.session.get(Person, person_id)
            if rng.random() < 0.3:  # a second specialty, expiring another day
                person.registration.specialties.append(RegistrationSpecialty(
                    specialty_code="mining", valid_from=START - timedelta(days=300),
                    valid_until=START + timedelta(days=rng.randint(1, 1000)), status="active"))
            if n >= HOLDERS:  # reaches the age limit within the three years
                birth = date(1960, 2, 29) if n == HOLDERS else (
                    add_years(START, -self.limits["AGE_LIMIT"]) + timedelta(days=rng.randint(0, 1000)))
                person.id_number = make_id_number("110101", birth, n)
            db.session.commit()
            self.digits[person.registration.id] = person.registration.number_digits

        for _ in range(WAITING):  # initial applications waiting for their employer, some never confirmed
            self.clock.set(START - timedelta(days=rng.randint(0, 100)))
            application = self.new_initial(rng.choice(everyone))
            if rng.random() < 0.5:
                self.stalling.add(application)

        for _ in range(CHANGES):  # changes of employer waiting for the previous employer
            self.clock.set(START - timedelta(days=rng.randint(0, 3)))
            application = self.new_change()
            self.staff.take(application, self.usernames[db.session.get(Application, application).person_id],
                            "confirm")
            self.plan(START + timedelta(days=rng.randint(0, 6)), self.review, application)

        for _ in range(RETURNED):  # returned to the applicant, some never amended
            self.clock.set(START - timedelta(days=rng.randint(0, 40)))
            username, person_id = f.make_applicant()
            self.usernames[person_id] = username
            enterprise = rng.choice(everyone)
            application = f.make_application(username, "initial", enterprise_id=enterprise)
            self.staff.take(application, username, "submit", "confirm", "return")
            if rng.random() < 0.5:
                self.plan(self.clock_day() + timedelta(days=rng.randint(1, 60)), self.resubmit, application)

    def clock_day(self) -> date:
        return china_day(self.clock.moment)

    def plan(self, day, action, *args):
        self.plans[max(day, self.clock_day(), START)].append((action, args))

    # --- People acting ---------------------------------------------------------------------------
    def new_initial(self, enterprise) -> int:
        username, person_id = f.make_applicant()
        self.usernames[person_id] = username
        application = f.make_application(username, "initial", enterprise_id=enterprise)
        f.move(application, "submit", username)
        self.plan(self.clock_day() + timedelta(days=self.rng.randint(1, 40)), self.review, application)
        return application

    def new_change(self) -> int:
        """A holder of a temporary certificate applies to change employer (the new one confirms first)."""
        everyone = [e for es in self.enterprises.values() for e in es]
        previous = self.rng.choice(everyone)
        username, person_id = f.make_registered(previous, temporary=True, expires_in_days=self.rng.randint(400, 900))
        self.usernames[person_id] = username
        self.digits[db.session.get(Person, person_id).registration.id] = (
            db.session.get(Person, person_id).registration.number_digits)
        application = f.make_application(username, "change",
                                         enterprise_id=self.rng.choice([e for e in everyone if e != previous]))
        f.move(application, "submit", username)
        return application

    def _actor(self, application):
        owner = workflow.STAGE_OWNER.get(application.state)
        if owner == "Enterprise":
            return self.staff.enterprise(workflow.holder_enterprise_id(application))
        if owner == "Province":
            return self.staff.province(application.province_code)
        if owner == "Ministry":
            return self.staff.ministry
        return self.usernames.get(application.person_id)

    def review(self, application_id):
        """Whoever holds the stage takes the next step; then plans the one after."""
        application = db.session.get(Application, application_id)
        state = application.state
        if state == "enterprise_review" and application_id in self.stalling:
            return
        if state == "release_pending":
            self.previous_employer_decides(application_id)
            return
        action = {"enterprise_review": "confirm", "province_review": "pass", "ministry_review": "approve"}.get(state)
        try:
            if state == "announce_pending":
                f.publish_alone(application_id, self.staff.ministry)
            elif action:
                f.move(application_id, action, self._actor(application))
            else:
                return
        except workflow.GuardFailed:  # e.g. the holder reached the age limit meanwhile
            if state in ("province_review", "ministry_review"):
                f.move(application_id, "refuse", self._actor(application))
            return
        if db.session.get(Application, application_id).state not in ("completed", "refused", "expired"):
            self.plan(self.clock_day() + timedelta(days=self.rng.randint(1, 12)), self.review, application_id)

    def previous_employer_decides(self, application_id):
        application = db.session.get(Application, application_id)
        if application.state != "release_pending":
            return
        choice = self.rng.random()
        if choice < 0.35:
            self.plan(application.stage_deadline + timedelta(days=2), self.review, application_id)
            return  # silence: the objection clock lets it proceed
        action = "release" if choice < 0.65 else "object"
        f.move(application_id, action, self._actor(application))
        self.plan(self.clock_day() + timedelta(days=self.rng.randint(1, 12)), self.review, application_id)

    def resubmit(self, application_id):
        application = db.session.get(Application, application_id)
        if application.state == "returned":
            f.move(application_id, "submit", self.usernames[application.person_id])
            self.plan(self.clock_day() + timedelta(days=self.rng.randint(1, 20)), self.review, application_id)

    def apply(self, person_id, business_type, **fields) -> int | None:
        """A new application, if nothing stops the person (the form shows the same preconditions)."""
        person = db.session.get(Person, person_id)
        if rules.preconditions(person, business_type):
            return None
        username = self.usernames[person_id]
        application = f.make_application(username, business_type, **fields)
        try:
            f.move(application, "submit", username)
        except workflow.GuardFailed:
            f.move(application, "withdraw", username)
            return None
        return application

    def _has_hours(self, person_id, codes) -> bool:
        registration = db.session.get(Person, person_id).registration
        return all(shared.education_shortfall(person_id, code, registration.specialty(code).valid_from,
                                              registration.specialty(code).valid_until, self.limits) is None
                   for code in codes)

    def renew(self, person_id):
        registration = db.session.get(Person, person_id).registration
        if not shared.is_active(registration):
            return
        day = self.clock_day()
        due = tuple(s.specialty_code for s in registration.active_specialties
                    if shared.renewal_window(day, s.valid_until, self.limits)[1])
        if not due:
            return
        if not self._has_hours(person_id, due):
            f.give_hours(person_id)  # the providers' list of the year brings the period's hours
        application = self.apply(person_id, "renewal", specialties=due)
        if application is not None:
            if self.rng.random() < 0.15:
                self.stalling.add(application)  # the employer never confirms: it expires, the specialty lapses
            self.plan(day + timedelta(days=self.rng.randint(0, 25)), self.review, application)

    def re_register(self, person_id):
        registration = db.session.get(Person, person_id).registration
        start, end = shared.recent_period(self.clock_day(), self.limits)
        if shared.education_shortfall(person_id, "building", start, end, self.limits):
            f.give_hours(person_id)  # an old qualification needs the hours of the last three years
        application = self.apply(person_id, "re_registration", enterprise_id=registration.enterprise_id)
        if application is not None:
            self.plan(self.clock_day() + timedelta(days=self.rng.randint(1, 10)), self.review, application)

    def daytime(self, day):
        """What people do on `day` (10 o'clock)."""
        self.clock.set(day, hour=10)
        rng = self.rng
        # Renewal windows opening today: a renewer applies some day inside it.
        opening = db.session.execute(select(Registration.person_id).join(RegistrationSpecialty).where(
            Registration.status == "active", RegistrationSpecialty.status == "active",
            RegistrationSpecialty.valid_until == day + timedelta(days=self.limits["RENEWAL_WINDOW_DAYS"]))).all()
        for (person_id,) in opening:
            if person_id in self.renewers:
                self.plan(day + timedelta(days=rng.randint(0, self.limits["RENEWAL_WINDOW_DAYS"])), self.renew,
                          person_id)
        # Lapsed ten days ago (specialties expired): returners, and some whose renewal failed, re-register.
        lapsed = db.session.scalars(select(Registration.person_id).where(
            Registration.status == "lapsed", Registration.lapse_reason == "expired",
            Registration.lapsed_on == day - timedelta(days=10))).all()
        for person_id in lapsed:
            if person_id in self.returners or (person_id in self.renewers and rng.random() < 0.5):
                self.re_register(person_id)
        if rng.random() < NEW_CHANGE:
            self.plan(day + timedelta(days=rng.randint(1, 10)), self.review, self.new_change())
        if rng.random() < NEW_APPLICANT:
            application = self.new_initial(rng.choice([e for es in self.enterprises.values() for e in es]))
            if rng.random() < 0.25:
                self.stalling.add(application)
        while self.plans.get(day):  # (an action may plan another for the same day)
            for action, args in self.plans.pop(day):
                action(*args)
        db.session.commit()

    # --- The nights ------------------------------------------------------------------------------
    def night(self, day):
        """The nightly jobs for `day`, in the schedule's order (ops.schedule.run's claim of the day's slot is
        exercised by `rerun`; here the jobs run as the schedule runs them, inside clock.as_of)."""
        self.clock.set(day, hour=0)
        for _, job in lifecycle.NIGHTLY:
            job(day)
        with clock_as_of(day):
            notifications.purge(day)

    def snapshot(self) -> dict:
        def grouped(column):
            return dict(db.session.execute(select(column, func.count()).group_by(column)).all())

        return {
            "notifications": db.session.scalar(select(func.count()).select_from(Notification)),
            "transitions": db.session.scalar(select(func.count()).select_from(TransitionLog)),
            "registrations": grouped(Registration.status),
            "specialties": grouped(RegistrationSpecialty.status),
            "certificates": grouped(Certificate.status),
            "applications": grouped(Application.state),
            "other_audit": db.session.scalar(select(func.count()).select_from(AuditLog).where(
                ~AuditLog.action.like("lifecycle.%"))),
        }

    def rerun(self, day):
        """The same night's jobs again, through the schedule: nothing changes but each job's own summary row
        (decided: a run records that it ran). A third time the schedule refuses: the day's slot is taken, nothing
        at all is written."""
        before = self.snapshot()
        for name in JOBS:
            figures = schedule.run(name, day)
            busy = {k: v for k, v in figures.items() if k not in ("as_of", "due", "overdue") and v}
            assert not busy, (name, day, figures)
        assert self.snapshot() == before, day
        audit_rows = db.session.scalar(select(func.count()).select_from(AuditLog))
        assert all(schedule.run(name, day) is None for name in JOBS)
        assert db.session.scalar(select(func.count()).select_from(AuditLog)) == audit_rows
        self.reruns += 1

    # --- What must hold -----------------------------------------------------------------------------
    def check(self, day):
        under_renewal = lifecycle._under_renewal()
        held_active = select(RegistrationSpecialty.id).where(
            RegistrationSpecialty.registration_id == Registration.id, RegistrationSpecialty.status == "active")
        assert db.session.scalar(select(func.count()).select_from(Registration).where(
            Registration.status == "active", ~held_active.exists())) == 0, f"{day}: active, every specialty lapsed"
        stale = db.session.scalars(select(RegistrationSpecialty.id).join(Registration).where(
            Registration.status == "active", RegistrationSpecialty.status == "active",
            RegistrationSpecialty.valid_until < day, ~under_renewal)).all()
        assert stale == [], f"{day}: specialties past their date still active: {stale}"
        held_by_renewal = db.session.scalars(select(RegistrationSpecialty.id).join(Registration).where(
            RegistrationSpecialty.status == "lapsed", Registration.lapse_reason.is_distinct_from("over_age"),
            under_renewal)).all()
        assert held_by_renewal == [], f"{day}: lapsed while a renewal names them: {held_by_renewal}"

        # The age limit: candidates by birth date, decided by age_on (29 February).
        born_by = add_years(day, -self.limits["AGE_LIMIT"]) + timedelta(days=1)
        holders = db.session.execute(select(Person.id, Person.birth_date).join(Registration).where(
            Person.birth_date <= born_by, Registration.status == "active")).all()
        assert [p for p, birth in holders if age_on(birth, day) >= self.limits["AGE_LIMIT"]] == [], day
        certified = db.session.execute(select(Person.id, Person.birth_date).join(
            Certificate, Certificate.person_id == Person.id).where(
            Person.birth_date <= born_by, Certificate.status == "valid")).all()
        assert [p for p, birth in certified if age_on(birth, day) >= self.limits["AGE_LIMIT"]] == [], day

        waiting = db.session.scalars(select(Application).where(Application.state == "enterprise_review")).all()
        assert [a.id for a in waiting if rules.unconfirmed_expiry(a) <= day] == [], f"{day}: not expired"
        assert db.session.scalar(select(func.count()).select_from(Application).where(
            Application.state == "release_pending", Application.stage_deadline < day)) == 0, day
        self.check_messages(day)

    def check_messages(self, day):
        """Each new message is a first for its (user, event); a reminder is the one due on its day."""
        new = db.session.scalars(select(Notification).where(Notification.id > self.last_message_id)
                                 .order_by(Notification.id)).all()
        for message in new:
            key = (message.user_id, message.event)
            assert key not in self.sent, f"{day}: sent twice: {key}"
            self.sent.add(key)
            self.last_message_id = message.id
            self.kinds[message.kind] += 1
            sent_on = china_day(message.created_at)
            leads = {"unconfirmed_expiring": "UNCONFIRMED_REMIND_DAYS", "specialty_expiring": "SPECIALTY_REMIND_DAYS",
                     "age_limit_ahead": "AGE_LIMIT_REMIND_DAYS", "returned_waiting": "RETURNED_REMIND_DAYS"}
            if message.kind not in leads:
                continue
            series, tight = message.event.rsplit(":", 1)
            tight, lead = int(tight), self.lead[leads[message.kind]]
            target = date.fromisoformat(message.params["day"])
            if message.kind == "returned_waiting":
                assert max(d for d in lead if (sent_on - target).days >= d) == tight, (day, message.event)
            else:
                assert lifecycle._tightest((target - sent_on).days, lead) == tight, (day, message.event, sent_on)
            self.series[(message.user_id, series)].append(tight)

    def finish(self):
        for (user, series), tights in self.series.items():  # each lead time once, in order
            ordered = sorted(tights) if series.startswith("returned_waiting") else sorted(tights, reverse=True)
            assert tights == ordered and len(set(tights)) == len(tights), (user, series, tights)
        expiries = Counter(db.session.scalars(select(TransitionLog.application_id).where(
            TransitionLog.action == "expire")).all())
        expired = set(db.session.scalars(select(Application.id).where(Application.state == "expired")).all())
        assert expired and set(expiries) == expired and set(expiries.values()) == {1}
        assert set(db.session.scalars(select(TransitionLog.role).where(TransitionLog.action.in_(
            ("expire", "release_by_silence"))))) == {"System"}
        for registration_id, digits in self.digits.items():
            assert db.session.get(Registration, registration_id).number_digits == digits
        for registration in db.session.scalars(select(Registration).where(Registration.status == "lapsed")):
            if registration.lapse_reason == "over_age":
                assert registration.lapsed_on == shared.age_limit_day(registration.person, self.limits)
            else:
                assert registration.lapsed_on == max(s.lapsed_on for s in registration.specialties)
            for held in registration.specialties:
                assert held.lapsed_on in (held.valid_until + timedelta(days=1), registration.lapsed_on), held.id

    def summary(self) -> Counter:
        counts = Counter()
        counts.update(f"registration {k}" for k in db.session.scalars(select(Registration.status)))
        counts.update(f"lapse {k}" for k in db.session.scalars(select(Registration.lapse_reason).where(
            Registration.lapse_reason.isnot(None))))
        counts.update(f"move {k}" for k in db.session.scalars(select(TransitionLog.action)))
        counts.update(f"approved {k}" for k in db.session.scalars(select(TransitionLog.business_type).where(
            TransitionLog.action == "approve")))
        counts.update({f"message {k}": n for k, n in self.kinds.items()})
        return counts


def test_three_years_of_nights_keep_the_register_true(world):
    with world.app_context(), stopped_clock() as clock:
        simulation = Simulation(world, clock)
        simulation.populate()
        day, missed = START, 0
        while day <= END:
            if simulation.rng.random() < MISSED_NIGHT and day != END:
                missed += 1
            else:
                simulation.night(day)
                simulation.check(day)
                if simulation.rng.random() < RERUN_NIGHT or day == END:
                    simulation.rerun(day)
            simulation.daytime(day)
            day += timedelta(days=1)
        simulation.clock.set(END, hour=23)
        simulation.finish()
        done = simulation.summary()

    # The three years held every story the rules tell (a guard against a population that tests nothing).
    for story in ("lapse expired", "lapse over_age", "move expire", "move release_by_silence", "move object",
                  "move release", "message specialty_expiring", "message age_limit_ahead",
                  "message unconfirmed_expiring", "message returned_waiting", "message overdue_digest",
                  "message registration_lapsed", "message application_expired"):
        assert done[story] > 0, (story, done)
    for business_type in ("initial", "renewal", "re_registration", "change"):
        assert done[f"approved {business_type}"] > 0, (business_type, done)
    assert missed > 0 and simulation.reruns > 1
