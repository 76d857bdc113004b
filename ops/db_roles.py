"""The application's database role (PostgreSQL): it owns nothing and holds only what the running app needs.

`flask setup` (after migrating) and `flask db-roles --app-role NAME` grant, as the schema owner (MIGRATION_DATABASE_URL),
on every table of the schema: SELECT, INSERT, UPDATE, DELETE; on the append-only audit log only SELECT and INSERT; on
alembic_version only SELECT; USAGE and SELECT on the sequences. Every run first revokes what the owner granted the role
before, in the same transaction, so re-running is idempotent and a new table is covered after the migration that
made it (no ALTER DEFAULT PRIVILEGES: one rule, applied after every schema change). Without UPDATE, DELETE or TRUNCATE
and without ownership, the role can neither change the audit log nor disable its triggers; the owner's TRUNCATE is
refused by a statement trigger (migration 0013).
"""
import logging

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from ground import schema_owner
from ground.extensions import db
from ground.outage import database_unreachable

log = logging.getLogger(__name__)

APPEND_ONLY = ("audit_log",)  # the triggers of migrations 0001 and 0013 refuse UPDATE, DELETE and TRUNCATE
READ_ONLY = ("alembic_version",)  # the app reads the schema's revision (backup manifest), never writes it


class DbRoleError(Exception):
    """A grant that was refused; the message is meant for the operator."""


def app_role_of_url() -> str | None:
    """The role the running app connects as, when it differs from the owner's (else None: one role, development)."""
    if not schema_owner.separate():
        return None
    app_user = db.engine.url.username
    owner_user = make_url(schema_owner.engine().url).username
    return app_user if app_user and app_user != owner_user else None


def _quoted(conn, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def grant_app_role(role: str) -> str:
    """Give `role` exactly the application's privileges on the owner's current schema; returns the schema's name."""
    engine = schema_owner.engine()
    if engine.dialect.name != "postgresql":
        raise DbRoleError("Database roles exist on PostgreSQL only; SQLite has no roles to separate.")
    with engine.begin() as conn:
        found = conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
        if found is None:
            raise DbRoleError(f"No database role {role!r}: create it first (CREATE ROLE … LOGIN PASSWORD …), "
                              f"then run this again.")
        if found.rolsuper:
            raise DbRoleError(f"{role!r} is a superuser: the application role must be an ordinary role.")
        schema = conn.scalar(text("SELECT current_schema()"))
        owned = conn.scalar(text(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :s AND pg_has_role(:r, c.relowner, 'MEMBER')"), {"s": schema, "r": role})
        if owned:
            raise DbRoleError(f"{role!r} owns (or may act as the owner of) tables in schema {schema!r}: the "
                              f"application role must own nothing; give it a role of its own.")
        r, s = _quoted(conn, role), _quoted(conn, schema)
        statements = [
            f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}",
            f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {r}",
            f"GRANT USAGE ON SCHEMA {s} TO {r}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
            *(f"REVOKE UPDATE, DELETE ON {s}.{_quoted(conn, t)} FROM {r}" for t in APPEND_ONLY),
            *(f"REVOKE INSERT, UPDATE, DELETE ON {s}.{_quoted(conn, t)} FROM {r}" for t in READ_ONLY),
        ]
        for statement in statements:
            conn.execute(text(statement))
    return schema


def grant_after_schema_change() -> str | None:
    """After a migration or restore: re-grant the running app's role, when it is not the owner; returns its name."""
    role = app_role_of_url()
    if role:
        grant_app_role(role)
    return role


def owner_problem() -> str | None:
    """Why a production process must not run on this connection: it connects as the owner of the audit log (or a
    role that may act as it, or a superuser) and so could empty it. None: an application role, or SQLite; also
    while the database cannot be reached (the app starts and answers 503 meanwhile; the next start checks again)."""
    if db.engine.dialect.name != "postgresql":
        return None
    try:
        with db.engine.connect() as conn:
            row = conn.execute(text(
                "SELECT t.tableowner, current_user AS me, "
                "pg_has_role(current_user, t.tableowner, 'MEMBER') AS acts_as_owner, "
                "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser "
                "FROM pg_tables t WHERE t.schemaname = current_schema() AND t.tablename = 'audit_log'")).first()
    except DBAPIError as exc:
        if not database_unreachable(exc):
            raise
        log.warning("database unreachable at start: the check of the database role is skipped")
        return None
    if row is None or not (row.acts_as_owner or row.superuser):
        return None
    return (f"DATABASE_URL connects as {row.me!r}, which owns the audit log (owner {row.tableowner!r}) or is a "
            f"superuser; run the app as an application role (MIGRATION_DATABASE_URL for the owner, "
            f"`flask db-roles --app-role NAME`; docs/OPERATIONS.md \"Database roles\")")
