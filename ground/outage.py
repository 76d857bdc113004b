"""Is this database error an outage (the server cannot be reached, the connection was lost) rather than a failed
statement (a lock timeout, a constraint, bad SQL)? The web answers the first with a 503 (views/errors.py).

PostgreSQL: SQLSTATE class 08 (connection exception) or 57P01-57P03 (shut down, starting up), or a psycopg
error without SQLSTATE (the connection attempt failed, the server closed the connection); SQLite: "unable to open
database file"; any driver: a connection SQLAlchemy found dead (connection_invalidated) or an OS-level refusal.
"""
import sqlite3

from sqlalchemy import exc as sa_exc

_SHUTDOWN_STATES = ("57P01", "57P02", "57P03")


def _psycopg_errors():
    try:
        import psycopg
    except ImportError:  # pragma: no cover - SQLite-only installations
        return ()
    return (psycopg.OperationalError, psycopg.InterfaceError)


def database_unreachable(error: BaseException) -> bool:
    if isinstance(error, (sa_exc.DisconnectionError, sa_exc.TimeoutError)):  # dead connection, pool exhausted
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if getattr(error, "connection_invalidated", False):
        return True
    orig = error.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state:
        return state.startswith("08") or state in _SHUTDOWN_STATES
    if isinstance(orig, OSError):
        return True
    if isinstance(orig, sqlite3.OperationalError):
        return "unable to open database file" in str(orig)
    return isinstance(orig, _psycopg_errors())
