"""Scripts, styles and fonts: cached by browsers for a year, addressed by version.

Every static URL carries `?v=<version>`, a digest of the installed FAB and Flask-Admin versions and of our
own static files, so a page load asks the server only for the page itself: without it, each page revalidated
about twenty files, one request each to a sync worker (the slow sign-in of issue 12). A changed file changes
the version, so browsers never keep an old script after an upgrade.
"""
import hashlib
from importlib.metadata import version as package_version
from pathlib import Path

from flask import request

DAY = 24 * 3600
YEAR = 365 * DAY


def static_version(static_folder: str) -> str:
    digest = hashlib.sha256()
    for package in ("flask-appbuilder", "flask-admin"):
        digest.update(package_version(package).encode())
    for path in sorted(Path(static_folder).rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(static_folder)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def install(app):
    current = static_version(app.static_folder)

    @app.url_defaults
    def _versioned(endpoint, values):
        if endpoint and (endpoint == "static" or endpoint.endswith(".static")) and "filename" in values:
            values.setdefault("v", current)

    @app.after_request
    def _cache_versioned(response):
        endpoint = request.endpoint or ""
        if not (endpoint == "static" or endpoint.endswith(".static")) or response.status_code not in (200, 304):
            return response
        if request.args.get("v") == current:
            response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
        else:  # fonts named by the style sheets themselves
            response.headers["Cache-Control"] = f"public, max-age={DAY}"
        return response
