"""`lifecycle-stage-limits` and `lifecycle-reminders`: each reminder once per event, on its day (the tightest one
when nights were missed); one digest a day per provincial office and for the ministry."""
from datetime import date, timedelta

from sqlalchemy import select

from app.business_types import shared
from app.services.workdays import add_working_days
from ground.clock import today
from ground.extensions import db
from models import Application, Certificate, Notification, Person
from tests import factories as f
from tests.lifecycle.conftest import run
from tests.lifecycle.test_age_limit import id_number_born

MONDAY = date(2027, 9, 6)


def ctx_lifecycle() -> dict:
    from flask import current_app

    return current_app.config["LIFECYCLE"]


def _messages(username, kind) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(
        Notification.user_id == f.user(username).id, Notification.kind == kind).order_by(Notification.id)))


def _daily(name, days, username, kind) -> dict:
    """Run `name` for each of `days`; {event: the day it was first sent} of `username`'s messages of `kind`."""
    first = {}
    for day in days:
        run(name, day)
        for message in _messages(username, kind):
            first.setdefault(message.event, day)
    return first


def test_specialty_expiry_reminders_at_90_30_and_7_days(ctx):
    username, person_id = f.make_registered(f.make_enterprise(), expires_in_days=120)
    until = db.session.get(Person, person_id).registration.specialty("building").valid_until
    sent = _daily("lifecycle-reminders", [until - timedelta(days=n) for n in range(95, -1, -1)], username,
                  "specialty_expiring")
    assert sorted((until - day).days for day in sent.values()) == [7, 30, 90]
    assert run("lifecycle-reminders", until - timedelta(days=30))["specialty_expiring"] == 0  # all sent already
    [first] = [m for m in _messages(username, "specialty_expiring") if m.event.endswith(":90")]
    assert first.sms_state == "pending"
    window = shared.configured_limits()["RENEWAL_WINDOW_DAYS"]
    assert first.params["opens"] == (until - timedelta(days=window)).isoformat()


def test_missed_nights_send_only_the_tightest_expiry_reminder(ctx):
    username, person_id = f.make_registered(f.make_enterprise(), expires_in_days=150)
    until = db.session.get(Person, person_id).registration.specialty("building").valid_until
    run("lifecycle-reminders", until - timedelta(days=100))
    assert run("lifecycle-reminders", until - timedelta(days=20))["specialty_expiring"] >= 1  # 90 missed: only 30
    run("lifecycle-reminders", until - timedelta(days=2))  # 7 missed: sent late
    assert [m.event.rsplit(":", 1)[1] for m in _messages(username, "specialty_expiring")] == ["30", "7"]


def test_no_expiry_reminder_while_a_renewal_is_under_review(ctx):
    username, person_id = f.make_registered(f.make_enterprise(), expires_in_days=20)
    until = db.session.get(Person, person_id).registration.specialty("building").valid_until
    renewal = f.make_application(username, "renewal", continuing_education=True)
    f.move(renewal, "submit", username)
    run("lifecycle-reminders", until - timedelta(days=6))
    assert _messages(username, "specialty_expiring") == []


def test_age_limit_reminders_at_180_and_90_days(ctx):
    limit = shared.configured_limits()["AGE_LIMIT"]
    birth = date(1966, 4, 10)
    username, person_id = f.make_registered(f.make_enterprise())
    db.session.get(Person, person_id).id_number = id_number_born(birth)
    db.session.commit()
    birthday = date(birth.year + limit, 4, 10)
    sent = _daily("lifecycle-reminders", [birthday - timedelta(days=n) for n in (200, 181, 180, 179, 91, 90, 89, 1, 0)],
                  username, "age_limit_ahead")
    assert sorted((birthday - day).days for day in sent.values()) == [90, 180]
    assert _messages(username, "age_limit_ahead")[0].params == {"limit": limit, "day": birthday.isoformat()}


def test_a_downloaded_copy_is_reminded_of_once(ctx):
    username, person_id = f.make_registered(f.make_enterprise())
    certificate = db.session.scalar(select(Certificate).where(Certificate.person_id == person_id))
    certificate.copy_valid_until = today() + timedelta(days=40)
    db.session.commit()
    sent = _daily("lifecycle-reminders", [today() + timedelta(days=n) for n in (25, 26, 27, 30, 40, 41)], username,
                  "copy_expiring")
    assert list(sent.values()) == [today() + timedelta(days=26)]


def test_a_returned_application_is_reminded_of_at_7_and_30_days(ctx, clock):
    staff = f.Staff()
    clock.set(MONDAY)
    enterprise = f.make_enterprise()
    username, _ = f.make_applicant()
    application = f.make_application(username, "initial", enterprise_id=enterprise)
    staff.take(application, username, "submit", "return")
    assert db.session.get(Application, application).state == "returned"
    sent = _daily("lifecycle-reminders", [MONDAY + timedelta(days=n) for n in range(0, 40)], username,
                  "returned_waiting")
    assert sorted((day - MONDAY).days for day in sent.values()) == [7, 30]
    assert all(m.sms_state == "pending" for m in _messages(username, "returned_waiting"))

    # Amended and returned again: the reminders start over (a new event), skipped nights send the later one only.
    clock.set(MONDAY + timedelta(days=41))
    staff.take(application, username, "submit", "return")
    run("lifecycle-reminders", MONDAY + timedelta(days=41 + 35))
    assert len(_messages(username, "returned_waiting")) == 3


def test_stage_limits_tell_the_enterprise_once_when_due_and_once_when_overdue(ctx, clock):
    staff = f.Staff()
    clock.set(MONDAY)
    enterprise = f.make_enterprise()
    employer = staff.enterprise(enterprise)
    username, _ = f.make_applicant()
    application = f.make_application(username, "initial", enterprise_id=enterprise)
    f.move(application, "submit", username)
    deadline = db.session.get(Application, application).stage_deadline
    assert deadline == add_working_days(MONDAY, 5)
    days = [MONDAY + timedelta(days=n) for n in range((deadline - MONDAY).days + 4)]
    first = {}
    for day in days:
        run("lifecycle-stage-limits", day)
        for message in _messages(employer, "stage_due") + _messages(employer, "stage_overdue"):
            first.setdefault(message.kind, day)
    lead = ctx_lifecycle()["STAGE_REMIND_WORKING_DAYS"]
    assert first == {"stage_due": add_working_days(MONDAY, 5 - lead),  # `lead` working days left
                     "stage_overdue": deadline + timedelta(days=1)}
    for day in days:  # the same days again: no repeats
        run("lifecycle-stage-limits", day)
    assert len(_messages(employer, "stage_due")) == 1 and len(_messages(employer, "stage_overdue")) == 1


def test_provinces_and_the_ministry_get_one_digest_a_day(ctx, clock):
    staff = f.Staff()
    clock.set(MONDAY)
    province_user, ministry_user = staff.province("44"), staff.ministry
    enterprise = f.make_enterprise("44")
    username, _ = f.make_applicant()
    application = f.make_application(username, "initial", enterprise_id=enterprise)
    staff.take(application, username, "submit", "confirm")
    deadline = db.session.get(Application, application).stage_deadline
    after = deadline + timedelta(days=3)
    run("lifecycle-stage-limits", after)
    run("lifecycle-stage-limits", after)
    run("lifecycle-stage-limits", after + timedelta(days=1))
    digests = _messages(province_user, "overdue_digest")
    assert len(digests) == 2 and digests[0].params["overdue"] >= 1
    assert digests[0].subject == "overdue"

    staff.take(application, username, "pass")
    deadline = db.session.get(Application, application).stage_deadline
    run("lifecycle-stage-limits", deadline + timedelta(days=1))
    assert any(m.params["overdue"] >= 1 for m in _messages(ministry_user, "overdue_digest"))


def test_a_purged_reminder_is_not_sent_again(ctx, clock, app):
    """A return may wait for ever; once its reminder is older than NOTIFICATION_KEEP_DAYS and purged, the nightly
    job must not take its absence for a reminder never sent."""
    keep = app.config["NOTIFICATION_KEEP_DAYS"]
    staff = f.Staff()
    day = MONDAY + timedelta(days=100)
    clock.set(day)
    username, _ = f.make_applicant()
    application = f.make_application(username, "initial", enterprise_id=f.make_enterprise())
    staff.take(application, username, "submit", "return")
    clock.set(day + timedelta(days=30))
    run("lifecycle-reminders", day + timedelta(days=30))
    assert len(_messages(username, "returned_waiting")) == 1
    for later in (keep + 31, keep + 40, 2 * keep):
        clock.set(day + timedelta(days=later))
        run("purge-notifications", day + timedelta(days=later))
        run("lifecycle-reminders", day + timedelta(days=later))
    assert _messages(username, "returned_waiting") == []
