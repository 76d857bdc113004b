"""DATABASE_REPLICA_URL (ground/replica.py): the public register, exports and statistics read the replica; writes
(an export's audit row, a changed row) go to the primary; /readyz checks the replica.

A primary database of our own is copied into a "replica" (SQLite: the backup API; PostgreSQL: CREATE DATABASE …
TEMPLATE), then each gets rows the other lacks: 复制甲 is in both, 复制丙 only in the primary, 复制乙 and 复制丁
only in the replica."""
import contextlib
import csv
import io
import os
import sqlite3
import uuid

import pytest
from sqlalchemy import create_engine, func, select, text

from tests.conftest import _psycopg_url, another_app, job_result, login  # first: it sets the test environment up
from ground import replica  # noqa: E402
from ground.extensions import db  # noqa: E402
from models import AuditLog, Person  # noqa: E402
from reports import statistics  # noqa: E402
from tests import factories as f  # noqa: E402

PREFIX = "复制"


def _server():
    return _psycopg_url(os.environ["TEST_DATABASE_URL"])


@contextlib.contextmanager
def _databases(backend, folder):
    """(primary, replica) database settings; the replica is created later by _copy."""
    if backend == "sqlite":
        yield ({"uri": f"sqlite:///{folder}/primary.db", "engine_options": {}},
               {"uri": f"sqlite:///{folder}/replica.db", "engine_options": {}})
        return
    tag = uuid.uuid4().hex[:10]
    names = (f"replica_test_primary_{tag}", f"replica_test_copy_{tag}")
    admin = create_engine(_server(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{names[0]}"'))
    base = create_engine(_server()).url
    try:
        yield tuple({"uri": base.set(database=name).render_as_string(hide_password=False),
                     "engine_options": {"pool_pre_ping": True}, "name": name} for name in names)
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _copy(backend, primary, replica_db):
    if backend == "sqlite":
        source = sqlite3.connect(primary["uri"][len("sqlite:///"):])
        target = sqlite3.connect(replica_db["uri"][len("sqlite:///"):])
        source.backup(target)
        source.close()
        target.close()
        return
    admin = create_engine(_server(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{replica_db["name"]}" TEMPLATE "{primary["name"]}"'))
    admin.dispose()


@pytest.fixture(scope="module")
def world(backend, tmp_path_factory):
    """(app on the primary without a replica, app on the primary reading the replica, ministry username)."""
    from ops.cli import setup

    with _databases(backend, tmp_path_factory.mktemp("replica")) as (primary, copy):
        with another_app(primary, tmp_path_factory) as builder, builder.app_context():
            setup()
            enterprise = f.make_enterprise("11", name=f"{PREFIX}企业")
            f.make_registered(enterprise, name=f"{PREFIX}甲")
            ministry = f.Staff().ministry
            db.session.remove()
            db.engine.dispose()
        _copy(backend, primary, copy)
        with another_app(primary, tmp_path_factory) as builder, builder.app_context():
            f.make_registered(enterprise, name=f"{PREFIX}丙")
        with another_app(copy, tmp_path_factory) as builder, builder.app_context():
            f.make_registered(enterprise, name=f"{PREFIX}乙")
            f.make_registered(enterprise, name=f"{PREFIX}丁")
        with another_app(primary, tmp_path_factory) as plain, \
                another_app(primary, tmp_path_factory, DATABASE_REPLICA_URL=copy["uri"],
                     DATABASE_REPLICA_ENGINE_OPTIONS=copy["engine_options"]) as reading:
            yield plain, reading, ministry


def _register_names(client) -> str:
    page = client.get(f"/registry/?name={PREFIX}")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_the_public_register_reads_the_replica(world):
    plain, reading, _ministry = world
    html = _register_names(reading.test_client())
    assert f"{PREFIX}乙" in html and f"{PREFIX}丁" in html and f"{PREFIX}甲" in html
    assert f"{PREFIX}丙" not in html
    html = _register_names(plain.test_client())  # without a replica: the primary, as before
    assert f"{PREFIX}丙" in html and f"{PREFIX}甲" in html and f"{PREFIX}乙" not in html


def _audit_rows(application) -> int:
    with application.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "export"))


def test_an_export_reads_the_replica_and_its_audit_row_goes_to_the_primary(world):
    plain, reading, ministry = world
    before = _audit_rows(plain)
    client = login(reading.test_client(), ministry)
    resp = job_result(client, f"/exports/persons/export/csv/?flt0_name={PREFIX}")
    assert resp.status_code == 200
    names = {row[0] for row in list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))[1:]}
    assert names == {f"{PREFIX}甲", f"{PREFIX}乙", f"{PREFIX}丁"}
    listing = client.get(f"/exports/persons/?flt0_name={PREFIX}").get_data(as_text=True)
    assert f"{PREFIX}丁" in listing and f"{PREFIX}丙" not in listing
    assert _audit_rows(plain) == before + 1  # the primary holds the export's audit row
    with reading.app_context(), replica.reads():
        assert db.session.scalar(select(func.count()).select_from(AuditLog)
                                 .where(AuditLog.action == "export")) == 0  # the replica does not


def test_statistics_read_the_replica(world):
    plain, reading, _ministry = world
    filters = statistics.Filters.default()
    with plain.app_context():
        on_primary = statistics.report(filters).registered.total
    with reading.app_context():
        on_replica = statistics.report(filters).registered.total
    assert (on_primary, on_replica) == (2, 3)


def test_writes_inside_replica_reads_go_to_the_primary(world):
    plain, reading, _ministry = world
    with reading.app_context():
        with replica.reads():
            person = db.session.scalar(select(Person).where(Person.name == f"{PREFIX}甲"))
            person.name = f"{PREFIX}戊"  # loaded through the replica, written to the primary
            db.session.commit()
            assert db.session.scalar(select(Person.id).where(Person.name == f"{PREFIX}戊")) is None  # replica
        assert db.session.scalar(select(Person.id).where(Person.name == f"{PREFIX}戊")) == person.id  # primary
        # A write sent to the replica's connection fails: it is read-only.
        with pytest.raises(Exception), replica.replica_engine().begin() as conn:
            conn.execute(text("UPDATE person SET name = 'x' WHERE id = :id"), {"id": person.id})
    with plain.app_context():
        db.session.get(Person, person.id).name = f"{PREFIX}甲"
        db.session.commit()


def test_readiness_checks_the_replica(world, tmp_path_factory, backend):
    _plain, reading, _ministry = world
    report = reading.test_client().get("/readyz").get_json()
    assert report["checks"]["database_replica"]["ok"], report
    missing = ("sqlite:////nonexistent-folder/replica.db" if backend == "sqlite"
               else create_engine(_server()).url.set(database=f"missing_{uuid.uuid4().hex[:8]}")
               .render_as_string(hide_password=False))
    primary = {"uri": reading.config["SQLALCHEMY_DATABASE_URI"], "engine_options": {}}
    with another_app(primary, tmp_path_factory, DATABASE_REPLICA_URL=missing,
              DATABASE_REPLICA_ENGINE_OPTIONS={}) as broken:
        resp = broken.test_client().get("/readyz")
        assert resp.status_code == 503
        checks = resp.get_json()["checks"]
        assert checks["database"]["ok"] and not checks["database_replica"]["ok"]
