"""Benchmark at national scale: panel pages and the statistics page, ours against plain FAB views.

Fills a throwaway PostgreSQL schema with `app.generate` (default 1,000,000 persons, as many
registrations and certificates, 2,000,000 applications), then times server-side requests (the Flask
test client, in process: routing, queries, rendering) of each page, p50 and p95 over --runs, with the
SQL statements per request. Each page is also served by a plain Flask-AppBuilder view with default
settings (`ModelView` with the same list columns; FAB's `GroupByChartView` for the statistics), mounted
in the same app on the same data, so the gain is a ratio. One exception: FAB's default search form lists
every row of each related table in a dropdown; for relations to tables of over 100,000 rows (persons,
registrations, certificates, the transition log) that exhausted the machine's 24 GB and the benchmark
was killed, so the plain views leave those relations out of the search form (`search_exclude_columns`);
the enterprise dropdown (30,000 rows) stays. Plain pages slower than --plain-budget seconds run once.

Run: .venv/bin/python bench/national.py --database-url postgresql://postgres@127.0.0.1:5432/test
     [--persons 1000000] [--runs 30] [--plain-runs 5] [--schema test_… (reuse a filled schema, keep it)]
Exports are measured by bench/exports.py.
"""
import argparse
import gc
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("INSTANCE_DIR", tempfile.mkdtemp(prefix="bench-"))
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 58)

from sqlalchemy import event, func, select, text  # noqa: E402

PLAIN = {"PlainQueue", "PlainPersons", "PlainCertificates", "PlainStatistics"}


def plain_views(province_code):
    """FAB views with default settings (only the list columns and, for the queue, the province's stage)."""
    from flask_appbuilder import ModelView
    from flask_appbuilder.charts.views import GroupByChartView
    from flask_appbuilder.models.group import aggregate_count
    from flask_appbuilder.models.sqla.filters import FilterEqual
    from flask_appbuilder.models.sqla.interface import SQLAInterface

    from models import Application, Certificate, Person, Registration

    class PlainQueue(ModelView):
        datamodel = SQLAInterface(Application)
        list_columns = ["number", "business_type", "person.name", "enterprise.name", "state", "state_changed_at",
                        "stage_deadline"]
        base_filters = [["province_code", FilterEqual, province_code], ["state", FilterEqual, "province_review"]]

    class PlainPersons(ModelView):
        datamodel = SQLAInterface(Person)
        list_columns = ["name", "id_number", "gender", "birth_date", "phone", "realname_status"]

    class PlainCertificates(ModelView):
        datamodel = SQLAInterface(Certificate)
        list_columns = ["number", "holder_name", "registration_number", "enterprise_name", "status", "issued_on",
                        "valid_until"]

    class PlainStatistics(GroupByChartView):
        datamodel = SQLAInterface(Registration)
        definitions = [{"group": "initial_province_code", "series": [(aggregate_count, "id")]}]

    views = [PlainQueue, PlainPersons, PlainCertificates, PlainStatistics]
    for view in views:
        view.search_exclude_columns = huge_relations(view.datamodel.obj)
    return views


def huge_relations(model, limit=100_000) -> list[str]:
    """Relations of `model` to tables of more than `limit` rows (PostgreSQL's estimate)."""
    from ground.extensions import db

    names = []
    for rel in model.__mapper__.relationships:
        table = rel.mapper.local_table.name
        rows = db.session.execute(text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": table}).scalar()
        if rows and rows > limit:
            names.append(rel.key)
    return names


def build_app(info):
    import ground.roles as roles
    import views.grants as grants_module
    from server import create_app

    original = grants_module.role_permissions

    def with_plain_views():
        grants = original()
        for role in (roles.MINISTRY, roles.PROVINCE):
            grants[role] = sorted(set(grants[role]) | {(view, perm) for view in PLAIN
                                                        for perm in ("can_list", "can_show", "can_chart")})
        return grants

    grants_module.role_permissions = with_plain_views
    application = create_app({"SQLALCHEMY_DATABASE_URI": info["uri"], "SQLALCHEMY_ENGINE_OPTIONS": info["engine_options"],
                       "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "TESTING": True,
                       "STATISTICS_CACHE_SECONDS": 600, "JOBS_EAGER": True,  # the first visit computes the snapshot
                       "CAPTCHA_TEST_HOOK": True, "RATELIMIT_ENABLED": False})
    gc.collect()
    gc.freeze()  # as wsgi.py does for the workers
    return application


def fill(app, persons):
    from ops.cli import setup
    from ground.extensions import db
    from ops.generate import generate

    with app.app_context():
        setup()
        started = time.perf_counter()
        counts = generate(db.session, persons=persons)
        elapsed = time.perf_counter() - started
        db.session.remove()
    print(f"generated in {elapsed:.0f} s: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()), flush=True)
    return counts


def pick_samples(app):
    """A busy province, a common name prefix and an ID-number prefix that exist in the data."""
    from ground.extensions import db
    from models import Application, Person

    with app.app_context():
        province = db.session.execute(
            select(Application.province_code).where(Application.state == "province_review")
            .group_by(Application.province_code).order_by(func.count().desc()).limit(1)).scalar()
        name = db.session.execute(select(Person.name).order_by(Person.id).offset(12345).limit(1)).scalar()
        id_number = db.session.execute(select(Person.id_number).order_by(Person.id).offset(54321).limit(1)).scalar()
        db.session.remove()
    return province, name, id_number


def timed(app, client, url, runs, budget=None):
    """(p50 ms, p95 ms, SQL statements per request, runs made) of GET url in steady state: one request
    first warms the worker (templates, caches) and counts the SQL; when even that one takes longer than
    `budget` seconds it is the only measurement."""
    from ground.extensions import db

    with app.app_context():
        engine = db.engine
    counted = []

    def count(*_args):
        counted.append(1)

    event.listen(engine, "before_cursor_execute", count)
    start = time.perf_counter()
    response = client.get(url)
    first = time.perf_counter() - start
    event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200, (url, response.status_code)
    times = [first]
    if budget is None or first < budget:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            client.get(url)
            times.append(time.perf_counter() - start)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times) * 1000, p95 * 1000, len(counted), len(times)


def run(info, args):
    from tests import factories as f
    from tests.conftest import login

    app = build_app(info)
    if not args.schema:
        fill(app, args.persons)
    province, name, id_number = pick_samples(app)
    with app.app_context():
        for view in plain_views(province):
            app.appbuilder.add_view_no_menu(view)
            print(f"{view.__name__}: left out of the search form: {', '.join(view.search_exclude_columns) or '—'}")
        stamp = uuid.uuid4().hex[:6]
        ministry = f.make_user("Ministry", username=f"bench-ministry-{stamp}")
        provincial = f.make_user("Province", username=f"bench-province-{stamp}", province_code=province)
        from ground.extensions import db

        db.session.execute(text("ANALYZE"))
        db.session.commit()
        db.session.remove()
    clients = {"ministry": login(app.test_client(), ministry, lang=None),
               "province": login(app.test_client(), provincial, lang=None)}
    surname, id_prefix = name[:2], id_number[:10]
    pages = [
        ("province review queue", "province", "/myqueue/list/", "/plainqueue/list/"),
        ("person search by name (prefix)", "ministry", f"/persons/list/?_flt_0_name={surname}",
         f"/plainpersons/list/?_flt_0_name={surname}"),
        ("person search by ID number (prefix)", "ministry", f"/persons/list/?_flt_0_id_number={id_prefix}",
         f"/plainpersons/list/?_flt_0_id_number={id_prefix}"),
        ("certificate list", "ministry", "/certificates/list/", "/plaincertificates/list/"),
        ("certificate list, page 400", "ministry", "/certificates/list/?page_CertificatesView=399",
         "/plaincertificates/list/?page_PlainCertificates=399"),
        ("statistics page, figures kept (default, 10 min)", "ministry", "/dashboard/", "/plainstatistics/chart/0"),
        ("statistics page, recomputed every time", "ministry", "/dashboard/", None),
    ]
    print(f"\nsamples: province {province}, name prefix {surname}, ID prefix {id_prefix}", flush=True)
    header = "| page | ours p50 ms | ours p95 ms | SQL | plain p50 ms | plain p95 ms | SQL | plain/ours (p50) |"
    rows = [header, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    plain_statistics = None
    for label, who, ours_url, plain_url in pages:
        if plain_url is None:  # the statistics without their cache, against the same plain chart
            app.config["STATISTICS_CACHE_SECONDS"] = 0
            ours = timed(app, clients[who], ours_url, args.plain_runs)
            app.config["STATISTICS_CACHE_SECONDS"] = 600
            plain = plain_statistics
        else:
            ours = timed(app, clients[who], ours_url, args.runs)
            plain = timed(app, clients[who], plain_url, args.plain_runs, budget=args.plain_budget)
            plain_statistics = plain
        rows.append(f"| {label} | {ours[0]:.0f} | {ours[1]:.0f} | {ours[2]} | {plain[0]:.0f} | {plain[1]:.0f} "
                    f"| {plain[2]} | {plain[0] / ours[0]:.0f}× |" + ("" if plain[3] > 1 else " (plain: 1 run)"))
        print(rows[-1], flush=True)
    print(f"\n{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"PostgreSQL {server_version(app)}; {args.runs} runs (plain {args.plain_runs})\n")
    print("\n".join(rows))
    from ground.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def server_version(app):
    from ground.extensions import db

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return "n/a (SQLite)"
        version = db.session.execute(text("SHOW server_version")).scalar()
        db.session.remove()
        return version


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--plain-runs", type=int, default=5)
    parser.add_argument("--plain-budget", type=float, default=10.0, help="seconds; slower plain pages run once")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL; default: a temporary SQLite file")
    parser.add_argument("--schema", default=None, help="a schema of --database-url already filled: reuse, keep")
    args = parser.parse_args()
    if args.schema:
        from tests.conftest import _psycopg_url

        run({"uri": _psycopg_url(args.database_url), "schema": args.schema,
             "engine_options": {"connect_args": {"options": f"-csearch_path={args.schema}"}}}, args)
        return
    from bench.common import run_in_fresh_database

    run_in_fresh_database(run, args)


if __name__ == "__main__":
    main()
