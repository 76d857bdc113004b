"""The audit rows written once per response, so no page can forget them:
- "print" for every PDF served (unless the view wrote its own, `app.audit.printed()`);
- "view" for a response that showed another person's ID or mobile number in full (noted by app.personal_data);
- "read" for a record page or API record (`show`, `get`) of another person's personal data: a Person, or a
  record that belongs to one (a `person_id` column: applications, registrations, certificates, qualifications,
  penalties, files, accounts). A person reading their own record writes none; a response that also showed
  full numbers writes its one "view" row, which names the person too;
- "read_list" for a list page or API list of such records, one row per request with its query (filters, page,
  order), for staff: an applicant's lists hold only their own records.
"""
from flask import Flask, g, request

from app.audit import acting_user, record
from ground.extensions import db
from models import Person
from views.shell.access import view_of

_RECORD_ENDPOINTS = ("show", "get")
_LIST_ENDPOINTS = ("list", "get_list")


def _request_object() -> tuple[str, str | None]:
    """(model name, record id) the request is about: the view's model and the id in the address."""
    view = view_of(request.endpoint or "")
    model = getattr(getattr(view, "datamodel", None), "obj", None)
    args = request.view_args or {}
    object_id = next((args[k] for k in ("pk", "batch_id") if k in args), None)
    return (model.__name__ if model else "Report"), (None if object_id is None else str(object_id))


def _personal_model(endpoint: str):
    """The model of a view whose records are personal data (a Person, or one with a person_id), else None."""
    model = getattr(getattr(view_of(endpoint), "datamodel", None), "obj", None)
    if model is not None and (model is Person or "person_id" in getattr(model, "__table__").columns):
        return model
    return None


def _own_people(user) -> set:
    return {getattr(user, "person_id", None), getattr(user, "staff_person_id", None)} - {None}


def _kind() -> str:
    return (request.endpoint or "").rsplit(".", 1)[-1]


def _read(user) -> tuple[str, dict] | None:
    """("read" or "read_list", detail) when this response showed another person's record(s)."""
    endpoint, kind = request.endpoint or "", _kind()
    if kind not in _RECORD_ENDPOINTS + _LIST_ENDPOINTS or not getattr(user, "is_authenticated", False):
        return None
    model = _personal_model(endpoint)
    if model is None:
        return None
    if kind in _LIST_ENDPOINTS:
        return None if getattr(user, "person_id", None) else ("read_list", {})
    pk = str((request.view_args or {}).get("pk", ""))
    item = db.session.get(model, int(pk)) if pk.isdigit() else None
    person_id = getattr(item, "id" if model is Person else "person_id", None)
    if person_id is None or person_id in _own_people(user):
        return None
    return "read", {"person_id": person_id}


def _audit_response(response):
    disclosed = g.pop("_disclosed", None)
    is_pdf = response.status_code == 200 and response.mimetype == "application/pdf" and not g.get("_printed")
    reading = response.status_code == 200 and not is_pdf and _kind() in _RECORD_ENDPOINTS + _LIST_ENDPOINTS
    if not (200 <= response.status_code < 300 and (disclosed or is_pdf or reading)):
        return response
    user = acting_user()
    read = _read(user) if reading else None
    if not (disclosed or is_pdf or read):
        return response
    object_type, object_id = _request_object()
    query = dict(request.args.items())
    base = {"endpoint": request.endpoint, "args": query}
    if is_pdf:
        record("print", object_type, object_id, summary=request.endpoint or "", user=user,
               detail={**base, "bytes": response.content_length})
    if disclosed:
        shown = sorted(set(disclosed))
        record("view", object_type, object_id, summary="; ".join(shown), user=user,
               detail={**base, "shown": shown[:100], "count": len(shown), **(read[1] if read else {})})
    elif read:
        record(read[0], object_type, object_id, user=user, detail={**base, **read[1]})  # detail: page, query, person
    db.session.commit()
    return response


def install(app: Flask):
    if _audit_response not in app.after_request_funcs.setdefault(None, []):
        app.after_request(_audit_response)
