"""Continuing education on pages: the ministry's import of a provider's list (a job, with a row report; the same
certificate counted once), the officer's look-up and entry with the certificate scan within the row scope, and the
applicant's hours on 个人信息."""
import csv
import io
import re
import uuid
from datetime import timedelta

import pytest

from PIL import Image

from ground.clock import today
from ground.extensions import db
from models import ContinuingEducation, Person
from tests import factories as f
from tests.conftest import form_tokens, login

HEADER = ["姓名", "身份证号", "培训证书编号", "课程类别", "学时", "结业日期", "培训单位", "课程名称", "专业"]


def _csv(rows) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def _upload(client, data, filename="providers.csv"):
    token = form_tokens(client, "/education-import/upload")["csrf_token"]
    return client.post("/education-import/upload", data={"csrf_token": token, "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def _hours(person_id) -> list:
    with_db = db.session.query(ContinuingEducation).filter_by(person_id=person_id)
    return sorted((r.kind, r.hours, r.specialty_code, r.source) for r in with_db)


@pytest.fixture
def ministry(app):
    with app.app_context():
        username = f.make_user("Ministry")
    return login(app.test_client(), username)


def test_ministry_imports_a_providers_list_and_a_certificate_counts_once(app, ministry):
    with app.app_context():
        _user, person_id = f.make_applicant()
        person = db.session.get(Person, person_id)
        id_number, name = person.id_number, person.name
    prefix = "JX" + uuid.uuid4().hex[:8].upper()
    day = (today() - timedelta(days=10)).isoformat()
    rows = [HEADER,
            [name, id_number, f"{prefix}1", "必修", "24", day, "建设培训中心", "法规", ""],
            [name, id_number, f"{prefix}2", "选修", "12", day, "建设培训中心", "BIM", "建筑工程"],
            [name, id_number, f"{prefix}1", "必修", "24", day, "建设培训中心", "法规", ""],  # the same certificate
            ["别人", id_number, f"{prefix}3", "必修", "8", day, "建设培训中心", "安全", ""],
            [name, id_number, f"{prefix}4", "讲座", "0", "2999-01-01", "", "", "不存在"]]
    page = ministry.get("/education-import/upload")
    assert page.status_code == 200 and "/education-import/sample" in page.get_data(as_text=True)
    resp = _upload(ministry, _csv(rows))
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/jobs/")
    html = ministry.get("/jobs/").get_data(as_text=True)
    assert "Imported 2 · Unchanged 0 · Not imported 3" in html
    job_id = re.search(r'data-job-id="(\d+)"', html).group(1)
    text = ministry.get(f"/jobs/{job_id}/download").data.decode("utf-8-sig")
    for reason in (f"Certificate number {prefix}1 is also on row 2.", "the names differ",
                   "Course kind: write 必修 or 选修", "Hours: a whole number from 1 to 200.", "is in the future",
                   "The training provider is missing.", "Unknown specialty"):
        assert reason in text, reason
    assert id_number not in text  # masked in the report
    with app.app_context():
        assert _hours(person_id) == [("compulsory", 24, None, "import"), ("elective", 12, "building", "import")]

    # The same list again: nothing is counted twice; a certificate with other hours is refused.
    rows[2][4] = "16"
    _upload(ministry, _csv(rows[:3]))
    html = ministry.get("/jobs/").get_data(as_text=True)
    assert "Imported 0 · Unchanged 1 · Not imported 1" in html
    with app.app_context():
        assert _hours(person_id) == [("compulsory", 24, None, "import"), ("elective", 12, "building", "import")]


def test_a_file_without_the_columns_is_refused_on_the_page(app, ministry):
    resp = _upload(ministry, _csv([["姓名", "身份证号"], ["张三", "110101198503140012"]]))
    assert resp.status_code == 200
    assert "Columns missing from the header row" in resp.get_data(as_text=True)


def _scan() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (800, 600), "white").save(buf, "JPEG")
    return buf.getvalue()


def _entry(client, id_number, certificate_no, scan=None, **overrides):
    token = form_tokens(client, f"/education/?id_number={id_number}")["csrf_token"]
    data = {"csrf_token": token, "person": id_number, "certificate_no": certificate_no, "course": "继续教育必修课",
            "provider": "省建设培训中心", "kind": "compulsory", "hours": "60",
            "completed_on": (today() - timedelta(days=3)).isoformat(), "specialty_code": "",
            "scan": (io.BytesIO(scan if scan is not None else _scan()), "cert.jpg"), **overrides}
    return client.post("/education/enter", data=data, content_type="multipart/form-data")


def test_province_enters_a_record_for_a_person_of_its_province_only(app):
    with app.app_context():
        enterprise = f.make_enterprise("11")
        _user, person_id = f.make_registered(enterprise)
        id_number = db.session.get(Person, person_id).id_number
        beijing, shanghai = f.make_user("Province", province_code="11"), f.make_user("Province", province_code="31")
    prov11, prov31 = login(app.test_client(), beijing), login(app.test_client(), shanghai)

    page = prov11.get(f"/education/?id_number={id_number}")
    assert page.status_code == 200 and "0 / 60" in page.get_data(as_text=True)
    assert prov31.get(f"/education/?id_number={id_number}").status_code == 404  # another province's person
    number = "SD" + uuid.uuid4().hex[:10].upper()
    assert _entry(prov31, id_number, number).status_code == 404
    refused = _entry(prov11, id_number, number, scan=b"not an image")
    assert refused.status_code == 400
    with app.app_context():
        assert _hours(person_id) == []

    saved = _entry(prov11, id_number, number)
    assert saved.status_code == 302
    with app.app_context():
        assert _hours(person_id) == [("compulsory", 60, None, "entry")]
        record = db.session.query(ContinuingEducation).filter_by(certificate_no=number).one()
        assert record.attachment.kind == "education_proof" and record.entered_by_id is not None
    again = _entry(prov11, id_number, number)
    assert again.status_code == 400 and "counted once" in again.get_data(as_text=True)
    with app.app_context():
        assert len(_hours(person_id)) == 1


def test_the_applicant_sees_the_hours_on_personal_information(app):
    with app.app_context():
        username, person_id = f.make_registered(f.make_enterprise("11"))
        f.give_hours(person_id, compulsory=48, elective=30)
        other, _ = f.make_applicant()
    client = login(app.test_client(), username, lang="zh")
    html = client.get("/me/education").get_data(as_text=True)
    assert "48 / 60" in html and "30 / 60" in html
    assert "还差必修 12 学时、选修 30 学时" in html
    assert client.get("/education/").status_code == 403  # staff pages are not the applicant's
    assert login(app.test_client(), other).get("/me/education").status_code == 200  # own page, nothing recorded
