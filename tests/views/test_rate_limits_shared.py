"""Rate limits shared by every worker and host through Redis, and a Redis outage that degrades, never 500s.

(The shared login limit through Redis: tests/views/test_login.py::test_two_workers_share_the_login_limit_through_redis.)
"""
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests import factories as f
from tests.conftest import another_app, form_tokens

REDIS_URL = "redis://127.0.0.1:6379/15"
DOWN_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
UNREACHABLE = "Rate limit storage unreachable"


def _redis_up(url=REDIS_URL) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:
        return False


def _address() -> str:
    return f"10.{f.next_serial() % 250}.{f.next_serial() % 250}.{f.next_serial() % 250}"


def _client(application, address):
    client = application.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _search(client):
    return client.get("/registry/", query_string={"name": "某某"})


def _login(client, username="nobody-here", password="Wrong@2026x"):
    return client.post("/login/", data={"username": username, "password": password,
                                        **form_tokens(client, "/login/")})


@contextlib.contextmanager
def _cleaned(url, prefix):
    import redis

    try:
        yield
    finally:
        client = redis.Redis.from_url(url)
        for key in client.scan_iter(f"*{prefix}*"):
            client.delete(key)


def _limiter_warnings(caplog):
    return [r for r in caplog.records if r.name == "flask-limiter" and r.levelno == logging.WARNING
            and UNREACHABLE in r.getMessage()]


# --- (a) two app instances, one limit -------------------------------------------------------------------
@pytest.mark.skipif(not _redis_up(), reason="no Redis at 127.0.0.1:6379")
def test_two_app_instances_share_the_public_limit_through_redis(app, database, tmp_path_factory):
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    settings = {"RATELIMIT_ENABLED": True, "PUBLIC_RATE_LIMIT": "3 per minute", "RATELIMIT_STORAGE_URI": REDIS_URL,
                "RATELIMIT_KEY_PREFIX": prefix}
    with _cleaned(REDIS_URL, prefix), contextlib.ExitStack() as stack:
        workers = [stack.enter_context(another_app(database, tmp_path_factory, **settings)) for _ in range(2)]
        address = _address()
        statuses = [_search(_client(workers[i % 2], address)).status_code for i in range(5)]
        assert statuses == [200, 200, 200, 429, 429]  # 3 in all, not 3 per instance
        # Another address has a count of its own, on either instance.
        assert _search(_client(workers[1], _address())).status_code == 200


# --- (b) Redis down: per-process limits, no 500, one warning -----------------------------------------------
@pytest.fixture
def redis_down_app(database, tmp_path_factory):
    with another_app(database, tmp_path_factory, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=DOWN_URL,
                     AUTH_RATE_LIMIT="3 per minute", PUBLIC_RATE_LIMIT="3 per minute",
                     RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 0.5, "socket_timeout": 0.5}) as application:
        yield application


def test_redis_down_login_and_public_pages_answer_and_stay_limited_per_process(app, redis_down_app, caplog):
    caplog.set_level(logging.INFO, logger="flask-limiter")
    address = _address()
    client = _client(redis_down_app, address)
    assert client.get("/login/").status_code == 200
    assert [_login(client).status_code for _ in range(4)] == [200, 200, 200, 429]  # the fallback still counts
    assert [_search(client).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert _search(_client(redis_down_app, _address())).status_code == 200  # per address, as before
    # One warning for the outage, not one per request; nothing swallowed as an error.
    assert len(_limiter_warnings(caplog)) == 1
    assert not [r for r in caplog.records if r.name == "flask-limiter" and r.levelno >= logging.ERROR]


def test_redis_down_the_fallback_is_per_process(app, database, tmp_path_factory):
    """Each process counts alone while Redis is down (the documented degradation)."""
    settings = {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": DOWN_URL, "PUBLIC_RATE_LIMIT": "2 per minute"}
    with contextlib.ExitStack() as stack:
        workers = [stack.enter_context(another_app(database, tmp_path_factory, **settings)) for _ in range(2)]
        address = _address()
        assert [_search(_client(w, address)).status_code for w in workers for _ in range(3)] == [200, 200, 429] * 2


# --- the outage ends: back to the shared count ----------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _private_redis(port):
    """A redis-server of this test's own on `port` (started here, stopped by its PID)."""
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        for _ in range(500):  # until it answers (a readiness poll, not a timed assertion)
            if process.poll() is not None or _redis_up(url):
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(0.01)
        assert _redis_up(url), "private redis-server did not start"
        yield process
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.skipif(not shutil.which("redis-server"), reason="no redis-server binary")
def test_limiter_goes_back_to_redis_when_it_answers_again(app, database, tmp_path_factory, caplog):
    caplog.set_level(logging.INFO, logger="flask-limiter")
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    settings = {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": url, "PUBLIC_RATE_LIMIT": "3 per minute"}
    with another_app(database, tmp_path_factory, **settings) as application:
        limiter = application.appbuilder.sm.limiter
        address = _address()
        client = _client(application, address)
        with _private_redis(port):
            assert _search(client).status_code == 200  # counted in Redis
        # Redis is gone: the page still answers, counted in this process's memory.
        assert [_search(client).status_code for _ in range(4)] == [200, 200, 200, 429]
        assert len(_limiter_warnings(caplog)) == 1
        with _private_redis(port):  # back, empty (it kept nothing)
            # Flask-Limiter retries the storage with a back-off; pretend the wait is over rather than sleeping.
            limiter._Limiter__last_check_backend = 0
            assert [_search(client).status_code for _ in range(4)] == [200, 200, 200, 429]  # a fresh count in Redis
            assert any("recovered" in r.getMessage() for r in caplog.records if r.name == "flask-limiter")
            import redis

            assert any(True for _ in redis.Redis.from_url(url).scan_iter("*"))  # the counts are in Redis again
            assert not limiter._storage_dead


# --- (c) configuration -------------------------------------------------------------------------------------
def _config(**env) -> str:
    environ = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RATELIMIT_STORAGE_URI")}
    return subprocess.run([sys.executable, "-c", "import config; print(config.RATELIMIT_STORAGE_URI, "
                           "config.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED, sorted(config.RATELIMIT_STORAGE_OPTIONS))"],
                          cwd=Path(__file__).resolve().parents[2], env={**environ, **env},
                          capture_output=True, text=True, check=True).stdout.strip()


def test_limiter_storage_defaults_to_redis_url_when_set():
    timeouts = "['socket_connect_timeout', 'socket_timeout']"  # a silent Redis host cannot hang a worker
    assert _config() == "memory:// True []"
    assert _config(REDIS_URL="redis://redis-host:6379/0") == f"redis://redis-host:6379/0 True {timeouts}"
    assert _config(REDIS_URL="redis://redis-host:6379/0",
                   RATELIMIT_STORAGE_URI="redis://other:6379/2") == f"redis://other:6379/2 True {timeouts}"
    assert _config(RATELIMIT_STORAGE_URI="memcached://mc-host:11211") == "memcached://mc-host:11211 True []"
