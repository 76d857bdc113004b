"""Pluggable backends named by a setting (SMS_BACKEND, MAIL_BACKEND): a dotted path to a class or an instance."""
from flask import current_app
from werkzeug.utils import import_string


def configured(setting: str):
    """The backend the setting names, one instance per app (built again when the setting changes)."""
    path = current_app.config[setting]
    cached = current_app.extensions.get(f"backend:{setting}")
    if cached is None or cached[0] != path:
        target = import_string(path)
        cached = (path, target() if isinstance(target, type) else target)
        current_app.extensions[f"backend:{setting}"] = cached
    return cached[1]
