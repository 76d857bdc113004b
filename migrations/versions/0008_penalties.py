"""Penalty and credit records (不良行为记录): the records, their decision documents and periods.

Revision ID: 0008_penalties
Revises: 0007
Create Date: 2026-12-05 23:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_penalties'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('penalty_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('ground_code', sa.String(length=30), nullable=False),
    sa.Column('ground_text', sa.Text(), nullable=True),
    sa.Column('decision_number', sa.String(length=60), nullable=False),
    sa.Column('decided_on', sa.Date(), nullable=False),
    sa.Column('period_from', sa.Date(), nullable=True),
    sa.Column('period_to', sa.Date(), nullable=True),
    sa.Column('practice_related', sa.Boolean(), nullable=False),
    sa.Column('authority_province_code', sa.String(length=2), nullable=True),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('document_key', sa.String(length=200), nullable=False),
    sa.Column('document_filename', sa.String(length=200), nullable=False),
    sa.Column('document_content_type', sa.String(length=60), nullable=False),
    sa.Column('document_size', sa.Integer(), nullable=False),
    sa.Column('document_sha256', sa.String(length=64), nullable=False),
    sa.Column('recorded_by_fk', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['authority_province_code'], ['province.code'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['recorded_by_fk'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('document_key')
    )
    with op.batch_alter_table('penalty_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_penalty_record_authority_province_code'), ['authority_province_code'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_penalty_record_decided_on'), ['decided_on'], unique=False)
        batch_op.create_index('ix_penalty_record_decision_number_prefix', ['decision_number'], unique=False,
                              postgresql_ops={'decision_number': 'varchar_pattern_ops'})
        batch_op.create_index(batch_op.f('ix_penalty_record_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_penalty_record_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_penalty_record_recorded_at'), ['recorded_at'], unique=False)


def downgrade():
    with op.batch_alter_table('penalty_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_penalty_record_recorded_at'))
        batch_op.drop_index(batch_op.f('ix_penalty_record_person_id'))
        batch_op.drop_index(batch_op.f('ix_penalty_record_kind'))
        batch_op.drop_index('ix_penalty_record_decision_number_prefix')
        batch_op.drop_index(batch_op.f('ix_penalty_record_decided_on'))
        batch_op.drop_index(batch_op.f('ix_penalty_record_authority_province_code'))
    op.drop_table('penalty_record')
