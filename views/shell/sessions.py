"""Signed-in sessions kept on the server (models.UserSession).

The session cookie carries a random id; its hash is stored with the account. Every request checks it:
a session ends after `SESSION_IDLE_MINUTES` without a request, after `SESSION_LIFETIME_HOURS` in all,
at sign-out, when the password changes (elsewhere) and when the account is deactivated. Signing in
starts from an empty cookie session (nothing from before survives, the CSRF token is new) and a new id.
"""
import hashlib
import secrets
from datetime import timedelta

from flask import current_app, flash, has_request_context, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from sqlalchemy import update

from models import AppUser, UserSession

from ground import signals
from ground.clock import now_utc
from ground.extensions import db

SESSION_ID = "_sid"
PASSWORD_STAMP = "_pws"
_TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most once a minute per session


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _password_stamp(user) -> str:
    return _digest(user.password or "")[:16]


def start(user):
    """Call after the credentials were checked and before login_user()."""
    locale = session.get("locale")  # the language chosen before signing in is a display preference
    session.clear()
    if locale:
        session["locale"] = locale
    token = secrets.token_urlsafe(32)
    db.session.add(UserSession(user_id=user.id, token_hash=_digest(token), ip=request.remote_addr))
    db.session.commit()
    session[SESSION_ID] = token
    session[PASSWORD_STAMP] = _password_stamp(user)
    session.permanent = True  # the cookie expires with the absolute lifetime too


def password_changed(user):
    """A password was set (ground.signals.password_changed). If the signed-in user changed their own, this
    session goes on with the new stamp; every other session still carries the old one and ends at its next
    request."""
    if has_request_context() and getattr(current_user, "id", None) == user.id:
        session[PASSWORD_STAMP] = _password_stamp(user)


def end(reason: str = "logout"):
    token = session.get(SESSION_ID)
    if token:
        db.session.execute(update(UserSession).where(
            UserSession.token_hash == _digest(token), UserSession.ended_at.is_(None))
            .values(ended_at=now_utc(), ended_reason=reason))
        db.session.commit()
    session.pop(SESSION_ID, None)


def _reason_to_end(row, now) -> str | None:
    config = current_app.config
    if row is None or row.ended_at is not None:
        return "ended"
    if now - row.created_at > timedelta(hours=config["SESSION_LIFETIME_HOURS"]):
        return "lifetime"
    if now - row.last_seen_at > timedelta(minutes=config["SESSION_IDLE_MINUTES"]):
        return "idle"
    user = db.session.get(AppUser, row.user_id)
    if user is None or not user.active:
        return "inactive"
    if session.get(PASSWORD_STAMP) != _password_stamp(user):
        return "password"
    return None


def check():
    """before_request: end a signed-in session that is over; keep its last-seen time."""
    if "_user_id" not in session or (request.endpoint or "").endswith("static"):
        return None
    token = session.get(SESSION_ID)
    row = db.session.query(UserSession).filter_by(token_hash=_digest(token)).one_or_none() if token else None
    now = now_utc()
    reason = _reason_to_end(row, now)
    if reason is None:
        if now - row.last_seen_at >= _TOUCH_EVERY:
            row.last_seen_at = now
            db.session.commit()
        return None
    if row is not None and row.ended_at is None:
        row.ended_at, row.ended_reason = now, reason
        db.session.commit()
    logout_user()
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    if request.path.startswith("/api/"):
        return None  # the API answers 401 to a request without a valid token or session
    messages = {"idle": _("You were signed out after %(minutes)s minutes without activity. Please sign in again.",
                          minutes=current_app.config["SESSION_IDLE_MINUTES"]),
                "lifetime": _("Your session reached its maximum length. Please sign in again."),
                "password": _("The password of this account was changed. Please sign in again.")}
    flash(messages.get(reason, _("Your session has ended. Please sign in again.")), "warning")
    login = f"{current_app.appbuilder.sm.auth_view.__class__.__name__}.login"
    return redirect(url_for(login, next=request.full_path) if request.method == "GET" else url_for(login))


def install(app):
    signals.password_changed.connect(password_changed)  # a weak reference to a module function: kept
    app.before_request(check)
