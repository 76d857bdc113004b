"""The pages of employer status (企业状态: the ministry's entry with its confirmation, the register import job, the
status and history on the enterprise pages and the public register) and of conflicts (挂证: the province's list in
its scope, the warning on an application's page for the reviewers only)."""
import html
import io
import re
from datetime import timedelta

import pytest

from app import employer_status
from ground.clock import today
from ground.extensions import db
from models import Application, Enterprise, InsuranceConflict, Person, Registration
from tests import factories as f
from tests.conftest import form_tokens, login


def _text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


@pytest.fixture
def world(app):
    with app.app_context():
        staff = f.Staff()
        enterprise = f.make_enterprise("11")
        code = db.session.get(Enterprise, enterprise).credit_code
        users = {"ministry": staff.ministry, "prov11": staff.province("11"), "prov31": staff.province("31"),
                 "enterprise": staff.enterprise(enterprise), "applicant": f.make_applicant()[0],
                 "admin": f.make_user("Admin")}
    return {"enterprise": enterprise, "code": code, "users": users}


def _post_status(client, code, status="suspended", confirmed=False, day=None):
    token = form_tokens(client, "/employer-status/")["csrf_token"]
    data = {"csrf_token": token, "credit_code": code, "status": status,
            "effective_on": (day or today() - timedelta(days=2)).isoformat(), "note": "市场监管局公告"}
    if confirmed:
        data["confirmed"] = "y"
    return client.post("/employer-status/", data=data)


def test_the_ministry_sets_a_status_after_a_confirmation(app, world):
    ministry = login(app.test_client(), world["users"]["ministry"])
    assert 'href="/employer-status/"' in ministry.get("/").get_data(as_text=True)
    asked = _text(_post_status(ministry, world["code"]))
    assert "Confirm the status change" in asked and 'name="confirmed" value="y"' in asked
    with app.app_context():
        assert db.session.get(Enterprise, world["enterprise"]).status == "active"  # not yet
    done = _post_status(ministry, world["code"], confirmed=True)
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/enterprises/show/{world['enterprise']}")
    with app.app_context():
        assert db.session.get(Enterprise, world["enterprise"]).status == "suspended"
    page = _text(ministry.get(f"/enterprises/show/{world['enterprise']}"))
    assert "Suspended" in page and "Status history" in page and "Entered by the ministry" in page


@pytest.mark.parametrize("change", ["unknown code", "future", "same", "bad status"])
def test_bad_status_input_gets_a_message_and_changes_nothing(app, world, change):
    ministry = login(app.test_client(), world["users"]["ministry"])
    with app.app_context():
        code = f.unique_credit_code() if change == "unknown code" else world["code"]
    kwargs = {"confirmed": True}
    if change == "future":
        kwargs["day"] = today() + timedelta(days=3)
    if change == "same":
        kwargs["status"] = "active"
    if change == "bad status":
        kwargs["status"] = "bankrupt"
    resp = _post_status(ministry, code, **kwargs)
    page = _text(resp)
    assert resp.status_code == 200
    assert {"unknown code": "No enterprise with this credit code", "future": "is in the future",
            "same": "is already", "bad status": "Not a valid choice"}[change] in page
    with app.app_context():
        assert db.session.get(Enterprise, world["enterprise"]).status == "active"


def test_only_the_ministry_sets_statuses(app, world):
    for key in ("prov11", "enterprise", "applicant", "admin"):
        client = login(app.test_client(), world["users"][key])
        assert client.get("/employer-status/").status_code == 403, key
        assert client.get("/employer-status/register").status_code == 403, key


def test_the_register_import_runs_as_a_job_with_a_report(app, world):
    ministry = login(app.test_client(), world["users"]["ministry"])
    body = ("统一社会信用代码,企业名称,登记状态,状态日期\r\n"
            f"{world['code']},页面企业,吊销,2026-09-01\r\n"
            "123,坏代码,注销,2026-09-01\r\n").encode("utf-8-sig")
    token = form_tokens(ministry, "/employer-status/register")["csrf_token"]
    resp = ministry.post("/employer-status/register", data={"csrf_token": token, "file": (io.BytesIO(body), "r.csv")},
                         content_type="multipart/form-data")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/jobs/")
    jobs_page = ministry.get("/jobs/").get_data(as_text=True)
    job_id = re.search(r'data-job-id="(\d+)"', jobs_page).group(1)
    report = ministry.get(f"/jobs/{job_id}/download").data.decode("utf-8-sig")
    assert "unified social credit code has 18 characters" in report and "Imported" in report
    with app.app_context():
        enterprise = db.session.get(Enterprise, world["enterprise"])
        assert enterprise.status == "revoked" and enterprise.status_source == "register"
    refused = ministry.post("/employer-status/register",
                            data={"csrf_token": token, "file": (io.BytesIO(b"a,b\n1,2\n"), "x.csv")},
                            content_type="multipart/form-data")
    assert refused.status_code == 200 and "Columns missing" in _text(refused)


def test_the_public_register_shows_a_closed_employer(app, world):
    with app.app_context():
        username, person_id = f.make_registered(world["enterprise"])
        number = db.session.query(Registration).filter_by(person_id=person_id).one().number
        employer_status.set_status(db.session.get(Enterprise, world["enterprise"]), "deregistered",
                                   today() - timedelta(days=1), "ministry", "", None)
        db.session.commit()
    client = app.test_client()
    client.get("/lang/en")
    page = _text(client.get(f"/registry/{number}"))
    assert "Deregistered" in page


@pytest.fixture
def conflict(app, world):
    with app.app_context():
        staff = f.Staff()
        username, person_id, app_id = f.initial_application(staff, "11", "submit", "confirm")
        registration_owner, registered_person = f.make_registered(world["enterprise"])
        registration = db.session.query(Registration).filter_by(person_id=registered_person).one()
        payer = db.session.get(Enterprise, f.make_enterprise("31"))
        db.session.add(InsuranceConflict(person_id=registered_person, registration_id=registration.id,
                                         enterprise_id=world["enterprise"], province_code="11",
                                         paying_credit_code=payer.credit_code, paying_name=payer.name, month="2026-11",
                                         first_seen=today() - timedelta(days=12), last_seen=today()))
        # The person also has an application under review: its page warns the reviewers.
        application = db.session.get(Application, app_id)
        application.person_id = registered_person
        db.session.commit()
        name, payer_name = db.session.get(Person, registered_person).name, payer.name
    return {"person": registered_person, "name": name, "app": app_id, "payer": payer_name}


def test_the_province_sees_its_conflicts_with_their_age(app, world, conflict):
    province = login(app.test_client(), world["users"]["prov11"])
    page = _text(province.get("/conflicts/", query_string={"q": conflict["name"]}))
    assert conflict["name"] in page and conflict["payer"] in page and "12 days" in page
    assert 'href="/conflicts/"' in province.get("/").get_data(as_text=True)
    other = _text(login(app.test_client(), world["users"]["prov31"]).get("/conflicts/",
                                                                         query_string={"q": conflict["name"]}))
    assert conflict["payer"] not in other
    ministry = _text(login(app.test_client(), world["users"]["ministry"]).get("/conflicts/",
                                                                              query_string={"q": conflict["name"]}))
    assert conflict["payer"] in ministry
    resolved = _text(province.get("/conflicts/", query_string={"show": "resolved", "q": conflict["name"]}))
    assert conflict["payer"] not in resolved
    for key in ("enterprise", "applicant", "admin"):
        assert login(app.test_client(), world["users"][key]).get("/conflicts/").status_code == 403, key


def test_the_application_page_warns_the_reviewers_only(app, world, conflict):
    url = f"/applications/show/{conflict['app']}"
    for key in ("prov11", "ministry"):
        page = _text(login(app.test_client(), world["users"][key]).get(url))
        assert "Social-insurance conflict" in page and conflict["payer"] in page, key
    with app.app_context():
        employer = f.Staff().enterprise(db.session.get(Application, conflict["app"]).enterprise_id)
    page = login(app.test_client(), employer).get(url)
    assert page.status_code == 200 and "Social-insurance conflict" not in _text(page)


def test_the_demo_shows_a_closed_employer_and_a_conflict(app):
    app.test_cli_runner().invoke(args=["demo-data"])
    with app.app_context():
        closed = db.session.query(Enterprise).filter(Enterprise.name.startswith("北京京冶机电")).one()
        assert closed.status == "deregistered" and closed.status_changes[0].source == "register"
        conflict = db.session.query(InsuranceConflict).join(Person).filter(Person.name == "朱红").one()
        assert conflict.resolved_on is None and conflict.province_code == "11"
    province = login(app.test_client(), "province-bj", password=app.config["DEMO_PASSWORD"])
    assert "朱红" in _text(province.get("/conflicts/"))
