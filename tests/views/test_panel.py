"""The panel as users meet it: forms refuse bad input with a message and write nothing, moves go
through the confirmation page with CSRF, no GET changes anything, list pages cost a fixed number
of queries whatever the page size."""
import re
from datetime import timedelta

import pytest

from app.clock import today
from app.extensions import db
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


def _add_form(client):
    return csrf_token(client, "/applications/add")


def test_application_form_refuses_bad_input_and_writes_nothing(app, people):
    client = login(app.test_client(), people["applicant"])
    token = _add_form(client)
    before = _count(app, Application, person_id=people["person"])
    cases = [
        ({"business_type": "initial", "enterprise": str(people["enterprise"]), "specialties": ["building"],
          "contract_start": "2026-10-01", "contract_end": "2026-01-01"}, "end date must not be before"),
        ({"business_type": "initial", "enterprise": str(people["enterprise"]), "specialties": ["no-such"],
          "contract_start": "2026-01-01", "contract_end": "2029-01-01"}, "Unknown value"),
        ({"business_type": "info_change", "new_id_number": "110101199001011234"}, "check character"),
        ({"business_type": "cancellation"}, "required"),
        ({"business_type": "nonsense"}, "Not a valid choice"),
        ({"business_type": "initial", "contract_start": "not-a-date"}, "Not a valid date"),
    ]
    for data, message in cases:
        resp = client.post("/applications/add", data={"csrf_token": token, **data})
        assert resp.status_code == 200, data
        assert message in resp.get_data(as_text=True), (data, message)
    assert _count(app, Application, person_id=people["person"]) == before


def test_applicant_creates_edits_and_submits_a_draft(app, people):
    client = login(app.test_client(), people["applicant"])
    token = _add_form(client)
    data = {"csrf_token": token, "business_type": "initial", "enterprise": str(people["enterprise"]),
            "specialties": ["building"], "contract_start": str(today() - timedelta(days=10)),
            "contract_end": str(today() + timedelta(days=800)), "new_name": "ignored for initial"}
    resp = client.post("/applications/add", data=data)
    assert resp.status_code == 302
    with app.app_context():
        application = db.session.query(Application).filter_by(person_id=people["person"]).one()
        app_id, number = application.id, application.number
        assert application.state == "draft" and application.new_name is None  # unused fields dropped
        assert application.province_code == "11"
        assert re.fullmatch(r"SQ\d{8}\d{6}", number)
    # A second open application is refused with the number of the first.
    resp = client.post("/applications/add", data=data, follow_redirects=True)
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
    assert resp.status_code == 302
    with app.app_context():
        batch_id = db.session.query(AnnouncementBatch.id).filter_by(title="测试批次").scalar()
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
