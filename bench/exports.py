"""Benchmark: ministry exports of registrations (CSV, XLSX), ours against Flask-Admin's own, with COPY as the floor.

Creates N registrations (persons, 30,000 enterprises, one or two specialties each) in a throwaway database,
then runs every export in a fresh child process (an app signed in as a Ministry user, the full HTTP
response read through the test client) and prints its time, peak memory (VmHWM) and size:

- ours CSV: /exports/registrations/export/csv/ (PostgreSQL: COPY ... TO STDOUT; SQLite: streamed cursor);
  on PostgreSQL also with EXPORT_CSV_METHOD=cursor (server-side cursor + csv module);
- ours XLSX: /exports/registrations/export/xlsx/ (openpyxl write-only workbook; rows streamed into its sheet as XML);
- plain CSV / XLSX: a stock Flask-Admin ModelView of the same columns (query.all(), ORM objects; XLSX through
  tablib, built in memory). They can be capped (--plain-rows, --plain-xlsx-rows; Flask-Admin's own
  export_max_rows) and compared per row;
- openpyxl reference: the same SELECT appended cell by cell to an openpyxl write-only workbook (what our XLSX
  path would cost if openpyxl wrote every row; --lxml-path runs it once more with lxml on the path);
- COPY floor (PostgreSQL): COPY of the joined plain columns (no labels, masking or specialties), psycopg only.

Run: .venv/bin/python bench/exports.py [--rows 100000] [--database-url postgresql://...]
     [--plain-rows N] [--plain-xlsx-rows 100000] [--skip-plain-xlsx] [--skip-plain] [--openpyxl-rows 200000]
     [--tablib-path DIR] [--lxml-path DIR]   (directories holding tablib / lxml, e.g. from pip install --target)
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("INSTANCE_DIR", tempfile.mkdtemp(prefix="bench-"))
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 58)

ENTERPRISES = 30_000
PROVINCE_CODES = ["11", "12", "13", "31", "32", "33", "37", "42", "44", "51"]
SPECIALTY_CODES = ["building", "municipal", "mechanical", "highway", "water"]
URLS = {"csv": "/exports/registrations/export/csv/", "xlsx": "/exports/registrations/export/xlsx/",
        "plain-csv": "/plain/registrations/export/csv/", "plain-xlsx": "/plain/registrations/export/xlsx/"}


def settings(info, **extra):
    return {"SQLALCHEMY_DATABASE_URI": info["uri"], "SQLALCHEMY_ENGINE_OPTIONS": info["engine_options"],
            "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "TESTING": True, "CAPTCHA_TEST_HOOK": True,
            "RATELIMIT_ENABLED": False, **extra}


# --- Data ---------------------------------------------------------------------------------------

def _rows(n):
    """(enterprises, persons, registrations, registration specialties) as tuples, ids from 1."""
    from ground.clock import now_utc
    from ground.identifiers import make_credit_code, make_id_number

    rng = random.Random(11)
    now = now_utc()
    enterprises = [(i, make_credit_code("110105", 30_000_000 + i), f"测试建设工程有限公司{i:05d}",
                    rng.choice(PROVINCE_CODES), f"法人{i}", now, now) for i in range(1, ENTERPRISES + 1)]
    persons, registrations, specialties = [], [], []
    spec_id = 0
    for i in range(1, n + 1):
        birth = date(1960, 1, 1) + timedelta(days=(i - 1) // 1000)
        persons.append((i, make_id_number("110101", birth, (i - 1) % 1000), f"人员{i}", "M" if i % 2 else "F", birth,
                        f"13{i % 1_000_000_000:09d}", "verified", now, now))
        enterprise = rng.randint(1, ENTERPRISES)
        registered = date(2020, 1, 1) + timedelta(days=i % 1500)
        registrations.append((i, i, f"京111{i:016d}", f"111{i:016d}", enterprise, "active" if i % 10 else "cancelled",
                              "11", registered, False, now, now))
        for code in SPECIALTY_CODES[:1 + (i % 2)]:
            spec_id += 1
            specialties.append((spec_id, i, SPECIALTY_CODES[(SPECIALTY_CODES.index(code) + i) % 5], registered,
                                registered + timedelta(days=1095), "active"))
    return enterprises, persons, registrations, specialties


_COLUMNS = {
    "enterprise": "id, credit_code, name, province_code, legal_representative, created_at, updated_at",
    "person": "id, id_number, name, gender, birth_date, phone, realname_status, created_at, updated_at",
    "registration": ("id, person_id, number, number_digits, enterprise_id, status, initial_province_code, "
                     "registered_on, is_temporary, created_at, updated_at"),
    "registration_specialty": "id, registration_id, specialty_code, valid_from, valid_until, status",
}


def build(info, n):
    """A schema with n registrations and a Ministry user; returns the user name."""
    from sqlalchemy import text

    from server import create_app
    from ops.cli import setup
    from ground.extensions import db
    from tests import factories as f

    app = create_app(settings(info))
    with app.app_context():
        setup()
        tables = dict(zip(_COLUMNS, _rows(n), strict=True))
        engine = db.engine
        if engine.dialect.name == "postgresql":
            raw = engine.raw_connection()
            try:
                with raw.driver_connection.cursor() as cur:
                    for table, rows in tables.items():
                        with cur.copy(f"COPY {table} ({_COLUMNS[table]}) FROM STDIN") as copy:
                            for row in rows:
                                copy.write_row(row)
                        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {len(rows)})")
                raw.driver_connection.commit()
            finally:
                raw.close()
            with engine.begin() as conn:
                for table in tables:
                    conn.execute(text(f"ANALYZE {table}"))
        else:
            with engine.begin() as conn:
                for table, rows in tables.items():
                    names = [c.strip() for c in _COLUMNS[table].split(",")]
                    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(':' + c for c in names)})"
                    for start in range(0, len(rows), 50_000):
                        conn.execute(text(sql), [dict(zip(names, r, strict=True)) for r in rows[start:start + 50_000]])
        username = f.make_user("Ministry")
        db.session.remove()
        db.engine.dispose()
    return username


# --- One export in a child process --------------------------------------------------------------

def _plain_admin(app, max_rows):
    """Flask-Admin's own export of the same columns: ORM objects, query.all(), XLSX built by tablib."""
    from flask_admin import Admin
    from flask_admin.contrib.sqla import ModelView

    from ground.extensions import db
    from ground.identifiers import mask_id_number
    from models import Registration

    class PlainRegistrations(ModelView):
        can_export = True
        export_types = ["csv", "xlsx"]
        export_max_rows = max_rows
        column_list = ["number", "person.name", "person.id_number", "enterprise.name", "enterprise.province",
                       "status", "registered_on", "specialty_summary"]
        column_formatters_export = {"person.id_number": lambda v, c, m, n: mask_id_number(m.person.id_number)}

    admin = Admin(app, name="plain", url="/plain", endpoint="plain")
    admin.add_view(PlainRegistrations(Registration, db, endpoint="plain_registrations", url="/plain/registrations"))


def _status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    return 0


def child(spec):
    """Run one export and print {"seconds", "bytes", "lines", "peak_mb", "base_mb"} as JSON."""
    kind = spec["kind"]
    info = spec["info"]
    if kind == "openpyxl-xlsx":
        openpyxl_reference(spec)
        return
    if kind == "copy-floor":
        base = _status("VmRSS")
        started = time.perf_counter()
        size, lines = copy_floor(info)
        print(json.dumps({"seconds": time.perf_counter() - started, "bytes": size, "lines": lines,
                          "peak_mb": _status("VmHWM"), "base_mb": base}))
        return
    from server import create_app
    from tests.conftest import login

    extra = {"EXPORT_CSV_METHOD": spec["csv_method"]} if spec.get("csv_method") else {}
    app = create_app(settings(info, **extra))
    if kind.startswith("plain"):
        _plain_admin(app, spec["max_rows"])
    client = login(app.test_client(), spec["username"], lang=None)
    client.get("/exports/")  # warm: templates, first queries
    base = _status("VmRSS")
    started = time.perf_counter()
    response = client.get(URLS[kind], buffered=False)
    assert response.status_code == 200, response.status_code
    size = lines = 0
    with open(spec["out"], "wb") as out:
        for chunk in response.response:
            size += len(chunk)
            lines += chunk.count(b"\n")
            out.write(chunk)
    response.close()
    seconds = time.perf_counter() - started
    if kind.endswith("xlsx"):
        lines = xlsx_rows(spec["out"])
    print(json.dumps({"seconds": seconds, "bytes": size, "lines": lines, "peak_mb": _status("VmHWM"),
                      "base_mb": base}))


def xlsx_rows(path):
    """Rows of every sheet, headers included (counted in the XML: loading a million rows takes minutes)."""
    import zipfile

    rows = 0
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/sheet"):
                with archive.open(name) as sheet:
                    tail = b""
                    while chunk := sheet.read(1 << 20):
                        rows += (tail + chunk).count(b"<row ") - tail.count(b"<row ")
                        tail = chunk[-8:]
                rows -= 1  # each sheet's header
    return rows + 1  # + one header, to compare with CSV lines


def openpyxl_reference(spec):
    """Our SELECT written through openpyxl's write-only worksheet, cell by cell."""
    import openpyxl
    from openpyxl import Workbook

    from server import create_app
    from ground.extensions import db
    from models import Registration
    from reports import exports as X

    app = create_app(settings(spec["info"]))
    with app.test_request_context("/"):
        export = X.SPECS["registrations"]
        ctx = X.Ctx(db.engine.dialect.name, masked=True, text=False, specialties=X.specialty_names(db.session))
        query = db.session.query(Registration).select_from(Registration).order_by(Registration.id)
        stmt = export.statement(query, ctx).limit(spec["max_rows"])
        base = _status("VmRSS")
        started = time.perf_counter()
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("registrations")
        sheet.append(export.header())
        lines = 1
        for part in X._stream(db.engine, stmt):
            for row in part:
                sheet.append(tuple(row))
                lines += 1
        workbook.save(spec["out"])
        print(json.dumps({"seconds": time.perf_counter() - started, "bytes": os.path.getsize(spec["out"]),
                          "lines": lines, "peak_mb": _status("VmHWM"), "base_mb": base,
                          "lxml": openpyxl.LXML}))


def copy_floor(info):
    """COPY of the joined plain columns (the cost of moving the data out of PostgreSQL)."""
    import psycopg

    from tests.conftest import _psycopg_url

    url = _psycopg_url(info["uri"]).replace("postgresql+psycopg://", "postgresql://")
    sql = ("COPY (SELECT r.number, p.name, p.id_number, e.name, pv.name, r.status, r.registered_on "
           "FROM registration r JOIN person p ON p.id = r.person_id LEFT JOIN enterprise e ON e.id = r.enterprise_id "
           "LEFT JOIN province pv ON pv.code = e.province_code ORDER BY r.id) TO STDOUT WITH (FORMAT csv)")
    size = lines = 0
    options = info["engine_options"].get("connect_args", {}).get("options", "")
    with psycopg.connect(url, options=options) as conn, conn.cursor() as cur, cur.copy(sql) as copy:
        for data in copy:
            size += len(data)
            lines += 1
    return size, lines + 1


def run_child(spec, pythonpath=None):
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec, default=str)], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- Main ---------------------------------------------------------------------------------------

def run(info, args):
    started = time.perf_counter()
    username = build(info, args.rows)
    pg = info["uri"].startswith("postgresql")
    print(f"{args.rows:,} registrations generated in {time.perf_counter() - started:.0f}s on "
          f"{'PostgreSQL' if pg else 'SQLite'}")
    out = tempfile.mkdtemp(prefix="bench-exports-")
    plain_rows = min(args.plain_rows or args.rows, args.rows)
    plain_xlsx_rows = min(args.plain_xlsx_rows, args.rows)
    cases = [("ours CSV (" + ("COPY" if pg else "cursor") + ")", "csv", args.rows, {})]
    if pg:
        cases.append(("ours CSV (server-side cursor)", "csv", args.rows, {"csv_method": "cursor"}))
    cases.append(("ours XLSX", "xlsx", args.rows, {}))
    reference_rows = min(args.openpyxl_rows, args.rows)
    if reference_rows:
        cases.append(("openpyxl write-only append", "openpyxl-xlsx", reference_rows, {"max_rows": reference_rows}))
        if args.lxml_path:
            cases.append(("openpyxl write-only append + lxml", "openpyxl-xlsx", reference_rows,
                          {"max_rows": reference_rows, "pythonpath": args.lxml_path}))
    if not args.skip_plain:
        cases.append(("Flask-Admin CSV (plain)", "plain-csv", plain_rows, {"max_rows": plain_rows}))
        if not args.skip_plain_xlsx:
            cases.append(("Flask-Admin XLSX (plain, tablib)", "plain-xlsx", plain_xlsx_rows,
                          {"max_rows": plain_xlsx_rows, "pythonpath": args.tablib_path}))
    if pg:
        cases.append(("PostgreSQL COPY (floor)", "copy-floor", args.rows, {}))
    results = []
    for label, kind, rows, extra in cases:
        name = f"{len(results)}.{'xlsx' if 'xlsx' in kind else 'csv'}"
        spec = {"kind": kind, "info": info, "username": username, "out": os.path.join(out, name),
                **{k: v for k, v in extra.items() if k != "pythonpath"}}
        result = run_child(spec, extra.get("pythonpath"))
        results.append((label, rows, result))
        print(f"  {label}: {result}", flush=True)
    ours_csv = results[0][2]
    print()
    print(f"{'export':<36}{'rows':>10}{'seconds':>9}{'s/1M rows':>11}{'peak MB':>9}{'+MB':>7}{'MB out':>8}"
          f"{'time vs ours CSV':>18}")
    for label, rows, r in results:
        if "error" in r:
            print(f"{label:<36}{rows:>10,}  failed: {r['error']}")
            continue
        per_million = r["seconds"] / rows * 1_000_000
        ratio = per_million / (ours_csv["seconds"] / args.rows * 1_000_000) if "seconds" in ours_csv else 0
        print(f"{label:<36}{rows:>10,}{r['seconds']:>9.1f}{per_million:>11.1f}{r['peak_mb']:>9}"
              f"{r['peak_mb'] - r['base_mb']:>7}{r['bytes'] / 1e6:>8.0f}{ratio:>17.1f}x")
        if r["lines"] - 1 != rows:
            print(f"{'':<36}note: {r['lines'] - 1:,} data rows written")
    print("peak MB = the child's VmHWM (app included); +MB = above its RSS after sign-in; "
          "s/1M rows scales capped runs linearly.")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--plain-rows", type=int, default=None, help="cap Flask-Admin's CSV (default: all rows)")
    parser.add_argument("--plain-xlsx-rows", type=int, default=100_000, help="cap Flask-Admin's XLSX")
    parser.add_argument("--skip-plain-xlsx", action="store_true")
    parser.add_argument("--skip-plain", action="store_true", help="skip both Flask-Admin exports")
    parser.add_argument("--tablib-path", default=None, help="PYTHONPATH entry holding tablib (plain XLSX needs it)")
    parser.add_argument("--openpyxl-rows", type=int, default=200_000, help="rows of the openpyxl reference (0: skip)")
    parser.add_argument("--lxml-path", default=None, help="PYTHONPATH entry holding lxml: run the reference with it")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    from bench.common import run_in_fresh_database

    run_in_fresh_database(run, args)


if __name__ == "__main__":
    main()
