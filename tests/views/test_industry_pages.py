"""The industry department's pages: its queue lists its specialties' applications in its stage, the opinion is
given through the confirmation page with a coded answer, and the ministry reads it on the application page.
Row scope per role: another department and the unflagged applications stay out of reach."""
import re

from ground.extensions import db
from models import Application, TransitionLog
from tests import factories as f
from tests.conftest import csrf_token, login


def _world(app):
    with app.app_context():
        staff = f.Staff()
        railway, water = staff.industry(("railway",)), staff.industry(("water",))
        ids = {}
        for key, specialties in (("railway", ("railway",)), ("plain", ("building",))):
            username, _person = f.make_applicant(qualifications=(("building", 1), ("railway", 1)))
            ids[key] = f.make_application(username, "initial", specialties=specialties,
                                          enterprise_id=f.make_enterprise("11"))
            staff.take(ids[key], username, "submit", "confirm", "pass")
        return {"ministry": staff.ministry, "province": staff.province("11")}, railway, water, ids


def test_queue_opinion_and_the_ministrys_view(app):
    staff, railway, water, ids = _world(app)
    client = login(app.test_client(), railway)
    queue = client.get("/myqueue/list/").get_data(as_text=True)
    with app.app_context():
        numbers = {k: db.session.get(Application, v).number for k, v in ids.items()}
        assert db.session.get(Application, ids["plain"]).state == "ministry_review"
    assert numbers["railway"] in queue and numbers["plain"] not in queue
    assert client.get(f"/applications/show/{ids['plain']}").status_code == 404

    url = f"/myqueue/transition/{ids['railway']}/opine"
    page = client.get(url).get_data(as_text=True)
    assert 'name="reason"' in page and "Agrees" in page and "Does not agree" in page
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    token = csrf_token(client, url)
    refused = client.post(url, data={"csrf_token": token, "version": version, "opinion": "同意。"},
                          follow_redirects=True)
    assert "Choose the reason" in refused.get_data(as_text=True)  # no coded answer: nothing changes
    done = client.post(url, data={"csrf_token": token, "version": version, "reason": "agree",
                                  "opinion": "经审核，同意注册。"}, follow_redirects=True)
    assert done.status_code == 200
    with app.app_context():
        assert db.session.get(Application, ids["railway"]).state == "ministry_review"
        log = db.session.query(TransitionLog).filter_by(application_id=ids["railway"], action="opine").one()
        assert (log.reason, log.role) == ("agree", "Industry")

    ministry = login(app.test_client(), staff["ministry"])
    shown = ministry.get(f"/applications/show/{ids['railway']}").get_data(as_text=True)
    assert "Opinion of the industry department" in shown and "经审核，同意注册。" in shown and "Agrees" in shown
    chinese = login(app.test_client(), staff["ministry"], lang="zh").get(f"/applications/show/{ids['railway']}")
    assert "行业主管部门意见" in chinese.get_data(as_text=True)


def test_another_department_sees_nothing_of_it(app):
    staff, railway, water, ids = _world(app)
    client = login(app.test_client(), water)
    with app.app_context():
        number = db.session.get(Application, ids["railway"]).number
    assert number not in client.get("/myqueue/list/").get_data(as_text=True)
    assert number not in client.get("/applications/list/").get_data(as_text=True)
    assert client.get(f"/applications/show/{ids['railway']}").status_code == 404
    url = f"/myqueue/transition/{ids['railway']}/opine"
    assert client.get(url).status_code == 404
    assert client.post(url, data={"csrf_token": csrf_token(client, "/"), "reason": "agree",
                                  "opinion": "x"}).status_code == 404
    with app.app_context():
        assert db.session.get(Application, ids["railway"]).state == "industry_review"
    # The province that passed it and the ministry see it waiting for the department.
    province = login(app.test_client(), staff["province"])
    shown = province.get(f"/applications/show/{ids['railway']}").get_data(as_text=True)
    assert "Awaiting industry department opinion" in shown and "Industry department for" in shown


def test_the_administrator_binds_an_account_to_specialties(app):
    with app.app_context():
        admin = f.make_user("Admin")
        username = f.make_user("Industry")
        user_id = f.user(username).id
        role_id = [r.id for r in f.user(username).roles][0]
    client = login(app.test_client(), admin)
    url = f"/users/edit/{user_id}"
    form = client.get(url).get_data(as_text=True)
    assert 'name="industry_specialties"' in form and 'value="building"' not in form.split(
        'name="industry_specialties"')[1].split("</select>")[0]
    base = {"csrf_token": csrf_token(client, url), "first_name": "测", "last_name": "试", "username": username,
            "email": f"{username}@test.invalid", "active": "y", "roles": str(role_id)}
    missing = client.post(url, data=base, follow_redirects=True).get_data(as_text=True)
    assert "An Industry account must name at least one specialty." in missing
    client.post(url, data={**base, "industry_specialties": ["water", "port"]}, follow_redirects=True)
    with app.app_context():
        assert {s.code for s in f.user(username).industry_specialties} == {"water", "port"}
