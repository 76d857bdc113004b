"""The pages of 注销 lodged by others (views/cancellations.py): each starter's page, scoped to its own people, the
form's refusals, the lodging itself, the person's 进度查询, the menu, the help text, and self-review on the page."""
from datetime import timedelta

import pytest

from ground.clock import today
from ground.extensions import db
from models import Application, Person, Registration
from tests import factories as f
from tests.conftest import csrf_token, login

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class Place:
    def __init__(self, app):
        with app.app_context():
            self.staff = f.Staff()
            self.e1, self.e2, self.e3 = f.make_enterprise("11"), f.make_enterprise("11"), f.make_enterprise("31")
            self.people = {}
            for key, enterprise in (("p1", self.e1), ("p2", self.e2), ("p3", self.e3)):
                username, person_id = f.make_registered(enterprise, name=f"离职人员{key}")
                registration = db.session.query(Registration).filter_by(person_id=person_id).one()
                self.people[key] = (username, person_id, registration.id, registration.number)
            self.ent1, self.prov11 = self.staff.enterprise(self.e1), self.staff.province("11")
            self.ministry = self.staff.ministry


@pytest.fixture(scope="module")
def place(app):
    return Place(app)


def _page(client, url):
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code)
    return resp.get_data(as_text=True)


def test_each_starter_sees_only_its_own_people(app, place):
    def found(client, business_type, key):  # searched by registration number: other tests' people do not matter
        number, registration_id = place.people[key][3], place.people[key][2]
        page = _page(client, f"/cancellations/{business_type}/new?q={number}")
        return f'data-registration-id="{registration_id}"' in page

    enterprise = login(app.test_client(), place.ent1)
    assert found(enterprise, "cancel_by_employer", "p1")
    assert not found(enterprise, "cancel_by_employer", "p2") and not found(enterprise, "cancel_by_employer", "p3")
    province = login(app.test_client(), place.prov11)
    assert found(province, "cancel_by_authority", "p1") and found(province, "cancel_by_authority", "p2")
    assert not found(province, "cancel_by_authority", "p3")
    ministry = login(app.test_client(), place.ministry)
    assert all(found(ministry, "cancel_by_authority", key) for key in ("p1", "p2", "p3"))
    page = _page(ministry, f"/cancellations/cancel_by_authority/new?q={place.people['p3'][3]}")
    assert f'data-registration-id="{place.people["p1"][2]}"' not in page  # the search narrows
    # Another's person named directly: not found. A type the role does not start: not offered.
    assert enterprise.get(f"/cancellations/cancel_by_employer/new?registration={place.people['p2'][2]}").status_code == 404
    assert province.get(f"/cancellations/cancel_by_authority/new?registration={place.people['p3'][2]}").status_code == 404
    assert enterprise.get("/cancellations/cancel_by_authority/new").status_code == 404
    assert province.get("/cancellations/cancel_by_employer/new").status_code == 404
    assert province.get("/cancellations/initial/new").status_code == 404
    applicant = login(app.test_client(), place.people["p1"][0])
    assert applicant.get("/cancellations/cancel_by_employer/new").status_code == 403
    # The applicant's own form does not offer the types lodged by others.
    assert applicant.get("/apply/cancel_by_employer").status_code == 404


def test_the_menu_shows_each_role_its_own_entry(app, place):
    enterprise = _page(login(app.test_client(), place.ent1), "/")
    assert "/cancellations/cancel_by_employer/new" in enterprise
    assert "/cancellations/cancel_by_authority/new" not in enterprise
    province = _page(login(app.test_client(), place.prov11), "/")
    assert "/cancellations/cancel_by_authority/new" in province and "/cancellations/cancel_by_employer/new" not in province


def test_the_form_refuses_bad_input_and_changes_nothing(app, place):
    client = login(app.test_client(), place.ent1)
    _username, person_id, registration_id, _number = place.people["p1"]
    url = f"/cancellations/cancel_by_employer/new?registration={registration_id}"
    page = _page(client, url)
    assert "Leaving date" in page and "cannot be undone" in page
    resp = client.post("/cancellations/cancel_by_employer/new", data={
        "csrf_token": csrf_token(client, url), "registration": registration_id,
        "leaving_date": (today() + timedelta(days=3)).isoformat(), "reason_text": ""})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "must not be in the future" in html and "Tick the confirmation" in html and "required" in html
    with app.app_context():
        assert db.session.query(Application).filter_by(person_id=person_id).count() == 0


def test_employer_lodges_and_the_person_sees_who_did(app, place):
    client = login(app.test_client(), place.ent1)
    username, person_id, registration_id, _number = place.people["p1"]
    url = f"/cancellations/cancel_by_employer/new?registration={registration_id}"
    resp = client.post("/cancellations/cancel_by_employer/new", data={
        "csrf_token": csrf_token(client, url), "registration": registration_id,
        "leaving_date": (today() - timedelta(days=5)).isoformat(), "reason_text": "劳动合同期满不再续签",
        "confirmed": "y"})
    assert resp.status_code == 302 and "/applications/show/" in resp.headers["Location"]
    show = _page(client, resp.headers["Location"])
    assert "is lodged" in show and "Leaving date" in show
    with app.app_context():
        item = db.session.query(Application).filter_by(person_id=person_id).one()
        assert item.business_type == "cancel_by_employer" and item.state == "province_review"
        enterprise_name = item.enterprise.name
    person = login(app.test_client(), username)
    progress = _page(person, "/progress/")
    assert "Cancellation reported by the employer" in progress
    assert f"Lodged by {enterprise_name}" in progress and "Labour contract ended" in progress
    assert "Withdraw" not in progress  # not the person's to withdraw
    messages = _page(person, "/messages/")
    assert f"{enterprise_name} lodged" in messages


def test_province_lodges_with_the_decision_document(app, place):
    import io

    client = login(app.test_client(), place.prov11)
    _username, person_id, registration_id, _number = place.people["p2"]
    url = f"/cancellations/cancel_by_authority/new?registration={registration_id}"
    page = _page(client, url)
    assert "Legal ground" in page and "Decision document" in page
    token = csrf_token(client, url)
    resp = client.post("/cancellations/cancel_by_authority/new", content_type="multipart/form-data", data={
        "csrf_token": token, "registration": registration_id, "reason": "revoked_by_law", "reason_text": "依法撤销",
        "document": (io.BytesIO(b"GIF89a not a pdf"), "x.gif"), "confirmed": "y"})
    assert resp.status_code == 200 and "must be a PDF or JPEG" in resp.get_data(as_text=True)
    resp = client.post("/cancellations/cancel_by_authority/new", content_type="multipart/form-data", data={
        "csrf_token": token, "registration": registration_id, "reason": "revoked_by_law", "reason_text": "依法撤销",
        "document": (io.BytesIO(PDF), "决定书.pdf"), "confirmed": "y"})
    assert resp.status_code == 302
    show = _page(client, resp.headers["Location"])
    assert "Decision document" in show and "material-file" in show
    with app.app_context():
        item = db.session.query(Application).filter_by(person_id=person_id).one()
        assert item.state == "ministry_review" and item.reason == "revoked_by_law"


def test_help_describes_the_types_to_their_starters(app, place):
    enterprise = _page(login(app.test_client(), place.ent1), "/help/")
    assert "Cancellation reported by the employer" in enterprise and "leaving date" in enterprise
    province = _page(login(app.test_client(), place.prov11), "/help/")
    assert "Cancellation or revocation by the authority" in province and "decision document" in province


def test_self_review_is_refused_on_the_page(app, place):
    """A province officer linked to their own person cannot pass their own application through the page."""
    from app import staff_links

    username, person_id, _registration_id, _number = place.people["p3"]
    with app.app_context():
        app_id = f.make_application(username, "cancellation", reason="other")
        f.move(app_id, "submit", username)
        f.set_state(app_id, "province_review")
        officer = f.make_user("Province", province_code="31")
        staff_links.link(officer, db.session.get(Person, person_id).id_number)
    client = login(app.test_client(), officer)
    url = f"/applications/transition/{app_id}/pass"
    page = _page(client, url)
    assert "You may not act on your own application." in page
    resp = client.post(url, data={"csrf_token": csrf_token(client, url)}, follow_redirects=True)
    assert "You may not act on your own application." in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Application, app_id).state == "province_review"
