"""The application core: create_app() builds the Flask app with FAB, Babel, CSRF and migrations."""
from flask import Flask


def create_app(config_overrides: dict | None = None) -> Flask:
    from .factory import build_app

    return build_app(config_overrides)
