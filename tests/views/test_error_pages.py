"""Error pages (views/errors.py): translated, in the site layout, saying what to do next, linking home;
API paths and JSON clients get JSON; a 500/503 renders even with the database down.

Codes no real route gives on demand come from test-only routes on a second app that hands exceptions
to the 500 handler (PROPAGATE_EXCEPTIONS=False), as production does."""
import contextlib
import html as html_lib
import io
import re

import pytest
from flask import abort
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from ground.extensions import db
from tests import factories as f
from tests.conftest import another_app, login
from tests.views.browser import browser_fixture, live_server_fixture  # noqa: F401 (fixtures)

TITLES = {  # code: (zh, en)
    400: ("请求有误", "Bad request"),
    401: ("需要登录", "Sign-in required"),
    403: ("无权访问", "Access denied"),
    404: ("页面不存在", "Page not found"),
    405: ("请求方式不被允许", "Request method not allowed"),
    413: ("文件过大", "File too large"),
    429: ("请求过于频繁", "Too many requests"),
    500: ("系统内部错误", "System error"),
    503: ("服务暂时不可用", "Service temporarily unavailable"),
}
NAVBAR = "gov-navbar"
SECRET = "secret-detail-7731"  # in the exception raised by the test route; never on the page
MAX_UPLOAD = 1024 * 1024


def _add_test_routes(application):
    @application.route("/test-errors/abort/<int:code>")
    def abort_with(code):
        abort(code)

    @application.route("/test-errors/raise")
    @application.route("/api/v1/test-errors/raise")
    def raise_error():
        raise RuntimeError(SECRET)


@pytest.fixture(scope="module")
def error_app(app, database, tmp_path_factory):
    with another_app(database, tmp_path_factory, PROPAGATE_EXCEPTIONS=False, MAX_CONTENT_LENGTH=MAX_UPLOAD) as application:
        _add_test_routes(application)
        yield application


@pytest.fixture(scope="module")
def limited_app(app, database, tmp_path_factory):
    with another_app(database, tmp_path_factory, RATELIMIT_ENABLED=True, PUBLIC_RATE_LIMIT="2 per minute",
                     AUTH_RATE_LIMIT="2 per minute") as application:
        yield application


def _client(application, lang="zh"):
    client = application.test_client()
    if lang == "en":
        client.get("/lang/en")
    return client


def _body(resp) -> dict:
    """The JSON error body without its request id (checked: the response header's)."""
    body = dict(resp.get_json())
    assert body.pop("request_id") == resp.headers["X-Request-ID"]
    return body


def _message(page: str) -> str:
    """The text of the page's message block (title, explanation, next step)."""
    block = re.search(r'id="error-message">(.*?)</(?:div|main)>', page, re.S)
    assert block, page[:1000]
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", block.group(1))).split())


def _check_page(resp, code, lang, layout=True, titles=None):
    page = resp.get_data(as_text=True)
    assert resp.status_code == code, page[:500]
    assert resp.mimetype == "text/html"
    assert resp.headers["Cache-Control"] == "no-store"
    assert (NAVBAR in page) is layout
    assert 'href="/"' in page
    message = _message(page)
    zh, en = titles or TITLES[code]
    if lang == "zh":
        assert zh in message
        assert not re.findall(r"[A-Za-z]{3,}", message), message
    else:
        assert en in message and zh not in message
    assert SECRET not in page and "Traceback" not in page
    return page


@contextlib.contextmanager
def _database_down(application):
    """Every statement of this app fails as when the server cannot be reached."""
    with application.app_context():
        engine = db.engine

    def refuse(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", refuse)


# --- every code, in Chinese and English ------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("code", sorted(TITLES))
def test_each_error_page_is_translated_in_the_layout(error_app, code, lang):
    url = "/test-errors/raise" if code == 500 else f"/test-errors/abort/{code}"
    _check_page(_client(error_app, lang).get(url), code, lang)


def test_the_500_page_comes_from_an_unexpected_exception_without_its_details(error_app):
    page = _check_page(_client(error_app).get("/test-errors/raise"), 500, "zh")
    assert "您的数据未被更改" in page and "技术支持" in page


def test_the_back_link_follows_the_referer_of_this_site_only(error_app):
    client = _client(error_app)
    page = client.get("/no-such-page", headers={"Referer": "http://localhost/registry/"}).get_data(as_text=True)
    assert 'href="http://localhost/registry/"' in page and "fa-arrow-left" in page
    page = client.get("/no-such-page", headers={"Referer": "https://evil.example/"}).get_data(as_text=True)
    assert "evil.example" not in page and "fa-arrow-left" not in page


# --- real causes on the main app --------------------------------------------------------------------------
def test_unknown_address_is_the_404_page(client):
    page = _check_page(client.get("/no-such-page"), 404, "zh")
    assert "不在您账号的查看范围内" in page


def test_wrong_method_is_the_405_page_with_allow(client):
    resp = client.get("/announcements/gather/1")
    _check_page(resp, 405, "zh")
    assert "POST" in resp.headers["Allow"]


def test_expired_form_is_the_csrf_page(app):
    client = _client(app, "en")
    resp = client.post("/login/", data={"username": "someone", "password": "x"})  # no CSRF token
    titles = ("表单已失效", "The form has expired")
    assert "reload the page" in _check_page(resp, 400, "en", titles=titles)
    zh = _client(app).post("/login/", data={"username": "someone", "password": "x"})
    assert "刷新页面" in _check_page(zh, 400, "zh", titles=titles)


def test_refused_input_is_the_400_page(client):
    _check_page(client.get("/registry/", query_string={"name": "a\x00b"}), 400, "zh")


def test_missing_permission_is_the_403_page_with_the_user_menu(app):
    with app.app_context():
        username, _ = f.make_applicant()
    client = login(app.test_client(), username, lang="zh")
    page = _check_page(client.get("/auditlog/list/"), 403, "zh")
    assert "logout-form" in page  # the signed-in user's menu
    en = login(app.test_client(), username, lang="en")
    _check_page(en.get("/auditlog/list/"), 403, "en")


# --- API and JSON clients ---------------------------------------------------------------------------------
def test_api_errors_stay_json(client, error_app):
    resp = client.get("/api/v1/no-such-resource/")
    assert resp.status_code == 404 and resp.is_json and _body(resp) == {"message": "Not Found"}
    resp = client.get("/api/v1/application/1/transition/submit")
    assert resp.status_code == 405 and resp.is_json and "POST" in resp.headers["Allow"]
    resp = _client(error_app).get("/api/v1/test-errors/raise")
    assert resp.status_code == 500 and _body(resp) == {"message": "Internal Server Error"}
    assert SECRET not in resp.get_data(as_text=True)


def test_a_client_asking_for_json_gets_json(error_app):
    resp = _client(error_app).get("/test-errors/abort/403", headers={"Accept": "application/json"})
    assert resp.status_code == 403 and _body(resp) == {"message": "Forbidden"}
    assert resp.headers["Cache-Control"] == "no-store"


# --- 413: a form upload keeps its flash and redirect; the API answers JSON ---------------------------------
def test_upload_over_the_request_limit(error_app):
    client = _client(error_app, "en")
    big = b"x" * (MAX_UPLOAD + 1)
    resp = client.post("/signup/", data={"file": (io.BytesIO(big), "big.jpg")},
                       content_type="multipart/form-data")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/signup/")
    assert "The upload is larger than 1 MB" in client.get("/signup/").get_data(as_text=True)
    resp = client.post("/api/v1/application/", data=b'{"a": "' + big + b'"}', content_type="application/json")
    assert resp.status_code == 413 and _body(resp) == {"message": "Request Entity Too Large"}
    page = _check_page(_client(error_app).get("/test-errors/abort/413"), 413, "zh")
    assert "1 MB" in page


# --- 429 from Flask-Limiter: the wait from the limit ------------------------------------------------------
def test_rate_limited_page_says_how_long_to_wait(limited_app):
    client = _client(limited_app)
    client.environ_base["REMOTE_ADDR"] = f"10.77.{f.next_serial() % 250}.{f.next_serial() % 250}"
    for _ in range(2):
        assert client.get("/registry/").status_code == 200
    resp = client.get("/registry/")
    page = _check_page(resp, 429, "zh")
    seconds = int(resp.headers["Retry-After"])
    assert 0 < seconds <= 60 and f"请等待 {seconds} 秒后再试" in page


def test_rate_limited_api_answers_json(limited_app):
    client = limited_app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.78.{f.next_serial() % 250}.{f.next_serial() % 250}"
    for _ in range(2):
        client.post("/api/v1/security/login", json={"username": "x", "password": "y"})
    resp = client.post("/api/v1/security/login", json={"username": "x", "password": "y"})
    assert resp.status_code == 429 and _body(resp) == {"message": "Too Many Requests"}
    assert int(resp.headers["Retry-After"]) > 0


# --- robustness: the database down, the layout failing ----------------------------------------------------
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_database_down_is_the_503_fallback_page(error_app, lang):
    with error_app.app_context():
        username, _ = f.make_applicant()
    client = login(error_app.test_client(), username, lang=lang)
    with _database_down(error_app):
        resp = client.get("/")  # the session check reads the database first
    page = _check_page(resp, 503, lang, layout=False)
    assert "connection refused" not in page
    assert client.get("/").status_code == 200  # back up: the same session goes on


def test_exception_with_the_database_down_is_the_500_fallback_page(error_app):
    client = _client(error_app)
    with _database_down(error_app):
        resp = client.get("/test-errors/raise")  # the layout's menu needs the database
    _check_page(resp, 500, "zh", layout=False)


def test_layout_failure_falls_back(error_app, monkeypatch):
    from views import errors

    def broken(*_args, **_kwargs):
        raise RuntimeError("layout broken")

    monkeypatch.setattr(errors, "render_template", broken)
    _check_page(_client(error_app, "en").get("/no-such-page"), 404, "en", layout=False)


def test_maintenance_503_keeps_the_layout(error_app):
    _check_page(_client(error_app).get("/test-errors/abort/503"), 503, "zh")


# --- in a browser -----------------------------------------------------------------------------------------
@pytest.mark.browser
def test_404_page_in_a_browser(app, live_server, browser):
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 404" not in m.text else None)
    resp = page.goto(f"{live_server}/no-such-page", referer=f"{live_server}/registry/")
    assert resp.status == 404
    assert page.locator(".gov-navbar").is_visible()
    assert page.locator("#error-message h2").inner_text().strip() == "页面不存在"
    assert page.get_attribute(".error-links a:has-text('返回首页')", "href") == "/"
    assert page.get_attribute(".error-links a:has-text('返回'):not(.btn-primary)", "href") == f"{live_server}/registry/"
    page.screenshot(path="/tmp/error-404.png")
    page.click("text=返回首页")
    page.wait_for_url(f"{live_server}/")
    assert not errors, errors  # no CSP violation or script error
    context.close()
