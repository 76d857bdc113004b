"""`flask setup` under the deploy lock: two runs at once both succeed and the data is there once; a held lock makes
a run wait (it says so) until the lock is released. Real `flask setup` subprocesses on a fresh database of their own
(PostgreSQL: a new database; SQLite: a new INSTANCE_DIR)."""
import contextlib
import fcntl
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from tests.conftest import _psycopg_url  # first: it sets the test environment up
from models.dictionary import PROVINCES, SPECIALTIES  # noqa: E402
from ops.setup_lock import SETUP_LOCK_KEY, WAITING  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FINISH_SECONDS = 300  # a generous bound on one `flask setup`, not a measured time


@contextlib.contextmanager
def fresh_target(backend, tmp_path):
    """(DATABASE_URL for the subprocesses or None, SQLAlchemy URL to inspect), removed afterwards."""
    if backend == "sqlite":
        yield None, f"sqlite:///{tmp_path / 'registry.db'}"
        return
    server = _psycopg_url(os.environ["TEST_DATABASE_URL"])
    name = f"setup_lock_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = create_engine(server).url.set(database=name)
    try:
        yield url.render_as_string(hide_password=False), url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def start_setup(database_url, instance):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST", "COV_")) and k not in ("DATABASE_URL", "TEST_DATABASE_URL", "REDIS_URL")}
    env.update({"INSTANCE_DIR": str(instance), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
                "FLASK_APP": "server:create_app", "CELERY_BROKER_URL": "memory://"})
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.Popen([sys.executable, "-m", "flask", "setup"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish(process) -> str:
    output, _ = process.communicate(timeout=FINISH_SECONDS)
    assert process.returncode == 0, output
    return output


def assert_set_up_once(url):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM alembic_version")) == 1
            assert conn.scalar(text("SELECT count(*) FROM province")) == len(PROVINCES)
            assert conn.scalar(text("SELECT count(*) FROM specialty")) == len(SPECIALTIES)
            names = conn.scalars(text("SELECT name FROM ab_role")).all()
            assert names and len(names) == len(set(names))
    finally:
        engine.dispose()


def test_two_setups_at_once_both_succeed_and_set_up_once(backend, tmp_path):
    with fresh_target(backend, tmp_path) as (database_url, url):
        first, second = start_setup(database_url, tmp_path), start_setup(database_url, tmp_path)
        outputs = [finish(first), finish(second)]
        assert all("Schema migrated" in out for out in outputs), outputs
        assert not any("UniqueViolation" in out or "IntegrityError" in out for out in outputs)
        assert_set_up_once(url)
        # A third run later has nothing to do and does not wait.
        assert WAITING not in finish(start_setup(database_url, tmp_path))
        assert_set_up_once(url)


@contextlib.contextmanager
def held_lock(backend, url, instance):
    """Hold the lock `flask setup` takes, as another run would."""
    if backend == "sqlite":
        with open(instance / "setup.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield lambda: fcntl.flock(handle, fcntl.LOCK_UN)
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    conn = engine.connect()
    conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": SETUP_LOCK_KEY})
    try:
        yield lambda: conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SETUP_LOCK_KEY})
    finally:
        conn.close()
        engine.dispose()


def waiting_on_advisory_lock(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"))


def wait_for(condition, seconds=60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_setup_waits_while_the_lock_is_held(backend, tmp_path):
    with fresh_target(backend, tmp_path) as (database_url, url):
        with held_lock(backend, url, tmp_path) as release:
            process = start_setup(database_url, tmp_path)
            seen = []
            for line in process.stdout:  # until it says it waits (or ends, which fails below)
                seen.append(line)
                if WAITING in line:
                    break
            assert any(WAITING in line for line in seen), "".join(seen)
            assert process.poll() is None
            engine = create_engine(url)
            try:  # nothing migrated while the lock is held
                assert "alembic_version" not in inspect(engine).get_table_names()
                if backend == "postgresql":  # the run is queued on the advisory lock (it prints first, then asks)
                    assert wait_for(lambda: waiting_on_advisory_lock(engine) == 1)
            finally:
                engine.dispose()
            assert process.poll() is None
            release()
            output = "".join(seen) + finish(process)
        assert "Schema migrated" in output
        assert_set_up_once(url)

