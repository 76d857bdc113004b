"""Jobs run by a real Celery worker on Redis (tests/jobs/conftest.py), on SQLite and PostgreSQL: an export started
through the page runs to its file with its audit rows; other people cannot reach it; a worker killed in the middle
of a job leaves no half-written file, and the job runs again (or ends failed) once the reaper sees it."""
import csv
import io
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from flask import g
from flask_babel import force_locale
from sqlalchemy import select

from tests.conftest import csrf_token, login
from tests import factories as f
from tests.jobs import kinds  # noqa: F401 (registers the test job kinds here too)
from ground.clock import now_utc
from ground.extensions import db
from models import AuditLog, Job
from app import jobs

WAIT_SECONDS = 60


def wait_for(client, job_id, states=("done", "failed", "cancelled")) -> dict:
    """Poll /jobs/status (as the page does) until the job reaches one of `states`; bounded, not a timing check."""
    deadline = time.monotonic() + WAIT_SECONDS
    seen = None
    while time.monotonic() < deadline:
        found = client.get(f"/jobs/status?ids={job_id}").get_json()["jobs"]
        seen = found[0] if found else None
        if seen and seen["state"] in states:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not reach {states} in {WAIT_SECONDS} s: {seen}")


def wait_until(app, job_id, condition, what):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        with app.app_context():
            job = db.session.get(Job, job_id)
            ok = condition(job)
            db.session.remove()
        if ok:
            return
        time.sleep(0.1)
    raise AssertionError(f"job {job_id}: {what} did not happen in {WAIT_SECONDS} s")


def _newest_job_id(app, username) -> int:
    with app.app_context():
        user = f.user(username)
        return db.session.execute(select(Job.id).where(Job.created_by_fk == user.id).order_by(Job.id.desc())).scalar()


def test_an_export_runs_on_the_worker_and_only_its_owner_reaches_it(rig):
    app = rig.app
    token = "队列" + uuid.uuid4().hex[:8]
    with app.app_context():
        enterprise = f.make_enterprise("11", name=f"{token}企业")
        for i in range(6):
            f.make_registered(enterprise, name=f"{token}{i}")
        staff = f.Staff()
        ministry = staff.ministry
        others = [staff.province("11"), staff.enterprise(enterprise), f.make_user("Admin")]
    client = login(app.test_client(), ministry)
    resp = client.get(f"/exports/registrations/export/csv/?flt0_employer={token}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/jobs/")
    job_id = _newest_job_id(app, ministry)
    assert job_id

    final = wait_for(client, job_id)
    assert final["state"] == "done", final
    assert final["done"] == final["total"] == 6 and final["percent"] == 100
    download = client.get(f"/jobs/{job_id}/download")
    assert download.status_code == 200
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 7 and all(token in ",".join(row) for row in rows[1:])

    with app.app_context():
        user = f.user(ministry)
        job = db.session.get(Job, job_id)
        assert job.attempts == 1 and job.outcome["rows"] == 6
        audit = db.session.execute(select(AuditLog).where(AuditLog.user_id == user.id, AuditLog.id > 0)
                                   .order_by(AuditLog.id)).scalars().all()
        of_job = [(a.action, a.object_type) for a in audit if a.object_id == str(job_id)]
        assert of_job == [("job_start", "Job"), ("job_done", "Job"), ("download", "Job")]
        export = [a for a in audit if a.action == "export" and token in str(a.detail)]
        assert len(export) == 1 and export[0].detail["rows"] == 6

    for username in others:
        other = login(app.test_client(), username)
        assert other.get(f"/jobs/{job_id}/download").status_code == 404
        token_ = csrf_token(other, "/jobs/")
        assert other.post(f"/jobs/{job_id}/cancel", data={"csrf_token": token_}).status_code == 404
        assert other.post(f"/jobs/{job_id}/retry", data={"csrf_token": token_}).status_code == 404
        assert f'data-job-id="{job_id}"' not in other.get("/jobs/").get_data(as_text=True)
        assert other.get(f"/jobs/status?ids={job_id}").get_json()["jobs"] == []
    with app.app_context():
        assert db.session.get(Job, job_id).state == "done"  # nobody else's post changed it


def test_the_operations_page_lists_the_live_worker_and_the_queues(rig):
    with rig.app.app_context():
        admin = f.make_user("Admin")
    page = login(rig.app.test_client(), admin).get("/jobs/operations/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert rig.workers[0].name in html  # the worker's own heartbeat row
    assert "broker not reachable" not in html


def _slow_job(app, username, steps) -> int:
    with app.app_context():
        user = f.user(username)
        return jobs.start("test-slow", {"steps": steps, "pause": 0.2}, user, title="slow").id


def _audit_actions(app, job_id) -> list:
    with app.app_context():
        return db.session.execute(select(AuditLog.action).where(AuditLog.object_type == "Job",
                                                                AuditLog.object_id == str(job_id))
                                  .order_by(AuditLog.id)).scalars().all()


def test_a_killed_worker_leaves_no_file_and_the_job_runs_again_or_fails(make_rig, backend):
    if backend != "postgresql":
        pytest.skip("SIGKILL in the middle of a write: PostgreSQL (SQLite's single writer is not the point here)")
    rig = make_rig(JOB_STALE_SECONDS=5, JOB_MAX_ATTEMPTS=2)
    app = rig.app
    with app.app_context():
        ministry = f.make_user("Ministry")
    first = rig.start_worker()
    job_id = _slow_job(app, ministry, steps=25)
    wait_until(app, job_id, lambda j: j.state == "running" and (j.progress_done or 0) >= 3, "progress")
    first.kill()

    results = rig.results
    with app.app_context():
        job = db.session.get(Job, job_id)
        assert job.state == "running" and job.attempts == 1 and job.progress_done < 25
        assert [p.name for p in Path(results).glob("*.part")]  # the killed attempt's part
        # Nothing has been reaped while the heartbeat is fresh; seen from later it is stale.
        assert jobs.reap()["requeued"] == 0
        figures = jobs.reap(now=now_utc() + timedelta(seconds=30))
        assert figures["requeued"] == 1 and figures["parts_removed"] == 1
        assert db.session.get(Job, job_id).state == "queued"
    assert not list(Path(results).iterdir())  # no part, no result of the killed attempt
    assert _audit_actions(app, job_id) == ["job_start"]

    second = rig.start_worker()  # the message sent again by reap waits for it in Redis
    client = login(app.test_client(), ministry)
    final = wait_for(client, job_id)
    assert final["state"] == "done" and final["done"] == 25
    with app.app_context():
        assert db.session.get(Job, job_id).attempts == 2
    text = client.get(f"/jobs/{job_id}/download").get_data(as_text=True)
    assert text.startswith("start\n") and text.endswith("end\n") and text.count("step ") == 25
    assert _audit_actions(app, job_id) == ["job_start", "job_done", "download"]

    # Killed again on its last attempt: the reaper ends it failed, with the reason, and no file.
    again = _slow_job(app, ministry, steps=25)
    wait_until(app, again, lambda j: j.state == "running" and (j.progress_done or 0) >= 3, "progress")
    second.kill()
    with app.app_context(), force_locale("en"):
        g.test_locale = "en"  # flask-babel forces a locale only where g is not empty
        db.session.execute(Job.__table__.update().where(Job.id == again).values(attempts=2))
        db.session.commit()
        assert jobs.reap(now=now_utc() + timedelta(seconds=30))["failed"] == 1
        job = db.session.get(Job, again)
        assert job.state == "failed" and "worker running this job stopped" in job.error
        assert job.result_key is None
    assert sorted(p.name.split("-")[0] for p in Path(results).iterdir()) == [str(job_id)]
    assert _audit_actions(app, again) == ["job_start", "job_failed"]
