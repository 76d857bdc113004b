"""The backup as a job (ops/backup.py, kind "backup"): a restorable archive appears in BACKUP_FOLDER only when
complete, a failure or a cancellation leaves nothing behind, the nightly schedule starts one backup a day, and
`flask backup` without a file starts the job and waits for it (or, with --no-wait, does not)."""
import contextlib
import re
import stat

import pytest
from celery import _state as celery_state
from sqlalchemy import func, select, update

import ops.backup
import ops.cli
from app import jobs
from ground.extensions import db
from models import Job, PeriodicRun
from ops.backup import restore_backup
from tests import factories as f
from tests.conftest import app_on_own_database

NAME = re.compile(r"backup-\d{8}-\d{6}\.tar\.gz")


@pytest.fixture(scope="module")
def source(backend, tmp_path_factory):
    """An app on a database of its own with a registered person (attachments), and its own backup folder."""
    folder = tmp_path_factory.mktemp("backups")
    with app_on_own_database(backend, tmp_path_factory, BACKUP_FOLDER=str(folder)) as application:
        with application.app_context():
            f.register(f.Staff(), f.make_enterprise())
            db.session.remove()
        yield application


@pytest.fixture
def app(source):
    """Jobs started here run on `source` (Celery's current app is the last one created)."""
    celery = source.extensions["celery"]
    current, default = celery_state._tls.current_app, celery_state.default_app
    celery.set_current()
    celery.set_default()
    try:
        yield source
    finally:
        celery_state.set_default_app(default)
        celery_state._set_current_app(current)


@pytest.fixture
def folder(app, tmp_path_factory):
    """An empty backup folder of the test's own."""
    path = tmp_path_factory.mktemp("backups")
    before = app.config["BACKUP_FOLDER"]
    app.config["BACKUP_FOLDER"] = str(path)
    yield path
    app.config["BACKUP_FOLDER"] = before


def start_backup(app) -> Job:
    with app.test_request_context():
        job = jobs.start("backup", {}, None)
        db.session.refresh(job)
        db.session.expunge(job)
        return job


def backup_jobs(app) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(Job).where(Job.kind == "backup")).scalar()


def test_backup_job_writes_a_restorable_archive_into_the_folder(app, folder):
    job = start_backup(app)
    assert job.state == "done", job.error
    [archive] = list(folder.iterdir())  # no temporary folder left beside it
    assert NAME.fullmatch(archive.name) and job.outcome["file"] == archive.name
    assert job.outcome["size"] == archive.stat().st_size and job.outcome["attachments"] >= 1
    assert stat.S_IMODE(archive.stat().st_mode) & 0o077 == 0  # every person's data: the owner only
    assert (job.progress_done, job.progress_total) == (3, 3)
    assert job.result_key is None  # never a download
    with app.app_context():
        manifest = restore_backup(archive, force=True)  # checks the whole archive, then restores it
    assert manifest["attachments"] == job.outcome["attachments"]


def test_a_failed_backup_leaves_no_file(app, folder, monkeypatch):
    def broken(tar, name, path):
        tar.fileobj.write(b"x" * 1000)  # some bytes of the archive are written, then the disk fills up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ops.backup, "_add_file", broken)
    job = start_backup(app)
    assert job.state == "failed" and ("unexpected error" in job.error or "意外错误" in job.error)
    assert list(folder.iterdir()) == []


def test_a_refused_backup_says_why_and_leaves_the_existing_file(app, folder, monkeypatch):
    (folder / "backup-20260101-020000.tar.gz").write_bytes(b"an older archive")
    monkeypatch.setattr(ops.backup, "archive_name", lambda: "backup-20260101-020000.tar.gz")
    job = start_backup(app)
    assert job.state == "failed" and "exists already" in job.error
    assert [p.name for p in folder.iterdir()] == ["backup-20260101-020000.tar.gz"]
    assert (folder / "backup-20260101-020000.tar.gz").read_bytes() == b"an older archive"


def test_a_cancelled_backup_leaves_no_file(app, folder, monkeypatch):
    original = ops.backup._store_files

    def cancel_then_list(store):  # the person cancels while the database is being dumped
        with db.engine.begin() as conn:
            conn.execute(update(Job).where(Job.kind == "backup", Job.state == "running").values(cancel_requested=True))
        return original(store)

    monkeypatch.setattr(ops.backup, "_store_files", cancel_then_list)
    job = start_backup(app)
    assert job.state == "cancelled"
    assert list(folder.iterdir()) == []


def test_nightly_backup_runs_once_a_day(app, folder):
    runner = app.test_cli_runner()
    before = backup_jobs(app)
    first = runner.invoke(args=["jobs", "run", "nightly-backup", "--date", "2031-05-06"])
    assert first.exit_code == 0 and re.search(r"nightly-backup: job \d+", first.output), first.output
    again = runner.invoke(args=["jobs", "run", "nightly-backup", "--date", "2031-05-06"])
    assert again.exit_code == 0 and "already ran" in again.output
    assert backup_jobs(app) == before + 1
    assert len([p for p in folder.iterdir() if NAME.fullmatch(p.name)]) == 1
    with app.app_context():
        assert db.session.query(PeriodicRun).filter_by(name="nightly-backup", slot="2031-05-06").count() == 1


def test_cli_backup_without_a_file_starts_the_job_and_waits(app, folder, monkeypatch):
    monkeypatch.setattr(jobs, "dispatch", lambda job_id: None)  # no worker yet: the job waits in its queue
    naps = []

    def worker_takes_it(seconds):  # while the command waits, a worker runs the job
        naps.append(seconds)
        job_id = db.session.execute(select(func.max(Job.id)).where(Job.kind == "backup")).scalar()
        with app.app_context():
            jobs.execute(job_id)

    monkeypatch.setattr(ops.cli.time, "sleep", worker_takes_it)
    result = app.test_cli_runner().invoke(args=["backup"])
    assert result.exit_code == 0, result.output
    assert re.search(r"Backup job \d+ started", result.output) and "queued, step 0" in result.output
    assert "done, step 3/3" in result.output and len(naps) == 1
    [archive] = list(folder.iterdir())
    assert f"Backup written to {archive}" in result.output


def test_cli_backup_no_wait_returns_the_job_number(app, folder, monkeypatch):
    monkeypatch.setattr(jobs, "dispatch", lambda job_id: None)

    def no_waiting(_seconds):
        raise AssertionError("--no-wait waited")

    monkeypatch.setattr(ops.cli.time, "sleep", no_waiting)
    result = app.test_cli_runner().invoke(args=["backup", "--no-wait"])
    assert result.exit_code == 0, result.output
    job_id = int(re.search(r"Backup job (\d+) started", result.output).group(1))
    assert "Backup written" not in result.output
    with app.app_context():
        assert db.session.get(Job, job_id).state == "queued"
    assert list(folder.iterdir()) == []


def test_cli_backup_reports_a_failed_job(app, folder, monkeypatch):
    monkeypatch.setattr(ops.backup, "archive_name", lambda: "taken.tar.gz")
    (folder / "taken.tar.gz").write_bytes(b"")
    result = app.test_cli_runner().invoke(args=["backup"])
    assert result.exit_code == 1 and "failed" in result.output and "exists already" in result.output
    assert "Traceback" not in result.output


def test_cli_backup_to_a_file_still_writes_it_here_and_now(app, folder, tmp_path):
    archive = tmp_path / "here.tar.gz"
    before = backup_jobs(app)
    result = app.test_cli_runner().invoke(args=["backup", str(archive)])
    assert result.exit_code == 0, result.output
    assert archive.is_file() and f"Backup written to {archive}" in result.output
    assert backup_jobs(app) == before and list(folder.iterdir()) == []  # no job, nothing in BACKUP_FOLDER
