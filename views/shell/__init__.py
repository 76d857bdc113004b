"""The web shell: log filters, request ids and the access line, template filters, proxy headers, security headers,
the input guard, sessions, access checks and error pages, installed on the Flask app by `install()` (server.py calls it)."""
from flask import Flask

from app.scope import current_user
from app.workflow import OPINION_MAX_LENGTH
from ground.identifiers import mask_id_number, mask_text
from views import errors
from views.formatting import china_time
from views.jobs import badge_count
from views.shell import access, audit_responses, headers, input_guard, logging_filters, request_log, sessions


def install_log_filters():
    logging_filters.install()


def install(app: Flask):
    app.jinja_env.filters["china_time"] = china_time
    app.jinja_env.filters["mask_id"] = mask_id_number
    app.jinja_env.filters["mask_text"] = mask_text
    app.jinja_env.globals["opinion_max"] = OPINION_MAX_LENGTH
    app.jinja_env.globals["jobs_badge"] = lambda: badge_count(current_user())  # navbar: 我的任务 (views/jobs.py)
    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    request_log.install(app)  # request ids (header, log lines, error pages) and one access line per request
    audit_responses.install(app)
    headers.install(app)
    input_guard.install(app)  # unusable input (NUL, broken rison, ids beyond the keys) is a 400/404
    sessions.install(app)
    access.install(app)
    errors.install(app)  # translated error pages in the layout; JSON for the API; 413 on a form: flash
