"""gunicorn.conf.py under a real gunicorn: with LOG_FORMAT=json every line it and the app write is JSON (the app's
access line with the request id, no gunicorn access line); a worker that exits has its live metric files marked dead
(prometheus-client multiprocess mode)."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _json_lines(path: Path) -> list[dict]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line parses


def _wait_for(predicate, what, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture()
def server(tmp_path):
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    port = _free_port()
    env = {**os.environ, "LOG_FORMAT": "json", "PROMETHEUS_MULTIPROC_DIR": str(metrics),
           "INSTANCE_DIR": str(tmp_path / "instance"), "DATABASE_URL": f"sqlite:///{tmp_path}/registry.db",
           "CELERY_BROKER_URL": "memory://", "SECRET_KEY": "test-" + "0" * 32, "REGISTRY_ENV": "development"}
    env.pop("GUNICORN_ACCESS_LOG", None)
    log = tmp_path / "stderr.log"
    with open(log, "w") as err:
        process = subprocess.Popen([str(GUNICORN), "-c", "gunicorn.conf.py", "--workers", "2", "--no-control-socket",
                                    "--bind", f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=err)
    try:
        def answered():
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).status == 200
            except OSError:
                return False

        _wait_for(answered, "gunicorn to answer")
        yield port, log, metrics
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


def test_json_lines_and_dead_workers_marked(server):
    port, log, metrics = server
    request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"X-Request-ID": "gunicorn-1"})
    resp = urllib.request.urlopen(request, timeout=10)
    assert resp.headers["X-Request-ID"] == "gunicorn-1"

    def access_line():
        return [line for line in _json_lines(log) if line.get("request_id") == "gunicorn-1"]

    line = _wait_for(access_line, "the access line")[0]
    assert line["logger"] == "registry.access" and line["status"] == 200 and line["path"] == "/healthz"
    lines = _json_lines(log)
    assert not [entry for entry in lines if entry["logger"] == "gunicorn.access"]
    booted = [entry["message"] for entry in lines if entry["logger"] == "gunicorn.error"
              and "Booting worker with pid" in entry["message"]]
    assert len(booted) >= 2
    pid = int(booted[0].rsplit(" ", 1)[1])
    live = metrics / f"gauge_livesum_{pid}.db"
    live.write_bytes(b"")  # a live gauge's file of that worker (prometheus-client names it so)
    os.kill(pid, signal.SIGTERM)  # the worker exits; gunicorn's child_exit runs in the master
    _wait_for(lambda: not live.exists(), "the dead worker's live gauge file to go")
