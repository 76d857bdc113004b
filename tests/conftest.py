"""Test set-up: every test runs on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL too.

Each backend gets its own empty database (a temporary SQLite file; a fresh schema inside the
PostgreSQL database, dropped afterwards), migrated from empty by the same `setup()` the deploy
step uses. Tests create their own data through tests/factories.py, so they never depend on each
other's rows.

Never hold an app context around test-client requests: Flask would reuse it, and `g.user` with it.
"""
import contextlib
import os
import re
import shutil
import tempfile
import uuid

_INSTANCE = tempfile.mkdtemp(prefix="registry-test-")
os.environ["INSTANCE_DIR"] = _INSTANCE
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 48)

import pytest  # noqa: E402
from sqlalchemy import create_engine, event, text  # noqa: E402

from tests.s3_server import s3_bucket, s3_server  # noqa: E402,F401  (fixtures for every test folder)

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def _psycopg_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request):
    return request.param


def pytest_collection_modifyitems(config, items):
    """`one_backend` and `browser` tests run on SQLite only, also when PostgreSQL is set: what they check (the
    browser's side of pages, the rule table's outcomes) does not depend on the database, and the same paths run on
    both backends through the test client and the engine tests. This keeps CI within its time."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgresql = callspec is not None and callspec.params.get("backend") == "postgresql"
        one_backend = item.get_closest_marker("one_backend") or item.get_closest_marker("browser")
        (dropped if on_postgresql and one_backend else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_runtest_setup(item):
    """`postgresql_only` tests run only with the PostgreSQL backend (they take the `backend` fixture)."""
    if item.get_closest_marker("postgresql_only"):
        callspec = getattr(item, "callspec", None)
        if callspec is None or callspec.params.get("backend") != "postgresql":
            pytest.skip("PostgreSQL only (set TEST_DATABASE_URL)")


@contextlib.contextmanager
def fresh_database(backend):
    """(uri, engine options) of a new empty database for this backend; removed afterwards.

    PostgreSQL: a new schema inside TEST_DATABASE_URL's database, found through search_path.
    """
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="registry-db-")
        yield {"uri": f"sqlite:///{folder}/test.db", "engine_options": {}}
        shutil.rmtree(folder, ignore_errors=True)
        return
    url = _psycopg_url(os.environ["TEST_DATABASE_URL"])
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    options = {"connect_args": {"options": f"-csearch_path={schema}"}, "pool_pre_ping": True,
               "pool_size": 25, "max_overflow": 10}
    try:
        yield {"uri": url, "engine_options": options, "schema": schema}
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def database(backend):
    with fresh_database(backend) as db_info:
        yield db_info


def app_settings(database, tmp_path_factory, **overrides) -> dict:
    """Settings of a test app on `database` (more apps on the same database: rate-limit tests)."""
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database["uri"],
        "SQLALCHEMY_ENGINE_OPTIONS": database["engine_options"],
        "UPLOAD_FOLDER": str(tmp_path_factory.mktemp("uploads")),
        # Cheaper hashing keeps the suite fast; production uses scrypt (config.py).
        "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        # Tests read captcha answers through the test-only hook; rate-limit tests turn limits on.
        "CAPTCHA_TEST_HOOK": True,
        # Every test client is 127.0.0.1 and leaves challenges unanswered: the caps' own tests set them low.
        "CAPTCHA_MAX_PER_CLIENT": 10**6, "CAPTCHA_MAX_LIVE": 10**6,
        "RATELIMIT_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",  # whatever REDIS_URL the shell has; Redis tests set their own
        # Jobs run inside the request that starts them; tests/jobs/ also runs real workers on Redis.
        "JOBS_EAGER": True,
        "CELERY_BROKER_URL": "memory://",
        "JOB_RESULT_FOLDER": str(tmp_path_factory.mktemp("job_results")),
        # Statistics are recomputed on every request unless a test turns the cache on.
        "STATISTICS_CACHE_SECONDS": 0,
        # Each test app has its own in-process cache, whatever REDIS_URL the shell has; Redis tests set their own.
        "CACHE_TYPE": "SimpleCache", "CACHE_REDIS_URL": "",
        "DATABASE_REPLICA_URL": "",  # replica tests set their own
        **overrides,
    }


@contextlib.contextmanager
def another_app(database, tmp_path_factory, **overrides):
    """A second app on the test database (its schema exists already), e.g. with rate limits on."""
    from server import create_app
    from ground.extensions import db

    from ground import replica

    application = create_app(app_settings(database, tmp_path_factory, **overrides))
    try:
        yield application
    finally:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()
            if replica.replica_engine() is not None:
                replica.replica_engine().dispose()


@contextlib.contextmanager
def app_on_own_database(backend, tmp_path_factory, **overrides):
    """A set-up app on a new empty database of its own (tests whose data must not meet the shared one's)."""
    from server import create_app
    from ops.cli import setup
    from ground.extensions import db

    with fresh_database(backend) as database:
        application = create_app(app_settings(database, tmp_path_factory, **overrides))
        with application.app_context():
            setup()
        try:
            yield application
        finally:
            with application.app_context():
                db.session.remove()
                db.engine.dispose()


@pytest.fixture(scope="session")
def app(database, tmp_path_factory):
    from server import create_app
    from ops.cli import setup

    application = create_app(app_settings(database, tmp_path_factory))
    with application.app_context():
        setup()
    yield application
    with application.app_context():
        from ground.extensions import db

        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(app):
    """An app context for direct engine/model work (not for test-client requests), in English so
    tests can read the reasons; the Chinese default is tested through pages and the API."""
    from flask import g
    from flask_babel import force_locale

    with app.app_context():
        g.test_locale = "en"  # flask-babel only forces a locale where g is not empty
        with force_locale("en"):
            yield
        from ground.extensions import db

        db.session.rollback()


@pytest.fixture
def client(app):
    return app.test_client()


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token(client, url="/login/") -> str:
    html = client.get(url).get_data(as_text=True)
    match = _CSRF.search(html)
    assert match, f"no CSRF token on {url}"
    return match.group(1) or match.group(2)


_NONCE = re.compile(r'name="captcha_nonce"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="captcha_nonce"')


def form_tokens(client, url) -> dict:
    """The CSRF token and, where the page has one, the captcha nonce and its answer (test-only hook)."""
    from app.services import captcha

    html = client.get(url).get_data(as_text=True)
    match = _CSRF.search(html)
    assert match, f"no CSRF token on {url}"
    tokens = {"csrf_token": match.group(1) or match.group(2)}
    nonce = _NONCE.search(html)
    if nonce:
        tokens["captcha_nonce"] = nonce.group(1) or nonce.group(2)
        with client.application.app_context():
            tokens["captcha"] = captcha.peek_answer(tokens["captcha_nonce"])
    return tokens


def api_captcha(client) -> dict:
    """captcha_nonce and captcha for an API sign-in."""
    from app.services import captcha

    nonce = client.get("/captcha/new").get_json()["nonce"]
    with client.application.app_context():
        return {"captcha_nonce": nonce, "captcha": captcha.peek_answer(nonce)}


def login(client, username, password="Test@2026", lang="en"):
    """Sign in through the login form. Tests read English messages unless they ask for Chinese."""
    if lang:
        client.get(f"/lang/{lang}")
    resp = client.post("/login/", data={"username": username, "password": password,
                                        **form_tokens(client, "/login/")})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    # A successful login lands on the index with the user's name; a failed one returns to /login/.
    assert "/login" not in resp.headers.get("Location", ""), f"login failed for {username}"
    return client


class QueryCounter:
    """Counts SQL statements on an engine (the test asserts how many a page needs)."""

    def __init__(self, engine):
        self.engine = engine
        self.statements = []

    def _count(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)

    @property
    def count(self):
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    from ground.extensions import db

    with app.app_context():
        engine = db.engine

    def make():
        return QueryCounter(engine)

    return make


def job_result(client, url):
    """Open a page that starts a background job (run at once in tests: JOBS_EAGER), land on 我的任务 and
    download the file of the job it started; returns the download's response."""
    resp = client.get(url)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/jobs/"), (resp.status_code, url)
    page = client.get("/jobs/").get_data(as_text=True)
    newest = re.search(r'data-job-id="(\d+)"', page)
    assert newest, "no job on 我的任务"
    assert f'href="/jobs/{newest.group(1)}/download"' in page, re.findall(r'class="text-danger job-error">([^<]*)', page)
    return client.get(f"/jobs/{newest.group(1)}/download")
