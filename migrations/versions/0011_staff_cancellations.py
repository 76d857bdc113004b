"""Cancellations started by others (the employer's leaving date) and staff accounts linked to their own person
(no self-review).

Revision ID: 0008_staff_cancel
Revises: 0008_industry_opinion
Create Date: 2026-12-05 23:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_staff_cancel'
down_revision = '0008_industry_opinion'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leaving_date', sa.Date(), nullable=True))

    with op.batch_alter_table('ab_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('staff_person_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_ab_user_staff_person_id'), ['staff_person_id'], unique=False)
        batch_op.create_foreign_key('fk_ab_user_staff_person_id_person', 'person', ['staff_person_id'], ['id'])


def downgrade():
    with op.batch_alter_table('ab_user', schema=None) as batch_op:
        batch_op.drop_constraint('fk_ab_user_staff_person_id_person', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_ab_user_staff_person_id'))
        batch_op.drop_column('staff_person_id')

    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.drop_column('leaving_date')
