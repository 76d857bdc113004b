"""Real Celery workers for tests/jobs/: a `celery -A worker worker` subprocess on the machine's Redis, on the same
test database as the `app` fixture, and a test app that enqueues for real (JOBS_EAGER off).

Every rig has its own Redis key prefix (kombu's global_keyprefix, CELERY_KEY_PREFIX), so parallel xdist workers and
CI runs never take each other's messages; its keys are deleted and its workers stopped at the end. Without a
reachable Redis the tests that need one are skipped.
"""
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from tests.conftest import another_app  # first: it sets the test environment up
from ground.extensions import db  # noqa: E402
from models import WorkerStatus  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
READY_SECONDS = 60


def redis_reachable() -> str | None:
    """None when Redis answers, else why not."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"Redis is not reachable at {REDIS_URL} ({type(exc).__name__}): the real-worker tests need it"
    return None


def worker_database_url(database) -> str:
    """The test database as a DATABASE_URL for a subprocess (PostgreSQL: the test schema in the URL)."""
    if "schema" in database:
        return f"{database['uri']}?options=-csearch_path%3D{database['schema']}"
    return database["uri"]


class RealWorker:
    """One `celery -A worker worker` process group."""

    def __init__(self, env, log):
        self.name = f"test-{uuid.uuid4().hex[:8]}"
        self.log = log
        self._out = open(log, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", "default,exports,documents",
             "-c", "2", "--without-heartbeat", "--without-mingle", "--without-gossip", "-l", "warning",
             "-n", f"{self.name}@%h"],
            cwd=ROOT, env=env, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, app):
        """Until the worker has written its WorkerStatus row (app.jobs._watch_workers), at most READY_SECONDS."""
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with app.app_context():
                found = db.session.execute(select(WorkerStatus.hostname)
                                           .where(WorkerStatus.hostname.like(f"{self.name}@%"))).first()
                db.session.remove()
            if found:
                return self
            time.sleep(0.2)
        tail = Path(self.log).read_text(errors="replace")[-3000:]
        self.stop()
        raise AssertionError(f"the worker did not start:\n{tail}")

    def kill(self):
        """SIGKILL the whole process group, as a crashed host would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._out.close()

    def stop(self):
        """Warm shutdown; killed if it does not end."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        try:  # pool children left behind by a parent that ended first
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._out.close()


class Rig:
    """A Redis key prefix, a result folder, a test app that enqueues on them, and the workers started on them."""

    def __init__(self, database, tmp_path_factory, **settings):
        self.database = database
        self.prefix = f"registry-test-{uuid.uuid4().hex[:12]}:"
        self.results = str(tmp_path_factory.mktemp("real_job_results"))
        self.instance = str(tmp_path_factory.mktemp("worker_instance"))
        self.settings = {"JOB_STALE_SECONDS": 120, "JOB_MAX_ATTEMPTS": 3, **settings}
        self.workers = []
        self._app = another_app(database, tmp_path_factory, JOBS_EAGER=False, CELERY_BROKER_URL=REDIS_URL,
                                CELERY_KEY_PREFIX=self.prefix, JOB_RESULT_FOLDER=self.results, **self.settings)
        self.app = self._app.__enter__()

    def env(self) -> dict:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("PYTEST", "COV_")) and key not in ("DATABASE_URL", "TEST_DATABASE_URL")}
        env.update({
            "DATABASE_URL": worker_database_url(self.database), "INSTANCE_DIR": self.instance,
            "SECRET_KEY": os.environ["SECRET_KEY"], "CELERY_BROKER_URL": REDIS_URL, "CELERY_KEY_PREFIX": self.prefix,
            "JOB_RESULT_FOLDER": self.results, "JOBS_EAGER": "0", "REGISTRY_EXTRA_MODULES": "tests.jobs.kinds",
            "JOB_STALE_SECONDS": str(self.settings["JOB_STALE_SECONDS"]),
            "JOB_MAX_ATTEMPTS": str(self.settings["JOB_MAX_ATTEMPTS"]), "PYTHONPATH": str(ROOT),
        })
        return env

    def start_worker(self) -> RealWorker:
        worker = RealWorker(self.env(), Path(self.instance) / f"worker-{len(self.workers)}.log")
        self.workers.append(worker)
        return worker.wait_ready(self.app)

    def close(self):
        for worker in self.workers:
            worker.stop()
        self._app.__exit__(None, None, None)
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=self.prefix + "*", count=500):
            client.delete(key)

    def keys(self) -> list:
        return list(redis.Redis.from_url(REDIS_URL).scan_iter(match=self.prefix + "*"))


@pytest.fixture
def make_rig(app, database, tmp_path_factory):
    """Rigs of one test (each with its own prefix; closed at the end). Skips without Redis."""
    reason = redis_reachable()
    if reason:
        pytest.skip(reason)
    rigs = []

    def make(**settings):
        rigs.append(Rig(database, tmp_path_factory, **settings))
        return rigs[-1]

    yield make
    for rig in rigs:
        rig.close()


@pytest.fixture(scope="module")
def rig(app, database, tmp_path_factory):
    """A rig with one worker running, shared by a module's tests."""
    reason = redis_reachable()
    if reason:
        pytest.skip(reason)
    shared = Rig(database, tmp_path_factory)
    try:
        shared.start_worker()
        yield shared
    finally:
        shared.close()
