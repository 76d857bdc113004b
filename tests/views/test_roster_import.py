"""The roster import page (/roster): ministry only, upload through the form with CSRF; a readable file starts the
job "roster_import" and lands on 我的任务 (its figures there, its report the download); a bad file is refused on
the page with the reason and starts no job; the sample file."""
import csv
import io
import re
import uuid
import zipfile
from pathlib import Path

import pytest

from ground.extensions import db
from models import AuditLog, Job, Person, Qualification
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


def _jobs(app) -> int:
    with app.app_context():
        return db.session.query(Job).count()


def _inputs(app) -> list:
    folder = Path(app.config["JOB_RESULT_FOLDER"]) / "inputs"
    return sorted(folder.iterdir()) if folder.is_dir() else []


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
    assert "My jobs" in html and "rows and" not in html  # no row limit is promised any more

    resp = _post(ministry, _csv(rows), "资格名单.csv")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/jobs/")
    html = ministry.get("/jobs/").get_data(as_text=True)
    assert "Roster import: 资格名单.csv is ready to download." in html
    assert "Imported 1 · Unchanged 0 · Not imported 2" in html
    job_id = re.search(r'data-job-id="(\d+)"', html).group(1)

    with app.app_context():
        assert {q.certificate_no for q in db.session.query(Qualification).filter(
            Qualification.certificate_no.like(f"{prefix}%"))} == {f"{prefix}1"}
        assert db.session.query(Person).filter(Person.id_number.in_([good, other])).count() == 1
    assert _inputs(app) == []

    report = ministry.get(f"/jobs/{job_id}/download")
    assert report.status_code == 200 and report.mimetype == "text/csv"
    body = report.data
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    assert "The check character of this ID number is wrong" in text and "Unknown specialty" in text
    assert good not in text and good[:6] + "********" + good[14:] in text  # the ID numbers are masked
    lines = list(csv.reader(io.StringIO(text)))
    assert [line[0] for line in lines[1:]] == ["3", "4", "2"]  # refused rows first
    assert [line[5] for line in lines[1:]] == ["Not imported", "Not imported", "Imported"]


def _zip_bomb() -> bytes:
    """A small zip that unpacks to more than the import reads (257 MB of zeros)."""
    buf, zeros = io.BytesIO(), bytes(1024 * 1024)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(257):
            archive.writestr(f"xl/worksheets/sheet{i}.xml", zeros)
    return buf.getvalue()


@pytest.mark.parametrize("content, name, message", [
    (b"just some text\nnothing else\n", "roster.xlsx", "Columns missing from the header row"),
    (b"", "roster.csv", "The file is empty."),
    (b"  \r\n\r\n", "roster.csv", "The file is empty."),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "roster.xls", "Old Excel files (.xls) are not accepted"),
    (b"\x00\x01\x02\xff\xfe\x00binary", "roster.csv", "neither an Excel workbook"),
    (b"PK\x03\x04 not really a zip", "roster.xlsx", "could not be read as an Excel workbook"),
    ("zip bomb", "roster.xlsx", "unpacks to too much data"),
])
def test_bad_files_are_refused_on_the_page_and_start_no_job(app, ministry, content, name, message):
    content = _zip_bomb() if content == "zip bomb" else content
    with app.app_context():
        before = db.session.query(Person).count()
    jobs_before = _jobs(app)
    resp = _post(ministry, content, name)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "The file was not imported:" in html and message in html
    assert _jobs(app) == jobs_before and _inputs(app) == []
    with app.app_context():
        assert db.session.query(Person).count() == before
        audit = db.session.query(AuditLog).filter_by(action="import").order_by(AuditLog.id.desc()).first()
        assert message in audit.detail["error"]


def test_a_file_over_the_request_size_is_refused(app, ministry, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2000)
    jobs_before = _jobs(app)
    token = form_tokens(ministry, "/roster/upload")["csrf_token"]
    resp = _post(ministry, b"a" * 5000, "roster.csv", token=token)
    assert resp.status_code in (303, 413) and _jobs(app) == jobs_before and _inputs(app) == []


def test_upload_needs_a_file_and_the_csrf_token(app, ministry):
    with app.app_context():
        id_number = f.unique_id_number()
    data = _csv([["姓名", "身份证号", "资格证书编号", "专业", "取得日期"],
                 ["无令牌", id_number, "X" + uuid.uuid4().hex[:12], "建筑工程", "2021-06-01"]])
    jobs_before = _jobs(app)
    resp = _post(ministry, data, token="forged")
    assert resp.status_code in (200, 400)
    resp = ministry.post("/roster/upload", data={**form_tokens(ministry, "/roster/upload")},
                         content_type="multipart/form-data")
    assert "Choose a file to upload." in resp.get_data(as_text=True)
    assert _jobs(app) == jobs_before and _inputs(app) == []
    with app.app_context():
        assert db.session.query(Person).filter_by(id_number=id_number).count() == 0


def test_the_old_report_address_is_gone(ministry):
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
    for url in ("/roster/upload", "/roster/sample"):
        resp = client.get(url)
        assert resp.status_code in (302, 403), (url, resp.status_code)
        if resp.status_code == 302:
            assert "/roster" not in resp.headers["Location"]
    resp = client.post("/roster/upload", data={"file": (io.BytesIO(b"x"), "r.csv")}, content_type="multipart/form-data")
    assert resp.status_code in (302, 400, 403)


def test_anonymous_is_sent_to_login(client):
    resp = client.get("/roster/upload")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
