"""The account's API token stamp: raised on a new password, deactivation and sign-out to revoke its tokens.

Revision ID: 0014_tokens_stamp
Revises: 0013_dbrole_audit_truncate
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op


revision = '0014_tokens_stamp'
down_revision = '0013_dbrole_audit_truncate'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ab_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_stamp', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('ab_user', schema=None) as batch_op:
        batch_op.drop_column('token_stamp')
