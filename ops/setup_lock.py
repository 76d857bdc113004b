"""The deploy lock of `flask setup`: concurrent runs (several hosts deploying at once) wait for each other, and the
later ones then find nothing to do.

PostgreSQL: a session-level advisory lock (fixed key) on a dedicated connection, held for the whole set-up.
SQLite (one host): an exclusive flock on INSTANCE_DIR/setup.lock.
"""
import contextlib
import fcntl
import os

from flask import current_app
from sqlalchemy import text

from ground.extensions import db

# A fixed 64-bit key: every `flask setup` of every host on one database takes the same lock.
SETUP_LOCK_KEY = 0x5245_4749_5354_5259  # "REGISTRY"
WAITING = "Another setup is running; waiting for it to finish…"


@contextlib.contextmanager
def _postgresql_lock(notify):
    conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        if not conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": SETUP_LOCK_KEY}):
            notify(WAITING)
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": SETUP_LOCK_KEY})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SETUP_LOCK_KEY})
    finally:
        conn.close()  # closing the session would release the lock as well


@contextlib.contextmanager
def _file_lock(notify):
    folder = current_app.instance_path
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "setup.lock"), "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            notify(WAITING)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def setup_lock(notify=print):
    """Context manager: hold the deploy lock; `notify` gets one line when another run holds it."""
    if db.engine.dialect.name == "postgresql":
        return _postgresql_lock(notify)
    return _file_lock(notify)
