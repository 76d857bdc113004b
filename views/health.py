"""Health and readiness endpoints for load balancers and monitoring (docs/OPERATIONS.md, "Health checks").

- `GET /healthz`: the process answers. Open to everyone, no database, no sign-in, no rate limit.
- `GET /readyz`: one entry per dependency — database (and its read replica when configured), broker, Redis (when
  configured), storage — each `{"ok", "ms", "error"}`; 200 when every check is ok, 503 otherwise. Every check runs in its own thread and
  the answer waits at most CHECK_TIMEOUT seconds for all of them, so a hanging dependency costs about a second.
  Only from the addresses of HEALTH_ALLOW or with `Authorization: Bearer <HEALTH_TOKEN>`; anyone else gets 404.
"""
import hmac
import ipaddress
import os
import re
import socket
import threading
import time
from urllib.parse import urlsplit

from flask import abort, current_app, jsonify, request
from flask_appbuilder import BaseView, expose
from sqlalchemy import create_engine, text

from app.services import storage
from ground import replica
from ground.extensions import db

CHECK_TIMEOUT = 1.0  # seconds: each check's own timeouts, and the longest the endpoint waits for all of them
_NO_STORE = {"Cache-Control": "no-store"}
_CREDENTIALS = re.compile(r"(\w+://)[^@/\s]*@")  # user:password@ in any URL of an error message


# --- the checks: each a function of no arguments that raises on failure ------------------------------------------
def check_sql(engine):
    def run():
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    return run


def check_redis(url: str):
    def run():
        import redis  # only deployments with Redis open a connection

        client = redis.Redis.from_url(url, socket_timeout=CHECK_TIMEOUT, socket_connect_timeout=CHECK_TIMEOUT)
        try:
            client.ping()
        finally:
            client.close()
    return run


def check_tcp(url: str, default_port: int):
    def run():
        parts = urlsplit(url)
        with socket.create_connection((parts.hostname or "localhost", parts.port or default_port), CHECK_TIMEOUT):
            pass
    return run


def check_sqla_broker(url: str):
    """kombu's SQLAlchemy transport (`sqla+<SQLAlchemy URL>`): the SQLite file's folder is writable, the URL connects."""
    def run():
        sqla_url = url[len("sqla+"):]
        if sqla_url.startswith("sqlite:///"):
            folder = os.path.dirname(os.path.abspath(sqla_url[len("sqlite:///"):]))
            if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
                raise OSError("broker folder missing or not writable")
        engine = create_engine(sqla_url)
        try:
            check_sql(engine)()
        finally:
            engine.dispose()
    return run


def check_broker(url: str):
    scheme = urlsplit(url).scheme
    if scheme.startswith("sqla+"):
        return check_sqla_broker(url)
    if scheme in ("redis", "rediss"):
        return check_redis(url)
    if scheme in ("memory", ""):
        return lambda: None
    return check_tcp(url, 5671 if scheme == "amqps" else 5672)  # amqp:// (RabbitMQ) and others: the port answers


def check_storage(config):
    """The object store takes a small object (local: UPLOAD_FOLDER and JOB_RESULT_FOLDER take a file; S3: a probe
    key is put and deleted), through the storage interface."""
    try:
        store = storage.backend_for(config)  # made here, not in the check's thread: the S3 client takes a moment
    except Exception as exc:  # noqa: BLE001 — a bad setting is reported like an outage
        error = exc

        def fail():
            raise error
        return fail
    return store.probe


def redis_urls(config) -> list[str]:
    """The Redis servers besides the broker: REDIS_URL, the rate limiter's storage when it is Redis."""
    urls = [config.get("REDIS_URL") or "", config.get("RATELIMIT_STORAGE_URI") or ""]
    return list(dict.fromkeys(u for u in urls if u.startswith(("redis://", "rediss://"))))


def engine():
    return db.engine


def checks(config) -> dict:
    """name → check for this configuration, in report order."""
    result = {"database": check_sql(engine())}
    if replica.replica_engine() is not None:  # DATABASE_REPLICA_URL (ground/replica.py)
        result["database_replica"] = check_sql(replica.replica_engine())
    result["broker"] = check_broker(config.get("CELERY_BROKER_URL") or "memory://")
    for i, url in enumerate(redis_urls(config)):
        result["redis" if i == 0 else f"redis_{i + 1}"] = check_redis(url)
    result["storage"] = check_storage(config)
    return result


def _short_error(exc: BaseException) -> str:
    """The exception's class and first line, credentials of URLs removed, at most 160 characters."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    message = _CREDENTIALS.sub(r"\1***@", message)
    return f"{type(exc).__name__}: {message}"[:160] if message else type(exc).__name__


def run_checks(named: dict, timeout: float = CHECK_TIMEOUT) -> dict:
    """Runs every check at once, each in a daemon thread; one not done within `timeout` is reported as timed out
    (its thread is left to finish on its own timeouts)."""
    results, started = {}, {}

    def runner(name, fn):
        t0 = time.perf_counter()
        try:
            fn()
            results[name] = {"ok": True, "ms": round((time.perf_counter() - t0) * 1000, 1), "error": ""}
        except Exception as exc:  # noqa: BLE001 — any failure is the dependency's, reported, never raised
            results[name] = {"ok": False, "ms": round((time.perf_counter() - t0) * 1000, 1),
                             "error": _short_error(exc)}

    threads = []
    for name, fn in named.items():
        thread = threading.Thread(target=runner, args=(name, fn), name=f"readyz-{name}", daemon=True)
        started[name] = time.perf_counter()
        thread.start()
        threads.append(thread)
    deadline = time.perf_counter() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.perf_counter()))
    report = {}
    for name in named:
        report[name] = dict(results.get(name) or {
            "ok": False, "ms": round((time.perf_counter() - started[name]) * 1000, 1), "error": "timed out"})
    return report


# --- who may read /readyz ------------------------------------------------------------------------------------------
def _address_allowed(address: str | None, allowed) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in allowed or ():
        try:
            if ip in ipaddress.ip_network(str(entry).strip(), strict=False):
                return True
        except ValueError:
            continue
    return False


def _token_allowed(header: str, token: str | None) -> bool:
    if not token or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer "):].strip().encode(), token.encode())


def readiness_allowed() -> bool:
    config = current_app.config
    return (_address_allowed(request.remote_addr, config.get("HEALTH_ALLOW"))
            or _token_allowed(request.headers.get("Authorization", ""), config.get("HEALTH_TOKEN")))


class HealthView(BaseView):
    """Public on purpose (no @has_access): /healthz for load balancers, /readyz guarded by address or token."""

    route_base = ""
    default_view = "healthz"

    @expose("/healthz")
    def healthz(self):
        return jsonify({"status": "ok"}), 200, _NO_STORE

    # Load balancers and probes call the host itself over plain HTTP: no redirect to HTTPS here (Talisman reads
    # this per view).
    healthz.talisman_view_options = {"force_https": False}

    @expose("/readyz")
    def readyz(self):
        if not readiness_allowed():
            abort(404)
        report = run_checks(checks(current_app.config))
        ok = all(entry["ok"] for entry in report.values())
        return jsonify({"status": "ok" if ok else "unavailable", "checks": report}), 200 if ok else 503, _NO_STORE

    readyz.talisman_view_options = {"force_https": False}
