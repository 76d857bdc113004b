"""Error pages: the HTTP errors a visitor can meet (400/401/403/404/405/413/429/500/503) answered in the
visitor's language inside the site layout, saying what happened and what to do next, with a link home and
one back, and the request id to quote to technical support. API paths, JSON endpoints (GET /captcha/new) and
clients asking for JSON get {"message": ..., "request_id": ...} with the same status instead (the `Error` schema
of the API description, views/contract.py).

A database that cannot be reached (ground/outage.py: connection refused or lost, not a failed statement) is a 503
with Retry-After wherever it is raised, tests included: a self-contained page (or JSON) saying so, the session
rolled back, one warning line in the log; the next request after the database is back works (the engine's
pool_pre_ping replaces dead connections). Any other unexpected exception is a 500 page only where Flask hands it
to the 500 handler, i.e. without PROPAGATE_EXCEPTIONS (tests and debug still see the exception). The layout reads
the user and the menu from the database; when it cannot render, a self-contained page without database access
stands in. No exception details are shown.
"""
import logging
import secrets
import sys
import time
from urllib.parse import urlsplit

from flask import current_app, flash, g, jsonify, redirect, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from markupsafe import Markup, escape
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from ground.extensions import db
from ground.outage import database_unreachable
from views.shell.request_log import request_id

CODES = (400, 401, 403, 404, 405, 413, 429, 500, 503)
DATABASE_DOWN = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError, sa_exc.TimeoutError)
DATABASE_RETRY_AFTER_SECONDS = 30
DATABASE_DOWN_TEXT = _l("The database cannot be reached right now. Please try again in a few minutes.")
DATABASE_DOWN_NEXT = _l("Nothing from this request was saved. Reload the page in a few minutes.")

log = logging.getLogger(__name__)


def install(app):
    for code in CODES:
        app.register_error_handler(code, handle_error)
    for error in DATABASE_DOWN:
        app.register_error_handler(error, handle_database_error)


JSON_ENDPOINTS = {"CaptchaView.new"}  # outside /api, JSON only: its errors (e.g. 429) are JSON too


def wants_json() -> bool:
    if request.path.startswith("/api/") or request.endpoint in JSON_ENDPOINTS:
        return True
    return request.accept_mimetypes.best_match(("text/html", "application/json")) == "application/json"


class ApiErrors:
    """Mixed into the REST APIs: a database outage inside an endpoint goes on to the 503 (FAB's @safe would answer
    every exception with a 500). FAB's own JSON errors get the request id in views/shell/request_log.py."""

    def response_500(self, message=None):
        error = sys.exc_info()[1]  # response_500 is called inside @safe's except block
        if error is not None and database_unreachable(error):
            raise error
        return super().response_500(message=message)


def install_token_errors(jwt_manager):
    """A malformed, forged or wrong-type token is 401, like a missing or expired one (RFC 6750 invalid_token);
    flask-jwt-extended would answer 422, which the API description keeps for refusals by the rules."""
    jwt_manager.invalid_token_loader(_invalid_token)


def _invalid_token(_reason):
    return jsonify(message=_("The access token is not valid. Sign in again.")), 401


def handle_database_error(error):
    """An outage is the 503; any other database error goes on as before (500, or raised in tests)."""
    if not database_unreachable(error):
        raise error
    return database_unavailable(error)


def database_unavailable(error):
    _rollback(quiet=True)
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()
    log.warning("database unreachable, answering 503: %s: %s", type(error).__name__, reason[0][:200] if reason else "")
    headers = {"Cache-Control": "no-store", "Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}
    if wants_json():
        return jsonify(message=str(DATABASE_DOWN_TEXT), request_id=request_id()), 503, headers
    error = ServiceUnavailable()
    context = _texts(error, None)
    context.update(explanation=str(DATABASE_DOWN_TEXT), next_step=str(DATABASE_DOWN_NEXT))
    context.update(_page_context(error.code))
    return _fallback_page(context), 503, {**headers, "Content-Type": "text/html; charset=utf-8"}


def handle_error(error: HTTPException):
    original = getattr(error, "original_exception", None)
    if original is not None and database_unreachable(original):
        return database_unavailable(original)
    _rollback()  # nothing of a failed request is kept, and the layout may query again
    if getattr(error, "response", None) is not None:  # e.g. a rate limit's own response
        return error.response
    code = error.code
    if code == 413 and request.method == "POST" and request.blueprint and not wants_json():
        # A form upload over MAX_CONTENT_LENGTH: say so on the page it came from.
        flash(_("The upload is larger than %(size)s MB; choose a smaller file.", size=_max_upload_mb()), "danger")
        return redirect(request.url), 303
    headers = {"Cache-Control": "no-store"}
    if code == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    retry = _retry_after_seconds() if code == 429 else None
    if retry:
        headers["Retry-After"] = str(retry)
    if wants_json():
        return jsonify(message=error.name, request_id=request_id()), code, headers
    context = _texts(error, retry)
    context.update(_page_context(code))
    page = _layout_page(context)
    if page is None:
        page = _fallback_page(context)
    return page, code, {**headers, "Content-Type": "text/html; charset=utf-8"}


def _page_context(code) -> dict:
    return {"code": code, "home": (request.script_root or "") + "/", "back": _back_url(),
            "lang": "en" if str(get_locale()).startswith("en") else "zh-CN", "support_line": _support_line()}


def _support_line() -> Markup:
    """"Quote this number to technical support: <code>id</code>" (the id in <code>: not a word of the page)."""
    text = escape(_("Quote this number to technical support: %(id)s").replace("%(id)s", "\x00"))
    before, _sep, after = str(text).partition("\x00")
    return Markup(before) + Markup('<code class="request-id">%s</code>') % (request_id() or "-") + Markup(after)


def _rollback(quiet=False):
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - a dead connection; the session is discarded at teardown
        log.warning("rollback failed while answering an error", exc_info=not quiet)


def _max_upload_mb() -> int:
    return (current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024)


def _retry_after_seconds() -> int | None:
    """Seconds until the breached rate limit resets (Flask-Limiter), if known."""
    try:
        limit = current_app.appbuilder.sm.limiter.current_limit
        return max(1, int(limit.reset_at - time.time())) if limit else None  # as Flask-Limiter counts
    except Exception:  # noqa: BLE001 - no limiter, or its storage is unreachable
        return None


def _back_url() -> str | None:
    """The previous page of this site (the Referer), if any; never another site's address."""
    referrer = request.referrer
    if not referrer or referrer == request.url:
        return None
    parts = urlsplit(referrer)
    if parts.scheme not in ("http", "https") or parts.netloc != request.host:
        return None
    return referrer


# Per status: title, what happened, what to do next. "csrf" is the 400 of an expired form; 500 stands for
# any other error. %(size)s and %(seconds)s are filled in when the page is made.
TEXTS = {
    "csrf": (_l("The form has expired"),
             _l("For your security, a form can only be sent for a limited time after it was opened, and only in "
                "the session it was opened in. This form was open too long, or you signed in again in the "
                "meantime. Nothing was saved."),
             _l("Go back, reload the page to get a fresh form, enter your data again and send it.")),
    400: (_l("Bad request"),
          _l("The request could not be understood: the address may be incomplete or malformed, or the form may "
             "be out of date. Nothing was saved."),
          _l("Go back, reload the page and try again. If you typed the address, check it.")),
    401: (_l("Sign-in required"), _l("This page is only available after signing in."),
          _l("Sign in, then open the page again.")),
    403: (_l("Access denied"), _l("Your account does not have permission to open this page or to take this action."),
          _l("If you need it, sign in with an account that has this permission, or contact your administrator.")),
    404: (_l("Page not found"),
          _l("The address may be wrong or out of date, or the record does not exist or is not within the scope "
             "of your account."),
          _l("Check the address, or start again from the home page or the menu.")),
    405: (_l("Request method not allowed"),
          _l("This address cannot be used this way, for example a form sent to a page that only displays "
             "information. Nothing was saved."),
          _l("Go back and use the buttons and links on the page rather than a bookmarked or typed address.")),
    413: (_l("File too large"), _l("The upload is larger than %(size)s MB; choose a smaller file."),
          _l("Go back and choose a smaller file; scan at a lower resolution or compress the image if needed.")),
    429: (_l("Too many requests"),
          _l("Too many requests came from your address in a short time; to protect the service, further "
             "requests are refused for a while."),
          _l("Wait a minute, then try again.")),
    503: (_l("Service temporarily unavailable"),
          _l("The service is temporarily unavailable, for example during maintenance or while the database "
             "cannot be reached. Nothing from this request was saved."),
          _l("Please try again later.")),
    500: (_l("System error"),
          _l("Something went wrong on our side while handling your request. Your data was not changed."),
          _l("Try again in a moment. If the problem persists, contact technical support and tell them the time "
             "and the page.")),
}


def _texts(error, retry) -> dict:
    """Title, what happened and what to do next, in the reader's language."""
    key = "csrf" if isinstance(error, CSRFError) else error.code if error.code in TEXTS else 500
    title, explanation, next_step = (str(text) for text in TEXTS[key])
    if key == 413:
        explanation = explanation % {"size": _max_upload_mb()}
    if key == 429 and retry:
        next_step = _("Wait %(seconds)s seconds, then try again.", seconds=retry)
    return {"title": title, "explanation": explanation, "next_step": next_step}


def _layout_page(context) -> str | None:
    """The page in the site layout (navbar, menu), or None when the layout cannot render."""
    try:
        if not hasattr(g, "user"):  # the error came before FAB's before_request (e.g. CSRF)
            g.user = current_user
        if not getattr(request, "csp_nonce", None):  # nor Talisman's: the layout's scripts need a nonce
            request.csp_nonce = secrets.token_urlsafe(16)
        appbuilder = current_app.appbuilder
        return render_template("errors/error.html", appbuilder=appbuilder, base_template=appbuilder.base_template,
                               current_app=current_app, **context)
    except Exception:  # noqa: BLE001 - database down, broken session: the fallback page
        log.warning("error page layout failed; using the fallback page", exc_info=True)
        _rollback()
        return None


def _fallback_page(context) -> str:
    """A self-contained page: no database, no context processors (they load the user)."""
    try:
        template = current_app.jinja_env.get_template("errors/fallback.html")
        return template.render(support_phones=current_app.config.get("SUPPORT_PHONES") or (), **context)
    except Exception:  # noqa: BLE001 - last resort
        log.exception("error fallback page failed")
        return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{context["code"]}</title></head>'
                f'<body><h1>{context["code"]}</h1><p><a href="{escape(context["home"])}">/</a></p></body></html>')
