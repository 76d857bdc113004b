"""Benchmark: panel list pages and the role queue with many applications.

Prints, per page and role, the median time of a full HTTP request (test client, page size 20) and
the SQL statements it runs; then the same 20-row page built the plain way (lazy relationships, one
query per row and relation) against ours (eager joins), with the ratio.

Run: .venv/bin/python bench/list_pages.py [--applications 20000] [--database-url postgresql://...]
"""
import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("INSTANCE_DIR", tempfile.mkdtemp(prefix="bench-"))
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 58)

from sqlalchemy import event, insert  # noqa: E402
from sqlalchemy.orm import lazyload  # noqa: E402


def build(url, n_apps, engine_options):
    from server import create_app
    from ops.cli import setup
    from ground.clock import now_utc, today
    from ground.identifiers import make_credit_code, make_id_number
    from ground.extensions import db
    from models import Application, Enterprise, Person, application_specialty

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
                      "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
                      # Signing in needs the image captcha: the benchmark reads it like the tests do.
                      "TESTING": True, "CAPTCHA_TEST_HOOK": True, "RATELIMIT_ENABLED": False})
    rng = random.Random(7)
    with app.app_context():
        setup()
        ents = [{"credit_code": make_credit_code("110105", 20_000_000 + i), "name": f"企业{i}",
                 "province_code": rng.choice(["11", "31", "44"]), "created_at": now_utc(), "updated_at": now_utc()}
                for i in range(300)]
        db.session.execute(insert(Enterprise), ents)
        ent_rows = db.session.query(Enterprise.id, Enterprise.province_code).all()
        persons = []
        for i in range(n_apps):
            birth = today().replace(year=1970) + timedelta(days=i // 1000)
            number = make_id_number("110101", birth, i % 1000)
            persons.append({"id_number": number, "name": f"人员{i}", "gender": "M", "birth_date": birth,
                            "realname_status": "verified", "created_at": now_utc(), "updated_at": now_utc()})
        db.session.execute(insert(Person), persons)
        person_ids = [pid for (pid,) in db.session.query(Person.id).order_by(Person.id)]
        states = ["enterprise_review", "province_review", "ministry_review", "announce_pending", "completed"]
        apps = []
        for i, pid in enumerate(person_ids):
            ent_id, prov = rng.choice(ent_rows)
            apps.append({"number": f"SQ20260101{i:06d}", "business_type": "initial", "person_id": pid,
                         "enterprise_id": ent_id, "province_code": prov, "state": rng.choice(states), "version": 2,
                         "submitted_at": now_utc(), "state_changed_at": now_utc() - timedelta(minutes=i),
                         "continuing_education": False, "created_at": now_utc(), "updated_at": now_utc()})
        db.session.execute(insert(Application), apps)
        app_ids = [aid for (aid,) in db.session.query(Application.id)]
        db.session.execute(insert(application_specialty),
                           [{"application_id": a, "specialty_code": "building"} for a in app_ids])
        db.session.commit()
        from tests import factories as f

        users = {"Ministry": f.make_user("Ministry"), "Province": f.make_user("Province", province_code="11"),
                 "Enterprise": f.make_user("Enterprise", enterprise_id=ent_rows[0][0])}
    return app, users


def timed_requests(app, username, url, runs):
    from ground.extensions import db

    from tests.conftest import login

    client = login(app.test_client(), username, lang=None)
    client.get(url)
    with app.app_context():
        engine = db.engine
    counted = []
    listener = lambda *args: counted.append(1)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    client.get(url)
    event.remove(engine, "before_cursor_execute", listener)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        resp = client.get(url)
        times.append(time.perf_counter() - start)
        assert resp.status_code == 200, resp.status_code
    return statistics.median(times) * 1000, len(counted)


def page_plain_vs_ours(app, username, runs):
    """Build the 20 rows of the list page: lazy (plain) against our eager mapping."""
    from app import scope
    from ground.extensions import db
    from models import Application
    from tests import factories as f

    def rows(lazy):
        with app.app_context():
            user = f.user(username)
            query = db.session.query(Application).filter(scope.clause(Application, user))
            if lazy:
                query = query.options(lazyload("*"))
            items = query.order_by(Application.id.desc()).limit(20).all()
            out = [(a.number, a.person.name, a.enterprise.name, a.specialty_names) for a in items]
            db.session.remove()
            return out

    from ground.extensions import db as _db

    with app.app_context():
        engine = _db.engine
    results = {}
    for label, lazy in (("plain", True), ("ours", False)):
        counted = []

        def listener(*_args, counted=counted):
            counted.append(1)

        event.listen(engine, "before_cursor_execute", listener)
        rows(lazy)
        event.remove(engine, "before_cursor_execute", listener)
        results[label + "_sql"] = len(counted)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            rows(lazy)
            times.append(time.perf_counter() - start)
        results[label] = statistics.median(times) * 1000
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    from bench.common import run_in_fresh_database

    run_in_fresh_database(run, args)


def run(info, args):
    url = info["uri"]
    started = time.perf_counter()
    app, users = build(url, args.applications, info["engine_options"])
    print(f"{args.applications} applications generated in {time.perf_counter() - started:.1f}s "
          f"on {url.split(':')[0]}")
    print(f"{'page':<28}{'role':<12}{'median ms':>10}{'SQL':>6}")
    for path in ("/applications/list/", "/myqueue/list/", "/persons/list/", "/transitionlog/list/"):
        for role, username in users.items():
            ms, queries = timed_requests(app, username, path, args.runs)
            print(f"{path:<28}{role:<12}{ms:>10.1f}{queries:>6}")
    result = page_plain_vs_ours(app, users["Ministry"], args.runs)
    print(f"20-row page, plain lazy loading: {result['plain']:.1f} ms, {result['plain_sql']} SQL; "
          f"eager (ours): {result['ours']:.1f} ms, {result['ours_sql']} SQL; "
          f"ratio plain/ours: {result['plain'] / result['ours']:.1f}x")
    from ground.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
