"""Batch certificate printing as a background job split in parts (reports/certificate_batch.py, app/jobs.py):
one page per valid certificate in number order, the "print" audit rows, no part file left, the refusals, and
parts that run twice, fail or are cancelled."""
import io
import re

import pytest
from pypdf import PdfReader

from tests import factories as f
from tests.conftest import job_result, login

NAMES = ("司马青云", "欧阳晓峰", "诸葛明月", "上官雨桐", "东方子轩")


@pytest.fixture(scope="module")
def batch(app):
    """A published announcement batch of five approved initial registrations (five valid certificates)."""
    from app import announcements
    from ground.extensions import db
    from models import AnnouncementBatch, Application, Certificate

    staff = f.Staff()
    with app.app_context():
        enterprise = f.make_enterprise("11", name=f"华北安装工程第{f.next_serial()}有限公司")
        app_ids = []
        for name in NAMES:
            username, _ = f.make_applicant(name=name)
            app_id = f.make_application(username, "initial", enterprise_id=enterprise)
            staff.take(app_id, username, "submit", "confirm", "pass", "approve")
            app_ids.append(app_id)
        published = AnnouncementBatch(title="测试公告（分批打印）", state="draft")
        db.session.add(published)
        db.session.flush()
        db.session.query(Application).filter(Application.id.in_(app_ids)).update(
            {"announcement_id": published.id}, synchronize_session=False)
        db.session.commit()
        announcements.publish(published.id, f.user(staff.ministry))
        certificates = (db.session.query(Certificate).filter(Certificate.application_id.in_(app_ids))
                        .order_by(Certificate.number).all())
        assert len(certificates) == len(NAMES)
        return {"id": published.id, "number": published.number, "staff": staff,
                "certificates": [(c.id, c.holder_name) for c in certificates]}


@pytest.fixture
def small_parts(app, monkeypatch):
    monkeypatch.setitem(app.config, "CERTIFICATES_PER_PART", 2)  # five certificates: parts of 2, 2 and 1


def _prints(certificate_id):
    from ground.extensions import db
    from models import AuditLog

    return (db.session.query(AuditLog)
            .filter_by(action="print", object_type="Certificate", object_id=str(certificate_id)).all())


def _audits(action, job_id):
    from ground.extensions import db
    from models import AuditLog

    return db.session.query(AuditLog).filter_by(action=action, object_type="Job", object_id=str(job_id)).count()


def _newest_job():
    from ground.extensions import db
    from models import Job

    return db.session.query(Job).order_by(Job.id.desc()).first()


def _job_files(app, job_id):
    from pathlib import Path

    return sorted(p.name for p in Path(app.config["JOB_RESULT_FOLDER"]).iterdir() if p.name.startswith(f"{job_id}-"))


def _page_names(data: bytes) -> list[str]:
    pages = PdfReader(io.BytesIO(data)).pages
    return [next(name for name in NAMES if name in page.extract_text()) for page in pages]


def test_ministry_prints_the_batch_as_a_job_in_parts(app, batch, small_parts):
    ministry = login(app.test_client(), batch["staff"].ministry)
    with app.app_context():
        before = {cid: len(_prints(cid)) for cid, _name in batch["certificates"]}
    resp = job_result(ministry, f"/certificates/batch/{batch['id']}")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert "certificates-" in resp.headers["Content-Disposition"]
    # one page per valid certificate, in certificate-number order, across the three parts
    assert _page_names(resp.data) == [name for _cid, name in batch["certificates"]]
    with app.app_context():
        job = _newest_job()
        assert (job.kind, job.state, job.unit) == ("certificate_batch", "done", "certificates")
        assert (job.parts_total, job.parts_done) == (3, 3)
        assert (job.progress_done, job.progress_total) == (5, 5)
        assert job.outcome["certificates"] == 5 and job.outcome["batch"] == batch["number"]
        for cid, _name in batch["certificates"]:
            rows = _prints(cid)
            assert len(rows) == before[cid] + 1
            assert rows[-1].detail["batch"] == batch["number"] and rows[-1].detail["job"] == job.id
            assert rows[-1].user_id == f.user(batch["staff"].ministry).id
        assert _audits("job_start", job.id) == 1 and _audits("job_done", job.id) == 1
        assert _job_files(app, job.id) == [job.result_key]  # the parts and the plan are gone: only the result


def test_the_parts_give_the_same_pages_as_one_part(app, batch, monkeypatch):
    ministry = login(app.test_client(), batch["staff"].ministry)
    monkeypatch.setitem(app.config, "CERTIFICATES_PER_PART", 1000)
    whole = job_result(ministry, f"/certificates/batch/{batch['id']}").data
    monkeypatch.setitem(app.config, "CERTIFICATES_PER_PART", 1)
    parted = job_result(ministry, f"/certificates/batch/{batch['id']}").data
    assert len(PdfReader(io.BytesIO(parted)).pages) == 5
    # the same pages: the same printed text, but for the minute each document was generated (reports/pdf.py)
    texts = [[re.sub(r"\d{2}:\d{2}", "hh:mm", page.extract_text()) for page in PdfReader(io.BytesIO(data)).pages]
             for data in (whole, parted)]
    assert texts[0] == texts[1]


def test_province_cannot_print_a_batch(app, batch):
    from ground.extensions import db
    from models import Job

    with app.app_context():
        jobs_before = db.session.query(Job).count()
    province = login(app.test_client(), batch["staff"].province("11"))
    assert province.get(f"/certificates/batch/{batch['id']}").status_code in (403, 404)
    with app.app_context():
        assert db.session.query(Job).count() == jobs_before


def test_unpublished_batch_gives_a_warning_and_no_job(app, batch):
    from ground.extensions import db
    from models import AnnouncementBatch, Job

    with app.app_context():
        draft = AnnouncementBatch(title="未发布的公告（分批）", state="draft")
        db.session.add(draft)
        db.session.commit()
        draft_id, jobs_before = draft.id, db.session.query(Job).count()
    ministry = login(app.test_client(), batch["staff"].ministry)
    resp = ministry.get(f"/certificates/batch/{draft_id}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/announcements/show/{draft_id}")
    page = ministry.get(resp.headers["Location"]).get_data(as_text=True)
    assert "no valid certificates to print" in page
    with app.app_context():
        assert db.session.query(Job).count() == jobs_before
    assert ministry.get("/certificates/batch/999999999").status_code == 404


@pytest.fixture
def held_parts(app, monkeypatch, small_parts):
    """The parts are planned but not sent: the test runs them itself (as a worker would)."""
    sent = []  # the app's own task: another app of the session may be Celery's default
    monkeypatch.setattr(app.extensions["celery"].tasks["jobs.part"], "apply_async", lambda args, **kw: sent.append(args))
    return sent


def _start_held(app, batch, held_parts):
    ministry = login(app.test_client(), batch["staff"].ministry)
    resp = ministry.get(f"/certificates/batch/{batch['id']}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/jobs/")
    with app.app_context():
        job = _newest_job()
        assert job.state == "running" and job.parts_total == 3 and job.parts_done == 0
    assert [number for _job, number in held_parts] == [0, 1, 2]
    return job.id


def test_running_the_parts_twice_changes_nothing_twice(app, batch, held_parts):
    from app import jobs
    from ground.extensions import db
    from models import Job

    job_id = _start_held(app, batch, held_parts)
    with app.app_context():
        before = {cid: len(_prints(cid)) for cid, _name in batch["certificates"]}
        assert jobs.execute_part(job_id, 0) == "counted"
        assert jobs.execute_part(job_id, 0) == "skipped"  # already rendered: not rendered, not counted again
        assert db.session.get(Job, job_id).parts_done == 1
        assert f"{job_id}-part-0.pdf" in _job_files(app, job_id)
        assert jobs.execute_part(job_id, 1) == "counted"
        assert jobs.execute_part(job_id, 2) == "done"
        job = db.session.get(Job, job_id)
        db.session.refresh(job)
        assert job.state == "done" and job.parts_done == 3 and job.progress_done == 5
        result = jobs.result_path(job).read_bytes()
        for number in range(3):
            assert jobs.execute_part(job_id, number) == "skipped"
        db.session.refresh(job)
        assert job.state == "done" and job.parts_done == 3
        assert jobs.result_path(job).read_bytes() == result
        assert all(len(_prints(cid)) == before[cid] + 1 for cid in before)
        assert _audits("job_done", job_id) == 1
        assert _job_files(app, job_id) == [job.result_key]
    assert _page_names(result) == [name for _cid, name in batch["certificates"]]


def test_cancel_stops_the_remaining_parts_and_removes_the_rendered_ones(app, batch, held_parts):
    from app import jobs
    from ground.extensions import db
    from models import Job

    job_id = _start_held(app, batch, held_parts)
    with app.app_context():
        before = {cid: len(_prints(cid)) for cid, _name in batch["certificates"]}
        assert jobs.execute_part(job_id, 0) == "counted"
        assert jobs.cancel(db.session.get(Job, job_id), f.user(batch["staff"].ministry))
        assert jobs.execute_part(job_id, 1) == "cancelled"
        assert jobs.execute_part(job_id, 2) == "skipped"
        job = db.session.get(Job, job_id)
        db.session.refresh(job)
        assert job.state == "cancelled" and job.result_key is None
        assert _job_files(app, job_id) == []
        assert all(len(_prints(cid)) == before[cid] for cid in before)
        assert _audits("job_cancelled", job_id) == 1


def test_a_failing_part_ends_the_job_failed_without_files(app, batch, held_parts, monkeypatch):
    from app import jobs
    from ground.extensions import db
    from models import Certificate, Job

    job_id = _start_held(app, batch, held_parts)
    with app.app_context():
        assert jobs.execute_part(job_id, 0) == "counted"
        certificate_id = batch["certificates"][2][0]  # in part 1
        db.session.get(Certificate, certificate_id).status = "revoked"
        db.session.commit()
        try:
            assert jobs.execute_part(job_id, 1) == "failed"
        finally:
            db.session.get(Certificate, certificate_id).status = "valid"
            db.session.commit()
        assert jobs.execute_part(job_id, 2) == "skipped"
        job = db.session.get(Job, job_id)
        db.session.refresh(job)
        assert job.state == "failed" and re.search("changed while they were being printed", job.error)
        assert _job_files(app, job_id) == []
        assert _audits("job_failed", job_id) == 1
