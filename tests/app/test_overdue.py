"""超期督办: the overdue query per role, without HTTP (app/overdue.py).

Each test sets the deadlines of its own applications in a year nobody else's reach (the shared database holds
other tests' applications, with deadlines around the real today) and asks as of a day in that year."""
from datetime import date

import pytest

from app import overdue, workflow
from app.applications import handling_office
from app.services.workdays import working_days_between
from ground.clock import china_day
from ground.extensions import db
from models import Application
from tests import factories as f


def _deadline(app_id, day):
    db.session.query(Application).filter_by(id=app_id).update({"stage_deadline": day})
    db.session.commit()


def _ids(page):
    return [row.application.id for row in page.rows]


def _at(staff, province, actions, day):
    """A new application of `province` moved through `actions`, its stage's deadline set to `day`."""
    _user, _person, app_id = f.initial_application(staff, province, *actions)
    _deadline(app_id, day)
    return app_id


def test_province_sees_its_own_ministry_sees_all_others_are_refused(ctx):
    staff = f.Staff()
    today = date(2005, 3, 10)  # a Thursday; March 2005 has no public holiday
    bj_enterprise = _at(staff, "11", ("submit",), date(2005, 3, 7))
    bj_province = _at(staff, "11", ("submit", "confirm"), date(2005, 3, 1))
    bj_ministry = _at(staff, "11", ("submit", "confirm", "pass"), date(2005, 3, 9))
    sh_province = _at(staff, "31", ("submit", "confirm"), date(2005, 3, 8))
    bj_not_yet = _at(staff, "11", ("submit", "confirm"), date(2005, 3, 10))  # due today: not overdue

    beijing = overdue.query(f.user(staff.province("11")), today)
    assert _ids(beijing) == [bj_province, bj_enterprise, bj_ministry]  # deadline first
    assert beijing.total == 3 and beijing.pages == 1
    shanghai = overdue.query(f.user(staff.province("31")), today)
    assert _ids(shanghai) == [sh_province]
    ministry = overdue.query(f.user(staff.ministry), today)
    assert _ids(ministry) == [bj_province, bj_enterprise, sh_province, bj_ministry]
    assert bj_not_yet not in _ids(ministry)

    rows = {row.application.id: row for row in ministry.rows}
    assert rows[bj_enterprise].days_over == 3  # Tue 8, Wed 9, Thu 10
    assert rows[bj_enterprise].days_over == working_days_between(date(2005, 3, 7), today)
    assert rows[bj_ministry].days_over == 1
    enterprise_app = db.session.get(Application, bj_enterprise)
    assert rows[bj_enterprise].holder == enterprise_app.enterprise.name
    assert rows[bj_province].holder == handling_office(db.session.get(Application, bj_province), "Province")
    assert "construction authority" in rows[bj_province].holder
    assert "Ministry" in rows[bj_ministry].holder
    assert rows[bj_enterprise].since == china_day(enterprise_app.state_changed_at)

    for username in (staff.enterprise(enterprise_app.enterprise_id), f.make_applicant()[0], f.make_user("Admin")):
        with pytest.raises(workflow.Forbidden):
            overdue.query(f.user(username), today)


def test_due_tab_filters_and_paging(ctx, monkeypatch):
    staff = f.Staff()
    today = date(2006, 3, 9)  # a Thursday; N = 2 working days: Friday 10 and Monday 13
    due_today = _at(staff, "44", ("submit", "confirm"), date(2006, 3, 9))
    due_monday = _at(staff, "44", ("submit",), date(2006, 3, 13))
    too_far = _at(staff, "44", ("submit", "confirm"), date(2006, 3, 14))
    past = _at(staff, "44", ("submit", "confirm"), date(2006, 3, 8))
    ministry = f.user(staff.ministry)

    due = overdue.query(ministry, today, overdue.Filters(tab=overdue.DUE))
    assert [a for a in _ids(due) if a in (due_today, due_monday, too_far, past)] == [due_today, due_monday]
    left = {row.application.id: -row.days_over for row in due.rows}
    assert left[due_today] == 0 and left[due_monday] == 2

    by_stage = overdue.query(ministry, today, overdue.Filters(tab=overdue.DUE, state=workflow.State.ENTERPRISE))
    assert due_monday in _ids(by_stage) and due_today not in _ids(by_stage)
    by_type = overdue.query(ministry, today, overdue.Filters(tab=overdue.DUE, business_type="renewal"))
    assert due_today not in _ids(by_type)
    assert past in _ids(overdue.query(ministry, today))

    monkeypatch.setattr(overdue, "PAGE_SIZE", 1)
    first = overdue.query(ministry, today, overdue.Filters(tab=overdue.DUE, page=0))
    second = overdue.query(ministry, today, overdue.Filters(tab=overdue.DUE, page=1))
    beyond = overdue.query(ministry, today, overdue.Filters(tab=overdue.DUE, page=99))
    assert first.total == second.total >= 2 and first.pages == first.total
    assert _ids(first) == [due_today] and _ids(second) == [due_monday]
    assert beyond.page == beyond.pages - 1  # a page past the end shows the last


def test_the_objection_period_is_not_an_office_time_limit(ctx):
    staff = f.Staff()
    old, new = f.make_enterprise("11"), f.make_enterprise("11")
    username, _person = f.make_registered(old, temporary=True)
    app_id = f.make_application(username, "change", enterprise_id=new)
    f.move(app_id, "submit", username)
    f.move(app_id, "confirm", staff.enterprise(new))
    assert db.session.get(Application, app_id).state == workflow.State.RELEASE
    _deadline(app_id, date(2007, 3, 1))
    assert app_id not in _ids(overdue.query(f.user(staff.ministry), date(2007, 3, 9)))


def test_filters_read_from_a_query_string_drop_what_they_do_not_know():
    read = overdue.Filters.read
    assert read({}) == overdue.Filters()
    assert read({"tab": "due", "state": "province_review", "business_type": "initial", "page": "3"}) == \
        overdue.Filters("due", "province_review", "initial", 3)
    assert read({"tab": "x", "state": "release_pending", "business_type": "<b>", "page": "²"}) == overdue.Filters()
    assert read({"page": "9" * 40}).page == 0


def test_the_page_costs_the_same_few_queries_however_many_rows(ctx, count_queries):
    staff = f.Staff()
    today = date(2009, 3, 11)
    ministry = f.user(staff.ministry)

    def statements():
        overdue.query(ministry, today)  # warm: the calendar table, the user's roles
        with count_queries() as counter:
            page = overdue.query(ministry, today)
            [(row.holder, row.application.person.name, row.application.specialty_names) for row in page.rows]
        return counter.count, page.total

    _at(staff, "11", ("submit",), date(2009, 3, 2))
    few, total = statements()
    for province, actions in (("11", ("submit", "confirm")), ("31", ("submit",)), ("44", ("submit", "confirm", "pass"))):
        _at(staff, province, actions, date(2009, 3, 3))
    more, more_total = statements()
    assert more_total == total + 3 and few == more <= 4
