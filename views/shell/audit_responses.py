"""The audit rows written once per response, so no page can forget them: "print" for every PDF served (unless
the view wrote its own, `app.audit.printed()`), "view" for a response that showed another person's ID or mobile
number in full (noted by app.personal_data)."""
from flask import Flask, g, request

from app.audit import acting_user, record
from ground.extensions import db
from views.shell.access import view_of


def _request_object() -> tuple[str, str | None]:
    """(model name, record id) the request is about: the view's model and the id in the address."""
    view = view_of(request.endpoint or "")
    model = getattr(getattr(view, "datamodel", None), "obj", None)
    args = request.view_args or {}
    object_id = next((args[k] for k in ("pk", "batch_id") if k in args), None)
    return (model.__name__ if model else "Report"), (None if object_id is None else str(object_id))


def _audit_response(response):
    disclosed = g.pop("_disclosed", None)
    is_pdf = response.status_code == 200 and response.mimetype == "application/pdf" and not g.get("_printed")
    if not (200 <= response.status_code < 300 and (disclosed or is_pdf)):
        return response
    object_type, object_id = _request_object()
    query, user = dict(request.args.items()), acting_user()
    if is_pdf:
        record("print", object_type, object_id, summary=request.endpoint or "", user=user,
               detail={"endpoint": request.endpoint, "args": query, "bytes": response.content_length})
    if disclosed:
        shown = sorted(set(disclosed))
        record("view", object_type, object_id, summary="; ".join(shown), user=user,
               detail={"endpoint": request.endpoint, "args": query, "shown": shown[:100], "count": len(shown)})
    db.session.commit()
    return response


def install(app: Flask):
    if _audit_response not in app.after_request_funcs.setdefault(None, []):
        app.after_request(_audit_response)
