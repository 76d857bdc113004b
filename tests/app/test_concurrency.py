"""Concurrent reviewers: exactly one transition wins (guarded UPDATE), on a real PostgreSQL server."""
import threading

import pytest

from app import workflow
from app.extensions import db
from models import Application, AuditLog, Certificate, Registration, TransitionLog
from tests import factories as f


def _ready_for_approval(app):
    with app.app_context():
        staff = f.Staff()
        _, person_id, app_id = f.initial_application(staff, "11", "submit", "confirm", "pass")
        return app_id, person_id, staff.ministry


def _race(app, app_id, action, usernames):
    barrier = threading.Barrier(len(usernames))
    outcomes = []
    lock = threading.Lock()

    def worker(username):
        with app.app_context():
            user = f.user(username)
            application = db.session.get(Application, app_id)  # everyone sees the same state and version
            barrier.wait()
            try:
                workflow.apply(application, action, user)
                result = "ok"
            except workflow.WorkflowError as exc:
                result = type(exc).__name__
            finally:
                db.session.remove()
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=worker, args=(u,)) for u in usernames]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


def test_twenty_ministry_users_approving_at_once_give_one_transition(app, backend):
    if backend != "postgresql":
        pytest.skip("needs a server database with row locks (set TEST_DATABASE_URL)")
    app_id, person_id, _ = _ready_for_approval(app)
    with app.app_context():
        reviewers = [f.make_user("Ministry") for _ in range(20)]

    outcomes = _race(app, app_id, "approve", reviewers)

    assert len(outcomes) == 20
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) - {"ok"} <= {"Conflict", "InvalidState"}
    with app.app_context():
        assert db.session.get(Application, app_id).state == "announce_pending"
        logs = db.session.query(TransitionLog).filter_by(application_id=app_id, action="approve").count()
        audits = db.session.query(AuditLog).filter_by(object_type="Application", object_id=str(app_id),
                                                      action="transition.approve").count()
        registrations = db.session.query(Registration).filter_by(person_id=person_id).count()
        assert (logs, audits, registrations) == (1, 1, 1)


def test_concurrent_publishing_gives_unique_numbers(app, backend):
    """Registration and certificate numbers stay unique when several batches publish at once."""
    if backend != "postgresql":
        pytest.skip("needs a server database with row locks (set TEST_DATABASE_URL)")
    from app import announcements
    from models import AnnouncementBatch

    with app.app_context():
        staff = f.Staff()
        batches = []
        for _ in range(8):
            _, _, app_id = f.initial_application(staff, "31", "submit", "confirm", "pass")
            # Approve concurrently below, publish concurrently after.
            batches.append(app_id)
        reviewers = [f.make_user("Ministry") for _ in batches]

    def approve_and_publish(app_id, username, errors):
        with app.app_context():
            try:
                f.move(app_id, "approve", username)
                batch = AnnouncementBatch(title="并发", state="draft")
                db.session.add(batch)
                db.session.flush()
                db.session.get(Application, app_id).announcement_id = batch.id
                db.session.commit()
                announcements.publish(batch.id, f.user(username))
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(repr(exc))
            finally:
                db.session.remove()

    errors = []
    threads = [threading.Thread(target=approve_and_publish, args=(a, u, errors)) for a, u in zip(batches, reviewers, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with app.app_context():
        apps = db.session.query(Application).filter(Application.id.in_(batches)).all()
        assert {a.state for a in apps} == {"completed"}
        numbers = [r.number for r in db.session.query(Registration).filter(
            Registration.id.in_([a.registration_id for a in apps]))]
        assert len(numbers) == len(set(numbers)) == 8
        certs = [c.number for c in db.session.query(Certificate).filter(Certificate.application_id.in_(batches))]
        assert len(certs) == len(set(certs)) == 8
        announcement_numbers = [b.number for b in db.session.query(AnnouncementBatch).filter(
            AnnouncementBatch.id.in_([a.announcement_id for a in apps]))]
        assert len(set(announcement_numbers)) == 8


def test_thirty_concurrent_publishes_give_distinct_gapless_numbers(app, backend, monkeypatch):
    """30 batches published at once; 5 fail after drawing their numbers and roll back. The 25 that
    succeed hold consecutive announcement and certificate numbers: nothing is lost to the rollbacks."""
    if backend != "postgresql":
        pytest.skip("needs a server database with row locks (set TEST_DATABASE_URL)")
    from app import announcements, effects
    from app.clock import today
    from models import AnnouncementBatch, Counter

    with app.app_context():
        staff = f.Staff()
        batch_ids, app_ids = [], []
        for _ in range(30):
            _, _, app_id = f.initial_application(staff, "31", "submit", "confirm", "pass", "approve")
            batch = AnnouncementBatch(title="并发发布", state="draft")
            db.session.add(batch)
            db.session.flush()
            db.session.get(Application, app_id).announcement_id = batch.id
            db.session.commit()
            batch_ids.append(batch.id)
            app_ids.append(app_id)
        publishers = [f.make_user("Ministry") for _ in batch_ids]
        year = today().year
        counters = {name: (db.session.query(Counter.value).filter_by(name=name).scalar() or 0)
                    for name in (f"announcement:{year}", f"certificate:{year}")}
    failing = set(app_ids[::6])  # 5 of them
    real_issue = effects.issue_certificate

    def issue_then_fail(ctx):
        real_issue(ctx)  # the certificate number is drawn...
        if ctx.application.id in failing:
            raise RuntimeError("injected failure after numbering")  # ...then the publish dies

    monkeypatch.setattr(effects, "issue_certificate", issue_then_fail)
    barrier = threading.Barrier(len(batch_ids))
    results = {}

    def publish(batch_id, username):
        with app.app_context():
            try:
                user = f.user(username)
                barrier.wait()
                announcements.publish(batch_id, user)
                results[batch_id] = "ok"
            except Exception as exc:
                results[batch_id] = type(exc).__name__
            finally:
                db.session.remove()

    threads = [threading.Thread(target=publish, args=pair) for pair in zip(batch_ids, publishers, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)

    failed_batches = {b for b, a in zip(batch_ids, app_ids, strict=True) if a in failing}
    assert {b for b, r in results.items() if r != "ok"} == failed_batches, results
    with app.app_context():
        published = db.session.query(AnnouncementBatch).filter(AnnouncementBatch.id.in_(batch_ids),
                                                               AnnouncementBatch.state == "published").all()
        sequences = sorted(b.sequence for b in published)
        start = counters[f"announcement:{year}"]
        assert sequences == list(range(start + 1, start + 26))  # 25 consecutive, none lost
        certificates = db.session.query(Certificate).filter(Certificate.application_id.in_(app_ids)).all()
        serials = sorted(int(c.number[4:]) for c in certificates)
        start = counters[f"certificate:{year}"]
        assert serials == list(range(start + 1, start + 26))
        assert {c.application_id for c in certificates} == set(app_ids) - failing
        for batch in db.session.query(AnnouncementBatch).filter(AnnouncementBatch.id.in_(failed_batches)):
            assert batch.state == "draft" and batch.sequence is None  # nothing half-published
    # Published again once the fault is gone, the five take the next five numbers.
    monkeypatch.setattr(effects, "issue_certificate", real_issue)
    with app.app_context():
        for batch_id in sorted(failed_batches):
            announcements.publish(batch_id, f.user(publishers[0]))
        certificates = db.session.query(Certificate).filter(Certificate.application_id.in_(app_ids)).all()
        serials = sorted(int(c.number[4:]) for c in certificates)
        assert serials == list(range(counters[f"certificate:{year}"] + 1, counters[f"certificate:{year}"] + 31))
