"""The application's database role (issue 18, item 2): the app runs as a role that owns nothing, so it cannot empty
the audit log or switch its triggers off; the owner (migrations, setup) cannot TRUNCATE it either; production refuses
to run as the owner. PostgreSQL only: SQLite has no roles and no TRUNCATE."""
import contextlib
import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError

from ground import schema_owner
from ground.extensions import db
from models import AuditLog
from ops import db_roles
from server import refuse_unsafe_production
from tests import factories as f
from tests.conftest import _psycopg_url, another_app, app_settings, fresh_database, login

pytestmark = pytest.mark.postgresql_only


def _owner_url() -> str:
    return _psycopg_url(os.environ["TEST_DATABASE_URL"])


@contextlib.contextmanager
def _login_role():
    """A new LOGIN role with a random name (roles are cluster-wide); dropped with its grants afterwards."""
    name, password = f"registry_app_{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    admin = create_engine(_owner_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'"))
    try:
        yield name, make_url(_owner_url()).set(username=name, password=password).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP OWNED BY "{name}"'))
            conn.execute(text(f'DROP ROLE "{name}"'))
        admin.dispose()


@pytest.fixture(scope="module")
def roles(backend, tmp_path_factory):
    """(app running as the app role, the role's name, the owner's database info) on a fresh schema that the owner
    migrated through `setup()` (MIGRATION_DATABASE_URL)."""
    from ops.cli import setup
    from server import create_app

    with _login_role() as (role, role_url), fresh_database(backend) as owner_db:
        settings = app_settings({**owner_db, "uri": role_url}, tmp_path_factory, MIGRATION_DATABASE_URL=owner_db["uri"])
        application = create_app(settings)
        with application.app_context():
            setup()
        try:
            yield application, role, owner_db
        finally:
            with application.app_context():
                db.session.remove()
                db.engine.dispose()
                schema_owner.dispose()


def _engine(url, database):
    return create_engine(url, connect_args=database["engine_options"]["connect_args"])


def _refused(engine, statement, match):
    with pytest.raises(DatabaseError, match=match):
        with engine.begin() as conn:
            conn.execute(text(statement))


def test_the_app_role_only_adds_to_and_reads_the_audit_log(roles):
    application, role, owner_db = roles
    app_engine = _engine(application.config["SQLALCHEMY_DATABASE_URI"], owner_db)
    owner = _engine(owner_db["uri"], owner_db)
    try:
        with app_engine.begin() as conn:
            assert conn.scalar(text("SELECT current_user")) == role
            conn.execute(text("INSERT INTO audit_log (created_at, action, object_type) "
                              "VALUES (CURRENT_TIMESTAMP, 'kept', 'Test')"))
            kept = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'kept'")).scalar_one()
        assert kept == 1
        _refused(app_engine, "UPDATE audit_log SET action = 'forged'", "permission denied")
        _refused(app_engine, "DELETE FROM audit_log", "permission denied")
        _refused(app_engine, "TRUNCATE audit_log", "permission denied")
        for trigger in ("audit_log_no_update", "audit_log_no_truncate", "ALL"):
            _refused(app_engine, f"ALTER TABLE audit_log DISABLE TRIGGER {trigger}", "must be owner")
        _refused(app_engine, "DROP TABLE audit_log", "must be owner")
        # The owner keeps the power of DDL, but its TRUNCATE meets the statement trigger (migration 0013).
        _refused(owner, "TRUNCATE audit_log", "append-only")
        _refused(owner, "TRUNCATE audit_log CASCADE", "append-only")
        with owner.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'kept'")).scalar_one() == 1
    finally:
        app_engine.dispose()
        owner.dispose()


def test_the_app_works_as_the_app_role(roles):
    """A workflow move through the engine and a sign-in, on the app role's own connection: a missing grant fails."""
    application, role, _owner_db = roles
    with application.app_context():
        assert db.session.scalar(text("SELECT current_user")) == role
        enterprise = f.make_enterprise("11")
        username, _ = f.make_applicant()
        app_id = f.make_application(username, "initial", enterprise_id=enterprise)
        assert f.move(app_id, "submit", username) == "enterprise_review"
        audited = db.session.query(AuditLog).filter_by(object_type="Application", object_id=str(app_id),
                                                        action="transition.submit").count()
        assert audited == 1
        db.session.remove()
    client = application.test_client()
    login(client, username)
    assert client.get("/").status_code == 200


def test_db_roles_grants_exactly_and_is_idempotent(roles):
    application, role, owner_db = roles
    runner = application.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["db-roles", "--app-role", role])
        assert result.exit_code == 0, result.output
    owner = _engine(owner_db["uri"], owner_db)
    try:
        with owner.connect() as conn:
            def may(table, privilege):
                return conn.scalar(text("SELECT has_table_privilege(:r, :t, :p)"), {"r": role, "t": table, "p": privilege})

            assert [may("audit_log", p) for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")] == \
                [True, True, False, False, False]
            assert [may("person", p) for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER")] == \
                [True, True, True, True, False, False]
            assert [may("alembic_version", p) for p in ("SELECT", "INSERT", "UPDATE", "DELETE")] == \
                [True, False, False, False]
            owned = conn.scalar(text("SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
                                     "WHERE r.rolname = :r"), {"r": role})
            assert owned == 0
    finally:
        owner.dispose()
    unknown = runner.invoke(args=["db-roles", "--app-role", f"nobody_{uuid.uuid4().hex[:8]}"])
    assert unknown.exit_code == 1 and "No database role" in unknown.output
    superuser = runner.invoke(args=["db-roles", "--app-role", make_url(owner_db["uri"]).username])
    assert superuser.exit_code == 1 and "superuser" in superuser.output


def test_production_refuses_to_run_as_the_owner(roles, tmp_path_factory, tmp_path):
    application, role, owner_db = roles
    production = {"PRODUCTION": True, "SECRET_KEY": "a-shared-secret-of-the-deployment",
                  "CERTIFICATE_SIGNING_KEYS": str(tmp_path / "keys")}
    application.config.update(production)
    try:
        assert application.test_cli_runner().invoke(args=["signing-key", "rotate"]).exit_code == 0
        assert refuse_unsafe_production(application) is application  # the app role may run
        with another_app(owner_db, tmp_path_factory, **production) as as_owner:
            with pytest.raises(SystemExit, match="^refusing to start: DATABASE_URL connects as") as refused:
                refuse_unsafe_production(as_owner)
            assert "\n" not in str(refused.value) and "MIGRATION_DATABASE_URL" in str(refused.value)
            with as_owner.app_context():
                assert db_roles.owner_problem() is not None
    finally:
        application.config.update({"PRODUCTION": False})




def test_backup_as_the_app_role_and_restore_as_the_owner_keep_the_roles(roles, tmp_path):
    """pg_dump runs as the app role; pg_restore (it drops and re-creates the tables) as the owner, which then gives
    the app role its grants back, and the restored audit log refuses TRUNCATE again."""
    application, role, owner_db = roles
    runner = application.test_cli_runner()
    archive = tmp_path / "roles.tar.gz"
    made = runner.invoke(args=["backup", str(archive)])
    assert made.exit_code == 0, made.output
    restored = runner.invoke(args=["restore", str(archive), "--force"])
    assert restored.exit_code == 0, restored.output
    with application.app_context():
        assert db.session.query(AuditLog).filter_by(action="restore").count() >= 1  # written as the app role
        db.session.remove()
    app_engine = _engine(application.config["SQLALCHEMY_DATABASE_URI"], owner_db)
    owner = _engine(owner_db["uri"], owner_db)
    try:
        _refused(app_engine, "DELETE FROM audit_log", "permission denied")
        _refused(owner, "TRUNCATE audit_log", "append-only")
        with owner.connect() as conn:
            assert conn.scalar(text("SELECT tableowner FROM pg_tables WHERE schemaname = current_schema() "
                                    "AND tablename = 'audit_log'")) != role
    finally:
        app_engine.dispose()
        owner.dispose()
