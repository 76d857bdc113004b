"""`lifecycle-expire-unconfirmed` and `lifecycle-objection-clock`: the System's moves through the engine.

An application the employer leaves unconfirmed longer than APPLICATION_EXPIRY_DAYS expires (once, with a log row,
an audit row and messages), after reminders to the enterprise; a change of employer proceeds when the previous
employer stays silent through the objection period, and an objection goes to the province.
"""
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app import lifecycle, rules, workflow
from ground.clock import china_day
from ground.extensions import db
from models import Application, AuditLog, Notification, TransitionLog
from tests import factories as f
from tests.lifecycle.conftest import run

MONDAY = date(2027, 3, 1)


def _app(application_id) -> Application:
    db.session.expire_all()
    return db.session.get(Application, application_id)


def _messages(username, kind=None) -> list[Notification]:
    query = select(Notification).where(Notification.user_id == f.user(username).id).order_by(Notification.id)
    if kind:
        query = query.where(Notification.kind == kind)
    return list(db.session.scalars(query))


def _logs(application_id, action) -> list[TransitionLog]:
    return list(db.session.scalars(select(TransitionLog).where(TransitionLog.application_id == application_id,
                                                               TransitionLog.action == action)))


def waiting_for_employer(staff, clock, day) -> tuple[str, str, int]:
    """An initial application submitted on `day`, waiting for its employer. (applicant, employer user, id)"""
    clock.set(day)
    enterprise = f.make_enterprise()
    employer = staff.enterprise(enterprise)
    username, _ = f.make_applicant()
    application = f.make_application(username, "initial", enterprise_id=enterprise)
    f.move(application, "submit", username)
    return username, employer, application


def test_an_unconfirmed_application_expires_after_the_expiry_days(ctx, clock, app):
    days = app.config["RULES"]["APPLICATION_EXPIRY_DAYS"]
    staff = f.Staff()
    username, employer, application = waiting_for_employer(staff, clock, MONDAY)
    expires_on = rules.unconfirmed_expiry(_app(application))
    assert expires_on == MONDAY + timedelta(days=days + 1)

    reminded_on = {}
    for day in (expires_on - timedelta(days=n) for n in range(33, 0, -1)):  # up to the eve of the expiry
        clock.set(day, hour=0)
        run("lifecycle-expire-unconfirmed", day)
        for message in _messages(employer, "unconfirmed_expiring"):
            reminded_on.setdefault(message.event, (expires_on - day).days)
        assert _app(application).state == "enterprise_review"
    assert sorted(reminded_on.values()) == [1, 7, 30]  # each once, on its day

    clock.set(expires_on, hour=0)
    run("lifecycle-expire-unconfirmed", expires_on)
    run("lifecycle-expire-unconfirmed", expires_on)  # twice: nothing more
    run("lifecycle-expire-unconfirmed", expires_on + timedelta(days=1))
    assert _app(application).state == "expired"
    [log] = _logs(application, "expire")
    assert (log.from_state, log.to_state, log.role, log.username, log.user_id) == (
        "enterprise_review", "expired", "System", "system", None)
    audits = db.session.scalars(select(AuditLog).where(AuditLog.action == "transition.expire",
                                                       AuditLog.object_id == str(application))).all()
    assert len(audits) == 1 and audits[0].username == "system"

    [notice] = _messages(username, "application_expired")
    assert notice.sms_state == "pending" and notice.params["days"] == days
    assert len(_messages(employer, "application_expired_employer")) == 1
    assert len(_messages(employer, "unconfirmed_expiring")) == 3


def test_missed_nights_send_only_the_tightest_reminder(ctx, clock):
    staff = f.Staff()
    _, employer, application = waiting_for_employer(staff, clock, MONDAY + timedelta(days=1))
    expires_on = rules.unconfirmed_expiry(_app(application))
    run("lifecycle-expire-unconfirmed", expires_on - timedelta(days=40))
    assert _messages(employer, "unconfirmed_expiring") == []
    run("lifecycle-expire-unconfirmed", expires_on - timedelta(days=5))  # the 30-day reminder was never sent
    [message] = _messages(employer, "unconfirmed_expiring")
    assert message.event.endswith(":7")
    run("lifecycle-expire-unconfirmed", expires_on + timedelta(days=20))  # long after: expires, no 1-day reminder
    assert len(_messages(employer, "unconfirmed_expiring")) == 1
    assert _app(application).state == "expired" and len(_logs(application, "expire")) == 1


def test_a_job_called_directly_counts_from_its_own_date(ctx, clock):
    """lifecycle.NIGHTLY's functions are the schedule's work, but also callable alone (the guards see `as_of`)."""
    staff = f.Staff()
    _, _, application = waiting_for_employer(staff, clock, MONDAY + timedelta(days=2))
    expires_on = rules.unconfirmed_expiry(_app(application))
    clock.restore()  # the real today is long before that
    lifecycle.expire_unconfirmed(expires_on)
    assert _app(application).state == "expired"


def test_a_confirmed_application_does_not_expire(ctx, clock):
    staff = f.Staff()
    username, _, application = waiting_for_employer(staff, clock, MONDAY + timedelta(days=3))
    clock.set(MONDAY + timedelta(days=50))
    staff.take(application, username, "confirm")
    run("lifecycle-expire-unconfirmed", MONDAY + timedelta(days=200))
    assert _app(application).state == "province_review"
    with pytest.raises(workflow.InvalidState):
        workflow.apply(application, workflow.Move("expire"), None, as_system=True)


def test_the_system_cannot_expire_early(ctx, clock):
    staff = f.Staff()
    _, _, application = waiting_for_employer(staff, clock, MONDAY + timedelta(days=4))
    with pytest.raises(workflow.GuardFailed):
        workflow.apply(application, workflow.Move("expire"), None, as_system=True)
    assert _app(application).state == "enterprise_review"


# --- Change of employer: release, objection, silence ----------------------------------------------
def change_in_release(staff, clock, day) -> dict:
    """A change of employer confirmed by the new employer on `day`: waiting for the previous one."""
    clock.set(day)
    previous, new = f.make_enterprise(), f.make_enterprise()
    username, _ = f.make_registered(previous, temporary=True)
    users = {"applicant": username, "previous": staff.enterprise(previous), "new": staff.enterprise(new),
             "province": staff.province("11")}
    application = f.make_application(username, "change", enterprise_id=new)
    staff.take(application, username, "submit", "confirm")
    return {"id": application, **users}


def test_a_change_waits_for_the_previous_employer_then_proceeds_on_silence(ctx, clock, app):
    staff = f.Staff()
    change = change_in_release(staff, clock, MONDAY)
    application = _app(change["id"])
    assert application.state == "release_pending"
    deadline = MONDAY + timedelta(days=app.config["RULES"]["OBJECTION_DAYS"])
    assert application.stage_deadline == deadline
    assert len(_messages(change["previous"], "release_requested")) == 1

    clock.set(deadline, hour=0)
    run("lifecycle-objection-clock", deadline)
    assert _app(change["id"]).state == "release_pending"

    clock.set(deadline + timedelta(days=1), hour=0)
    run("lifecycle-objection-clock", deadline + timedelta(days=1))
    run("lifecycle-objection-clock", deadline + timedelta(days=1))
    application = _app(change["id"])
    assert application.state == "province_review" and application.objection is None
    [log] = _logs(change["id"], "release_by_silence")
    assert (log.role, log.username, log.from_state) == ("System", "system", "release_pending")
    assert china_day(application.state_changed_at) == deadline + timedelta(days=1)


def test_an_objection_goes_to_the_province(ctx, clock):
    staff = f.Staff()
    change = change_in_release(staff, clock, MONDAY + timedelta(days=7))
    with pytest.raises(workflow.Forbidden):  # the new employer confirmed; releasing is the previous one's turn
        f.move(change["id"], "release", change["new"])
    with pytest.raises(workflow.OpinionRequired):
        f.move(change["id"], "object", change["previous"], opinion=" ")
    f.move(change["id"], "object", change["previous"], opinion="合同未到期，尚有工程未交接。")

    application = _app(change["id"])
    assert application.state == "province_review"
    assert application.objection == "合同未到期，尚有工程未交接。"
    [to_decide] = _messages(change["province"], "objection_to_decide")
    assert to_decide.params["opinion"] == "合同未到期，尚有工程未交接。"
    assert len(_messages(change["applicant"], "objection_raised")) == 1
    # Nothing for the clock to do any more.
    run("lifecycle-objection-clock", MONDAY + timedelta(days=30))
    assert _logs(change["id"], "release_by_silence") == []


def test_the_previous_employer_may_release_at_once(ctx, clock):
    staff = f.Staff()
    change = change_in_release(staff, clock, MONDAY + timedelta(days=14))
    f.move(change["id"], "release", change["previous"])
    assert _app(change["id"]).state == "province_review"
    assert db.session.scalar(select(func.count()).select_from(TransitionLog).where(
        TransitionLog.application_id == change["id"], TransitionLog.role == "System")) == 0
