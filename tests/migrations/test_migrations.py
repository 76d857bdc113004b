"""Migrations: `upgrade` from empty gives exactly the models' schema, `downgrade` removes it, and the
audit log refuses UPDATE and DELETE in the database itself."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import DatabaseError

from ground.extensions import db
from models import Model
from tests.conftest import fresh_database


@pytest.fixture
def empty_app(backend, tmp_path):
    from server import create_app

    with fresh_database(backend) as info:
        application = create_app({"SQLALCHEMY_DATABASE_URI": info["uri"],
                                  "SQLALCHEMY_ENGINE_OPTIONS": info["engine_options"],
                                  "UPLOAD_FOLDER": str(tmp_path)})
        yield application
        with application.app_context():
            db.session.remove()
            db.engine.dispose()


def _tables():
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_upgrade_from_empty_matches_models_and_downgrade_removes_all(empty_app):
    with empty_app.app_context():
        assert _tables() == set()
        upgrade()
        assert _tables() == set(Model.metadata.tables)
        with db.engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Model.metadata)
        assert diffs == [], diffs
        downgrade(revision="base")
        assert _tables() == set()


def test_every_foreign_key_and_filter_column_is_indexed(empty_app):
    """Lists, filters and queues use these columns: each needs an index (FAB-NOTES: count(*) per page)."""
    with empty_app.app_context():
        upgrade()
        inspector = inspect(db.engine)
        for table in ("application", "person", "registration", "registration_specialty", "certificate",
                      "qualification", "transition_log", "audit_log", "enterprise", "attachment"):
            indexed = {col for ix in inspector.get_indexes(table) for col in ix["column_names"][:1]}
            indexed |= {c["column_names"][0] for c in inspector.get_unique_constraints(table)}
            indexed |= set(inspector.get_pk_constraint(table)["constrained_columns"])
            for fk in inspector.get_foreign_keys(table):
                assert fk["constrained_columns"][0] in indexed, (table, fk["constrained_columns"])
        wanted = {"application": {"state", "business_type", "province_code", "enterprise_id", "submitted_at",
                                  "state_changed_at", "stage_deadline", "person_id"},
                  "person": {"name", "id_number", "phone", "realname_status"},
                  "certificate": {"number", "status", "valid_until"},
                  "registration": {"number", "status", "enterprise_id"}}
        for table, columns in wanted.items():
            indexed = {col for ix in inspector.get_indexes(table) for col in ix["column_names"][:1]}
            indexed |= {c["column_names"][0] for c in inspector.get_unique_constraints(table)}
            assert columns <= indexed, (table, columns - indexed)


def test_every_searchable_or_sortable_column_is_indexed(empty_app):
    """Each column a panel list searches or sorts by has an index (booleans excepted)."""
    from sqlalchemy import Boolean

    from views.registry import PANEL

    with empty_app.app_context():
        upgrade()
        inspector = inspect(db.engine)
        for spec in (s for s in PANEL if s.scoped):  # dictionaries hold a few dozen rows
            table = spec.model.__table__
            indexed = {ix["column_names"][0] for ix in inspector.get_indexes(table.name)}
            indexed |= {c["column_names"][0] for c in inspector.get_unique_constraints(table.name)}
            indexed |= set(inspector.get_pk_constraint(table.name)["constrained_columns"])
            for name in set(spec.search_columns) | set(spec.order_columns or []):
                relation = spec.model.__mapper__.relationships.get(name)
                column = table.columns.get(name) if relation is None else list(relation.local_columns)[0]
                if column is None or isinstance(column.type, Boolean):
                    continue
                assert column.name in indexed, (spec.name, column.name)


def test_audit_log_is_append_only(empty_app):
    with empty_app.app_context():
        upgrade()
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO audit_log (created_at, action, object_type) "
                              "VALUES (CURRENT_TIMESTAMP, 'test', 'Test')"))
        for statement in ("UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log"):
            with pytest.raises(DatabaseError):
                with db.engine.begin() as conn:
                    conn.execute(text(statement))
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT action FROM audit_log")).scalars().all() == ["test"]
        downgrade(revision="base")
