"""Continuing-education records (继续教育记录) replace the application's continuing-education checkbox.

Revision ID: 0008_continuing_education
Revises: 0008_staff_cancel
Create Date: 2026-12-05 23:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_continuing_education'
down_revision = '0008_staff_cancel'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('continuing_education',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('specialty_code', sa.String(length=20), nullable=True),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('hours', sa.Integer(), nullable=False),
    sa.Column('completed_on', sa.Date(), nullable=False),
    sa.Column('provider', sa.String(length=100), nullable=False),
    sa.Column('course', sa.String(length=200), nullable=False),
    sa.Column('certificate_no', sa.String(length=40), nullable=False),
    sa.Column('attachment_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('entered_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('hours > 0', name='ck_continuing_education_hours'),
    sa.ForeignKeyConstraint(['attachment_id'], ['attachment.id'], ),
    sa.ForeignKeyConstraint(['entered_by_id'], ['ab_user.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['specialty_code'], ['specialty.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('certificate_no')
    )
    with op.batch_alter_table('continuing_education', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_continuing_education_completed_on'), ['completed_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_continuing_education_person_id'), ['person_id'], unique=False)
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.drop_column('continuing_education')


def downgrade():
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.add_column(sa.Column('continuing_education', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('continuing_education', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_continuing_education_person_id'))
        batch_op.drop_index(batch_op.f('ix_continuing_education_completed_on'))
    op.drop_table('continuing_education')
