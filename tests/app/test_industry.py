"""The industry department's opinion (行业主管部门意见) as a stage of the engine: its condition, its role's scope and
queue, the opinion it records and its time limit."""
import pytest

from app import industry, scope, workflow
from app.services.workdays import add_working_days
from ground.clock import china_day
from ground.extensions import db
from models import Application, AuditLog, Person, TransitionLog
from tests import factories as f

IND, P, M = "industry_review", "province_review", "ministry_review"
RAILWAY_QUALIFIED = (("building", 1), ("railway", 1), ("water", 1))


def _at_province(staff, specialties=("railway",), province="11"):
    username, person_id = f.make_applicant(qualifications=RAILWAY_QUALIFIED)
    app_id = f.make_application(username, "initial", specialties=specialties,
                                enterprise_id=f.make_enterprise(province))
    staff.take(app_id, username, "submit", "confirm")
    return username, person_id, app_id


@pytest.fixture
def rule(app):
    """Switch RULES INDUSTRY_OPINION for one test."""
    saved = app.config["RULES"]["INDUSTRY_OPINION"]

    def set_rule(value):
        app.config["RULES"]["INDUSTRY_OPINION"] = value

    yield set_rule
    app.config["RULES"]["INDUSTRY_OPINION"] = saved


def test_a_flagged_specialty_goes_through_the_industry_stage_with_its_time_limit(ctx, rule, app):
    rule(True)
    staff = f.Staff()
    _user, _person, app_id = _at_province(staff, ("building", "railway"))
    assert f.move(app_id, "pass", staff.province("11")) == IND
    application = db.session.get(Application, app_id)
    limit = app.config["STAGE_TIME_LIMITS"]["initial"][IND]
    assert limit == 10
    assert application.stage_deadline == add_working_days(china_day(application.state_changed_at), limit)


def test_an_unflagged_application_or_the_rule_off_skips_it(ctx, rule):
    staff = f.Staff()
    rule(True)
    _user, _person, plain = _at_province(staff, ("building",))
    assert f.move(plain, "pass", staff.province("11")) == M
    rule(False)
    _user, _person, flagged = _at_province(staff, ("railway",))
    assert f.move(flagged, "pass", staff.province("11")) == M
    assert not db.session.query(TransitionLog).filter(TransitionLog.application_id.in_([plain, flagged]),
                                                      TransitionLog.to_state == IND).count()


def test_the_opinion_is_recorded_with_its_code_and_the_ministry_decides(ctx, rule):
    rule(True)
    staff = f.Staff()
    railway = staff.industry(("railway",))
    _user, _person, app_id = _at_province(staff)
    f.move(app_id, "pass", staff.province("11"))
    with pytest.raises(workflow.OpinionRequired):
        workflow.apply(app_id, workflow.Move("opine", opinion=" ", reason="agree"), f.user(railway))
    with pytest.raises(workflow.GuardFailed, match="Choose the reason"):
        workflow.apply(app_id, workflow.Move("opine", opinion="同意。", reason="other"), f.user(railway))
    assert db.session.get(Application, app_id).state == IND
    assert f.move(app_id, "opine", railway, opinion="业绩不足，不同意。", reason="disagree") == M
    log = db.session.query(TransitionLog).filter_by(application_id=app_id, action="opine").one()
    assert (log.role, log.reason, log.opinion, log.from_state, log.to_state) == (
        "Industry", "disagree", "业绩不足，不同意。", IND, M)
    assert str(log.reason_label) == "Does not agree"
    audit = db.session.query(AuditLog).filter_by(action="transition.opine", object_id=str(app_id)).one()
    assert audit.detail["reason"] == "disagree"
    # An opinion only: the department cannot approve, return or refuse; the ministry still decides.
    for action in ("approve", "return", "refuse"):
        with pytest.raises(workflow.Forbidden, match="Your role may not"):
            f.move(app_id, action, railway)
    assert f.move(app_id, "approve", staff.ministry) == "announce_pending"


def test_another_departments_application_is_neither_in_its_queue_nor_its_to_move(ctx, rule):
    rule(True)
    staff = f.Staff()
    railway, water = staff.industry(("railway",)), staff.industry(("water",))
    _user, person_id, app_id = _at_province(staff, ("railway",))
    f.move(app_id, "pass", staff.province("11"))
    _user, _other_person, waiting_at_province = _at_province(staff, ("railway",))

    def queue(username):
        user = f.user(username)
        return {a.id for a in scope.query(Application, user).filter(workflow.actionable_clause(["Industry"], user))}

    assert app_id in queue(railway) and waiting_at_province not in queue(railway)
    assert app_id not in queue(water)
    with pytest.raises(workflow.NotFound):  # out of its row scope: not found, as for any other role
        f.move(app_id, "opine", water, reason="agree")
    assert workflow.available(db.session.get(Application, app_id), f.user(water)) == []
    options = workflow.available(db.session.get(Application, app_id), f.user(railway))
    assert [o.action for o in options] == ["opine"] and options[0].allowed
    # The engine's own check, should the scope ever let one through.
    mixed = staff.industry(("water", "port"))
    assert not industry.covers(f.user(mixed), db.session.get(Application, app_id))
    assert db.session.get(Application, app_id).state == IND


def test_row_scope_of_an_industry_account(ctx, rule):
    rule(True)
    staff = f.Staff()
    railway = staff.industry(("railway",))
    _user, person_id, app_id = _at_province(staff)
    _user, waiting_person, waiting = _at_province(staff)  # not yet passed by the province
    user = f.user(railway)
    assert not scope.can_see(user, db.session.get(Application, app_id))
    f.move(app_id, "pass", staff.province("11"))
    assert scope.can_see(user, db.session.get(Application, app_id))
    assert scope.can_see(user, db.session.get(Person, person_id))
    assert not scope.can_see(user, db.session.get(Application, waiting))
    assert not scope.can_see(user, db.session.get(Person, waiting_person))
    f.move(app_id, "opine", railway, reason="agree")
    assert scope.can_see(user, db.session.get(Application, app_id))  # what it reviewed stays visible
    logs = scope.query(TransitionLog, user).filter(TransitionLog.application_id == app_id).count()
    assert logs == 4  # submit, confirm, pass, opine
    assert scope.query(AuditLog, user).count() == 0


def test_only_flagged_specialties_and_only_industry_accounts(ctx):
    staff = f.Staff()
    railway = f.user(staff.industry(("railway",)))
    with pytest.raises(industry.IndustryScopeError, match="need no industry opinion"):
        industry.set_specialties(railway, ["building"])
    with pytest.raises(industry.IndustryScopeError, match="Unknown specialty"):
        industry.set_specialties(railway, ["nonsense"])
    with pytest.raises(industry.IndustryScopeError, match="Only an account with the Industry role"):
        industry.set_specialties(f.user(staff.ministry), ["railway"])
    db.session.rollback()
    assert industry.specialty_codes(f.user(staff.industry(("railway",)))) == {"railway"}
    assert industry.set_specialties(railway, ["water", "railway"]) == ["railway", "water"]
    audit = (db.session.query(AuditLog).filter_by(object_type="AppUser", object_id=str(railway.id))
             .order_by(AuditLog.id.desc()).first())
    assert "industry_specialties" in str(audit.detail)


def test_the_queue_of_a_staff_take_walks_through_the_stage(ctx, rule):
    rule(True)
    staff = f.Staff()
    username, _person, app_id = _at_province(staff, ("water",))
    staff.take(app_id, username, "pass", "opine", "approve")
    trail = [log.action for log in db.session.query(TransitionLog).filter_by(application_id=app_id)
             .order_by(TransitionLog.id)]
    assert trail == ["submit", "confirm", "pass", "opine", "approve"]
