"""The industry department's opinion stage: which specialties an Industry account answers for.

Revision ID: 0008_industry_opinion
Revises: 0008_employer_conflicts
Create Date: 2026-12-05 23:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0008_industry_opinion'
down_revision = '0008_employer_conflicts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('user_industry_specialty',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('specialty_code', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['specialty_code'], ['specialty.code'], ),
    sa.PrimaryKeyConstraint('user_id', 'specialty_code')
    )
    with op.batch_alter_table('user_industry_specialty', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_industry_specialty_specialty_code'), ['specialty_code'], unique=False)


def downgrade():
    with op.batch_alter_table('user_industry_specialty', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_industry_specialty_specialty_code'))
    op.drop_table('user_industry_specialty')
