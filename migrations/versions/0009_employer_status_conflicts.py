"""Employer status (企业状态) with its history, social-insurance payments and conflicts (挂证).

Revision ID: 0008_employer_conflicts
Revises: 0008_penalties
Create Date: 2026-12-05 23:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_employer_conflicts'
down_revision = '0008_penalties'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('enterprise', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=20), nullable=False, server_default='active'))
        batch_op.add_column(sa.Column('status_since', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('status_source', sa.String(length=20), nullable=True))
        batch_op.create_index(batch_op.f('ix_enterprise_status'), ['status'], unique=False)

    op.create_table('enterprise_status_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('previous_status', sa.String(length=20), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('enterprise_status_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enterprise_status_change_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprise_status_change_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprise_status_change_created_at'), ['created_at'], unique=False)

    op.create_table('social_insurance_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('id_number', 'month', 'credit_code', name='uq_social_insurance_record')
    )
    with op.batch_alter_table('social_insurance_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_social_insurance_record_id_number'), ['id_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_social_insurance_record_month'), ['month'], unique=False)

    op.create_table('insurance_conflict',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('province_code', sa.String(length=2), nullable=False),
    sa.Column('paying_credit_code', sa.String(length=18), nullable=False),
    sa.Column('paying_name', sa.String(length=200), nullable=True),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('first_seen', sa.Date(), nullable=False),
    sa.Column('last_seen', sa.Date(), nullable=False),
    sa.Column('resolved_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['province_code'], ['province.code'], ),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('insurance_conflict', schema=None) as batch_op:
        batch_op.create_index('ix_insurance_conflict_open', ['resolved_on', 'province_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_insurance_conflict_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_insurance_conflict_registration_id'), ['registration_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_insurance_conflict_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_insurance_conflict_province_code'), ['province_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_insurance_conflict_resolved_on'), ['resolved_on'], unique=False)


def downgrade():
    with op.batch_alter_table('insurance_conflict', schema=None) as batch_op:
        for name in ('ix_insurance_conflict_resolved_on', 'ix_insurance_conflict_province_code',
                     'ix_insurance_conflict_enterprise_id', 'ix_insurance_conflict_registration_id',
                     'ix_insurance_conflict_person_id', 'ix_insurance_conflict_open'):
            batch_op.drop_index(name)
    op.drop_table('insurance_conflict')
    with op.batch_alter_table('social_insurance_record', schema=None) as batch_op:
        batch_op.drop_index('ix_social_insurance_record_month')
        batch_op.drop_index('ix_social_insurance_record_id_number')
    op.drop_table('social_insurance_record')
    with op.batch_alter_table('enterprise_status_change', schema=None) as batch_op:
        batch_op.drop_index('ix_enterprise_status_change_created_at')
        batch_op.drop_index('ix_enterprise_status_change_user_id')
        batch_op.drop_index('ix_enterprise_status_change_enterprise_id')
    op.drop_table('enterprise_status_change')
    with op.batch_alter_table('enterprise', schema=None) as batch_op:
        batch_op.drop_index('ix_enterprise_status')
        batch_op.drop_column('status_source')
        batch_op.drop_column('status_since')
        batch_op.drop_column('status')
