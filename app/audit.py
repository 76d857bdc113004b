"""Audit trail: every insert, update and delete of an audited model (`__audited__ = True`) adds an
AuditLog row in the same flush, so it commits or rolls back with the change itself.

Workflow transitions move state with a guarded UPDATE the ORM does not see; the engine writes their
audit row itself.
"""
from datetime import date, datetime
from decimal import Decimal

from flask import g, has_request_context, request
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from models import AuditLog

from .clock import now_utc


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


def _changes(obj) -> dict:
    state = inspect(obj)
    changed = {}
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if history.has_changes():
            before = history.deleted[0] if history.deleted else None
            after = history.added[0] if history.added else None
            if before != after:
                changed[attr.key] = [_plain(before), _plain(after)]
    return changed


def _snapshot(obj) -> dict:
    state = inspect(obj)
    return {attr.key: _plain(getattr(obj, attr.key)) for attr in state.mapper.column_attrs}


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


def install():
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
