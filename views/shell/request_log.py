"""Request ids and the access line.

Each request gets an id: the incoming `X-Request-ID` when it is sane (1-64 characters of A-Z a-z 0-9 . _ -),
else a new one (uuid4 hex). It is in flask.g, on every log line written during the request (with the user id and
roles, ground/logs.py), in the response header `X-Request-ID`, on the error pages and in the API's JSON errors
(ours and FAB's).
At the end of each request one access line (logger `registry.access`, INFO) gives endpoint, method, path, status
and duration_ms. Nothing here queries the database: the user is read only as far as it is already loaded.
"""
import logging
import re
import time
import uuid

from flask import Flask, current_app, g, has_request_context, request
from werkzeug.local import LocalProxy

from ground import logs
from ground.identifiers import mask_text

HEADER = "X-Request-ID"
_SANE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

access_log = logging.getLogger("registry.access")


def request_id() -> str | None:
    """This request's id (made on first use, so that errors before our before_request have one too)."""
    if not has_request_context():
        return None
    rid = g.get("request_id")
    if rid is None:
        incoming = request.headers.get(HEADER, "")
        rid = incoming if _SANE.match(incoming) else uuid.uuid4().hex
        g.request_id = rid
        g.request_started = time.perf_counter()
    return rid


def _loaded_user():
    """The signed-in user if already loaded (flask-login's, or the API's JWT user in g.user); never a proxy."""
    for user in (g.get("_login_user"), g.get("user")):
        if user is not None and not isinstance(user, LocalProxy) and getattr(user, "_sa_instance_state", None):
            return user
    return None


def _user_fields() -> dict:
    user = _loaded_user()
    if user is None:
        return {}
    identity = user._sa_instance_state.identity
    if not identity:
        return {}
    roles = user.__dict__.get("roles")  # only when loaded: a lazy load here would be a query per log line
    if roles is not None:
        g.log_roles = sorted(r.__dict__.get("name") or "" for r in roles)
    return {"user_id": identity[0], "roles": g.get("log_roles")}


def _context() -> dict:
    if not has_request_context():
        return {}
    return {"request_id": request_id(), **_user_fields()}


def _start():
    request_id()
    g.request_started = g.get("request_started") or time.perf_counter()


def _answer(response):
    response.headers[HEADER] = request_id()
    if response.status_code >= 400 and request.path.startswith("/api/"):
        _add_to_json_error(response)
    _access_line(response.status_code)
    return response


def _add_to_json_error(response):
    """FAB's and flask-jwt-extended's own JSON errors ({"message"/"msg": …}) carry request_id too, and
    "message" (the API description's `Error`)."""
    if response.is_streamed or not response.is_json:
        return
    body = response.get_json(silent=True)
    if isinstance(body, dict) and "request_id" not in body:
        body["request_id"] = request_id()
        if "msg" in body and "message" not in body:  # flask-jwt-extended's key; the API's errors say "message"
            body["message"] = body["msg"]
        response.set_data(current_app.json.dumps(body))


def _teardown(_error=None):
    if not g.get("access_logged"):  # no response was made (an exception propagated): the server answers 500
        _access_line(500)


def _access_line(status: int):
    if g.get("access_logged"):
        return
    g.access_logged = True
    started = g.get("request_started")
    duration = round((time.perf_counter() - started) * 1000, 1) if started else None
    path = mask_text(request.path)
    endpoint = request.endpoint or "unmatched"
    access_log.info("%s %s %s %sms", request.method, path, status, duration,
                    extra={"endpoint": endpoint, "method": request.method, "path": path, "status": status,
                           "duration_ms": duration})


def install(app: Flask):
    logs.add_context_provider(_context)
    app.before_request_funcs.setdefault(None, []).insert(0, _start)  # before FAB's and every other hook
    app.after_request(_answer)
    app.teardown_request(_teardown)
