"""Requests no view can use are refused with 400 before any view runs:

- a NUL character (U+0000) anywhere in the path, query, form fields, file names or JSON strings:
  PostgreSQL text cannot hold it, so any query or insert with one fails with a server error;
- a JSON body nested too deeply for the parser (Python raises RecursionError, not ValueError, so
  Flask's `get_json(silent=True)` lets it through as a server error);
- an API `q` argument that the rison parser fails on with anything but its own ParserException
  (e.g. "0E"): FAB turns that into a 500.
A record id in the path beyond what the integer primary keys hold is a 404 (SQLite cannot even bind
an integer over 64 bits, and FAB passes the address's key to the query as it is). So is a GET of an API
record whose id is no whole number (-1, abc): FAB reads records at `<int:pk>` but updates and deletes them at
`<pk>`, so Flask would answer that GET with 405.
File contents are not read here.
"""
import prison
from flask import abort, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from flask_babel import gettext as _


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


class _Malformed(Exception):
    pass


def _json_body():
    try:
        return request.get_json(silent=True)
    except RecursionError:
        raise _Malformed() from None


def _request_has_nul() -> bool:
    if "\x00" in request.path or _has_nul(list(request.args.items(multi=True))):
        return True
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return False
    if request.is_json:
        return _has_nul(_json_body())
    if _has_nul(list(request.form.items(multi=True))):
        return True
    return any(_has_nul(name) or _has_nul(upload.filename) for name, upload in request.files.items(multi=True))


def _broken_rison() -> bool:
    query = request.args.get("q")
    if not query or not request.path.startswith("/api/"):
        return False
    try:
        prison.loads(query)
    except prison.decoder.ParserException:
        return False  # FAB answers these itself with a 400
    except Exception:  # noqa: BLE001 - ValueError, IndexError, RecursionError ... from the parser
        return True
    return False


_MAX_ID = 2**31 - 1  # integer primary keys (PostgreSQL "integer")


def _id_out_of_range() -> bool:
    for value in (request.view_args or {}).values():
        text = str(value).lstrip("-")
        if text.isascii() and text.isdigit() and (len(text) > 10 or int(text) > _MAX_ID):
            return True
    return False


def _unreadable_api_record() -> bool:
    """A GET of /api/…/<pk> whose pk the GET rule's int converter refused (the PUT rule takes any text)."""
    if not (isinstance(request.routing_exception, MethodNotAllowed) and request.method in ("GET", "HEAD")
            and request.path.startswith("/api/")):
        return False
    try:
        _endpoint, args = current_app.url_map.bind_to_environ(request.environ).match(method="PUT")
    except HTTPException:
        return False
    return "pk" in args


def _refuse(message):
    if request.path.startswith("/api/"):
        return jsonify(message=message), 400
    abort(400, description=message)


def check_request():
    try:
        if _request_has_nul():
            return _refuse(_("The request contains a NUL character, which is not allowed."))
    except _Malformed:
        return _refuse(_("The request is malformed."))
    if _broken_rison():
        return _refuse(_("The request is malformed."))
    if _id_out_of_range() or _unreadable_api_record():
        if request.path.startswith("/api/"):
            return jsonify(message="Not found"), 404  # FAB's own answer
        abort(404)
    return None


def install(app):
    app.before_request(check_request)
