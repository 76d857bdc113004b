"""The panel as users meet it: forms refuse bad input with a message and write nothing, moves go
through the confirmation page with CSRF, no GET changes anything, list pages cost a fixed number
of queries whatever the page size."""
import re
from datetime import timedelta

import pytest

from ground.clock import today
from ground.extensions import db
from models import AnnouncementBatch, Application, Enterprise, Person
from tests import factories as f
from tests.conftest import csrf_token, login


@pytest.fixture(scope="module")
def people(app):
    with app.app_context():
        staff = f.Staff()
        enterprise = f.make_enterprise("11")
        applicant, person_id = f.make_applicant()
        return {"staff": staff, "enterprise": enterprise, "applicant": applicant, "person": person_id,
                "ministry": staff.ministry, "ent": staff.enterprise(enterprise), "prov": staff.province("11")}


def _count(app, model, **filters):
    with app.app_context():
        return db.session.query(model).filter_by(**filters).count()


def test_applicant_add_and_edit_open_the_personal_edition_form(app, people):
    """The panel's add and edit lead applicants to 注册申报's form of the business type: no business-type
    select, no other types' fields, the notice and commitment to agree to; posting to the panel form is gone."""
    with app.app_context():
        username, _person = f.make_applicant()
        draft = f.make_application(username, "cancellation", reason="other")
    client = login(app.test_client(), username)
    resp = client.get("/applications/add")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/apply/")
    resp = client.get(f"/applications/edit/{draft}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/apply/cancellation")
    form = client.get("/apply/cancellation").get_data(as_text=True)
    assert 'name="business_type"' not in form and 'name="contract_start"' not in form
    assert 'name="agree_commitment"' in form and 'name="reason"' in form
    assert "Replacement:" not in form and "Lost" not in form  # only cancellation reasons
    token = csrf_token(client, "/apply/cancellation")
    for url in ("/applications/add", f"/applications/edit/{draft}"):
        assert client.post(url, data={"csrf_token": token, "business_type": "initial"}).status_code == 405
    with app.app_context():
        assert db.session.get(Application, draft).business_type == "cancellation"


def test_returned_application_reopens_in_its_form_with_the_opinion(app, people):
    with app.app_context():
        staff = f.Staff()
        enterprise = f.make_enterprise("11", name="退回意见测试企业")
        username, _person = f.make_applicant()
        app_id = f.make_application(username, "initial", enterprise_id=enterprise, **f.contract())
        staff.take(app_id, username, "submit")
        f.move(app_id, "return", staff.enterprise(enterprise), opinion="请补充劳动合同扫描件")
    client = login(app.test_client(), username, lang="zh")
    resp = client.get(f"/applications/edit/{app_id}")
    assert resp.headers["Location"].endswith("/apply/initial")
    page = client.get("/apply/initial").get_data(as_text=True)
    assert "请补充劳动合同扫描件" in page and "退回意见测试企业" in page
    assert page.index("请补充劳动合同扫描件") < page.index('name="contract_start"')


def test_applicant_creates_edits_and_submits_a_draft(app, people):
    client = login(app.test_client(), people["applicant"])
    with app.app_context():
        credit_code = db.session.get(Enterprise, people["enterprise"]).credit_code
    token = csrf_token(client, "/apply/initial")
    data = {"csrf_token": token, "enterprise": credit_code, "specialties": ["building"], "action": "save",
            "contract_start": str(today() - timedelta(days=10)), "contract_end": str(today() + timedelta(days=800)),
            "new_name": "ignored for initial"}
    resp = client.post("/apply/initial", data=data)
    assert resp.status_code == 302
    with app.app_context():
        application = db.session.query(Application).filter_by(person_id=people["person"]).one()
        app_id, number = application.id, application.number
        assert application.state == "draft" and application.new_name is None  # unused fields dropped
        assert application.province_code == "11"
        assert re.fullmatch(r"SQ\d{8}\d{6}", number)
    # Another type while this draft is open: the form is closed, with the draft's number as the reason.
    page = client.get("/apply/cancellation").get_data(as_text=True)
    assert number in page and "fieldset disabled" in page
    resp = client.post("/apply/cancellation", data={**data, "reason": "other"}, follow_redirects=True)
    assert number in resp.get_data(as_text=True)
    assert _count(app, Application, person_id=people["person"]) == 1

    show = client.get(f"/applications/show/{app_id}").get_data(as_text=True)
    assert f"/applications/transition/{app_id}/submit" in show and f"/applications/edit/{app_id}" in show
    assert "/transition/" + str(app_id) + "/approve" not in show
    from_queue = client.get(f"/myqueue/show/{app_id}").get_data(as_text=True)
    assert f"/applications/edit/{app_id}" in from_queue and f"/myqueue/transition/{app_id}/submit" in from_queue

    # Submitting is signed with an SMS code and the agreements: the panel's submit leads to the applicant's
    # form for that business type and moves nothing by itself.
    token = csrf_token(client, f"/applications/show/{app_id}")
    for resp in (client.get(f"/applications/transition/{app_id}/submit"),
                 client.post(f"/applications/transition/{app_id}/submit", data={"csrf_token": token})):
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/apply/initial")
    assert _count(app, Application, id=app_id, state="draft") == 1
    with app.app_context():
        f.move(app_id, "submit", people["applicant"])
    assert _count(app, Application, id=app_id, state="enterprise_review") == 1
    # Submitted: no longer editable.
    resp = client.get(f"/applications/edit/{app_id}")
    assert resp.status_code == 302 and f"/applications/show/{app_id}" in resp.headers["Location"]

    # The enterprise returns it with an opinion; an empty opinion is refused with a message.
    ent = login(app.test_client(), people["ent"])
    token = csrf_token(ent, f"/applications/transition/{app_id}/return")
    resp = ent.post(f"/applications/transition/{app_id}/return", data={"csrf_token": token, "opinion": " "},
                    follow_redirects=True)
    assert "opinion" in resp.get_data(as_text=True)
    assert _count(app, Application, id=app_id, state="enterprise_review") == 1
    ent.post(f"/applications/transition/{app_id}/return", data={"csrf_token": token, "opinion": "请补充合同"})
    assert _count(app, Application, id=app_id, state="returned") == 1
    assert "请补充合同" in client.get(f"/applications/show/{app_id}").get_data(as_text=True)
    # Withdraw it so the module's applicant is free again.
    token = csrf_token(client, f"/applications/transition/{app_id}/withdraw")
    client.post(f"/applications/transition/{app_id}/withdraw", data={"csrf_token": token})
    assert _count(app, Application, id=app_id, state="withdrawn") == 1


def test_blocked_move_is_shown_disabled_with_reasons(app):
    with app.app_context():
        enterprise = f.make_enterprise("11")
        username, _ = f.make_applicant(verified=False)
        app_id = f.make_application(username, "initial", enterprise_id=enterprise)
    client = login(app.test_client(), username)
    show = client.get(f"/applications/show/{app_id}").get_data(as_text=True)
    assert "disabled" in show and "real-name" in show
    token = csrf_token(client, f"/applications/transition/{app_id}/withdraw")
    resp = client.post(f"/applications/transition/{app_id}/submit", data={"csrf_token": token},
                       follow_redirects=True)
    assert "real-name" in resp.get_data(as_text=True)
    assert _count(app, Application, id=app_id, state="draft") == 1


def test_get_never_mutates(app, people):
    from models import AppUser

    with app.app_context():
        enterprise = f.make_enterprise("11")
        victim = f.make_user("Ministry")
        victim_id = f.user(victim).id
        admin = f.make_user("Admin")
    client = login(app.test_client(), people["ministry"])
    assert client.get(f"/enterprises/delete/{enterprise}").status_code == 403  # nobody deletes enterprises
    assert _count(app, Enterprise, id=enterprise) == 1
    # Accounts are deactivated, never deleted (audit rows name them): not even the administrator deletes.
    client = login(app.test_client(), admin)
    assert client.post(f"/users/delete/{victim_id}", data={"csrf_token": csrf_token(client, "/")}).status_code == 403
    assert _count(app, AppUser, id=victim_id) == 1
    client = login(app.test_client(), people["ministry"])
    assert client.get("/logout/").status_code == 405  # signing out is a POST too
    assert client.get("/auditlog/list/").status_code == 200
    assert client.get("/announcements/gather/1").status_code == 405
    assert client.get("/announcements/publish/1").status_code in (200, 404)  # a confirmation page at most


def test_logout_is_a_post_with_csrf(app, people):
    client = login(app.test_client(), people["ministry"])
    token = csrf_token(client, "/")
    assert client.post("/logout/").status_code == 400  # no CSRF token
    assert client.get("/auditlog/list/").status_code == 200
    assert client.post("/logout/", data={"csrf_token": token}).status_code == 302
    assert client.get("/auditlog/list/").status_code == 302  # back to the login page


def test_person_and_enterprise_forms_validate_identifiers(app, people):
    client = login(app.test_client(), people["ministry"])
    token = csrf_token(client, "/persons/add")
    resp = client.post("/persons/add", data={"csrf_token": token, "id_number": "110101199001011234", "name": "错号"})
    assert resp.status_code == 200 and "check character" in resp.get_data(as_text=True)
    assert _count(app, Person, name="错号") == 0
    with app.app_context():
        valid = f.unique_id_number()
    resp = client.post("/persons/add", data={"csrf_token": token, "id_number": valid.lower(), "name": "新人",
                                             "phone": "12345"})
    assert resp.status_code == 200 and "11 digits" in resp.get_data(as_text=True)
    resp = client.post("/persons/add", data={"csrf_token": token, "id_number": valid.lower(), "name": "新人"})
    assert resp.status_code == 302
    with app.app_context():
        person = db.session.query(Person).filter_by(id_number=valid.upper()).one()
        assert person.birth_date.strftime("%Y%m%d") == valid[6:14]
        assert person.gender == ("M" if int(valid[16]) % 2 else "F")
    # The same ID number twice is refused by the form, not by a database error.
    resp = client.post("/persons/add", data={"csrf_token": token, "id_number": valid, "name": "重复"})
    assert resp.status_code == 200 and _count(app, Person, name="重复") == 0

    token = csrf_token(client, "/enterprises/add")
    resp = client.post("/enterprises/add", data={"csrf_token": token, "credit_code": "91110000600037341A",
                                                 "name": "错码企业", "province": "11"})
    assert resp.status_code == 200 and "check character" in resp.get_data(as_text=True)
    assert _count(app, Enterprise, name="错码企业") == 0


def test_announcement_batch_gather_and_publish(app):
    with app.app_context():
        staff = f.Staff()
        _, _, app_id = f.initial_application(staff, "31", "submit", "confirm", "pass", "approve")
        ministry = staff.ministry
    client = login(app.test_client(), ministry)
    token = csrf_token(client, "/announcements/add")
    resp = client.post("/announcements/add", data={"csrf_token": token, "title": "测试批次"})
    with app.app_context():
        batch_id = db.session.query(AnnouncementBatch.id).filter_by(title="测试批次").scalar()
    # Saved: the new batch, with the next step offered (gather the waiting applications).
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/announcements/show/{batch_id}")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Batch created" in page and "gather-button" in page and "Add all" in page
    client.post(f"/announcements/gather/{batch_id}", data={"csrf_token": token})
    assert _count(app, Application, id=app_id, announcement_id=batch_id) == 1
    assert client.get(f"/announcements/publish/{batch_id}").status_code == 200
    assert _count(app, AnnouncementBatch, id=batch_id, state="draft") == 1
    client.post(f"/announcements/publish/{batch_id}", data={"csrf_token": token})
    with app.app_context():
        batch = db.session.get(AnnouncementBatch, batch_id)
        assert batch.state == "published" and re.fullmatch(r"\d{4}年第\d+批", batch.number)
        assert db.session.get(Application, app_id).state == "completed"
    resp = client.post(f"/announcements/publish/{batch_id}", data={"csrf_token": token}, follow_redirects=True)
    assert "already published" in resp.get_data(as_text=True)


def test_a_new_batch_with_nothing_waiting_offers_no_gather(app):
    with app.app_context():
        ministry = f.Staff().ministry
        waiting = db.session.query(Application).filter_by(state="announce_pending", announcement_id=None).all()
        for item in waiting:  # earlier tests' leftovers would be gathered: park them in a batch of their own
            parked = AnnouncementBatch(title="停放批次", state="draft")
            db.session.add(parked)
            db.session.flush()
            item.announcement_id = parked.id
        db.session.commit()
    client = login(app.test_client(), ministry)
    list_page = client.get("/announcements/list/").get_data(as_text=True)
    assert "New announcement batch" in list_page  # the add button says what it adds
    token = csrf_token(client, "/announcements/add")
    resp = client.post("/announcements/add", data={"csrf_token": token, "title": "空批次"})
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "空批次" in page and "gather-button" not in page and "No approved application is waiting" in page
    assert "publish-button" not in page


LIST_PAGES = ["applications", "myqueue", "persons", "registrations", "certificates", "enterprises",
              "transitionlog", "auditlog", "qualifications", "attachments", "announcements"]


@pytest.mark.parametrize("view", LIST_PAGES)
def test_list_pages_cost_fixed_queries(app, people, count_queries, view):
    with app.app_context():
        # Enough rows that page sizes 5 and 50 differ.
        for _ in range(3):
            f.register(people["staff"], people["enterprise"])
    client = login(app.test_client(), people["ministry"])
    name = {"myqueue": "MyQueue", "transitionlog": "TransitionLog", "auditlog": "AuditLog"}.get(
        view, view.capitalize()) + "View"
    counts = []
    for size in (5, 50):
        client.get(f"/{view}/list/?psize_{name}={size}")  # warm caches (roles, menu)
        with count_queries() as counter:
            resp = client.get(f"/{view}/list/?psize_{name}={size}")
        assert resp.status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], f"{view}: {counts} queries for page sizes 5 and 50"
    assert counts[1] <= 12, f"{view}: {counts[1]} queries"


@pytest.mark.parametrize("query", ["psize_ApplicationsView=abc", "psize_ApplicationsView=100000",
                                   "_oc_ApplicationsView=password&_od_ApplicationsView=asc",
                                   "_od_ApplicationsView=sideways", "page_ApplicationsView=-1"])
def test_malformed_list_arguments_are_dropped_with_a_message(app, people, query):
    client = login(app.test_client(), people["ministry"])
    resp = client.get(f"/applications/list/?{query}")
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"])
    assert page.status_code == 200 and "not valid and were ignored" in page.get_data(as_text=True)
