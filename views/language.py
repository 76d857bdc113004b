"""The language switch (/lang/zh, /lang/en): back to the very page the person was on, query string included.

FAB's own switch returns to a page from its navigation history, often not the current one. The menu link
carries the current address as `next`; without it the Referer of this site is used. An address no GET
route answers (a page that no longer exists, a form's POST target) leads to the home page instead.
"""
from urllib.parse import urlsplit

from flask import abort, current_app, redirect, request, session, url_for
from flask_babel import refresh
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

ENDPOINT = "LocaleView.index"  # FAB's endpoint, kept: the access policy and links name it


def link(lang: str) -> str:
    """The switch's address from the current page."""
    here = request.full_path if request.query_string else request.path
    return url_for(ENDPOINT, locale=lang, next=here)


def _return_to(target: str | None) -> str:
    home = current_app.appbuilder.get_url_for_index
    if not target:
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:  # only this site: the Referer must name this host, `next` a path
        if parts.netloc != request.host:
            return home
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//") or path.startswith(url_for(ENDPOINT, locale="x")[:-1]):
        return home
    adapter = current_app.url_map.bind(request.host, script_name=request.script_root or None)
    try:
        adapter.match(path, method="GET")
    except RequestRedirect:
        pass  # e.g. a missing trailing slash: the page exists
    except HTTPException:
        return home
    return path + (f"?{parts.query}" if parts.query else "")


def switch(locale):
    if locale not in current_app.appbuilder.bm.languages:
        abort(404)
    session["locale"] = locale
    refresh()
    return redirect(_return_to(request.args.get("next") or request.referrer))


def install(app):
    """Replace FAB's view function behind the same endpoint and URL."""
    app.view_functions[ENDPOINT] = switch
    app.jinja_env.globals["language_link"] = link
