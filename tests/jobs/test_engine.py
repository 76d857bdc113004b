"""The job engine and 我的任务 in eager mode (the job runs inside the call that starts it), on every backend:
claiming, cancelling, retrying, failures, transient database errors, reaping, purging, who sees which job, the
navbar badge, the `flask jobs` commands and the administrator's operations page."""
import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from tests.conftest import csrf_token, login
from tests import factories as f
from tests.jobs import kinds
from ground.clock import now_utc
from ground.extensions import db
from models import AuditLog, Job, WorkerStatus
from app import jobs


def _queued(username, how="ok", **fields) -> int:
    """A job recorded as queued and not sent anywhere (the engine's own calls then run it)."""
    fields = {"state": "queued", **fields}
    job = Job(kind="test-steps", params={"how": how}, title=f"steps {how}", unit="steps",
              created_by_fk=f.user(username).id, created_at=now_utc(), **fields)
    db.session.add(job)
    db.session.commit()
    return job.id


def _job(job_id) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def _actions(job_id) -> list:
    return db.session.execute(select(AuditLog.action).where(AuditLog.object_type == "Job",
                                                            AuditLog.object_id == str(job_id))
                              .order_by(AuditLog.id)).scalars().all()


def _files(job_id) -> list:
    return sorted(p.name for p in jobs.results_folder().glob(f"{job_id}-*"))


def _generic() -> str:
    """The message of an unexpected failure, in the language the job ran in (Chinese: it had none)."""
    with jobs.acting_as(None, "zh"):
        return jobs._unexpected()


def test_a_job_is_claimed_once_and_a_second_delivery_changes_nothing(ctx):
    job_id = _queued(f.make_user("Ministry"))
    assert jobs.execute(job_id) == "done"
    done = _job(job_id)
    finished, key = done.finished_at, done.result_key
    assert done.state == "done" and done.attempts == 1 and done.progress_done == done.progress_total == 3
    assert jobs.execute(job_id) == "skipped"
    jobs.dispatch(job_id)  # the same message delivered again
    again = _job(job_id)
    assert (again.state, again.attempts, again.finished_at, again.result_key) == ("done", 1, finished, key)
    assert kinds.CALLS[kinds.key(job_id)] == 1
    assert _actions(job_id) == ["job_done"]
    assert _files(job_id) == [key]


def test_cancelling_a_queued_job_ends_it_at_once(ctx):
    username = f.make_user("Province", province_code="11")
    job_id = _queued(username)
    assert jobs.cancel(_job(job_id), f.user(username))
    job = _job(job_id)
    assert job.state == "cancelled" and job.finished_at is not None
    assert _actions(job_id) == ["job_cancelled"]
    actor = select(AuditLog.username).where(AuditLog.object_type == "Job", AuditLog.object_id == str(job_id))
    assert db.session.execute(actor).scalar() == username
    assert not jobs.cancel(job, f.user(username))  # already ended
    assert jobs.execute(job_id) == "skipped"


def test_cancelling_a_running_job_stops_its_work_at_the_next_step(ctx):
    username = f.make_user("Ministry")
    job = jobs.start("test-steps", {"how": "cancel_self"}, f.user(username))
    job = _job(job.id)
    assert job.state == "cancelled" and job.cancel_requested
    assert kinds.REACHED[kinds.key(job.id)] == 1  # the work stopped at check(), before its second step
    assert job.result_key is None and _files(job.id) == []
    assert _actions(job.id) == ["job_start", "job_cancel", "job_cancelled"]


def test_a_user_error_shows_its_message_and_a_crash_a_generic_one_without_file(app):
    with app.app_context():
        username = f.make_user("Ministry")
    client = login(app.test_client(), username)
    with app.app_context():
        user = f.user(username)
        told = jobs.start("test-steps", {"how": "user_error"}, user).id
        crashed = jobs.start("test-steps", {"how": "crash"}, user).id
        assert _job(told).state == _job(crashed).state == "failed"
        assert _job(told).error == "The roster has no rows."
        assert _job(crashed).error == _generic() and "secret" not in _job(crashed).error
        for job_id in (told, crashed):
            assert _job(job_id).result_key is None and _files(job_id) == []
            assert _actions(job_id) == ["job_start", "job_failed"]
    page = client.get("/jobs/").get_data(as_text=True)
    assert "The roster has no rows." in page and "secret internal detail" not in page
    assert f'href="/jobs/{crashed}/download"' not in page


def test_retry_starts_a_new_job_with_the_same_params(app):
    with app.app_context():
        username = f.make_user("Enterprise", enterprise_id=f.make_enterprise("11"))
    client = login(app.test_client(), username)
    with app.app_context():
        failed = jobs.start("test-steps", {"how": "user_error", "extra": [1, 2]}, f.user(username)).id
        done = jobs.start("test-steps", {"how": "ok"}, f.user(username)).id
        before = db.session.execute(select(func.max(Job.id))).scalar()
    token = csrf_token(client, "/jobs/")
    assert client.post(f"/jobs/{failed}/retry", data={"csrf_token": token}).status_code == 302
    assert client.post(f"/jobs/{done}/retry", data={"csrf_token": token}).status_code == 302  # refused: it is done
    with app.app_context():
        new = db.session.execute(select(Job).where(Job.id > before)).scalars().all()
        assert len(new) == 1
        old = _job(failed)
        assert new[0].kind == old.kind and new[0].title == old.title and new[0].created_by_fk == old.created_by_fk
        assert {k: v for k, v in new[0].params.items() if k != "ip"} == {k: v for k, v in old.params.items()
                                                                         if k != "ip"}
        assert old.state == "failed"  # the old one keeps its history


def test_a_transient_database_error_runs_the_job_again_until_its_last_attempt(ctx, app):
    username = f.make_user("Ministry")
    for how in ("transient", "invalidated"):
        job_id = _queued(username, how=how)
        assert jobs.execute(job_id) == "retry"
        job = _job(job_id)
        assert job.state == "queued" and job.attempts == 1 and job.finished_at is None
    # Started for real: Celery's retries run it again (eagerly here) until JOB_MAX_ATTEMPTS, then it fails.
    job = jobs.start("test-steps", {"how": "transient"}, f.user(username))
    job = _job(job.id)
    assert kinds.CALLS[kinds.key(job.id)] == app.config["JOB_MAX_ATTEMPTS"] == job.attempts
    assert job.state == "failed" and job.error == _generic()
    assert _actions(job.id) == ["job_start", "job_failed"] and _files(job.id) == []


def test_purge_deletes_expired_results_and_stray_files(ctx):
    username = f.make_user("Ministry")
    old, kept = (jobs.start("test-steps", {}, f.user(username)).id for _ in range(2))
    old_file = jobs.results_folder() / _job(old).result_key
    kept_file = jobs.results_folder() / _job(kept).result_key
    db.session.execute(update(Job).where(Job.id == old).values(expires_at=now_utc() - timedelta(minutes=1)))
    db.session.commit()
    stray = jobs.results_folder() / "999999-stray.csv"
    stray.write_text("nobody's")
    assert old_file.is_file() and kept_file.is_file()
    figures = jobs.purge()
    assert figures["expired"] >= 1 and figures["orphans"] >= 1
    assert not old_file.exists() and not stray.exists() and kept_file.is_file()
    assert _job(old).result_key is None and jobs.result_path(_job(old)) is None
    assert jobs.purge() == {"expired": 0, "orphans": 0}  # idempotent


def test_reap_runs_lost_jobs_again_ends_the_last_attempt_and_removes_orphan_parts(ctx):
    username = f.make_user("Ministry")
    hour_ago = now_utc() - timedelta(hours=1)
    lost = _queued(username, state="running", attempts=1, heartbeat_at=hour_ago)
    spent = _queued(username, state="running", attempts=3, heartbeat_at=hour_ago)
    alive = _queued(username, state="running", attempts=1, heartbeat_at=now_utc())
    folder = jobs.results_folder()
    orphan, live_part = folder / f"{lost}-deadbeef.part", folder / f"{alive}-cafef00d.part"
    orphan.write_text("half")
    live_part.write_text("being written")
    figures = jobs.reap()
    assert figures["requeued"] >= 1 and figures["failed"] >= 1 and figures["parts_removed"] >= 1
    ran = _job(lost)
    assert ran.state == "done" and ran.attempts == 2  # requeued, sent, run again (eagerly here)
    assert _job(spent).state == "failed" and _job(spent).error
    assert _job(alive).state == "running"
    assert not orphan.exists() and live_part.exists()
    assert _actions(spent) == ["job_failed"]
    db.session.execute(update(Job).where(Job.id == alive).values(state="failed"))
    db.session.commit()
    live_part.unlink()


def test_who_sees_a_job(app):
    with app.app_context():
        enterprise = f.make_enterprise("11")
        ministry, colleague = f.make_user("Ministry"), f.make_user("Ministry")
        province, admin = f.make_user("Province", province_code="11"), f.make_user("Admin")
        boss, clerk = (f.make_user("Enterprise", enterprise_id=enterprise) for _ in range(2))
        shared = jobs.start("test-steps", {}, f.user(ministry)).id
        own = jobs.start("test-steps", {}, f.user(boss)).id
    sees = {}
    for username in (ministry, colleague, province, admin, boss, clerk):
        client = login(app.test_client(), username)
        listed = client.get(f"/jobs/status?ids={shared},{own}").get_json()["jobs"]
        page = client.get("/jobs/").get_data(as_text=True)
        sees[username] = sorted(j["id"] for j in listed)
        assert sees[username] == sorted(int(i) for i in re.findall(r'data-job-id="(\d+)"', page)
                                        if int(i) in (shared, own))
        for job_id in (shared, own):
            status = client.get(f"/jobs/{job_id}/download").status_code
            assert status == (200 if job_id in sees[username] else 404), (username, job_id)
    assert sees == {ministry: [shared], colleague: [shared], province: [], admin: [], boss: [own], clerk: []}


def test_the_badge_counts_active_and_unseen_finished_jobs_until_the_page_is_visited(app):
    with app.app_context():
        username = f.make_user("Province", province_code="31")
        user = f.user(username)
        for how in ("ok", "crash"):
            jobs.start("test-steps", {"how": how}, user)
        active = _queued(username)
    client = login(app.test_client(), username)

    def badge():
        return client.get("/jobs/status").get_json()["badge"]

    assert badge() == 3
    assert 'id="jobs-badge">3<' in client.get("/", follow_redirects=True).get_data(as_text=True)  # the navbar
    client.get("/jobs/")
    assert badge() == 1  # only the job still waiting
    with app.app_context():
        db.session.execute(update(Job).where(Job.id == active).values(state="cancelled", finished_at=now_utc()))
        db.session.commit()
    assert badge() == 1  # ended, not yet seen
    client.get(f"/jobs/status?ids={active}")  # the page's poll saw it end
    assert badge() == 0


def test_flask_jobs_commands(app):
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["jobs", "list"])
    assert listed.exit_code == 0
    for name in ("reap-lost-jobs", "purge-job-results", "nightly-backup"):
        assert name in listed.output
    reaped = runner.invoke(args=["jobs", "run", "reap-lost-jobs"])
    assert reaped.exit_code == 0 and "requeued" in reaped.output, reaped.output
    first = runner.invoke(args=["jobs", "run", "purge-job-results", "--date", "2026-12-01"])
    assert first.exit_code == 0 and "expired" in first.output, first.output
    second = runner.invoke(args=["jobs", "run", "purge-job-results", "--date", "2026-12-01"])
    assert second.exit_code == 0 and "already ran" in second.output, second.output
    forced = runner.invoke(args=["jobs", "run", "purge-job-results", "--date", "2026-12-01", "--force"])
    assert forced.exit_code == 0 and "expired" in forced.output, forced.output
    unknown = runner.invoke(args=["jobs", "run", "no-such-job"])
    assert unknown.exit_code != 0 and "No periodic job named no-such-job" in unknown.output


def test_the_operations_page_shows_workers_queues_and_failures(app):
    with app.app_context():
        admin = f.make_user("Admin")
        worker = f"probe-{f.next_serial()}@host"
        db.session.add(WorkerStatus(hostname=worker, pid=4242, queues="default,exports", started_at=now_utc(),
                                    seen_at=now_utc()))
        db.session.commit()
        failed = jobs.start("test-steps", {"how": "user_error"}, f.user(f.make_user("Ministry")))
    client = login(app.test_client(), admin)
    resp = client.get("/jobs/operations/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert f"{worker} (4242)" in html and "The roster has no rows." in html and f"<td>{failed.id}</td>" in html
    for queue in jobs.QUEUES:
        assert f"<code>{queue}</code>" in html


def test_the_embedded_broker_takes_a_job_and_counts_it(app, database, tmp_path_factory, tmp_path):
    """The default broker (kombu's SQLAlchemy transport on a SQLite file) accepts what the app sends: the job
    stays queued for a worker (not failed on a refused connection) and the queue shows it."""
    from tests.conftest import another_app

    broker = f"sqla+sqlite:///{tmp_path / 'broker.db'}"
    with another_app(database, tmp_path_factory, JOBS_EAGER=False, CELERY_BROKER_URL=broker) as other:
        with other.app_context():
            job_id = _queued(f.make_user("Ministry"))
            jobs.dispatch(job_id)
            assert _job(job_id).state == "queued" and _job(job_id).error is None
            assert jobs.queue_lengths()["default"] == 1
            db.session.delete(_job(job_id))
            db.session.commit()
