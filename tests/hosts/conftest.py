"""Two hosts for real (issue 16 "Done when"): one database, Redis, an S3 server (moto), two gunicorn instances A and B
with different INSTANCE_DIRs and one Celery worker with a third, all with the settings a multi-host deployment
shares (SECRET_KEY, the signing keyring folder, REDIS_URL, the broker, STORAGE_*).

The database follows the test backends (tests/conftest.py `backend`): PostgreSQL gets a fresh database
hosts_<random> (dropped afterwards) that the hosts reach as an application role of their own (hosts_app_<random>,
dropped too) while `flask setup` migrates as the owner (MIGRATION_DATABASE_URL), as production does; SQLite a file all three processes share. The instances run with
REGISTRY_ENV=production behind a simulated load balancer: TRUSTED_PROXIES=1, and the test's client sends
X-Forwarded-Proto/-Host as the balancer would (tests/hosts/test_two_hosts.py). Every process runs in its own process
group and is stopped at the end, whatever happened; Redis keys are under a prefix of their own and deleted.
Without a reachable Redis the module is skipped.
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
import requests
from sqlalchemy import create_engine, make_url, text

from tests.conftest import _psycopg_url  # first: it sets the test environment up
from tests.s3_server import CREDENTIALS as S3_CREDENTIALS, S3Server, _free_port as free_port

ROOT = Path(__file__).resolve().parents[2]
REDIS_BASE = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
START_SECONDS = 60
BUCKET = "registry-hosts"
# The settings the test shell may carry that must not leak into the hosts' own.
_DROP = ("DATABASE_URL", "TEST_DATABASE_URL", "INSTANCE_DIR", "SECRET_KEY", "SECRET_KEY_FILE", "REDIS_URL",
         "CELERY_BROKER_URL", "CELERY_KEY_PREFIX", "RATELIMIT_STORAGE_URI", "CERTIFICATE_SIGNING_KEYS",
         "JOB_RESULT_FOLDER", "UPLOAD_FOLDER", "BACKUP_FOLDER", "PUBLIC_BASE_URL", "PROMETHEUS_MULTIPROC_DIR",
         "REGISTRY_ENV", "FLASK_APP", "JOBS_EAGER", "MIGRATION_DATABASE_URL")


def redis_reachable() -> str | None:
    try:
        redis.Redis.from_url(REDIS_BASE, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"Redis is not reachable at {REDIS_BASE} ({type(exc).__name__}): the two-host journey needs it"
    return None


class Process:
    """One subprocess in its own process group, its output in a log file."""

    def __init__(self, name, args, env, log: Path):
        self.name, self.log = name, log
        self._out = open(log, "ab")
        self.popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._out, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, chars=2500) -> str:
        return f"--- {self.name} ({self.log}) ---\n" + self.log.read_text(errors="replace")[-chars:]

    def stop(self):
        """SIGTERM to the group, SIGKILL if it lingers; then the group again (children left by the parent)."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=30)
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if not self._out.closed:
            self._out.close()


class Deployment:
    """Everything of one two-host rig; `close()` stops and removes it all (safe after a partial start)."""

    def __init__(self, backend, tmp: Path):
        self.backend, self.tmp = backend, tmp
        self.token = uuid.uuid4().hex[:10]
        self.prefix = f"registry-hosts-{self.token}"
        self.processes: list[Process] = []
        self.ports: dict[str, int] = {}
        self.instances: dict[str, Path] = {}
        self._pg_admin = None
        self._pg_name = None
        self._pg_role = None
        self.owner_url = ""
        self.database_url = None
        self.s3 = None
        self.engine = None  # the test's own connection to the shared database (captcha answers, job rows)

    # --- the shared pieces ------------------------------------------------------------------------------------
    def make_database(self):
        if self.backend == "postgresql":
            url = make_url(_psycopg_url(os.environ["TEST_DATABASE_URL"]))
            self._pg_name, self._pg_role, password = f"hosts_{self.token}", f"hosts_app_{self.token}", uuid.uuid4().hex
            self._pg_admin = create_engine(url, isolation_level="AUTOCOMMIT")
            with self._pg_admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self._pg_name}"'))
                conn.execute(text(f"CREATE ROLE \"{self._pg_role}\" LOGIN PASSWORD '{password}'"))
            self.owner_url = url.set(database=self._pg_name).render_as_string(hide_password=False)
            self.database_url = url.set(database=self._pg_name, username=self._pg_role,
                                        password=password).render_as_string(hide_password=False)
        else:
            self.database_url = f"sqlite:///{self.tmp / 'shared.db'}"
        self.engine = create_engine(self.database_url)

    def start_s3(self):
        """The S3 server (tests/s3_server.py) with the bucket an operator would have created; a restart on the same
        port makes the bucket again (moto keeps nothing)."""
        if self.s3 is None:
            self.s3 = S3Server()
            self.s3.buckets.add(BUCKET)
        self.s3.start()

    def stop_s3(self):
        self.s3.stop()

    @property
    def secret_key(self) -> str:
        return "hosts-secret-" + "k" * 48 + self.token

    @property
    def s3_url(self) -> str:
        return self.s3.endpoint_url

    def env(self, instance: Path) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV_")) and k not in _DROP
               and not k.startswith(("STORAGE_", "AWS_"))}
        redis_url = REDIS_BASE
        env.update({
            "PYTHONPATH": str(ROOT), "FLASK_APP": "server:create_app",
            "INSTANCE_DIR": str(instance), "DATABASE_URL": self.database_url, "MIGRATION_DATABASE_URL": self.owner_url,
            "SECRET_KEY": self.secret_key,
            "CERTIFICATE_SIGNING_KEYS": str(self.tmp / "signing_keys"),
            "REDIS_URL": redis_url, "RATELIMIT_KEY_PREFIX": self.prefix,
            "CELERY_BROKER_URL": redis_url, "CELERY_KEY_PREFIX": self.prefix + ":",
            "STORAGE_BACKEND": "s3", "STORAGE_S3_BUCKET": BUCKET, "STORAGE_S3_ENDPOINT_URL": self.s3_url,
            "STORAGE_S3_REGION": "us-east-1", **S3_CREDENTIALS,
            "HEALTH_ALLOW": "127.0.0.1", "TRUSTED_PROXIES": "1", "REGISTRY_ENV": "production",
            "PROMETHEUS_MULTIPROC_DIR": str(instance / "metrics"),
            "JOBS_EAGER": "0", "WORKER_LOG_LEVEL": "warning",
        })
        return env

    def instance(self, name) -> Path:
        path = self.tmp / f"instance_{name}"
        (path / "metrics").mkdir(parents=True, exist_ok=True)
        self.instances[name] = path
        return path

    def cli(self, *args, production=False, wait=True):
        """`flask <args>` once, as the deploy step does (development settings unless asked: demo data); without
        `wait` the running command, for `finish()`."""
        env = self.env(self.instance("deploy"))
        if not production:
            env["REGISTRY_ENV"] = "development"
        command = self.start(f"flask-{args[0]}", [sys.executable, "-m", "flask", *args], env)
        return self.finish(command) if wait else command

    def finish(self, command):
        try:
            command.popen.wait(timeout=180)
        finally:
            command.stop()
        assert command.popen.returncode == 0, f"{command.name} failed:\n{command.tail(4000)}"

    # --- processes --------------------------------------------------------------------------------------------
    def start(self, name, args, env) -> Process:
        process = Process(name, args, env, self.tmp / f"{name}.log")
        self.processes.append(process)
        return process

    def start_web(self, name) -> Process:
        self.ports[name] = free_port()
        # --no-control-socket: two gunicorns of one user on one machine would share ~/.gunicorn/gunicorn.ctl.
        return self.start(name, [sys.executable, "-m", "gunicorn", "-w", "1", "--worker-class", "gthread",
                                 "--threads", "4", "--timeout", "120", "--no-control-socket",
                                 "-b", f"127.0.0.1:{self.ports[name]}", "wsgi:app"], self.env(self.instance(name)))

    def start_worker(self) -> Process:
        self.worker_name = f"hosts-{self.token}"
        return self.start("worker", [sys.executable, "-m", "celery", "-A", "worker", "worker",
                                     "-Q", "default,exports,documents", "-c", "1", "--without-heartbeat",
                                     "--without-mingle", "--without-gossip", "-l", "warning",
                                     "-n", f"{self.worker_name}@%h"], self.env(self.instance("worker")))

    def wait_http(self, name, url, process, headers=None):
        """Until `url` answers 200 (not followed: production redirects plain http to https)."""
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if not process.alive():
                break
            try:
                if requests.get(url, timeout=2, headers=headers, allow_redirects=False).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{name} did not come up at {url}\n{process.tail()}")

    def wait_worker(self, process):
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and process.alive():
            with self.engine.connect() as conn:
                found = conn.execute(text("SELECT hostname FROM worker_status WHERE hostname LIKE :n"),
                                     {"n": f"{self.worker_name}@%"}).first()
            if found:
                return
            time.sleep(0.2)
        raise AssertionError(f"the worker did not start\n{process.tail()}")

    def url(self, host, path="/") -> str:
        return f"http://127.0.0.1:{self.ports[host]}{path}"

    def logs(self) -> str:
        return "\n".join(p.tail(1500) for p in self.processes)

    def close(self):
        if self.s3 is not None:
            self.s3.stop()
        for process in reversed(self.processes):
            try:
                process.stop()
            except Exception:  # noqa: BLE001 — stop the others whatever happened to one
                pass
        if self.engine is not None:
            self.engine.dispose()
        if self._pg_admin is not None:
            with self._pg_admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)'))
                conn.execute(text(f'DROP ROLE IF EXISTS "{self._pg_role}"'))
            self._pg_admin.dispose()
        try:
            client = redis.Redis.from_url(REDIS_BASE)
            # the broker's keys start with the prefix; the limiter's are LIMITS:LIMITER/<prefix>/…
            for key in client.scan_iter(match=f"*{self.prefix}*", count=500):
                client.delete(key)
        except redis.RedisError:
            pass


@pytest.fixture(scope="module")
def hosts(backend, tmp_path_factory):
    """The two-host deployment, started once per backend for the module's journey steps."""
    reason = redis_reachable()
    if reason:
        pytest.skip(reason)
    deployment = Deployment(backend, tmp_path_factory.mktemp("hosts"))
    try:
        deployment.make_database()
        deployment.start_s3()
        deployment.cli("setup")
        demo = deployment.cli("demo-data", wait=False)  # beside the rest: the hosts start on the empty schema
        deployment.cli("signing-key", "rotate", production=True)  # the one keyring folder every host mounts
        web = [deployment.start_web("A"), deployment.start_web("B")]
        worker = deployment.start_worker()
        deployment.finish(demo)
        for process in web:
            deployment.wait_http(process.name, deployment.url(process.name, "/healthz"), process,
                                 headers={"X-Forwarded-Proto": "https"})  # as the balancer's probe would
        deployment.wait_worker(worker)
        yield deployment
    finally:
        deployment.close()
