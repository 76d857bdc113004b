"""The audit log is searched by address (IP) too: index it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(op.f('ix_audit_log_ip'), 'audit_log', ['ip'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_audit_log_ip'), table_name='audit_log')
