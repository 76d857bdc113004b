"""Reports at national scale: refusal reasons on the transition log, indexes for lists, filters and statistics.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


# "Starts with" searches on PostgreSQL (LIKE 'x%'): (table, column) with a varchar_pattern_ops index.
PREFIX_INDEXES = [("person", "name"), ("person", "id_number"), ("enterprise", "name"), ("enterprise", "credit_code"),
                  ("certificate", "holder_name"), ("certificate", "registration_number"), ("certificate", "number"),
                  ("registration", "number"), ("application", "number")]


def upgrade():
    for table, column in PREFIX_INDEXES:
        op.create_index(f"ix_{table}_{column}_prefix", table, [column],
                        postgresql_ops={column: "varchar_pattern_ops"})
    op.create_index("ix_application_queue", "application", ["province_code", "state", "state_changed_at"])
    with op.batch_alter_table('transition_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('business_type', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('province_code', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('stage_days', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_transition_log_reason'), ['reason'], unique=False)
        batch_op.create_index('ix_transition_log_stats',
                              ['created_at', 'from_state', 'business_type', 'province_code', 'stage_days'])
        batch_op.create_index('ix_transition_log_action_created', ['action', 'created_at'])


def downgrade():
    op.drop_index("ix_application_queue", table_name="application")
    for table, column in PREFIX_INDEXES:
        op.drop_index(f"ix_{table}_{column}_prefix", table_name=table)
    with op.batch_alter_table('transition_log', schema=None) as batch_op:
        batch_op.drop_index('ix_transition_log_action_created')
        batch_op.drop_index('ix_transition_log_stats')
        batch_op.drop_index(batch_op.f('ix_transition_log_reason'))
        for column in ('stage_days', 'province_code', 'business_type', 'reason'):
            batch_op.drop_column(column)
