"""Reads from a second database (DATABASE_REPLICA_URL, a streaming replica of the primary), for the heavy readers:
exports, statistics and the public register. docs/OPERATIONS.md "Read replica".

Inside `with replica.reads():` the SELECTs of db.session go to the replica engine; everything else — a flush
(INSERT, UPDATE, DELETE: audit rows, job state), SELECT … FOR UPDATE, raw connections — goes to the primary, as
everywhere outside. Without DATABASE_REPLICA_URL the block changes nothing. The replica's connections are read-only
(SQLite: PRAGMA query_only; PostgreSQL: read-only transactions), so a write routed there by mistake fails loudly.
"""
import contextlib
import functools

from flask import current_app, has_app_context
from flask_sqlalchemy.session import Session
from sqlalchemy import create_engine, event
from sqlalchemy.sql import Select

EXTENSION = "database_replica"
_FLAG = "replica_reads"


class RoutingSession(Session):
    """Flask-SQLAlchemy's session, with SELECTs inside `reads()` sent to the replica."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if (bind is None and self.info.get(_FLAG) and not self._flushing and isinstance(clause, Select)
                and clause._for_update_arg is None):
            replica = replica_engine()
            if replica is not None:
                return replica
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


def _read_only_sqlite(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def _read_only_postgresql(dbapi_connection, _record):
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    cursor.close()
    dbapi_connection.autocommit = autocommit


def init_app(app) -> None:
    """The replica's engine when DATABASE_REPLICA_URL is set (options: DATABASE_REPLICA_ENGINE_OPTIONS, else the
    primary's SQLALCHEMY_ENGINE_OPTIONS)."""
    url = app.config.get("DATABASE_REPLICA_URL")
    app.extensions.pop(EXTENSION, None)
    if not url:
        return
    options = app.config.get("DATABASE_REPLICA_ENGINE_OPTIONS")
    if options is None:
        options = app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}
    engine = create_engine(url, **options)
    event.listen(engine, "connect",
                 _read_only_sqlite if engine.dialect.name == "sqlite" else _read_only_postgresql)
    app.extensions[EXTENSION] = engine


def replica_engine():
    """The replica's engine, or None when none is configured."""
    return current_app.extensions.get(EXTENSION) if has_app_context() else None


def engine():
    """The engine for a long read (an export's stream): the replica when configured, else the primary."""
    return replica_engine() or current_app.extensions["sqlalchemy"].engine


@contextlib.contextmanager
def reads():
    """SELECTs of db.session inside the block read the replica (when configured); writes still go to the primary."""
    if replica_engine() is None:
        yield
        return
    session = current_app.extensions["sqlalchemy"].session()  # db.session (ground/extensions.py imports this module)
    previous = session.info.get(_FLAG, False)
    session.info[_FLAG] = True
    try:
        yield
    finally:
        session.info[_FLAG] = previous


def reading(fn):
    """Decorator: the whole function (a view, say) reads through `reads()`."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with reads():
            return fn(*args, **kwargs)
    return wrapper
