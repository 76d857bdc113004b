"""The schema owner's connection (MIGRATION_DATABASE_URL): migrations, `flask setup`, `flask db-roles` and restore
run as the role that owns the tables, while the running app connects as DATABASE_URL, an application role that owns
nothing (docs/OPERATIONS.md "Database roles"). Unset, or the same URL: the app's own engine (SQLite, development)."""
from flask import current_app
from sqlalchemy import create_engine

from ground.extensions import db

EXTENSION = "schema_owner_engine"


def separate() -> bool:
    """True when the owner connects with other settings than the running app."""
    url = current_app.config.get("MIGRATION_DATABASE_URL")
    return bool(url) and url != current_app.config.get("SQLALCHEMY_DATABASE_URI")


def engine():
    """The owner's engine (made once per app, with the app's engine options: search_path, pool)."""
    if not separate():
        return db.engine
    owner = current_app.extensions.get(EXTENSION)
    if owner is None:
        options = current_app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}
        owner = create_engine(current_app.config["MIGRATION_DATABASE_URL"], **options)
        current_app.extensions[EXTENSION] = owner
    return owner


def dispose() -> None:
    """Close the owner's connections (after set-up: the app itself never needs them)."""
    owner = current_app.extensions.pop(EXTENSION, None)
    if owner is not None:
        owner.dispose()
