"""The two roster jobs: the qualification roster import (资格名单导入, any size, committed in parts, the row
report as the job's file, the uploaded file removed when the job ends) and the province roster PDF (rendered in
parts and merged: every row, the right province for the right person)."""
import csv
import io
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from pypdf import PdfReader

from app import roster
from ground.extensions import db
from models import Job, Person, Qualification
from tests import factories as f
from tests.conftest import app_on_own_database, form_tokens, job_result, login

HEADER = ["姓名", "身份证号", "资格证书编号", "专业", "取得日期", "临时"]


def _csv(rows) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def _inputs(app) -> list:
    folder = Path(app.config["JOB_RESULT_FOLDER"]) / "inputs"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _upload(client, data, filename="roster.csv"):
    """Post the file; returns the newest job of this client's user after landing on 我的任务."""
    token = form_tokens(client, "/roster/upload")["csrf_token"]
    resp = client.post("/roster/upload", data={"csrf_token": token, "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/jobs/"), resp.get_data(as_text=True)[:800]
    page = client.get("/jobs/").get_data(as_text=True)
    job_id = int(re.search(r'data-job-id="(\d+)"', page).group(1))
    return job_id, page


def _job(app, job_id) -> Job:
    with app.app_context():
        job = db.session.get(Job, job_id)
        db.session.expunge(job)
        return job


def _report(client, job_id) -> list[list[str]]:
    resp = client.get(f"/jobs/{job_id}/download")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "roster-report.csv" in resp.headers["Content-Disposition"]
    assert resp.data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, for Excel
    return list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))


def _people(app, n):
    with app.app_context():
        return [f.unique_id_number() for _ in range(n)]


@pytest.fixture
def ministry(app):
    with app.app_context():
        username = f.make_user("Ministry")
    return login(app.test_client(), username)


# --- the import -----------------------------------------------------------------------------------------

def test_a_file_over_the_old_page_cap_imports_and_its_report_is_the_download(app, ministry):
    """50,001 rows (the page refused more than 50,000): all read, the good ones written, every row reported."""
    ids = _people(app, 3)
    prefix = "B" + uuid.uuid4().hex[:10].upper()
    refused = [["", ids[2], f"{prefix}X{i}", "建筑工程", "2021-06-01", ""] for i in range(49_999)]  # no name
    rows = [HEADER, ["大表甲", ids[0], f"{prefix}1", "建筑工程", "2021-06-01", "否"], *refused,
            ["大表乙", ids[1], f"{prefix}2", "市政公用工程", "2020-01-02", "是"]]
    job_id, page = _upload(ministry, _csv(rows), "大名单.csv")
    job = _job(app, job_id)
    assert (job.kind, job.state, job.unit) == ("roster_import", "done", "rows"), job.error
    assert job.outcome == {"rows": 50_001, "accepted": 2, "refused": 49_999, "unchanged": 0}
    assert (job.progress_done, job.progress_total) == (50_001, 50_001)
    assert "大名单.csv" in job.title
    assert re.search(r"Imported 2 · Unchanged 0 · Not imported 49,999", page)

    lines = _report(ministry, job_id)
    assert len(lines) == 1 + 50_001
    assert lines[1][0] == "3" and lines[1][5] == "Not imported"  # refused first, in file order
    assert [line[0] for line in lines[-2:]] == ["2", "50002"] and lines[-1][5] == "Imported"
    with app.app_context():
        assert db.session.query(Qualification).filter(Qualification.certificate_no.like(f"{prefix}%")).count() == 2
    assert _inputs(app) == []  # the uploaded file is gone with the job's end


def test_rules_between_rows_hold_across_parts(app, ministry, monkeypatch):
    """Parts of 3 rows, each committed: a duplicate of a row written in an earlier part is still named by its row."""
    monkeypatch.setattr(roster, "BATCH", 3)
    a, b, c = _people(app, 3)
    p = "P" + uuid.uuid4().hex[:10].upper()
    rows = [HEADER,
            ["分段甲", a, f"{p}1", "建筑工程", "2021-06-01", ""],       # 2 accepted (part 1)
            ["分段乙", b, f"{p}2", "建筑工程", "2021-06-01", ""],       # 3 accepted
            ["分段丙", c, f"{p}3", "建筑工程", "2021-06-01", ""],       # 4 accepted
            ["分段甲", a, f"{p}4", "建筑工程", "2021-06-01", ""],       # 5 same person and specialty as row 2
            ["别名", b, f"{p}5", "市政公用工程", "2021-06-01", ""],     # 6 another name for b
            ["分段丙", c, f"{p}1", "市政公用工程", "2021-06-01", ""],   # 7 certificate also on row 2
            ["分段丙", c, f"{p}7", "机电工程", "2021-06-01", ""]]       # 8 accepted (part 3)
    job_id, _page = _upload(ministry, _csv(rows))
    job = _job(app, job_id)
    assert job.outcome == {"rows": 7, "accepted": 4, "refused": 3, "unchanged": 0}, job.error
    by_row = {line[0]: line for line in _report(ministry, job_id)[1:]}
    assert "Same person and specialty as row 2" in by_row["5"][6]
    assert "Row 3 gives another name" in by_row["6"][6]
    assert "also on row 2" in by_row["7"][6]
    with app.app_context():
        assert db.session.query(Person).filter(Person.id_number.in_([a, b, c])).count() == 3
        assert {q for (q,) in db.session.query(Qualification.certificate_no).filter(
            Qualification.certificate_no.like(f"{p}%"))} == {f"{p}1", f"{p}2", f"{p}3", f"{p}7"}


def test_an_import_stopped_half_way_runs_again_without_doubling(app, ministry, monkeypatch):
    monkeypatch.setattr(roster, "BATCH", 2)
    ids = _people(app, 5)
    p = "H" + uuid.uuid4().hex[:10].upper()
    rows = [HEADER] + [[f"续传{'甲乙丙丁戊'[i]}", ids[i], f"{p}{i}", "建筑工程", "2021-06-01", ""] for i in range(5)]
    original, calls = roster._write, []

    def crash_in_the_second_part(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the worker died")
        return original(*args)

    monkeypatch.setattr(roster, "_write", crash_in_the_second_part)
    job_id, _page = _upload(ministry, _csv(rows))
    assert _job(app, job_id).state == "failed"
    assert _inputs(app) == []  # removed when the job failed, too
    with app.app_context():
        assert db.session.query(Qualification).filter(Qualification.certificate_no.like(f"{p}%")).count() == 2

    monkeypatch.setattr(roster, "_write", original)
    job_id, _page = _upload(ministry, _csv(rows))
    job = _job(app, job_id)
    assert job.outcome == {"rows": 5, "accepted": 3, "refused": 0, "unchanged": 2}, job.error
    with app.app_context():
        assert db.session.query(Qualification).filter(Qualification.certificate_no.like(f"{p}%")).count() == 5
        assert db.session.query(Person).filter(Person.id_number.in_(ids)).count() == 5


def test_a_file_unreadable_past_its_first_rows_fails_the_job_and_writes_nothing(app, ministry):
    """The header is fine (the page lets it through); a broken quote further down refuses the whole file."""
    ids = _people(app, 2)
    p = "Q" + uuid.uuid4().hex[:10].upper()
    text = _csv([HEADER, ["坏文件", ids[0], f"{p}1", "建筑工程", "2021-06-01", ""]])
    text += ("坏文件乙," + ids[1] + f',{p}2,建筑工程,"2021-06-01\r\n').encode()
    text += b"x" * 140_000  # a field past the csv module's limit: unreadable
    job_id, _page = _upload(ministry, text)
    job = _job(app, job_id)
    assert job.state == "failed" and "malformed" in job.error
    with app.app_context():
        assert db.session.query(Qualification).filter(Qualification.certificate_no.like(f"{p}%")).count() == 0
    assert _inputs(app) == []


def test_cancelling_a_queued_import_removes_its_file(app, ministry, monkeypatch):
    from app import jobs

    monkeypatch.setattr(jobs, "dispatch", lambda job_id: None)  # no worker takes it
    ids = _people(app, 1)
    job_id, page = _upload(ministry, _csv([HEADER, ["排队", ids[0], "Z" + uuid.uuid4().hex[:12], "建筑工程",
                                                     "2021-06-01", ""]]))
    assert _job(app, job_id).state == "queued" and len(_inputs(app)) == 1
    token = form_tokens(ministry, "/jobs/")["csrf_token"]
    assert ministry.post(f"/jobs/{job_id}/cancel", data={"csrf_token": token}).status_code == 302
    assert _job(app, job_id).state == "cancelled"
    assert _inputs(app) == []


# --- the province roster PDF ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def province_world(backend, tmp_path_factory):
    """A database of its own: 11 registered constructors in Beijing (11), 2 in Shanghai (31)."""
    with app_on_own_database(backend, tmp_path_factory) as application:
        with application.app_context():
            beijing, shanghai = f.make_enterprise("11"), f.make_enterprise("31")
            names = {"11": [], "31": []}
            for i in range(11):
                f.make_registered(beijing, name=f"京名册{i:02d}")
                names["11"].append(f"京名册{i:02d}")
            for i in range(2):
                f.make_registered(shanghai, name=f"沪名册{i:02d}")
                names["31"].append(f"沪名册{i:02d}")
            users = {"ministry": f.make_user("Ministry"), "province31": f.make_user("Province", province_code="31"),
                     "enterprise": f.make_user("Enterprise", enterprise_id=beijing)}
            db.session.remove()
        yield application, names, users


def _pdf_pages(data: bytes) -> list[str]:
    count = len(PdfReader(io.BytesIO(data)).pages)
    return [subprocess.run(["pdftotext", "-layout", "-f", str(n), "-l", str(n), "-", "-"], input=data,
                           capture_output=True, check=True).stdout.decode() for n in range(1, count + 1)]


def test_the_roster_pdf_has_every_row_in_parts_merged(province_world, monkeypatch):
    app, names, users = province_world
    monkeypatch.setitem(app.config, "ROSTER_PDF_ROWS_PER_PART", 4)  # 11 rows: parts of 4, 4 and 3
    client = login(app.test_client(), users["ministry"])
    resp = job_result(client, "/dashboard/roster?province=11")
    assert resp.mimetype == "application/pdf"
    assert re.search(r'roster-11-\d{8}\.pdf', resp.headers["Content-Disposition"])
    pages = _pdf_pages(resp.data)
    text = "".join("".join(page.split()) for page in pages)
    assert all(name in text for name in names["11"]) and not any(name in text for name in names["31"])
    assert text.count("Rosterofregisteredconstructors") >= 1 and "11persons" in text
    numbers = [int(n) for page in pages for n in re.findall(r"^\s*(\d+)\s+京名册", page, re.M)]
    assert numbers == list(range(1, 12))  # numbered on across the parts, none twice
    footers = [int(page.strip().split()[-1]) for page in pages]
    assert footers == list(range(1, len(pages) + 1))  # page numbers run on across the parts
    with app.app_context():
        job = db.session.query(Job).filter_by(kind="roster_pdf").order_by(Job.id.desc()).first()
        assert (job.state, job.unit, job.progress_done, job.progress_total) == ("done", "rows", 11, 11)
        assert job.outcome == {"rows": 11, "pages": len(pages)}


def test_a_province_user_gets_only_their_province(province_world):
    app, names, users = province_world
    client = login(app.test_client(), users["province31"])
    text = "".join("".join(p.split()) for p in _pdf_pages(job_result(client, "/dashboard/roster?province=11").data))
    assert all(name in text for name in names["31"]) and not any(name in text for name in names["11"])


def test_an_enterprise_gets_403_and_no_job(province_world):
    app, _names, users = province_world
    with app.app_context():
        before = db.session.query(Job).count()
    client = login(app.test_client(), users["enterprise"])
    assert client.get("/dashboard/roster?province=11").status_code == 403
    with app.app_context():
        assert db.session.query(Job).count() == before


def test_no_province_goes_back_with_a_message_and_no_job(province_world):
    app, _names, users = province_world
    with app.app_context():
        before = db.session.query(Job).count()
    client = login(app.test_client(), users["ministry"])
    resp = client.get("/dashboard/roster", follow_redirects=True)
    assert "Choose a province for the roster." in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Job).count() == before


def test_an_empty_roster_is_one_page_saying_so(province_world):
    app, _names, users = province_world
    client = login(app.test_client(), users["ministry"])
    text = "".join(_pdf_pages(job_result(client, "/dashboard/roster?province=44").data))
    assert "No constructor is registered in this province." in text
