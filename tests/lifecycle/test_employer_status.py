"""Employer status (item 2 of issue 17): the ministry's entry with its history, the register import's row report,
"employer not qualified" at the form, the submission, the employer's confirmation, the review and the approval,
and the nightly job that returns open applications through the engine and tells the registered people once."""
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app import employer_status, rules, workflow
from ground.clock import today
from ground.extensions import db
from models import Application, AuditLog, Enterprise, EnterpriseStatusChange, Notification, TransitionLog
from tests import factories as f
from tests.lifecycle.conftest import run


def _enterprise(enterprise_id) -> Enterprise:
    db.session.expire_all()
    return db.session.get(Enterprise, enterprise_id)


def _close(enterprise_id, status="deregistered", day=None, user=None):
    change = employer_status.set_status(_enterprise(enterprise_id), status, day or today() - timedelta(days=3),
                                        "ministry", "测试", user)
    db.session.commit()
    return change


def _state(app_id) -> str:
    db.session.expire_all()
    return db.session.get(Application, app_id).state


def _messages(username, kind):
    return list(db.session.scalars(select(Notification).where(Notification.user_id == f.user(username).id,
                                                              Notification.kind == kind)))


def test_a_status_change_keeps_its_history_and_audit(ctx):
    staff = f.Staff()
    enterprise = f.make_enterprise()
    minister = f.user(staff.ministry)
    _close(enterprise, "suspended", user=minister)
    _close(enterprise, "active", day=today() - timedelta(days=1), user=minister)
    row = _enterprise(enterprise)
    assert row.status == "active" and row.status_since == today() - timedelta(days=1) and row.status_source == "ministry"
    history = [(c.previous_status, c.status, c.username) for c in reversed(row.status_changes)]
    assert history == [("active", "suspended", staff.ministry), ("suspended", "active", staff.ministry)]
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "enterprise.status", AuditLog.object_id == str(enterprise))) == 2


@pytest.mark.parametrize("status, day, message", [
    ("bankrupt", None, "Choose a status from the list."),
    ("suspended", "future", "is in the future"),
    ("active", None, "is already"),
])
def test_impossible_status_changes_are_refused_with_a_reason(ctx, status, day, message):
    enterprise = f.make_enterprise()
    effective = today() + timedelta(days=5) if day == "future" else today()
    with pytest.raises(employer_status.StatusRefused) as caught:
        employer_status.set_status(_enterprise(enterprise), status, effective, "ministry", "", None)
    db.session.rollback()
    assert message in str(caught.value.message)
    assert db.session.scalar(select(func.count()).select_from(EnterpriseStatusChange).where(
        EnterpriseStatusChange.enterprise_id == enterprise)) == 0


def test_no_application_may_name_a_closed_employer(ctx):
    enterprise = f.make_enterprise()
    _close(enterprise, "revoked")
    username, _ = f.make_applicant()
    errors = rules.check_fields("initial", {"enterprise": enterprise, **f.contract(), "specialties": ["building"]})
    assert any("employer not qualified" in str(m) for m in errors["enterprise"])
    app_id = f.make_application(username, "initial", enterprise_id=enterprise)
    with pytest.raises(workflow.GuardFailed) as caught:
        f.move(app_id, "submit", username)
    assert any("employer not qualified" in str(r) for r in caught.value.reasons)
    assert _state(app_id) == "draft"


def test_types_the_current_employer_confirms_are_stopped_before_the_form(ctx):
    enterprise = f.make_enterprise()
    username, person_id = f.make_registered(enterprise)
    _close(enterprise, "suspended")
    person = f.user(username).person
    assert any("employer not qualified" in str(r) for r in rules.preconditions(person, "add_specialty"))
    # A change of employer leaves the closed employer: it stays possible.
    assert not any("employer not qualified" in str(r) for r in rules.preconditions(person, "change"))


@pytest.mark.parametrize("stage, action, role", [
    ("enterprise_review", "confirm", "enterprise"), ("province_review", "pass", "province"),
    ("ministry_review", "approve", "ministry"),
])
def test_the_review_stages_refuse_to_move_on_for_a_closed_employer(ctx, stage, action, role):
    staff = f.Staff()
    username, _person, app_id = f.initial_application(staff, "11", "submit")
    f.set_state(app_id, stage)
    app = db.session.get(Application, app_id)
    _close(app.enterprise_id)
    actor = {"enterprise": lambda: staff.enterprise(app.enterprise_id), "province": lambda: staff.province("11"),
             "ministry": lambda: staff.ministry}[role]()
    with pytest.raises(workflow.GuardFailed) as caught:
        f.move(app_id, action, actor)
    assert any("employer not qualified" in str(r) for r in caught.value.reasons)
    assert _state(app_id) == stage
    # The province or the ministry may refuse on that ground.
    if role != "enterprise":
        f.move(app_id, "refuse", actor, reason="employer_not_qualified")
        assert _state(app_id) == "refused"


def test_the_nightly_job_returns_open_applications_and_tells_the_registered_once(ctx, clock):
    day = date(2027, 5, 10)
    clock.set(day)
    staff = f.Staff()
    enterprise = f.make_enterprise()
    waiting, _p1, at_employer = f.initial_application(staff, "11", "submit")
    at_employer_enterprise = db.session.get(Application, at_employer).enterprise_id
    registered, _p2 = f.make_registered(at_employer_enterprise)
    other, _p3, elsewhere = f.initial_application(staff, "11", "submit")  # another employer: untouched
    _close(at_employer_enterprise, "deregistered", day=day - timedelta(days=2))
    del enterprise

    figures = run("employer-status", day)
    assert figures["applications_returned"] >= 1 and figures["people_notified"] >= 1
    assert _state(at_employer) == "returned" and _state(elsewhere) == "enterprise_review"
    log = db.session.scalars(select(TransitionLog).where(TransitionLog.application_id == at_employer)
                             .order_by(TransitionLog.id.desc())).first()
    assert log.action == "employer_closed" and log.role == "System" and "employer not qualified" in log.opinion
    assert len(_messages(waiting, "application_returned")) == 1
    assert len(_messages(registered, "employer_not_qualified")) == 1
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "lifecycle.employer_status")) >= 1

    again = run("employer-status", day)  # idempotent: nothing twice
    assert again["people_notified"] == 0
    assert len(_messages(registered, "employer_not_qualified")) == 1
    # The returned application cannot be submitted again while it names the closed employer.
    with pytest.raises(workflow.GuardFailed):
        f.move(at_employer, "submit", waiting)
    # A further status change is news again.
    _close(at_employer_enterprise, "revoked", day=day)
    run("employer-status", day)
    assert len(_messages(registered, "employer_not_qualified")) == 2


REGISTER_HEADER = "统一社会信用代码,企业名称,登记状态,状态日期\n"


def test_the_register_import_reports_every_row(ctx):
    first, second = f.make_enterprise(), f.make_enterprise()
    code1, code2 = _enterprise(first).credit_code, _enterprise(second).credit_code
    body = (REGISTER_HEADER
            + f"{code1},甲公司,注销,2026-10-01\n"
            + f"{code2},乙公司,存续,2026-10-01\n"  # already active: unchanged
            + "91110000000000000X,丙公司,注销,2026-10-01\n"  # bad check character
            + f"{code2},乙公司,破产,2026-10-01\n"  # unknown status
            + f"{code2},乙公司,停业,2099-01-01\n")  # future date
    report = employer_status.import_register(body.encode("utf-8"), "register.csv", None)
    assert report.counts == {"rows": 5, "accepted": 1, "refused": 3, "unchanged": 1}
    assert _enterprise(first).status == "deregistered" and _enterprise(first).status_source == "register"
    reasons = [r[3] for r in report.rows if r[2] == "refused"]
    assert any("check character" in r for r in reasons)
    assert any("Unknown status" in r for r in reasons)
    assert any("in the future" in r for r in reasons)
    text = report.to_csv()
    assert text.index("Unknown status") < text.index("甲公司")  # refused rows first
    again = employer_status.import_register(body.encode("utf-8"), "register.csv", None)
    assert again.counts["accepted"] == 0 and again.counts["unchanged"] == 2


def test_a_register_file_without_the_columns_is_refused_whole(ctx):
    report = employer_status.import_register("名称,日期\n甲,2026-01-01\n".encode(), "bad.csv", None)
    assert report.rows == [] and "Columns missing" in report.error


def test_a_person_at_a_closed_employer_may_still_cancel(ctx, clock):
    day = date(2027, 5, 11)
    clock.set(day)
    enterprise = f.make_enterprise()
    username, _person = f.make_registered(enterprise)
    person = f.user(username).person
    assert not any("employer not qualified" in str(r) for r in rules.preconditions(person, "cancellation"))
    app_id = f.make_application(username, "cancellation", reason="employer_bankrupt")
    f.move(app_id, "submit", username)
    _close(enterprise, "deregistered", day=day - timedelta(days=1))
    run("employer-status", day)
    assert _state(app_id) == "enterprise_review"  # not returned: cancelling is the way out
