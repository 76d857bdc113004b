"""/healthz and /readyz (views/health.py): liveness for anyone, readiness only for HEALTH_ALLOW or HEALTH_TOKEN."""
import os
import socket
from types import SimpleNamespace

from sqlalchemy import create_engine, event

from ground.extensions import db
from app.services.storage import local as storage_local
from views import health

OUTSIDE = {"REMOTE_ADDR": "10.1.2.3"}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_answers_anyone_without_the_database(app):
    with app.app_context():
        engine = db.engine
    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        for environ in ({}, OUTSIDE):
            resp = app.test_client().get("/healthz", environ_base=environ)
            assert resp.status_code == 200
            assert resp.get_json() == {"status": "ok"}
            assert resp.headers["Cache-Control"] == "no-store"
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements == []


def test_readyz_from_loopback_reports_every_check_ok(app):
    resp = app.test_client().get("/readyz")
    body = resp.get_json()
    assert resp.status_code == 200, body
    assert resp.headers["Cache-Control"] == "no-store"
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "storage"}
    for entry in body["checks"].values():
        assert entry["ok"] is True and entry["error"] == "" and isinstance(entry["ms"], float)


def test_readyz_from_ipv6_loopback(app):
    assert app.test_client().get("/readyz", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_readyz_is_not_found_from_elsewhere_without_the_token(app, monkeypatch):
    client = app.test_client()
    assert client.get("/readyz", environ_base=OUTSIDE).status_code == 404
    # No token configured: no bearer token opens it.
    assert client.get("/readyz", environ_base=OUTSIDE, headers={"Authorization": "Bearer "}).status_code == 404
    monkeypatch.setitem(app.config, "HEALTH_TOKEN", "s3cret-monitoring-token")
    assert client.get("/readyz", environ_base=OUTSIDE).status_code == 404
    wrong = {"Authorization": "Bearer s3cret-monitoring-tokex"}
    assert client.get("/readyz", environ_base=OUTSIDE, headers=wrong).status_code == 404
    basic = {"Authorization": "Basic s3cret-monitoring-token"}
    assert client.get("/readyz", environ_base=OUTSIDE, headers=basic).status_code == 404
    right = {"Authorization": "Bearer s3cret-monitoring-token"}
    resp = client.get("/readyz", environ_base=OUTSIDE, headers=right)
    assert resp.status_code == 200 and resp.get_json()["status"] == "ok"


def test_readyz_allows_configured_addresses_and_networks(app, monkeypatch):
    client = app.test_client()
    monkeypatch.setitem(app.config, "HEALTH_ALLOW", ["10.1.0.0/16"])
    assert client.get("/readyz", environ_base=OUTSIDE).status_code == 200
    assert client.get("/readyz").status_code == 404  # loopback is no longer listed
    monkeypatch.setitem(app.config, "HEALTH_ALLOW", ["10.1.2.3", "not an address"])
    assert client.get("/readyz", environ_base=OUTSIDE).status_code == 200


def test_readyz_is_503_naming_the_database_when_it_is_unreachable(app, monkeypatch, tmp_path):
    bad = create_engine(f"sqlite:///{tmp_path}/missing/folder/registry.db")
    monkeypatch.setattr(health, "engine", lambda: bad)
    resp = app.test_client().get("/readyz")
    body = resp.get_json()
    assert resp.status_code == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is False and body["checks"]["database"]["error"]
    assert all(body["checks"][name]["ok"] for name in ("broker", "storage"))
    bad.dispose()


def test_readyz_is_503_naming_storage_that_is_not_writable(app, monkeypatch, tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):  # running as root: a read-only folder is still writable, so refuse the probe
            def refuse(**_kwargs):
                raise PermissionError(13, "Permission denied")

            monkeypatch.setattr(storage_local, "tempfile", SimpleNamespace(NamedTemporaryFile=refuse))
        monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(folder))
        resp = app.test_client().get("/readyz")
        body = resp.get_json()
        assert resp.status_code == 503
        assert body["checks"]["storage"] == {**body["checks"]["storage"], "ok": False}
        assert "UPLOAD_FOLDER" in body["checks"]["storage"]["error"]
        assert body["checks"]["database"]["ok"] is True
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_readyz_is_503_when_a_storage_folder_is_missing(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "JOB_RESULT_FOLDER", str(tmp_path / "nowhere"))
    body = app.test_client().get("/readyz").get_json()
    assert body["checks"]["storage"]["ok"] is False
    assert "JOB_RESULT_FOLDER" in body["checks"]["storage"]["error"]


def test_readyz_answers_503_when_the_redis_broker_is_down(app, monkeypatch):
    port = _closed_port()
    monkeypatch.setitem(app.config, "CELERY_BROKER_URL", f"redis://user:hunter2@127.0.0.1:{port}/0")
    resp = app.test_client().get("/readyz")
    body = resp.get_json()
    assert resp.status_code == 503
    assert body["checks"]["broker"]["ok"] is False
    assert "hunter2" not in resp.get_data(as_text=True)


def test_a_redis_limiter_storage_is_checked_too(app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_STORAGE_URI", f"redis://127.0.0.1:{_closed_port()}/0")
    body = app.test_client().get("/readyz").get_json()
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["broker"]["ok"] is True


def test_embedded_sqlite_broker_is_checked(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "CELERY_BROKER_URL", f"sqla+sqlite:///{tmp_path}/broker.db")
    assert app.test_client().get("/readyz").get_json()["checks"]["broker"]["ok"] is True
    monkeypatch.setitem(app.config, "CELERY_BROKER_URL", f"sqla+sqlite:///{tmp_path}/missing/broker.db")
    body = app.test_client().get("/readyz").get_json()
    assert body["checks"]["broker"]["ok"] is False


def test_a_hanging_check_is_reported_as_timed_out():
    import threading

    release = threading.Event()
    try:
        report = health.run_checks({"slow": lambda: release.wait(5), "fast": lambda: None}, timeout=0.2)
    finally:
        release.set()
    assert report["slow"] == {**report["slow"], "ok": False, "error": "timed out"}
    assert report["fast"]["ok"] is True


def test_errors_carry_no_credentials():
    def fail():
        raise RuntimeError("could not connect to postgresql://registry:pa55word@db.internal:5432/registry\nmore")

    error = health.run_checks({"x": fail})["x"]["error"]
    assert "pa55word" not in error and "more" not in error and error.startswith("RuntimeError")


def test_health_endpoints_are_never_rate_limited_and_set_no_cookie(database, tmp_path_factory):
    from tests.conftest import another_app

    with another_app(database, tmp_path_factory, RATELIMIT_ENABLED=True, PUBLIC_RATE_LIMIT="2 per minute",
                     AUTH_RATE_LIMIT="2 per minute") as application:
        client = application.test_client()
        for _ in range(5):
            resp = client.get("/healthz")
            assert resp.status_code == 200 and "Set-Cookie" not in resp.headers
        for _ in range(5):
            assert client.get("/readyz").status_code == 200


def test_probes_are_not_redirected_to_https_in_production(database, tmp_path_factory):
    """A load balancer probes the host over plain HTTP; every other page still goes to HTTPS."""
    from tests.conftest import another_app
    with another_app(database, tmp_path_factory, FORCE_HTTPS=True) as production:
        client = production.test_client()
        assert client.get("/login/").status_code in (301, 302)
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code in (200, 503)
        assert client.get("/metrics").status_code == 200
