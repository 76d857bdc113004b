"""Concurrent reviewers: exactly one transition wins (guarded UPDATE), on a real PostgreSQL server."""
import contextlib
import dataclasses
import threading

import pytest
from flask import g
from flask_babel import force_locale

from app import workflow
from ground.extensions import db
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
                workflow.apply(application, workflow.Move(action), user)
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
    from ground.clock import today
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

    _issue_with(monkeypatch, issue_then_fail)
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
    _issue_with(monkeypatch, real_issue)
    with app.app_context():
        for batch_id in sorted(failed_batches):
            announcements.publish(batch_id, f.user(publishers[0]))
        certificates = db.session.query(Certificate).filter(Certificate.application_id.in_(app_ids)).all()
        serials = sorted(int(c.number[4:]) for c in certificates)
        assert serials == list(range(counters[f"certificate:{year}"] + 1, counters[f"certificate:{year}"] + 31))


# --- Different moves racing on one application; batches racing each other ---------------------------
CONFLICT = "Someone else acted on this application at the same moment; reload to see its state."
HANDLED = "Already handled by "  # the loser is told who moved it on, and when (app.workflow.already_handled)
ALREADY_PUBLISHED = "This batch is already published."


@contextlib.contextmanager
def _english(app):
    """An app context in English, to build expected messages (lazy strings need one)."""
    with app.app_context():
        g.test_locale = "en"  # flask-babel only forces a locale where g is not empty
        with force_locale("en"):
            yield


def _issue_with(monkeypatch, effect):
    """Let the `issue` transition run `effect` instead of effects.issue_certificate (the table holds functions)."""
    issue = workflow.TRANSITIONS["issue"]
    monkeypatch.setitem(workflow.TRANSITIONS, "issue", dataclasses.replace(issue, effects=(effect,)))


def _needs_postgresql(backend):
    if backend != "postgresql":
        pytest.skip("needs a server database with row locks (set TEST_DATABASE_URL)")


def _together(app, jobs, timeout=60):
    """Run jobs at the same moment, each in its own thread, app context and session, in English.
    A job is (prepare, act): prepare() runs before the barrier, act(prepared) right after it.
    Returns one (outcome, message) per job: ("ok", None) or (exception class name, its message)."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def run(i, prepare, act):
        with _english(app):
            try:
                prepared = prepare()
                barrier.wait(30)
                act(prepared)
                results[i] = ("ok", None)
            except Exception as exc:
                results[i] = (type(exc).__name__, str(getattr(exc, "message", exc)))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, *job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a racer hung"
    return results


def _move_job(app_id, action, username, **kwargs):
    """The user opened the application (same state and version as the other racer), then acts."""
    def prepare():
        return f.user(username), db.session.get(Application, app_id)

    def act(prepared):
        workflow.apply(prepared[1], workflow.Move(action, **kwargs), prepared[0])

    return prepare, act


def _moves_since(app_id, from_state, actions):
    """(transition-log actions, audit actions) recorded for these moves out of `from_state`."""
    logs = [log.action for log in db.session.query(TransitionLog).filter(
        TransitionLog.application_id == app_id, TransitionLog.from_state == from_state,
        TransitionLog.action.in_(actions))]
    audits = [a.action for a in db.session.query(AuditLog).filter(
        AuditLog.object_type == "Application", AuditLog.object_id == str(app_id),
        AuditLog.action.in_([f"transition.{a}" for a in actions]))]
    return logs, audits


def _one_winner(results, actions):
    """The winning action; the loser was told someone else acted at the same moment."""
    outcomes = dict(zip(actions, results, strict=True))
    winners = [a for a, (outcome, _) in outcomes.items() if outcome == "ok"]
    assert len(winners) == 1, outcomes
    (loser,) = set(actions) - set(winners)
    outcome, message = outcomes[loser]
    assert outcome == "Conflict" and (message == CONFLICT or message.startswith(HANDLED)), outcomes
    return winners[0]


def test_pass_and_return_by_two_reviewers_at_once(app, backend):
    """Two provincial reviewers, one passing and one returning the same application: one move happens."""
    _needs_postgresql(backend)
    with app.app_context():
        staff = f.Staff()
        _, _, app_id = f.initial_application(staff, "11", "submit", "confirm")
        first, second = staff.province("11"), f.make_user("Province", province_code="11")
        version = db.session.get(Application, app_id).version

    results = _together(app, [_move_job(app_id, "pass", first),
                              _move_job(app_id, "return", second, opinion="材料不全")])

    winner = _one_winner(results, ["pass", "return"])
    with app.app_context():
        application = db.session.get(Application, app_id)
        assert application.state == {"pass": "ministry_review", "return": "returned"}[winner]
        assert application.version == version + 1
        assert application.last_opinion == (None if winner == "pass" else "材料不全")
        assert _moves_since(app_id, "province_review", ["pass", "return"]) == ([winner], [f"transition.{winner}"])


def test_withdraw_racing_confirm(app, backend):
    """The applicant withdraws while the employer confirms: one move happens, logs agree with it."""
    _needs_postgresql(backend)
    with app.app_context():
        staff = f.Staff()
        applicant, _, app_id = f.initial_application(staff, "11", "submit")
        employer = staff.enterprise(db.session.get(Application, app_id).enterprise_id)
        version = db.session.get(Application, app_id).version

    results = _together(app, [_move_job(app_id, "withdraw", applicant),
                              _move_job(app_id, "confirm", employer, attested=True)])

    winner = _one_winner(results, ["withdraw", "confirm"])
    with app.app_context():
        application = db.session.get(Application, app_id)
        assert application.state == {"withdraw": "withdrawn", "confirm": "province_review"}[winner]
        assert application.version == version + 1
        assert _moves_since(app_id, "enterprise_review", ["withdraw", "confirm"]) == ([winner], [f"transition.{winner}"])
        later = db.session.query(TransitionLog).filter(TransitionLog.application_id == app_id,
                                                       TransitionLog.from_state != "draft").count()
        assert later == 1  # nothing moved it further


def _transition_post(app, username, app_id, action, **fields):
    """A signed-in client that opened the transition page; the form it would post."""
    import re

    from tests.conftest import csrf_token, login

    client = login(app.test_client(), username)
    url = f"/applications/transition/{app_id}/{action}"
    page = client.get(url).get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    return client, url, {"csrf_token": csrf_token(client, url), "version": version, **fields}


def _flashes(page):
    """The flash messages of a page (what the person reads), for an assertion message."""
    import re

    return re.findall(r'class="alert[^"]*"[^>]*>(.*?)</div>', page, re.S) or page[:3000]


def _post_together(posts):
    """POST each (client, url, data) at the same moment from its own thread, then open the page it
    redirects to. Returns (POST status, redirect target, text of that page) per post."""
    import html

    barrier = threading.Barrier(len(posts))
    results = [None] * len(posts)

    def run(i, client, url, data):
        barrier.wait(30)
        resp = client.post(url, data=data)
        location = resp.headers.get("Location", "")
        page = client.get(location).get_data(as_text=True) if resp.status_code == 302 else ""
        results[i] = (resp.status_code, location, html.unescape(page))

    threads = [threading.Thread(target=run, args=(i, *post)) for i, post in enumerate(posts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a request hung"
    return results


def test_pass_and_return_posted_at_once_through_the_pages(app, backend):
    """The same race through HTTP: the loser lands on the application page with a clear message."""
    _needs_postgresql(backend)
    from app.workflow import STATE_LABELS, TRANSITIONS

    with app.app_context():
        staff = f.Staff()
        _, _, app_id = f.initial_application(staff, "11", "submit", "confirm")
        first, second = staff.province("11"), f.make_user("Province", province_code="11")
        number = db.session.get(Application, app_id).number
    posts = [_transition_post(app, first, app_id, "pass", opinion=""),
             _transition_post(app, second, app_id, "return", opinion="材料不全")]

    results = dict(zip(["pass", "return"], _post_together(posts), strict=True))

    targets = {"pass": "ministry_review", "return": "returned"}
    assert {status for status, _, _ in results.values()} == {302}, results
    assert all(location.endswith(f"/applications/show/{app_id}") for _, location, _ in results.values())
    with app.app_context():
        final = db.session.get(Application, app_id).state
    winner = next(a for a, target in targets.items() if target == final)
    (loser,) = set(targets) - {winner}
    with _english(app):
        winner_says = f"{number}: {TRANSITIONS[winner].label} done. Now: {STATE_LABELS[final]}."
        too_late = (f"This application is “{STATE_LABELS[final]}”; it cannot be {TRANSITIONS[loser].label} now.")
        stale = (f"This application was changed by someone else since you opened it; it is now “{STATE_LABELS[final]}”. "
                 "Reload and try again.")
    assert winner_says in results[winner][2]
    loser_page = results[loser][2]
    assert " done. Now: " not in loser_page
    assert any(m in loser_page for m in (CONFLICT, too_late, stale, HANDLED)), _flashes(loser_page)
    with app.app_context():
        assert _moves_since(app_id, "province_review", ["pass", "return"]) == ([winner], [f"transition.{winner}"])



def test_acting_on_a_page_another_reviewer_has_since_moved_says_what_happened(app):
    """Opened, then beaten by a colleague: the message names the new state instead of a puzzling refusal."""
    from app.workflow import STATE_LABELS

    with app.app_context():
        staff = f.Staff()
        _, _, app_id = f.initial_application(staff, "11", "submit", "confirm")
        first, second = staff.province("11"), f.make_user("Province", province_code="11")
    client, url, data = _transition_post(app, second, app_id, "return", opinion="材料不全")
    with app.app_context():
        workflow.apply(app_id, workflow.Move("pass"), f.user(first))
    resp = client.post(url, data=data, follow_redirects=True)
    with _english(app):
        stale = (f"This application was changed by someone else since you opened it; it is now "
                 f"“{STATE_LABELS['ministry_review']}”. Reload and try again.")
    assert stale in __import__("html").unescape(resp.get_data(as_text=True))
    with app.app_context():
        assert db.session.get(Application, app_id).state == "ministry_review"


def _approved(staff, count, province="31"):
    """Ids of `count` applications approved and awaiting announcement, in no batch."""
    return [f.initial_application(staff, province, "submit", "confirm", "pass", "approve")[2] for _ in range(count)]


def _draft_batch(app_ids=()) -> int:
    from models import AnnouncementBatch

    batch = AnnouncementBatch(title="并发公告", state="draft")
    db.session.add(batch)
    db.session.flush()
    for app_id in app_ids:
        db.session.get(Application, app_id).announcement_id = batch.id
    db.session.commit()
    return batch.id


def _counter(name) -> int:
    from models import Counter

    return db.session.query(Counter.value).filter_by(name=name).scalar() or 0


def _published_once(app_ids):
    """Every application published exactly once, through the batch it belongs to, with one certificate;
    no certificate number anywhere used twice."""
    from models import AnnouncementBatch

    for app_id in app_ids:
        application = db.session.get(Application, app_id)
        assert application.state == "completed", (app_id, application.state)
        assert db.session.get(AnnouncementBatch, application.announcement_id).state == "published"
        assert db.session.query(TransitionLog).filter_by(application_id=app_id, action="publish").count() == 1
        assert db.session.query(Certificate).filter_by(application_id=app_id).count() == 1
    numbers = [n for (n,) in db.session.query(Certificate.number)]
    assert len(numbers) == len(set(numbers))


@contextlib.contextmanager
def _only_these_waiting(app, app_ids):
    """Other tests' (and the demo's) applications awaiting a batch sit in a parking batch meanwhile,
    so a gather sees just `app_ids`; they are put back afterwards."""
    from sqlalchemy import delete, update

    from models import AnnouncementBatch

    with app.app_context():
        parking = _draft_batch()
        db.session.execute(update(Application).where(
            Application.state == "announce_pending", Application.announcement_id.is_(None),
            Application.id.not_in(app_ids)).values(announcement_id=parking))
        db.session.commit()
    try:
        yield
    finally:
        with app.app_context():
            db.session.execute(update(Application).where(Application.announcement_id == parking)
                               .values(announcement_id=None))
            db.session.execute(delete(AnnouncementBatch).where(AnnouncementBatch.id == parking))
            db.session.commit()


def test_two_gathers_at_once_put_each_application_in_one_batch(app, backend):
    """Two batches gathered at the same moment: each waiting application lands in exactly one, and
    each gather reports what it really took. Both batches then publish at once with distinct numbers."""
    _needs_postgresql(backend)
    from app import announcements
    from ground.clock import today
    from models import AnnouncementBatch

    with app.app_context():
        staff = f.Staff()
        app_ids = _approved(staff, 6)
        batch_ids = [_draft_batch(), _draft_batch()]
        ministry = [staff.ministry, f.make_user("Ministry")]
    counts = {}

    def gather_job(batch_id, username):
        def act(user):
            counts[batch_id] = announcements.gather(batch_id, user)

        return lambda: f.user(username), act

    with _only_these_waiting(app, app_ids):
        results = _together(app, [gather_job(b, u) for b, u in zip(batch_ids, ministry, strict=True)])

    assert results == [("ok", None)] * 2
    with app.app_context():
        members = {b: {a for (a,) in db.session.query(Application.id).filter_by(announcement_id=b)}
                   for b in batch_ids}
        assert members[batch_ids[0]] | members[batch_ids[1]] == set(app_ids)
        assert not members[batch_ids[0]] & members[batch_ids[1]]
        assert counts == {b: len(members[b]) for b in batch_ids}  # 6 in all, not 12
        if not all(members.values()):  # one gather took everything: split them for the publish race
            full, empty = sorted(batch_ids, key=lambda b: -len(members[b]))
            moved = sorted(members[full])[::2]
            for app_id in moved:
                db.session.get(Application, app_id).announcement_id = empty
            db.session.commit()
            members = {full: members[full] - set(moved), empty: set(moved)}
        start = _counter(f"announcement:{today().year}")

    def publish_job(batch_id, username):
        return lambda: f.user(username), lambda user: announcements.publish(batch_id, user)

    results = _together(app, [publish_job(b, u) for b, u in zip(batch_ids, ministry, strict=True)])

    assert results == [("ok", None)] * 2
    with app.app_context():
        _published_once(app_ids)
        for batch_id in batch_ids:
            assert {a.id for a in db.session.get(AnnouncementBatch, batch_id).applications} == members[batch_id]
        sequences = sorted(db.session.get(AnnouncementBatch, b).sequence for b in batch_ids)
        assert sequences == [start + 1, start + 2]


def _wait_until_blocked_or_done(holder_pid, threads, timeout=10):
    """Until every thread has finished or waits on a lock held by backend `holder_pid`."""
    import time

    from sqlalchemy import text

    deadline = time.monotonic() + timeout
    with db.engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
                                   {"pid": holder_pid}).scalar()
            if waiting >= sum(t.is_alive() for t in threads):
                return
            time.sleep(0.05)


def test_batch_cannot_change_while_it_is_published(app, backend, monkeypatch):
    """While batch A is being published, one user removes an application from it (to gather it into B)
    and another gathers a newly approved one into A. Both are told A is already published; every
    application of A is published through A, the other one still waits for a batch."""
    _needs_postgresql(backend)
    from sqlalchemy import text

    from app import announcements, effects

    with app.app_context():
        staff = f.Staff()
        in_a = _approved(staff, 3)
        batch_a = _draft_batch(in_a)
        latecomer = _approved(staff, 1)[0]  # approved, in no batch yet
        publisher, mover, gatherer = staff.ministry, f.make_user("Ministry"), f.make_user("Ministry")
    midway = threading.Event()
    others = []
    real_issue = effects.issue_certificate

    def issue_then_pause(ctx):
        real_issue(ctx)
        if not midway.is_set():  # first certificate of A: let the others try, then go on
            midway.set()
            pid = ctx.session.execute(text("SELECT pg_backend_pid()")).scalar()
            _wait_until_blocked_or_done(pid, others)

    _issue_with(monkeypatch, issue_then_pause)
    outcomes = {}

    def attempt(name, username, step):
        midway.wait(30)
        with _english(app):
            try:
                step(f.user(username))
                outcomes[name] = ("ok", None)
            except Exception as exc:
                outcomes[name] = (type(exc).__name__, str(getattr(exc, "message", exc)))
            finally:
                db.session.remove()

    def move_to_b(user):
        announcements.remove(batch_a, in_a[-1], user)
        batch_b = _draft_batch()
        announcements.gather(batch_b, user)

    others += [threading.Thread(target=attempt, args=("remove", mover, move_to_b)),
               threading.Thread(target=attempt, args=("gather", gatherer,
                                                     lambda user: announcements.gather(batch_a, user)))]
    for t in others:
        t.start()
    with _english(app):
        announcements.publish(batch_a, f.user(publisher))
        db.session.remove()
    for t in others:
        t.join(60)

    assert midway.is_set()
    assert outcomes == {"remove": ("BatchError", ALREADY_PUBLISHED), "gather": ("BatchError", ALREADY_PUBLISHED)}
    with app.app_context():
        _published_once(in_a)
        assert {db.session.get(Application, a).announcement_id for a in in_a} == {batch_a}
        waiting = db.session.get(Application, latecomer)
        assert (waiting.state, waiting.announcement_id) == ("announce_pending", None)


def test_same_batch_published_twice_at_once(app, backend):
    """Two ministry users who both opened the draft batch press publish together: one publishes it,
    the other is told it is already published; one number, one certificate per application."""
    _needs_postgresql(backend)
    from app import announcements
    from ground.clock import today
    from models import AnnouncementBatch

    with app.app_context():
        staff = f.Staff()
        app_ids = _approved(staff, 3)
        batch_id = _draft_batch(app_ids)
        users = [staff.ministry, f.make_user("Ministry")]
        start = _counter(f"announcement:{today().year}")

    def publish_job(username):
        def prepare():
            return f.user(username), db.session.get(AnnouncementBatch, batch_id)  # the page they opened

        return prepare, lambda prepared: announcements.publish(batch_id, prepared[0])

    results = _together(app, [publish_job(u) for u in users])

    assert sorted(results, key=str) == [("BatchError", ALREADY_PUBLISHED), ("ok", None)], results
    with app.app_context():
        _published_once(app_ids)
        assert db.session.get(AnnouncementBatch, batch_id).sequence == start + 1
        assert _counter(f"announcement:{today().year}") == start + 1  # the loser's number rolled back
        audits = db.session.query(AuditLog).filter_by(object_type="AnnouncementBatch", object_id=str(batch_id),
                                                      action="update").all()
        assert [a.detail["state"] for a in audits] == [["draft", "published"]]


def test_same_batch_published_twice_through_the_pages(app, backend, monkeypatch):
    """The same through HTTP: the loser's page says the batch is already published (not a 500)."""
    _needs_postgresql(backend)
    import time

    from app import effects
    from models import AnnouncementBatch
    from tests.conftest import csrf_token, login

    with app.app_context():
        staff = f.Staff()
        app_ids = _approved(staff, 2)
        batch_id = _draft_batch(app_ids)
        users = [staff.ministry, f.make_user("Ministry")]
    real_issue = effects.issue_certificate

    def slow_issue(ctx):  # the winner is still publishing when the loser opens the batch
        time.sleep(0.3)
        real_issue(ctx)

    _issue_with(monkeypatch, slow_issue)
    posts = []
    for username in users:
        client = login(app.test_client(), username)
        token = csrf_token(client, f"/announcements/show/{batch_id}")
        posts.append((client, f"/announcements/publish/{batch_id}", {"csrf_token": token}))

    results = _post_together(posts)

    assert [status for status, _, _ in results] == [302, 302]
    with app.app_context():
        number = db.session.get(AnnouncementBatch, batch_id).number
        _published_once(app_ids)
    pages = sorted((page for _, _, page in results), key=lambda p: ALREADY_PUBLISHED in p)
    assert f"Announcement {number} published with 2 applications." in pages[0]
    assert ALREADY_PUBLISHED in pages[1] and " published with " not in pages[1]


def test_publish_killed_half_way_leaves_no_trace(app, backend, monkeypatch):
    """A five-application batch dies at its third certificate: nothing of it stays (batch, states,
    certificates, logs, audit rows, counters); publishing it again takes the very next numbers."""
    _needs_postgresql(backend)
    from app import announcements, effects
    from ground.clock import today
    from models import AnnouncementBatch, Person

    with app.app_context():
        staff = f.Staff()
        app_ids = _approved(staff, 5)
        batch_id = _draft_batch(app_ids)
        year = today().year
        names = (f"announcement:{year}", f"certificate:{year}", f"registration:31:{year}")
        counters = {n: _counter(n) for n in names}
        versions = {a: db.session.get(Application, a).version for a in app_ids}
        person_ids = [db.session.get(Application, a).person_id for a in app_ids]
        registrations = {p: [r.number for r in db.session.query(Registration).filter_by(person_id=p)]
                         for p in person_ids}
        last_audit = db.session.query(db.func.max(AuditLog.id)).scalar()
        last_log = db.session.query(db.func.max(TransitionLog.id)).scalar()
    real_issue = effects.issue_certificate
    calls = []

    def issue_then_die(ctx):
        real_issue(ctx)  # the certificate row is written and its number drawn...
        calls.append(ctx.application.id)
        if len(calls) == 3:
            raise RuntimeError("publish killed half-way")  # ...then the publish dies

    _issue_with(monkeypatch, issue_then_die)
    with app.app_context():
        with pytest.raises(RuntimeError, match="killed half-way"):
            announcements.publish(batch_id, f.user(staff.ministry))
        db.session.remove()

    assert calls == app_ids[:3]  # two certificates had been issued before the third one failed
    with app.app_context():
        batch = db.session.get(AnnouncementBatch, batch_id)
        assert (batch.state, batch.year, batch.sequence, batch.published_on) == ("draft", None, None, None)
        for app_id in app_ids:
            application = db.session.get(Application, app_id)
            assert (application.state, application.version, application.announcement_id) == \
                ("announce_pending", versions[app_id], batch_id)
        assert db.session.query(Certificate).filter(Certificate.person_id.in_(person_ids)).count() == 0
        assert {p: [r.number for r in db.session.query(Registration).filter_by(person_id=p)]
                for p in person_ids} == registrations
        assert {n: _counter(n) for n in names} == counters
        assert db.session.query(TransitionLog).filter(TransitionLog.id > last_log).count() == 0
        assert db.session.query(AuditLog).filter(AuditLog.id > last_audit).count() == 0

    _issue_with(monkeypatch, real_issue)
    with app.app_context():
        announcements.publish(batch_id, f.user(staff.ministry))
        assert db.session.get(AnnouncementBatch, batch_id).sequence == counters[f"announcement:{year}"] + 1
        _published_once(app_ids)
        serials = [int(db.session.query(Certificate.number).filter_by(application_id=a).scalar()[4:])
                   for a in app_ids]
        start = counters[f"certificate:{year}"]
        assert serials == list(range(start + 1, start + 6))  # in batch order, no gap, none reused
        assert _counter(f"registration:31:{year}") == counters[f"registration:31:{year}"]
        assert db.session.query(Person).filter(Person.id.in_(person_ids)).count() == 5
        registration_numbers = [n for (n,) in db.session.query(Registration.number)]
        assert len(registration_numbers) == len(set(registration_numbers))


def test_a_guard_that_sees_the_winners_effects_still_says_someone_else_acted(app, backend):
    """A reviewer who opened the application before another approved it: approval's guard (no registration
    yet) now fails because of the winner's registration; the loser hears of the other's move, not of a rule."""
    if backend != "postgresql":
        pytest.skip("needs a server database (set TEST_DATABASE_URL)")
    app_id, _person, first = _ready_for_approval(app)
    with app.app_context():
        second = f.make_user("Ministry")
    opened, moved, outcome = threading.Event(), threading.Event(), []

    def late_reviewer():
        with app.app_context():
            application = db.session.get(Application, app_id)  # ministry_review, version n
            opened.set()
            moved.wait(30)
            try:
                workflow.apply(application, workflow.Move("approve"), f.user(second))
                outcome.append("ok")
            except workflow.WorkflowError as exc:
                outcome.append(type(exc).__name__)
            finally:
                db.session.remove()

    thread = threading.Thread(target=late_reviewer)
    thread.start()
    opened.wait(30)
    with app.app_context():
        f.move(app_id, "approve", first)
        db.session.remove()
    moved.set()
    thread.join(60)
    assert outcome == ["Conflict"]
