"""Announcement batches (公告): gather approved applications, then publish them together.

Publishing numbers the batch (2026年第12批) and applies the workflow's `publish` transition to every
application in it, all in one transaction: either the whole batch is published or nothing is. The batch's
own states and moves (draft → published; gather, remove on a draft) are declared in app/machines.py.
"""
from flask_babel import lazy_gettext as _l

from models import AnnouncementBatch, Application

from app import scope, workflow
from app.machines import ANNOUNCEMENT, BatchError, check, take
from app.services import numbering
from ground.clock import today
from ground.extensions import db

__all__ = ["BatchError", "gather", "publish", "remove"]


def _batch_in_scope(batch_id, user, lock=False) -> AnnouncementBatch:
    """The batch; with `lock`, row-locked until commit and re-read (a page may have loaded it before)."""
    query = scope.query(AnnouncementBatch, user).filter(AnnouncementBatch.id == batch_id)
    batch = (query.with_for_update().populate_existing() if lock else query).one_or_none()
    if batch is None:
        raise workflow.NotFound(_l("Announcement batch not found."))
    return batch


def _not_own(user) -> tuple:
    """An officer's own application stays out of the batches they gather (the engine refuses to publish it)."""
    own = getattr(user, "staff_person_id", None)
    return (Application.person_id != own,) if own is not None else ()


def gather(batch_id, user) -> int:
    """Put every approved application awaiting announcement (and in no batch, and not the officer's own) into this
    draft batch.

    The batch stays locked, so it cannot be published meanwhile; the applications are locked in id
    order, so one gathered at the same moment into another batch is skipped, not taken twice."""
    try:
        batch = _batch_in_scope(batch_id, user, lock=True)
        check(ANNOUNCEMENT, "gather", batch, user)
        waiting = (scope.query(Application, user)
                   .filter(Application.state == workflow.State.ANNOUNCE, Application.announcement_id.is_(None),
                           *_not_own(user))
                   .order_by(Application.id).with_for_update(of=Application).populate_existing().all())
        for application in waiting:
            application.announcement_id = batch.id
        take(ANNOUNCEMENT, "gather", batch, user, detail={"count": len(waiting)})
        db.session.commit()
        return len(waiting)
    except Exception:
        db.session.rollback()  # releases the locks
        raise


def remove(batch_id, application_id, user):
    """Take an application out of a draft batch (locked: not while the batch is being published)."""
    try:
        batch = _batch_in_scope(batch_id, user, lock=True)
        check(ANNOUNCEMENT, "remove", batch, user)
        application = scope.query(Application, user).filter(Application.id == application_id,
                                                             Application.announcement_id == batch.id).one_or_none()
        if application is None:
            raise workflow.NotFound(_l("Application not found."))
        application.announcement_id = None
        take(ANNOUNCEMENT, "remove", batch, user, detail={"application_id": application.id})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def publish(batch_id, user) -> AnnouncementBatch:
    """Number and publish a draft batch; every application in it moves through `publish`."""
    session = db.session
    try:
        batch = _batch_in_scope(batch_id, user, lock=True)
        check(ANNOUNCEMENT, "publish", batch, user)
        if not batch.applications:
            raise BatchError(_l("The batch is empty; gather approved applications first."))
        day = today()
        batch.year, batch.sequence = day.year, numbering.next_value(session, numbering.announcement_counter(day.year))
        batch.published_on = day
        take(ANNOUNCEMENT, "publish", batch, user)
        for application in list(batch.applications):
            workflow.apply(application, workflow.Move("publish", via_batch=True), user, session=session, commit=False)
        session.commit()
        return batch
    except Exception:
        session.rollback()
        raise
