"""The pages around time limits: 超期督办 per role, the applicant's reminder (催办) on the progress page and in the
employer's queue, the objection clock of a change of employer and the objection on the province's page."""
import html
import re
from datetime import date, timedelta

import pytest

from app.rules import unconfirmed_expiry
from ground.clock import today
from ground.extensions import db
from models import Application
from tests import factories as f
from tests.conftest import csrf_token, login
from views import overdue as overdue_view

AS_OF = date(2008, 3, 12)  # a Wednesday: the overdue page's "today" in these tests (nobody else's deadlines)


def _text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


@pytest.fixture
def late(app, monkeypatch):
    """Overdue applications in Beijing (one at its employer, one at the province) and Shanghai."""
    monkeypatch.setattr(overdue_view, "today", lambda: AS_OF)
    with app.app_context():
        staff = f.Staff()
        ids = {"bj_enterprise": f.initial_application(staff, "11", "submit")[2],
               "bj_province": f.initial_application(staff, "11", "submit", "confirm")[2],
               "sh_province": f.initial_application(staff, "31", "submit", "confirm")[2],
               "bj_due": f.initial_application(staff, "11", "submit", "confirm")[2]}
        days = {"bj_enterprise": date(2008, 3, 3), "bj_province": date(2008, 3, 5), "sh_province": date(2008, 3, 4),
                "bj_due": date(2008, 3, 13)}
        for key, app_id in ids.items():
            db.session.query(Application).filter_by(id=app_id).update({"stage_deadline": days[key]})
        db.session.commit()
        numbers = {k: db.session.get(Application, v).number for k, v in ids.items()}
        users = {"prov11": staff.province("11"), "prov31": staff.province("31"), "ministry": staff.ministry,
                 "enterprise": staff.enterprise(db.session.get(Application, ids["bj_enterprise"]).enterprise_id),
                 "applicant": f.make_applicant()[0], "admin": f.make_user("Admin")}
    return ids, numbers, users


def test_overdue_page_shows_each_office_its_own(app, late):
    ids, numbers, users = late
    province = login(app.test_client(), users["prov11"])
    page = _text(province.get("/overdue/"))
    assert numbers["bj_enterprise"] in page and numbers["bj_province"] in page
    assert numbers["sh_province"] not in page and numbers["bj_due"] not in page
    assert f'href="/applications/show/{ids["bj_province"]}"' in page
    assert page.index(numbers["bj_enterprise"]) < page.index(numbers["bj_province"])  # deadline first
    assert "2008-03-03" in page and 'class="label label-danger overdue-days">7<' in page  # 4-7, 10-12 March
    assert 'href="/overdue/"' in province.get("/").get_data(as_text=True)  # the menu entry

    shanghai = _text(login(app.test_client(), users["prov31"]).get("/overdue/"))
    assert numbers["sh_province"] in shanghai and numbers["bj_province"] not in shanghai
    ministry = login(app.test_client(), users["ministry"])
    everything = _text(ministry.get("/overdue/"))
    assert all(numbers[k] in everything for k in ("bj_enterprise", "bj_province", "sh_province"))

    by_stage = _text(ministry.get("/overdue/?state=enterprise_review"))
    assert numbers["bj_enterprise"] in by_stage and numbers["bj_province"] not in by_stage
    due = _text(ministry.get("/overdue/?tab=due"))
    assert numbers["bj_due"] in due and numbers["bj_province"] not in due
    assert _text(ministry.get("/overdue/?tab=due&business_type=renewal")).count(numbers["bj_due"]) == 0
    assert ministry.get("/overdue/?tab=<b>&state=x&page=-1&business_type=%C2%B2").status_code == 200


def test_overdue_page_is_the_supervisors_only(app, late):
    _ids, _numbers, users = late
    for key in ("enterprise", "applicant", "admin"):
        client = login(app.test_client(), users[key])
        assert client.get("/overdue/").status_code == 403, key
        assert 'href="/overdue/"' not in client.get("/").get_data(as_text=True)
    anonymous = app.test_client().get("/overdue/")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_overdue_page_in_chinese(app, late):
    _ids, numbers, users = late
    client = login(app.test_client(), users["prov11"], lang="zh")
    resp = client.get("/overdue/")
    assert resp.status_code == 200 and numbers["bj_province"] in _text(resp)


# --- 催办 ---------------------------------------------------------------------------------------------------
@pytest.fixture
def waiting(app):
    with app.app_context():
        enterprise = f.make_enterprise("11")
        officer = f.make_user("Enterprise", enterprise_id=enterprise)
        username, _person = f.make_applicant()
        app_id = f.make_application(username, "initial", enterprise_id=enterprise)
        f.move(app_id, "submit", username)
        number = db.session.get(Application, app_id).number
    return username, app_id, officer, number


def test_the_applicant_reminds_the_employer_once_and_the_employer_sees_it(app, waiting):
    username, app_id, officer, _number = waiting
    client = login(app.test_client(), username)
    page = _text(client.get("/progress/"))
    assert f'action="/progress/remind/{app_id}"' in page and "Remind the employer to act" in page
    assert "the application expires on" in page

    resp = client.post(f"/progress/remind/{app_id}", data={"csrf_token": csrf_token(client, "/progress/"),
                                                           "kind": "regular"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/progress/?kind=regular#application-{app_id}")
    page = _text(client.get("/progress/"))
    assert "has been reminded (reminder 1)" in page
    assert ": 1, the last at" in page and "You may remind it again from" in page
    assert f'action="/progress/remind/{app_id}"' not in page  # no button until the interval has passed

    again = client.post(f"/progress/remind/{app_id}", data={"csrf_token": csrf_token(client, "/progress/")})
    assert again.status_code == 302
    assert "you may remind it again from" in _text(client.get("/progress/"))
    with app.app_context():
        assert db.session.get(Application, app_id).reminder_count == 1

    employer = login(app.test_client(), officer)
    queue = _text(employer.get("/myqueue/list/"))
    assert "Reminders: 1, the last at" in queue
    assert "Reminders: 1, the last at" in _text(employer.get(f"/applications/show/{app_id}"))


def _new_applicant(app):
    with app.app_context():
        return f.make_applicant()[0]


def test_the_reminder_door_is_the_owners_only(app, waiting):
    username, app_id, officer, _number = waiting
    stranger = login(app.test_client(), _new_applicant(app))
    assert stranger.post(f"/progress/remind/{app_id}",
                         data={"csrf_token": csrf_token(stranger, "/progress/")}).status_code == 404
    employer = login(app.test_client(), officer)
    assert employer.post(f"/progress/remind/{app_id}",
                         data={"csrf_token": csrf_token(employer, "/")}).status_code == 403
    owner = login(app.test_client(), username)
    assert owner.post(f"/progress/remind/{app_id}").status_code == 400  # no CSRF token
    with app.app_context():
        assert db.session.get(Application, app_id).reminder_count == 0


# --- The objection clock -------------------------------------------------------------------------------------
@pytest.fixture
def change(app):
    """A change of employer confirmed by the new employer: it waits for the previous one (State.RELEASE)."""
    with app.app_context():
        old, new = f.make_enterprise("11", name=f"原单位{f.next_serial()}"), f.make_enterprise("11")
        previous, current = f.make_user("Enterprise", enterprise_id=old), f.make_user("Enterprise", enterprise_id=new)
        username, _person = f.make_registered(old, temporary=True)
        app_id = f.make_application(username, "change", enterprise_id=new)
        f.move(app_id, "submit", username)
        f.move(app_id, "confirm", current)
        item = db.session.get(Application, app_id)
        assert item.state == "release_pending"
        names = (item.previous_enterprise.name, item.enterprise.name)
        deadline = item.stage_deadline
        province = f.Staff().province("11")
    return {"applicant": username, "id": app_id, "previous": previous, "current": current, "names": names,
            "deadline": deadline, "province": province}


def test_the_clock_the_buttons_and_the_objection(app, change):
    app_id, (old_name, new_name) = change["id"], change["names"]
    applicant = login(app.test_client(), change["applicant"])
    page = _text(applicant.get("/progress/?kind=temporary"))
    days = (change["deadline"] - today()).days
    assert (f"The previous employer {old_name} may release or object by {change['deadline']} ({days} days left); "
            "without an objection by then, the change of employer proceeds.") in page
    assert f"Now with: {old_name}" in page  # not the new employer
    assert f'action="/progress/remind/{app_id}"' in page  # the previous employer can be reminded

    previous = login(app.test_client(), change["previous"])
    show = _text(previous.get(f"/applications/show/{app_id}"))
    assert f"/applications/transition/{app_id}/release" in show and f"/applications/transition/{app_id}/object" in show
    assert "may release or object by" in show
    assert change_number(app, app_id) in _text(previous.get("/myqueue/list/"))
    current = login(app.test_client(), change["current"])
    show = _text(current.get(f"/applications/show/{app_id}"))
    assert "/transition/" not in show  # the new employer has nothing to do now
    assert change_number(app, app_id) not in _text(current.get("/myqueue/list/"))

    form = _text(previous.get(f"/applications/transition/{app_id}/object"))
    assert re.search(r'<textarea[^>]*name="opinion"[^>]*required', form)
    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    token = csrf_token(previous, f"/applications/transition/{app_id}/object")
    empty = previous.post(f"/applications/transition/{app_id}/object", data={"csrf_token": token, "version": version})
    assert empty.status_code == 302
    with app.app_context():
        assert db.session.get(Application, app_id).state == "release_pending"  # no objection without a reason
    reason = "该人员劳动合同尚未解除"
    resp = previous.post(f"/applications/transition/{app_id}/object",
                         data={"csrf_token": token, "version": version, "opinion": reason})
    assert resp.status_code == 302

    province = _text(login(app.test_client(), change["province"]).get(f"/applications/show/{app_id}"))
    objection = re.search(r'<div class="alert alert-danger objection".*?</div>', province, re.S).group(0)
    assert old_name in objection and reason in objection and "The provincial authority decides" in objection
    page = _text(applicant.get("/progress/?kind=temporary"))
    assert f"Objection of the previous employer {old_name}:" in page and reason in page
    assert "may release or object by" not in page  # the clock stopped
    assert f"{old_name}" in page.split("Object to the change", 1)[1][:400]  # the trail names who objected
    assert new_name in page


def change_number(app, app_id):
    with app.app_context():
        return db.session.get(Application, app_id).number


def test_the_show_page_says_when_an_unconfirmed_application_expires(app, waiting):
    username, app_id, _officer, _number = waiting
    with app.app_context():
        expires = unconfirmed_expiry(db.session.get(Application, app_id))
    page = _text(login(app.test_client(), username).get("/progress/"))
    assert f"the application expires on {expires}" in page
    assert expires - today() > timedelta(days=1)
