"""Captcha challenges keep a keyed hash of the answer (not the answer) and a keyed hash of the client's address;
enterprise contact phones may be landlines (up to 20 characters: 0755-12345678-123456).

Revision ID: 0015_inputs
Revises: 0014_tokens_stamp
Create Date: 2026-12-06 03:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_inputs'
down_revision = '0014_tokens_stamp'
branch_labels = None
depends_on = None


def upgrade():
    # Challenges live five minutes: the ones in flight are simply dropped.
    op.execute("DELETE FROM captcha_challenge")
    with op.batch_alter_table('captcha_challenge', schema=None) as batch_op:
        batch_op.drop_column('answer')
        batch_op.add_column(sa.Column('answer_hash', sa.String(length=64), nullable=False))
        batch_op.add_column(sa.Column('length', sa.SmallInteger(), nullable=False))
        batch_op.add_column(sa.Column('client', sa.String(length=32), nullable=False))
        batch_op.create_index(batch_op.f('ix_captcha_challenge_client'), ['client'], unique=False)
    with op.batch_alter_table('enterprise', schema=None) as batch_op:
        batch_op.alter_column('contact_phone', existing_type=sa.String(length=11), type_=sa.String(length=20),
                              existing_nullable=True)


def downgrade():
    op.execute("UPDATE enterprise SET contact_phone = NULL WHERE length(contact_phone) > 11")
    with op.batch_alter_table('enterprise', schema=None) as batch_op:
        batch_op.alter_column('contact_phone', existing_type=sa.String(length=20), type_=sa.String(length=11),
                              existing_nullable=True)
    op.execute("DELETE FROM captcha_challenge")
    with op.batch_alter_table('captcha_challenge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_captcha_challenge_client'))
        batch_op.drop_column('client')
        batch_op.drop_column('length')
        batch_op.drop_column('answer_hash')
        batch_op.add_column(sa.Column('answer', sa.String(length=16), nullable=False))
