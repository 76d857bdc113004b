"""Enterprise, province and ministry work through the panel's HTTP endpoints: every business type from
the applicant's form to its outcome, the contract attestation, bulk decisions, queues with time limits,
the enterprise's own pages and the announcement PDF."""
import re
import subprocess
import uuid

import pytest

from ground.extensions import db
from models import AnnouncementBatch, Application, Certificate, Person, Registration
from tests import factories as f
from tests.conftest import csrf_token, login
from tests.views.test_personal_journey import FIRST_STAGE, apply_form, eligible_applicant


class Desk:
    """Signed-in clients of the staff who own each stage, made on demand."""

    def __init__(self, app):
        self.app, self.clients = app, {}
        with app.app_context():
            self.staff = f.Staff()

    def client(self, username):
        if username not in self.clients:
            self.clients[username] = login(self.app.test_client(), username)
        return self.clients[username]

    def owner_of(self, application_id):
        with self.app.app_context():
            item = db.session.get(Application, application_id)
            if item.state == "release_pending":  # the previous employer releases
                return self.staff.enterprise(item.previous_enterprise_id)
            owner = {"enterprise_review": "Enterprise", "province_review": "Province",
                     "ministry_review": "Ministry", "announce_pending": "Ministry"}.get(item.state)
            if owner == "Enterprise":
                return self.staff.enterprise(item.enterprise_id)
            if owner == "Province":
                return self.staff.province(item.province_code)
            return self.staff.ministry if owner else None

    def take(self, application_id, action, opinion="", attested=True):
        username = self.owner_of(application_id)
        client = self.client(username)
        url = f"/myqueue/transition/{application_id}/{action}"
        page = client.get(url).get_data(as_text=True)
        version = re.search(r'name="version" value="(\d+)"', page).group(1)
        data = {"csrf_token": csrf_token(client, url), "version": version, "opinion": opinion}
        if attested:
            data["attested"] = "y"
        return client.post(url, data=data)

    def publish(self, application_id):
        """The ministry gathers the approved application into a new batch and publishes it."""
        client = self.client(self.staff.ministry)
        title = f"测试公告-{uuid.uuid4().hex[:8]}"
        client.post("/announcements/add", data={"csrf_token": csrf_token(client, "/announcements/add"),
                                                "title": title})
        with self.app.app_context():
            batch_id = db.session.query(AnnouncementBatch.id).filter_by(title=title).scalar()
        token = csrf_token(client, f"/announcements/show/{batch_id}")
        client.post(f"/announcements/gather/{batch_id}", data={"csrf_token": token})
        client.post(f"/announcements/publish/{batch_id}", data={"csrf_token": token})
        return batch_id


def state(app, application_id):
    with app.app_context():
        return db.session.get(Application, application_id).state


def submitted(app, business_type):
    """An eligible applicant submits through the form; returns (application id, person id, employers)."""
    username, person_id, fields, phone, employers = eligible_applicant(app, business_type)
    client = login(app.test_client(), username, f.PASSWORD)
    assert apply_form(app, client, business_type, phone, **fields).status_code == 302
    with app.app_context():
        application_id = db.session.query(Application.id).filter_by(person_id=person_id).scalar()
    return application_id, person_id, employers


DECISIONS = {"enterprise_review": ("confirm", ""), "release_pending": ("release", ""), "province_review": ("pass", "材料齐全，符合条件。"),
             "ministry_review": ("approve", "同意。")}


@pytest.mark.parametrize("business_type", sorted(FIRST_STAGE))
def test_each_business_type_from_the_form_to_its_outcome(app, business_type):
    application_id, person_id, employers = submitted(app, business_type)
    desk = Desk(app)
    with app.app_context():
        before = {c.id for c in db.session.query(Certificate).filter_by(person_id=person_id)}
    seen = []
    while (current := state(app, application_id)) not in ("completed", "refused", "returned", "withdrawn"):
        seen.append(current)
        if current == "announce_pending":
            desk.publish(application_id)
        else:
            action, opinion = DECISIONS[current]
            assert desk.take(application_id, action, opinion).status_code == 302
        assert state(app, application_id) != current, f"stuck in {current}"
    assert current == "completed", seen

    with app.app_context():
        person = db.session.get(Person, person_id)
        registration = db.session.query(Registration).filter_by(person_id=person_id).one_or_none()
        certificates = db.session.query(Certificate).filter_by(person_id=person_id).all()
        new = [c for c in certificates if c.id not in before]
        if business_type in ("initial", "re_registration"):
            assert registration.status == "active" and registration.enterprise_id == employers[1]["id"]
        if business_type == "change":
            assert registration.enterprise_id == employers[1]["id"]
        if business_type == "add_specialty":
            assert registration.specialty("mining").status == "active"
        if business_type == "renewal":
            assert registration.specialty("building").valid_until.year >= f.today().year + 2
        if business_type == "cancellation":
            assert registration.status == "cancelled"
            assert {c.status for c in certificates} == {"revoked"} and not new
        elif business_type == "info_change":
            assert person.name == "王新名" and not new  # not registered: no certificate
        else:
            [issued] = new
            assert issued.status == "valid" and issued.holder_name == person.name
            assert {c.status for c in certificates if c.id in before} <= {"replaced", "revoked"}
    if business_type in ("initial", "re_registration", "add_specialty", "cancellation"):
        assert "announce_pending" in seen
    else:
        assert "announce_pending" not in seen


def test_the_enterprise_must_attest_the_contract_period(app):
    application_id, _, _ = submitted(app, "initial")
    desk = Desk(app)
    resp = desk.take(application_id, "confirm", attested=False)
    assert resp.status_code == 302
    assert state(app, application_id) == "enterprise_review"
    client = desk.client(desk.owner_of(application_id))
    page = client.get(f"/myqueue/transition/{application_id}/confirm").get_data(as_text=True)
    assert 'name="attested"' in page and "labour contract from" in page
    assert desk.take(application_id, "confirm").status_code == 302
    assert state(app, application_id) == "province_review"


def test_bulk_decisions_in_the_queue(app):
    desk = Desk(app)
    with app.app_context():
        ids = [f.initial_application(desk.staff, "44", "submit", "confirm")[2] for _ in range(3)]
        other_province = f.initial_application(desk.staff, "31", "submit", "confirm")[2]
        reviewer, ministry_user = desk.staff.province("44"), desk.staff.ministry
    client = desk.client(reviewer)
    queue = client.get("/myqueue/list/").get_data(as_text=True)
    assert "working days left" in queue and "bulk_pass" in queue  # time limits and the selection actions

    token = csrf_token(client, "/myqueue/list/")
    resp = client.post("/myqueue/action_post", data={"csrf_token": token, "action": "bulk_pass",
                                                     "rowid": [str(i) for i in ids[:2]]})
    assert resp.status_code == 302 and "/myqueue/bulk/pass" in resp.headers["Location"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert all(f"version_{i}" in page for i in ids[:2])
    # Out-of-scope ids are refused outright.
    assert client.get(f"/myqueue/bulk/pass?ids={ids[0]},{other_province}").status_code == 404
    # Bulk return needs an opinion; without it nothing moves.
    client.post("/myqueue/bulk/return", data={"csrf_token": token, "ids": f"{ids[2]}", "opinion": ""})
    assert state(app, ids[2]) == "province_review"
    client.post("/myqueue/bulk/return", data={"csrf_token": token, "ids": f"{ids[2]}", "opinion": "请补充材料"})
    assert state(app, ids[2]) == "returned"
    resp = client.post("/myqueue/bulk/pass", data={"csrf_token": token, "ids": ",".join(map(str, ids[:2])),
                                                   "opinion": "同意"}, follow_redirects=True)
    assert [state(app, i) for i in ids[:2]] == ["ministry_review", "ministry_review"]
    assert "done for 2 applications" in resp.get_data(as_text=True)
    # The same selection sent again (a double submission): who handled each and when, never a 404.
    again = client.post("/myqueue/bulk/pass", data={"csrf_token": token, "ids": ",".join(map(str, ids[:2])),
                                                    "opinion": "同意"})
    assert again.status_code == 302 and "/myqueue/list" in again.headers["Location"]
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert page.count("Already handled by") == 2, page
    assert [state(app, i) for i in ids[:2]] == ["ministry_review", "ministry_review"]
    # A role without the decision gets 403.
    ministry = desk.client(ministry_user)
    assert ministry.get(f"/myqueue/bulk/confirm?ids={ids[0]}").status_code == 403


def test_staff_see_the_applicants_materials(app):
    desk = Desk(app)
    with app.app_context():
        _, _, app_id = f.initial_application(desk.staff, "11", "submit")
    client = desk.client(desk.owner_of(app_id))
    page = client.get(f"/myqueue/show/{app_id}").get_data(as_text=True)
    assert "Applicant&#39;s materials" in page or "Applicant's materials" in page
    assert "/attachments/file/" in page


def test_enterprise_profile_and_its_registered_constructors(app):
    with app.app_context():
        mine, other = f.make_enterprise("11", name="本单位测试公司"), f.make_enterprise("11")
        officer = f.make_user("Enterprise", enterprise_id=mine)
        _, ours = f.make_registered(mine, name="本单位人员", expires_in_days=30)
        _, theirs = f.make_registered(other, name="外单位人员")
    client = login(app.test_client(), officer)
    token = csrf_token(client, "/enterprise-profile/")
    resp = client.post("/enterprise-profile/", data={"csrf_token": token, "address": "北京市海淀区测试路1号",
                                                     "legal_representative": "张三", "contact_phone": "13800001111"})
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.get(f.Enterprise, mine).address == "北京市海淀区测试路1号"
    bad = client.post("/enterprise-profile/", data={"csrf_token": token, "contact_phone": "12345"})
    assert bad.status_code == 200
    with app.app_context():
        assert db.session.get(f.Enterprise, mine).contact_phone == "13800001111"
    page = client.get("/enterprise-profile/constructors").get_data(as_text=True)
    assert "本单位人员" in page and "外单位人员" not in page and "renew soon" in page
    with app.app_context():
        stranger, _ = f.make_applicant()
    applicant = login(app.test_client(), stranger)
    assert applicant.get("/enterprise-profile/").status_code in (302, 403)


def test_announcement_pdf_lists_the_batch(app):
    desk = Desk(app)
    with app.app_context():
        username, person_id, app_id = f.initial_application(desk.staff, "11", "submit", "confirm", "pass", "approve")
        name = db.session.get(Person, person_id).name
        masked = db.session.get(Person, person_id).masked_id_number
    batch_id = desk.publish(app_id)
    client = desk.client(desk.staff.ministry)
    resp = client.get(f"/announcements/pdf/{batch_id}")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    text = subprocess.run(["pdftotext", "-raw", "-", "-"], input=resp.data, capture_output=True).stdout.decode()
    text = "".join(text.split())  # table cells wrap, even inside a name
    with app.app_context():
        number = db.session.query(Registration.number).filter_by(person_id=person_id).scalar()
        batch_number = db.session.get(AnnouncementBatch, batch_id).number
        from models import Certificate

        certificate = db.session.query(Certificate.number).filter_by(application_id=app_id).scalar()
    assert certificate  # issued on publication: the announcement carries it
    for expected in (name, masked, number, batch_number, "Building Construction", certificate):
        assert "".join(expected.split()) in text, expected
    # Published announcements are public inside the panel; an applicant reads it too.
    assert login(app.test_client(), username).get(f"/announcements/pdf/{batch_id}").status_code == 200
