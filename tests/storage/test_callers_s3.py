"""Every caller of the object store on the S3 backend (moto's server on loopback, a real S3 API): attachments
(saved, streamed through the scoped endpoint, drawn on the certificate), job results (put when done, streamed
on download, purged), work in parts (batch printing: parts and plan in the bucket), backups (archive under
backups/, restored by name), and /readyz turning 503 when the S3 server stops. Nothing lands in the local
folders the local backend would use."""
import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from celery import _state as celery_state
from sqlalchemy import select, update

from app import jobs
from app.services import storage
from ground.clock import now_utc
from ground.extensions import db
from models import AppUser, Attachment, Job
from tests import factories as f
from tests.conftest import app_on_own_database, job_result, login

NAMES = ("司马青云", "欧阳晓峰", "诸葛明月")
SLOW = b"start\nstep 0\nend\n"  # the file of the "test-slow" kind with one step


@pytest.fixture(scope="module")
def s3app(backend, tmp_path_factory, s3_bucket):
    with app_on_own_database(backend, tmp_path_factory, BACKUP_FOLDER=str(tmp_path_factory.mktemp("backups")),
                             **s3_bucket) as application:
        celery = application.extensions["celery"]
        current, default = celery_state._tls.current_app, celery_state.default_app
        celery.set_current()
        celery.set_default()
        import tests.jobs.kinds  # noqa: F401  (the test job kinds)
        staff = f.Staff()
        with application.app_context():
            enterprise = f.make_enterprise("11")
            _username, person_id, _app_id = f.register(staff, enterprise)
            db.session.remove()
        application.extra = {"staff": staff, "person_id": person_id, "enterprise": enterprise}
        try:
            yield application
        finally:
            celery_state.set_default_app(default)
            celery_state._set_current_app(current)


def _files(folder) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file())


def test_attachments_are_objects_of_the_bucket_streamed_through_the_scoped_endpoint(s3app):
    with s3app.app_context():
        store = storage.backend()
        assert store.name == "s3"
        attachments = db.session.execute(select(Attachment).where(
            Attachment.person_id == s3app.extra["person_id"])).scalars().all()
        assert attachments
        keys = store.list("attachments/")
        for item in attachments:
            key = f"attachments/{item.storage_key}"
            assert key in keys and store.sha256(key) == item.sha256
        photo = next(a for a in attachments if a.kind == "photo")
        photo_id, photo_key, photo_sha = photo.id, f"attachments/{photo.storage_key}", photo.sha256
    assert _files(s3app.config["UPLOAD_FOLDER"]) == []  # nothing on this host's disk
    officer = login(s3app.test_client(), s3app.extra["staff"].ministry)
    resp = officer.get(f"/attachments/file/{photo_id}")
    assert resp.status_code == 200 and resp.mimetype == "image/jpeg"
    assert hashlib.sha256(resp.data).hexdigest() == photo_sha
    assert resp.headers["Cache-Control"] == "private, no-store"
    with s3app.app_context():  # the certificate draws the photo from the bucket
        from reports.certificates import _data_uri

        assert _data_uri(db.session.get(Attachment, photo_id)).startswith("data:image/jpeg;base64,")
        data = store.get(photo_key)
        store.delete(photo_key)
        try:
            assert _data_uri(db.session.get(Attachment, photo_id)) is None  # a missing object: no photo, no error
            assert officer.get(f"/attachments/file/{photo_id}").status_code == 404
        finally:
            store.put(photo_key, data)


def test_job_result_is_put_into_the_bucket_streamed_on_download_and_purged(s3app):
    with s3app.test_request_context():
        user = db.session.execute(select(AppUser).where(AppUser.username == s3app.extra["staff"].ministry)).scalar_one()
        job = jobs.start("test-slow", {"steps": 1, "pause": 0}, user)  # not test-steps: it counts runs by job id
        assert job.state == "done" and job.result_key
        key, job_id = f"jobs/{job.result_key}", job.id
        assert storage.backend().get(key) == SLOW
    assert _files(s3app.config["JOB_RESULT_FOLDER"]) == []  # the local working file went to the bucket
    client = login(s3app.test_client(), s3app.extra["staff"].ministry)
    resp = client.get(f"/jobs/{job_id}/download")
    assert resp.status_code == 200 and resp.data == SLOW and resp.headers["Cache-Control"] == "no-store"
    with s3app.app_context():
        db.session.execute(update(Job).where(Job.id == job_id).values(expires_at=now_utc() - timedelta(days=1)))
        storage.backend().put("jobs/999999-stray.csv", b"nobody's")
        db.session.commit()
        figures = jobs.purge()
        assert figures["expired"] >= 1 and figures["orphans"] >= 1
        assert not storage.backend().exists(key) and not storage.backend().exists("jobs/999999-stray.csv")
    resp = client.get(f"/jobs/{job_id}/download")
    assert resp.status_code == 302  # "no longer kept"


def test_a_job_input_kept_on_one_host_is_read_on_another(s3app):
    import io

    with s3app.app_context():
        name = jobs.keep_input(io.BytesIO(b"id_number,name\n"), "csv")
        key = f"jobs/inputs/{name}"
        assert storage.backend().get(key) == b"id_number,name\n"
        local = Path(s3app.config["JOB_RESULT_FOLDER"]) / "inputs" / name
        local.unlink()  # the worker's host has no copy
        assert jobs.input_path({"input": name}).read_bytes() == b"id_number,name\n"
        jobs.drop_input({"input": name})
        assert not local.exists() and not storage.backend().exists(key)


def test_batch_printing_in_parts_keeps_parts_and_plan_in_the_bucket(s3app, monkeypatch):
    from app import announcements
    from models import AnnouncementBatch, Application

    staff = s3app.extra["staff"]
    with s3app.app_context():
        app_ids = []
        for name in NAMES:
            username, _ = f.make_applicant(name=name)
            app_id = f.make_application(username, "initial", enterprise_id=s3app.extra["enterprise"])
            staff.take(app_id, username, "submit", "confirm", "pass", "approve")
            app_ids.append(app_id)
        batch = AnnouncementBatch(title="分批打印", state="draft")
        db.session.add(batch)
        db.session.flush()
        db.session.query(Application).filter(Application.id.in_(app_ids)).update(
            {"announcement_id": batch.id}, synchronize_session=False)
        db.session.commit()
        announcements.publish(batch.id, f.user(staff.ministry))
        batch_id = batch.id
    monkeypatch.setitem(s3app.config, "CERTIFICATES_PER_PART", 1)  # three parts
    ministry = login(s3app.test_client(), staff.ministry)
    resp = job_result(ministry, f"/certificates/batch/{batch_id}")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    from pypdf import PdfReader
    import io
    assert len(PdfReader(io.BytesIO(resp.data)).pages) == len(NAMES)
    with s3app.app_context():
        job = db.session.query(Job).order_by(Job.id.desc()).first()
        assert job.parts_total == 3 and job.parts_done == 3
        assert storage.backend().list(f"jobs/{job.id}-") == [f"jobs/{job.result_key}"]  # parts and plan removed
    assert _files(s3app.config["JOB_RESULT_FOLDER"]) == []


def test_backup_archive_goes_to_the_bucket_and_restores_from_it(s3app):
    from ops.backup import restore_backup

    with s3app.test_request_context():
        job = jobs.start("backup", {}, None)
        assert job.state == "done", job.error
        name = job.outcome["file"]
        store = storage.backend()
        assert store.list("backups/") == [f"backups/{name}"]
        before = {key: store.sha256(key) for key in store.list("attachments/")}
        assert job.outcome["attachments"] == len(before) >= 1
        changed = sorted(before)[0]
        store.put(changed, b"changed")
        store.put("attachments/stray/file.bin", b"stray")
    assert _files(s3app.config["BACKUP_FOLDER"]) == []  # staged locally, then put into the bucket
    with s3app.app_context():
        lines = []
        restore_backup(name, force=True, progress=lines.append)  # by its name in the bucket
        store = storage.backend()
        assert {key: store.sha256(key) for key in store.list("attachments/")} == before
        assert any("object store" in line for line in lines)


def test_readyz_checks_the_bucket_and_is_503_when_the_s3_server_stops(s3app, s3_server):
    resp = s3app.test_client().get("/readyz")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["checks"]["storage"]["ok"] is True
    s3_server.stop()
    try:
        resp = s3app.test_client().get("/readyz")
        body = resp.get_json()
        assert resp.status_code == 503 and body["checks"]["storage"]["ok"] is False
        assert body["checks"]["database"]["ok"] is True
        officer = login(s3app.test_client(), s3app.extra["staff"].ministry)
        with s3app.app_context():
            photo = db.session.execute(select(Attachment.id).where(
                Attachment.person_id == s3app.extra["person_id"], Attachment.kind == "photo")).scalars().first()
        assert officer.get(f"/attachments/file/{photo}").status_code == 503  # no 500 while the store is down
        with s3app.app_context():
            done = db.session.execute(select(Job.id).where(Job.state == "done", Job.result_key.is_not(None))
                                      .order_by(Job.id.desc())).scalars().first()
        assert done is not None
        assert officer.get(f"/jobs/{done}/download").status_code == 503
    finally:
        s3_server.start()
    assert s3app.test_client().get("/readyz").status_code == 200
