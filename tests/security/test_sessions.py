"""Sessions and headers: idle and absolute timeouts, a new session at sign-in, sign-out that ends the
session on the server (a copied cookie stops working), password change and deactivation ending other
sessions, security headers and a nonce on every script, production cookies."""
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import update

from ground.clock import now_utc
from ground.extensions import db
from models import AppUser, UserSession
from tests import factories as f
from tests.conftest import another_app, csrf_token, login


def _user(app, role="Ministry"):
    with app.app_context():
        return f.make_user(role)


def _sessions_of(app, username):
    with app.app_context():
        user_id = f.user(username).id
        return db.session.query(UserSession).filter_by(user_id=user_id).order_by(UserSession.id).all()


def _age(app, username, **changes):
    """Move the user's open sessions into the past."""
    with app.app_context():
        user_id = f.user(username).id
        db.session.execute(update(UserSession).where(UserSession.user_id == user_id,
                                                     UserSession.ended_at.is_(None)).values(**changes))
        db.session.commit()


def _signed_in(client) -> bool:
    resp = client.get("/account/password")
    return resp.status_code == 200


def _copy_cookie(app, client):
    twin = app.test_client()
    name = app.config["SESSION_COOKIE_NAME"]
    twin.set_cookie(name, client.get_cookie(name).value)
    return twin


def test_idle_session_ends_with_a_message(app):
    username = _user(app)
    client = login(app.test_client(), username)
    assert _signed_in(client)
    idle = app.config["SESSION_IDLE_MINUTES"]
    _age(app, username, last_seen_at=now_utc() - timedelta(minutes=idle + 1))
    resp = client.get("/auditlog/list/")
    assert resp.status_code == 302 and "/login/" in resp.headers["Location"]
    assert "without activity" in client.get("/login/").get_data(as_text=True)
    assert not _signed_in(client)
    assert _sessions_of(app, username)[-1].ended_reason == "idle"


def test_active_session_ends_at_its_absolute_lifetime(app):
    username = _user(app)
    client = login(app.test_client(), username)
    hours = app.config["SESSION_LIFETIME_HOURS"]
    _age(app, username, created_at=now_utc() - timedelta(hours=hours, minutes=1), last_seen_at=now_utc())
    assert client.get("/auditlog/list/").status_code == 302
    assert not _signed_in(client)
    assert _sessions_of(app, username)[-1].ended_reason == "lifetime"


def test_activity_keeps_a_session_alive(app):
    username = _user(app)
    client = login(app.test_client(), username)
    idle = app.config["SESSION_IDLE_MINUTES"]
    _age(app, username, last_seen_at=now_utc() - timedelta(minutes=idle - 1))
    assert _signed_in(client)  # within the idle time: the request renews last_seen_at
    assert now_utc() - _sessions_of(app, username)[-1].last_seen_at < timedelta(minutes=1)


def test_signing_in_starts_a_new_session(app):
    username = _user(app)
    client = app.test_client()
    client.get("/login/")
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker before sign-in"
        before = dict(sess)
    login(client, username)
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess.get("csrf_token") != before.get("csrf_token")
        first = sess["_sid"]
    client.post("/logout/", data={"csrf_token": csrf_token(client, "/")})
    login(client, username)
    with client.session_transaction() as sess:
        assert sess["_sid"] != first
    rows = _sessions_of(app, username)
    assert len(rows) == 2 and rows[0].ended_reason == "logout" and rows[1].ended_at is None


def test_sign_out_ends_the_session_for_a_copied_cookie_too(app):
    username = _user(app)
    client = login(app.test_client(), username)
    stolen = _copy_cookie(app, client)
    assert _signed_in(stolen)
    client.post("/logout/", data={"csrf_token": csrf_token(client, "/")})
    assert not _signed_in(client)
    assert not _signed_in(stolen)


def test_password_change_ends_the_other_sessions(app):
    username = _user(app)
    here = login(app.test_client(), username)
    elsewhere = login(app.test_client(), username)
    resp = here.post("/account/password", data={"csrf_token": csrf_token(here, "/account/password"),
                                                "old_password": "Test@2026", "password": "Neu@Pass2027x",
                                                "confirm": "Neu@Pass2027x"})
    assert resp.status_code in (200, 302)
    with app.app_context():
        changed = f.user(username).password
    assert changed  # the form was accepted: the hash is new (checked below by the other session ending)
    assert _signed_in(here)
    assert not _signed_in(elsewhere)


def test_deactivated_account_is_signed_out(app):
    username = _user(app)
    client = login(app.test_client(), username)
    with app.app_context():
        db.session.execute(update(AppUser).where(AppUser.username == username).values(active=False))
        db.session.commit()
    assert not _signed_in(client)
    assert _sessions_of(app, username)[-1].ended_reason == "inactive"


_SCRIPT = re.compile(r"<script\b([^>]*)>", re.I)


class _HandlerFinder(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        self.found += [f"<{tag} {name}=…>" for name, _ in attrs if name.lower().startswith("on")]
        self.found += [f"<{tag} {name}=javascript:…>" for name, value in attrs
                       if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:")]


def _inline_handlers(html: str) -> list:
    finder = _HandlerFinder()
    finder.feed(html)
    return finder.found


@pytest.mark.parametrize("path, role", [
    ("/login/", None), ("/", "Ministry"), ("/applications/list/", "Ministry"), ("/persons/list/", "Ministry"),
    ("/dashboard/", "Ministry"), ("/exports/persons/", "Ministry"), ("/swagger/v1", "Ministry"),
    ("/verify/", None), ("/registry/", None), ("/signup/", None),
])
def test_security_headers_and_a_nonce_on_every_script(app, path, role):
    client = app.test_client()
    if role:
        login(client, _user(app, role))
    resp = client.get(path)
    assert resp.status_code == 200, path
    csp = resp.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", csp).group(1)
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    nonce = re.search(r"'nonce-([^']+)'", script_src).group(1)
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    html = resp.get_data(as_text=True)
    scripts = _SCRIPT.findall(html)
    assert all(f'nonce="{nonce}"' in attrs for attrs in scripts), [a for a in scripts if nonce not in a]
    assert not _inline_handlers(html)  # no onclick= … in any tag (escaped text is fine)
    assert "https://" not in " ".join(re.findall(r'(?:src|href)="([^"]+)"', html)).replace(
        "https://github.com", "")  # nothing from another origin


def test_production_cookies_and_https(database, tmp_path_factory):
    with another_app(database, tmp_path_factory, SESSION_COOKIE_SECURE=True, SESSION_COOKIE_NAME="__Host-session",
                     FORCE_HTTPS=True) as production:
        client = production.test_client()
        assert client.get("/login/").status_code in (301, 302)  # plain HTTP goes to HTTPS
        resp = client.get("/login/", base_url="https://localhost")
        assert resp.status_code == 200
        assert "max-age=" in resp.headers["Strict-Transport-Security"]
        cookie = resp.headers["Set-Cookie"]
        assert cookie.startswith("__Host-session=")
        for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
            assert attribute in cookie
        assert "Domain=" not in cookie


def test_export_pages_with_a_pager_have_no_javascript_links(app, monkeypatch):
    """Flask-Admin's pager and menus use `javascript:` links; the exports render them as plain ones."""
    from views.exports import ExportView

    with app.app_context():
        for _ in range(3):
            f.make_person()
    monkeypatch.setattr(ExportView, "page_size", 1)
    client = login(app.test_client(), _user(app))
    html = client.get("/exports/persons/").get_data(as_text=True)
    assert 'class="pagination' in html
    assert "javascript:" not in html and not _inline_handlers(html)
