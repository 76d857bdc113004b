"""Audit trail: every insert, update and delete of an audited model (`__audited__ = True`) adds an
AuditLog row in the same flush, so it commits or rolls back with the change itself. A model may name
bookkeeping columns to leave out (`__audit_ignore__`), secrets to record only as changed
(`__audit_redact__`) and collections to follow (`__audit_relations__`, e.g. an account's roles).

Workflow transitions move state with a guarded UPDATE the ORM does not see; the engine writes their
audit row itself. Sign-ins (views.shell.security), exports (views.exports), certificate prints and file views
write theirs where they happen. Two kinds are written once per response by views/shell/audit_responses.py, so
no page can forget them:
- "print": every PDF the application serves (a view that wrote its own rows calls `printed()`);
- "view": a page or API response that showed another person's ID or mobile number in full
  (app.personal_data notes each one with `note_disclosure`).
"""
from datetime import date, datetime
from decimal import Decimal

from flask import current_app, g, has_request_context, request
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from models import AuditLog

from ground import signals
from ground.clock import now_utc
from ground.extensions import db
from ground.identifiers import looks_like_id_number, mask_id_number


def actor_fields(user=None) -> dict:
    """user_id, username, role and ip of whoever acts now (a request's user, or the command line)."""
    if user is None and has_request_context():
        user = getattr(g, "user", None)
    authenticated = user is not None and getattr(user, "is_authenticated", False)
    fields = {
        "user_id": getattr(user, "id", None) if authenticated else None,
        "username": getattr(user, "username", None) if authenticated else ("system" if not has_request_context() else None),
        "role": ",".join(sorted(r.name for r in user.roles)) if authenticated else None,
        "ip": request.remote_addr if has_request_context() else None,
    }
    return fields


def _plain(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


REDACTED = "(changed)"  # how a secret appears in the trail (views.audit_display translates it)


def _columns(obj):
    """The audited column attributes: all but the model's `__audit_ignore__` (bookkeeping)."""
    ignored = getattr(obj, "__audit_ignore__", ())
    return [attr for attr in inspect(obj).mapper.column_attrs if attr.key not in ignored]


def _shown(obj, key, value):
    """A value as the trail keeps it: secrets (`__audit_redact__`) only as the fact that they are set."""
    if key in getattr(obj, "__audit_redact__", ()):
        return REDACTED if value else None
    return _plain(value)


def _changes(obj) -> dict:
    state = inspect(obj)
    changed = {}
    for attr in _columns(obj):
        history = state.attrs[attr.key].history
        if history.has_changes():
            before = history.deleted[0] if history.deleted else None
            after = history.added[0] if history.added else None
            if before != after:
                changed[attr.key] = [_shown(obj, attr.key, before), _shown(obj, attr.key, after)]
    for key in getattr(obj, "__audit_relations__", ()):  # e.g. an account's roles
        history = state.attrs[key].history
        if history.added or history.deleted:
            changed[key] = {"added": sorted(str(o) for o in history.added),
                            "removed": sorted(str(o) for o in history.deleted)}
    return changed


def _snapshot(obj) -> dict:
    snapshot = {attr.key: _shown(obj, attr.key, getattr(obj, attr.key)) for attr in _columns(obj)}
    for key in getattr(obj, "__audit_relations__", ()):
        snapshot[key] = sorted(str(o) for o in getattr(obj, key))
    return snapshot


def _pk(obj):
    values = inspect(obj).mapper.primary_key_from_instance(obj)
    return ",".join(str(v) for v in values) if all(v is not None for v in values) else None


def _after_flush(session, flush_context):
    """Runs while new/dirty/deleted and attribute history still describe the flush just made, and every
    created row already has its primary key; rows go in with a core INSERT on the same transaction."""
    entries = []
    for obj in session.new:
        if getattr(obj, "__audited__", False):
            entries.append(("create", obj, _snapshot(obj)))
    for obj in session.dirty:
        if getattr(obj, "__audited__", False):
            changes = _changes(obj)
            if changes:
                entries.append(("update", obj, changes))
    for obj in session.deleted:
        if getattr(obj, "__audited__", False):
            entries.append(("delete", obj, _snapshot(obj)))
    if not entries:
        return
    actor = actor_fields()
    now = now_utc()
    session.execute(AuditLog.__table__.insert(), [
        {"created_at": now, "action": action, "object_type": type(obj).__name__, "object_id": _pk(obj),
         "summary": str(obj)[:200], "detail": detail, **actor}
        for action, obj, detail in entries
    ])


def record(action: str, object_type: str, object_id=None, summary: str = "", detail=None, user=None):
    """One audit row in the session's transaction (the caller commits)."""
    db.session.execute(AuditLog.__table__.insert(), [{
        "created_at": now_utc(), "action": action, "object_type": object_type,
        "object_id": None if object_id is None else str(object_id), "summary": (summary or "")[:200],
        "detail": detail, **actor_fields(user)}])


def note_disclosure(masked: str):
    """A number shown in full to someone other than its owner, noted in its masked form."""
    if has_request_context():
        g.setdefault("_disclosed", []).append(masked)


def printed():
    """The view wrote its own "print" rows for the PDF it returns."""
    g._printed = True


def acting_user():
    """The signed-in user on page and JWT requests alike; None when there is neither."""
    try:
        return current_app.appbuilder.sm.current_user
    except RuntimeError:  # flask-jwt-extended: no JWT was checked on this request
        return None


def install():
    """The model hook, once per process (the response hook is the web shell's: views/shell/audit_responses.py)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)


def record_login_event(action: str, user=None, username: str | None = None, summary: str = ""):
    """An audit row for sign-in events (the account is the object; the actor is whoever signs in)."""
    signals.login_event.send(action)
    actor = actor_fields(user if action in ("login", "logout", "password_reset") else None)
    name = getattr(user, "username", None) or username or ""
    if actor["username"] is None:
        actor["username"] = mask_id_number(name) if looks_like_id_number(name) else name[:100]
    db.session.execute(AuditLog.__table__.insert(), [{
        "created_at": now_utc(), "action": action, "object_type": "AppUser",
        "object_id": str(user.id) if user is not None else None, "summary": summary[:200], "detail": None,
        **actor}])
