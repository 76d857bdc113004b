"""The audit log refuses TRUNCATE too (PostgreSQL: a statement trigger; the row triggers of 0001 never see it).

SQLite has no TRUNCATE (its `DELETE FROM` without WHERE fires the row trigger of 0001).

Revision ID: 0013_dbrole_audit_truncate
Revises: 0008_continuing_education
Create Date: 2026-12-06 02:50:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0013_dbrole_audit_truncate'
down_revision = '0008_continuing_education'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
