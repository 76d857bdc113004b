"""催办: the applicant reminds the enterprise holding their application (app.applications.remind_employer)."""
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import applications, workflow
from ground.clock import china_day, now_utc
from ground.extensions import db
from models import Application, AuditLog, Notification
from tests import factories as f


def _waiting_for_employer():
    """(applicant, application id, enterprise officer) of an application awaiting its employer's confirmation."""
    enterprise = f.make_enterprise("11")
    officer = f.make_user("Enterprise", enterprise_id=enterprise)
    other_officer = f.make_user("Enterprise", enterprise_id=enterprise)
    username, _person = f.make_applicant()
    app_id = f.make_application(username, "initial", enterprise_id=enterprise)
    f.move(app_id, "submit", username)
    return username, app_id, (officer, other_officer)


def _change_awaiting_release():
    """(applicant, application id, previous employer's officer, new employer's officer) in State.RELEASE."""
    old, new = f.make_enterprise("11"), f.make_enterprise("11")
    previous_officer, new_officer = f.make_user("Enterprise", enterprise_id=old), f.make_user("Enterprise",
                                                                                             enterprise_id=new)
    username, _person = f.make_registered(old, temporary=True)
    app_id = f.make_application(username, "change", enterprise_id=new)
    f.move(app_id, "submit", username)
    f.move(app_id, "confirm", new_officer)
    assert db.session.get(Application, app_id).state == workflow.State.RELEASE
    return username, app_id, previous_officer, new_officer


def _messages(app_id):
    return db.session.scalars(select(Notification).where(Notification.kind == "employer_reminded",
                                                         Notification.subject == f"application:{app_id}")
                              .order_by(Notification.id)).all()


def _audit(app_id):
    return db.session.scalars(select(AuditLog).where(AuditLog.action == "application.remind",
                                                     AuditLog.object_id == str(app_id))).all()


def test_a_reminder_goes_to_the_employers_accounts_with_an_audit_row(ctx):
    username, app_id, officers = _waiting_for_employer()
    applicant = f.user(username)
    before = now_utc()

    assert applications.remind_employer(app_id, applicant) == 1

    item = db.session.get(Application, app_id)
    assert item.reminder_count == 1 and item.last_reminded_at >= before
    messages = _messages(app_id)
    assert sorted(m.user_id for m in messages) == sorted(f.user(o).id for o in officers)
    assert {m.event for m in messages} == {f"employer_reminded:{app_id}:1"}
    assert messages[0].params["since"] == china_day(item.state_changed_at).isoformat()
    assert messages[0].params["number"] == item.number
    [row] = _audit(app_id)
    assert row.user_id == applicant.id and row.detail == {"state": "enterprise_review",
                                                         "enterprise_id": item.enterprise_id, "count": 1}
    assert item.version == db.session.get(Application, app_id).version  # a reminder is no move
    reminder = applications.reminder(item, applicant)
    assert reminder.count == 1 and not reminder.allowed and reminder.next_at > now_utc()


def test_once_per_interval_with_the_time_of_the_next(ctx, app, monkeypatch):
    username, app_id, _officers = _waiting_for_employer()
    applicant = f.user(username)
    assert applications.reminder(db.session.get(Application, app_id), applicant).allowed
    applications.remind_employer(app_id, applicant)

    with pytest.raises(workflow.Conflict) as refused:
        applications.remind_employer(app_id, applicant)
    assert "you may remind it again from" in str(refused.value.message)
    assert db.session.get(Application, app_id).reminder_count == 1 and len(_audit(app_id)) == 1

    hours = app.config["EMPLOYER_REMINDER_HOURS"]
    later = now_utc() + timedelta(hours=hours, minutes=1)
    monkeypatch.setattr(applications, "now_utc", lambda: later)
    assert applications.reminder(db.session.get(Application, app_id), applicant, now=later).allowed
    assert applications.remind_employer(app_id, applicant) == 2
    assert {m.event for m in _messages(app_id)} == {f"employer_reminded:{app_id}:1", f"employer_reminded:{app_id}:2"}
    assert len(_audit(app_id)) == 2


def test_the_previous_employer_is_reminded_while_it_may_release(ctx):
    username, app_id, previous_officer, new_officer = _change_awaiting_release()
    applications.remind_employer(app_id, f.user(username))
    recipients = {m.user_id for m in _messages(app_id)}
    assert f.user(previous_officer).id in recipients and f.user(new_officer).id not in recipients
    item = db.session.get(Application, app_id)
    assert _audit(app_id)[0].detail["enterprise_id"] == item.previous_enterprise_id
    assert applications.reminder(item, f.user(username)).enterprise == item.previous_enterprise.name


def test_only_while_an_enterprise_holds_it(ctx):
    staff = f.Staff()
    username, _person, app_id = f.initial_application(staff, "11", "submit", "confirm")  # at the province
    with pytest.raises(workflow.InvalidState):
        applications.remind_employer(app_id, f.user(username))
    assert applications.reminder(db.session.get(Application, app_id), f.user(username)) is None
    draft_user, _person = f.make_applicant()
    draft = f.make_application(draft_user, "initial", enterprise_id=f.make_enterprise("11"))
    with pytest.raises(workflow.InvalidState):
        applications.remind_employer(draft, f.user(draft_user))
    assert not _messages(app_id) and not _audit(app_id) and not _audit(draft)


def test_someone_elses_application_is_not_found(ctx):
    username, app_id, officers = _waiting_for_employer()
    stranger, _person = f.make_applicant()
    for other in (stranger, officers[0], f.make_user("Province", province_code="11"), f.make_user("Ministry")):
        with pytest.raises(workflow.NotFound):
            applications.remind_employer(app_id, f.user(other))
        assert applications.reminder(db.session.get(Application, app_id), f.user(other)) is None
    with pytest.raises(workflow.NotFound):
        applications.remind_employer(10**9, f.user(username))
    assert db.session.get(Application, app_id).reminder_count == 0 and not _messages(app_id)


def test_a_click_on_a_stale_page_sends_nothing_twice(ctx):
    """The application was read before another click's reminder committed: the guarded UPDATE refuses."""
    username, app_id, _officers = _waiting_for_employer()
    item = db.session.get(Application, app_id)
    assert item.last_reminded_at is None
    db.session.execute(Application.__table__.update().where(Application.id == app_id)
                       .values(reminder_count=1, last_reminded_at=now_utc()))  # the other click, same transaction
    with pytest.raises(workflow.Conflict):
        applications.remind_employer(item, f.user(username))
    assert db.session.get(Application, app_id).reminder_count == 0  # rolled back with the refusal


def test_two_clicks_at_once_give_one_reminder(app, backend):
    with app.app_context():
        username, app_id, officers = _waiting_for_employer()
    barrier = threading.Barrier(2)
    outcomes, lock = [], threading.Lock()

    def click():
        with app.app_context():
            user = f.user(username)
            db.session.get(Application, app_id)  # both pages saw no reminder yet
            barrier.wait()
            try:
                applications.remind_employer(app_id, user)
                result = "ok"
            except workflow.WorkflowError as exc:
                result = type(exc).__name__
            finally:
                db.session.remove()
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["Conflict", "ok"]
    with app.app_context():
        assert db.session.get(Application, app_id).reminder_count == 1
        assert len(_messages(app_id)) == len(officers) and len(_audit(app_id)) == 1
