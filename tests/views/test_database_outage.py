"""A database that cannot be reached (views/errors.py, ground/outage.py): a translated 503 page with Retry-After
and the request id, JSON on the API, one warning line in the log; the next request after the database is back
works without a restart (pool_pre_ping).

PostgreSQL for real: the app reaches the server through a TCP proxy the test starts and stops (stopping it cuts
the pooled connections and refuses new ones). SQLite: the database file's folder disappears and comes back."""
import logging
import os
import re
import socket
import sqlite3
import threading
from contextlib import suppress

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

import config
from ground.outage import database_unreachable
from tests import factories as f
from tests.conftest import another_app, api_captcha, login

TEXT = {"zh": "暂时无法连接数据库，请几分钟后再试。",
        "en": "The database cannot be reached right now. Please try again in a few minutes."}


class TcpProxy:
    """Forwards a loopback port to `target`; stop() closes the port and cuts every open connection."""

    def __init__(self, target: tuple[str, int]):
        self.target, self.port = target, None
        self.listener, self.sockets, self.lock = None, set(), threading.Lock()

    def start(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port or 0))
        listener.listen(16)
        self.port, self.listener = listener.getsockname()[1], listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener):
        while True:
            try:
                client, _addr = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def stop(self):
        with suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone would not
        self.listener.close()
        with self.lock:
            sockets, self.sockets = self.sockets, set()
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@pytest.fixture()
def outage(app, backend, database, tmp_path_factory, tmp_path):
    """(app, take_down, bring_back) for this backend; the app is made once and never restarted."""
    if backend == "postgresql":
        url = make_url(database["uri"])
        proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432)).start()
        options = {**config.SQLALCHEMY_ENGINE_OPTIONS, "connect_args": database["engine_options"]["connect_args"]}
        settings = {"SQLALCHEMY_DATABASE_URI": url.set(host="127.0.0.1", port=proxy.port)
                    .render_as_string(hide_password=False), "SQLALCHEMY_ENGINE_OPTIONS": options}
        down, up = proxy.stop, proxy.start
    else:
        real = make_url(database["uri"]).database
        link = tmp_path / "db"
        link.symlink_to(os.path.dirname(real))
        settings = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{link}/{os.path.basename(real)}",
                    "SQLALCHEMY_ENGINE_OPTIONS": {**config.SQLALCHEMY_ENGINE_OPTIONS, "poolclass": NullPool}}
        proxy = None

        def down():
            link.unlink()

        def up():
            link.symlink_to(os.path.dirname(real))
    try:
        with another_app(database, tmp_path_factory, PROPAGATE_EXCEPTIONS=False, **settings) as application:
            yield application, down, up
    finally:
        if proxy is not None:
            proxy.stop()


def _page_text(page: str) -> str:
    page = re.sub(r"<(style|code)[^>]*>.*?</\1>", " ", page, flags=re.S)  # the id stands in <code>
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def test_engine_checks_connections_before_use():
    assert config.SQLALCHEMY_ENGINE_OPTIONS["pool_pre_ping"] is True


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_outage_is_a_503_page_then_recovers_without_restart(outage, lang, caplog):
    application, down, up = outage
    with application.app_context():
        username, _person = f.make_applicant()
    client = login(application.test_client(), username, lang=lang)
    assert client.get("/").status_code == 200
    down()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        resp = client.get("/", headers={"X-Request-ID": "outage-1"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 503, page[:500]
    assert resp.headers["Retry-After"] == "30"
    assert resp.headers["X-Request-ID"] == "outage-1"
    assert resp.mimetype == "text/html" and resp.headers["Cache-Control"] == "no-store"
    text = _page_text(page)
    assert TEXT[lang] in text
    assert '<code class="request-id">outage-1</code>' in page
    assert "Traceback" not in page and "psycopg" not in page and "sqlite" not in page.lower()
    if lang == "zh":
        assert not re.findall(r"[A-Za-z]{4,}", text), text
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in warnings] == ["views.errors"], [(r.name, r.getMessage()) for r in warnings]
    assert warnings[0].exc_info is None and "database unreachable" in warnings[0].getMessage()
    # Still down: still 503, not a 500 from a half-broken pool.
    assert client.get("/").status_code == 503
    up()
    resp = client.get("/")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]  # same app, same session: back


def test_outage_on_the_api_is_json(outage, capsys):
    application, down, up = outage
    client = application.test_client()
    with application.app_context():
        username, _person = f.make_applicant()
    token = client.post("/api/v1/security/login", json={"username": username, "password": f.PASSWORD,
                                                         "provider": "db", **api_captcha(client)}).get_json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    # A captcha check inside the endpoint (FAB's @safe would make it a 500), and the token's user lookup.
    body = {"username": "nobody", "password": "x", "captcha_nonce": "n0", "captcha": "x"}
    down()
    capsys.readouterr()
    for resp in (client.post("/api/v1/security/login", json=body, headers={"X-Request-ID": "api-outage"}),
                 client.get("/api/v1/person/", headers={**bearer, "X-Request-ID": "api-outage"})):
        assert resp.status_code == 503 and resp.is_json, resp.get_data(as_text=True)[:300]
        assert resp.headers["Retry-After"] == "30"
        assert resp.get_json() == {"message": TEXT["zh"], "request_id": "api-outage"}
    assert "Traceback" not in capsys.readouterr().err  # one warning line each, no traceback
    up()
    assert client.post("/api/v1/security/login", json=body).status_code == 400  # wrong captcha: answered again
    assert client.get("/api/v1/person/", headers=bearer).status_code == 200


def test_statement_errors_are_not_outages():
    lock = type("LockNotAvailable", (Exception,), {"sqlstate": "55P03"})("lock timeout")
    unique = type("UniqueViolation", (Exception,), {"sqlstate": "23505"})("duplicate key")
    gone = type("AdminShutdown", (Exception,), {"sqlstate": "57P01"})("terminating connection")
    refused = type("ConnectionFailure", (Exception,), {"sqlstate": "08006"})("connection failure")
    assert not database_unreachable(sa_exc.OperationalError("UPDATE", {}, lock))
    assert not database_unreachable(sa_exc.IntegrityError("INSERT", {}, unique))
    locked = sqlite3.OperationalError("database is locked")
    assert not database_unreachable(sa_exc.OperationalError("UPDATE", {}, locked))
    assert not database_unreachable(RuntimeError("x"))
    assert database_unreachable(sa_exc.OperationalError("SELECT", {}, gone))
    assert database_unreachable(sa_exc.OperationalError("SELECT", {}, refused))
    assert database_unreachable(sa_exc.OperationalError("SELECT", {}, ConnectionRefusedError()))
    assert database_unreachable(sa_exc.OperationalError(
        "SELECT", {}, sqlite3.OperationalError("unable to open database file")))


def test_a_statement_error_stays_a_500(outage):
    application, _down, _up = outage

    @application.route("/test-outage/locked")
    def locked():
        lock = type("LockNotAvailable", (Exception,), {"sqlstate": "55P03"})("lock timeout")
        raise sa_exc.OperationalError("UPDATE x", {}, lock)

    resp = application.test_client().get("/test-outage/locked")
    assert resp.status_code == 500 and "Retry-After" not in resp.headers
