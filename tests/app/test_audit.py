"""Audit trail: every change of an audited model and every transition leaves a row, in the same
transaction as the change (a rolled-back change leaves none)."""
import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DatabaseError

from ground.extensions import db
from models import AuditLog, Enterprise
from tests import factories as f


def _rows(object_type, object_id):
    return db.session.query(AuditLog).filter_by(object_type=object_type, object_id=str(object_id)) \
        .order_by(AuditLog.id).all()


def test_create_update_delete_are_audited_with_changes(ctx):
    enterprise_id = f.make_enterprise("11", name="审计前")
    enterprise = db.session.get(Enterprise, enterprise_id)
    enterprise.name = "审计后"
    db.session.commit()
    rows = _rows("Enterprise", enterprise_id)
    assert [r.action for r in rows] == ["create", "update"]
    assert rows[0].detail["name"] == "审计前" and rows[0].username == "system"
    assert rows[1].detail["name"] == ["审计前", "审计后"]
    db.session.delete(enterprise)
    db.session.commit()
    assert [r.action for r in _rows("Enterprise", enterprise_id)] == ["create", "update", "delete"]


def test_rolled_back_change_leaves_no_audit_row(ctx):
    before = db.session.query(AuditLog).count()
    db.session.add(Enterprise(credit_code=f.unique_credit_code(), name="回滚", province_code="11"))
    db.session.flush()
    db.session.rollback()
    assert db.session.query(AuditLog).count() == before


def test_transition_audit_names_the_user_and_role(ctx):
    enterprise = f.make_enterprise("11")
    username, _ = f.make_applicant()
    app_id = f.make_application(username, "initial", enterprise_id=enterprise)
    f.move(app_id, "submit", username)
    [row] = [r for r in _rows("Application", app_id) if r.action == "transition.submit"]
    assert row.username == username and row.detail["role"] == "Applicant"


def test_the_database_refuses_to_change_or_delete_audit_rows(ctx):
    """The append-only triggers (migration 0001) hold on the application's own connection too, whatever
    path a change takes: an ORM edit, an ORM delete, a bulk UPDATE or DELETE."""
    enterprise_id = f.make_enterprise("11")
    row = _rows("Enterprise", enterprise_id)[0]
    row_id, before = row.id, (row.action, row.summary, row.detail)
    attempts = [
        lambda: setattr(db.session.get(AuditLog, row_id), "action", "forged"),
        lambda: db.session.delete(db.session.get(AuditLog, row_id)),
        lambda: db.session.execute(update(AuditLog).where(AuditLog.id == row_id).values(summary="forged")),
        lambda: db.session.execute(delete(AuditLog).where(AuditLog.id == row_id)),
    ]
    for attempt in attempts:
        with pytest.raises(DatabaseError, match="append-only"):
            attempt()
            db.session.commit()
        db.session.rollback()
    kept = db.session.get(AuditLog, row_id)
    assert (kept.action, kept.summary, kept.detail) == before
