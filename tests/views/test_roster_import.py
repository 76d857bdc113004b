"""The roster import pages (/roster): ministry only, upload through the form with CSRF, the report page,
the report download and the sample file."""
import csv
import io
import uuid

import pytest

from ground.extensions import db
from models import Person, Qualification
from tests import factories as f
from tests.conftest import form_tokens, login


def _csv(rows) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def _post(client, data, filename="roster.csv", token=None):
    token = token if token is not None else form_tokens(client, "/roster/upload")["csrf_token"]
    return client.post("/roster/upload", data={"csrf_token": token, "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


@pytest.fixture
def ministry(app):
    with app.app_context():
        username = f.make_user("Ministry")
    return login(app.test_client(), username)


def test_ministry_imports_through_the_page(app, ministry):
    with app.app_context():
        good, other = f.unique_id_number(), f.unique_id_number()
        bad = good[:17] + ("0" if good[17] != "0" else "1")
    prefix = "V" + uuid.uuid4().hex[:10].upper()
    rows = [["姓名", "身份证号", "资格证书编号", "专业", "取得日期", "临时"],
            ["页面甲", good, f"{prefix}1", "建筑工程", "2021-06-01", "否"],
            ["页面乙", bad, f"{prefix}2", "建筑工程", "2021-06-01", "否"],
            ["页面丙", other, f"{prefix}3", "不存在的专业", "2021-06-01", ""]]

    page = ministry.get("/roster/upload")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Import qualification roster" in html and "/roster/sample" in html and 'type="file"' in html

    resp = _post(ministry, _csv(rows), "资格名单.csv")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "Roster import report" in html and "资格名单.csv" in html
    assert "The check character of this ID number is wrong" in html
    assert "Unknown specialty" in html
    # Refused rows first, then the accepted one; the ID numbers are masked.
    assert html.index("页面乙") < html.index("页面丙") < html.index("页面甲")
    assert good not in html and good[:6] + "********" + good[14:] in html

    with app.app_context():
        assert {q.certificate_no for q in db.session.query(Qualification).filter(
            Qualification.certificate_no.like(f"{prefix}%"))} == {f"{prefix}1"}
        assert db.session.query(Person).filter(Person.id_number.in_([good, other])).count() == 1

    report = ministry.get("/roster/report")
    assert report.status_code == 200 and report.mimetype == "text/csv"
    body = report.data
    assert body.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert [line[0] for line in lines[1:]] == ["3", "4", "2"]
    assert [line[5] for line in lines[1:]] == ["Not imported", "Not imported", "Imported"]


def test_whole_file_refusal_shown_on_the_page(app, ministry):
    with app.app_context():
        before = db.session.query(Person).count()
    resp = _post(ministry, b"just some text\nnothing else\n", "roster.xlsx")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Columns missing from the header row" in html
    with app.app_context():
        assert db.session.query(Person).count() == before


def test_upload_needs_a_file_and_the_csrf_token(app, ministry):
    with app.app_context():
        id_number = f.unique_id_number()
    data = _csv([["姓名", "身份证号", "资格证书编号", "专业", "取得日期"],
                 ["无令牌", id_number, "X" + uuid.uuid4().hex[:12], "建筑工程", "2021-06-01"]])
    resp = _post(ministry, data, token="forged")
    assert resp.status_code in (200, 400) and "Roster import report" not in resp.get_data(as_text=True)
    resp = ministry.post("/roster/upload", data={**form_tokens(ministry, "/roster/upload")},
                         content_type="multipart/form-data")
    assert "Choose a file to upload." in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Person).filter_by(id_number=id_number).count() == 0


def test_report_download_without_an_import(app, ministry):
    assert ministry.get("/roster/report").status_code == 404


def test_sample_download(ministry):
    resp = ministry.get("/roster/sample")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert rows[0] == ["姓名", "身份证号", "资格证书编号", "专业", "取得日期", "临时"] and len(rows) == 3


def test_menu_entry_for_the_ministry(ministry):
    assert "/roster/upload" in ministry.get("/").get_data(as_text=True)


@pytest.mark.parametrize("role", ["Province", "Enterprise", "Applicant"])
def test_other_roles_are_refused(app, role):
    with app.app_context():
        if role == "Applicant":
            username, _ = f.make_applicant()
        elif role == "Province":
            username = f.make_user("Province", province_code="11")
        else:
            username = f.make_user("Enterprise", enterprise_id=f.make_enterprise())
    client = login(app.test_client(), username)
    assert "/roster/upload" not in client.get("/").get_data(as_text=True)
    for url in ("/roster/upload", "/roster/report", "/roster/sample"):
        resp = client.get(url)
        assert resp.status_code in (302, 403), (url, resp.status_code)
        if resp.status_code == 302:
            assert "/roster" not in resp.headers["Location"]
    resp = client.post("/roster/upload", data={"file": (io.BytesIO(b"x"), "r.csv")}, content_type="multipart/form-data")
    assert resp.status_code in (302, 400, 403)


def test_anonymous_is_sent_to_login(client):
    resp = client.get("/roster/upload")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
