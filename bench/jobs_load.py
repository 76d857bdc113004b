"""Benchmark: does a trivial page stay fast while heavy background work runs?

The goal (back office): a trivial page's p95 while three registrations XLSX exports and a certificate
batch run stays within 1.5x of its idle p95. Before the back office the request waited for the export
(two concurrent 587k-row exports froze an instance; a trivial request waited 32.7 s).

Runs the real stack as separate processes on loopback, on a throwaway PostgreSQL schema filled by the
project's generator (ops/generate.py, as `flask generate-data`):
- gunicorn (--workers 2, gthread, --threads 4) serving wsgi:app on a free port;
- one Celery worker (`celery -A worker worker -Q default,exports,documents -c 2`) on Redis db 13
  (flushed at start and end);
- one HTTP client signed in as a Ministry user through the login form (CSRF token, captcha answer read
  from captcha_challenge by the form's nonce).

Measures --requests sequential GETs of each trivial page, idle, then in two load phases: while three XLSX
exports of all registrations run (GET /exports/registrations/export/xlsx/, each becomes a job), and while they
run again with the certificate batch print (GET /certificates/batch/<id>, the published batch with valid
certificates closest to --certificates; it says whether that request became a job or rendered the PDF itself).
A phase's sample ends when the work ends or the sample is done. The pages (default /jobs/status?ids=, the
JSON the 我的任务 page polls: session, permission check, the badge query; and /help/, a page rendered with
the signed-in menu) are requested in turn, each on a new connection, so both gunicorn workers serve them.
Then one export runs alone: the time a request waited for it when exports ran inside the request.
A freshly generated schema is vacuumed and checkpointed first; the load average before the idle sample
is printed, since other work on the machine moves the figures.

Run: .venv/bin/python bench/jobs_load.py [--database-url postgresql://postgres@127.0.0.1:5432/test]
     [--persons 100000] [--requests 200] [--schema test_… (reuse a filled schema, keep it)]
     [--url /jobs/status?ids= --url /help/] [--exports 3] [--certificates 1000] [--skip-batch] [--skip-alone]
     [--workers 2] [--threads 4] [--concurrency 2] [--nice 10 (the Celery worker's niceness)]
"""
import argparse
import datetime as dt
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("INSTANCE_DIR", tempfile.mkdtemp(prefix="bench-"))
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 58)

import psycopg  # noqa: E402
import requests  # noqa: E402

BIN = ROOT / ".venv" / "bin"
SECRET_KEY = "bench-jobs-load-" + "k" * 48
PASSWORD = "Test@2026"  # tests/factories.py
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
_NONCE = re.compile(r'name="captcha_nonce"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="captcha_nonce"')


# --- Database: schema, data, account ------------------------------------------------------------

def plain_url(url):
    return url.replace("postgresql+psycopg://", "postgresql://")


def connect(args):
    return psycopg.connect(plain_url(args.database_url), options=f"-csearch_path={args.schema}", autocommit=True)


def prepare(args):
    """Create and fill the schema (unless --schema), add a Ministry account, pick the batch; returns facts."""
    from sqlalchemy import text

    from bench.national import fill
    from ground.extensions import db
    from server import create_app
    from tests import factories as f
    from tests.conftest import _psycopg_url

    created = not args.schema
    if created:
        args.schema = f"test_jobs_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(plain_url(args.database_url), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{args.schema}"')
    app = create_app({"SQLALCHEMY_DATABASE_URI": _psycopg_url(args.database_url),
                      "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"options": f"-csearch_path={args.schema}"}},
                      "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "TESTING": True})
    facts = {"generated_seconds": None}
    if created:
        started = time.perf_counter()
        fill(app, args.persons)
        facts["generated_seconds"] = time.perf_counter() - started
        settle(args)
    with app.app_context():
        facts["username"] = f.make_user("Ministry", username=f"bench-ministry-{uuid.uuid4().hex[:6]}")
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        facts["registrations"] = db.session.execute(text("SELECT count(*) FROM registration")).scalar()
        facts["persons"] = db.session.execute(text("SELECT count(*) FROM person")).scalar()
        facts["batch"] = db.session.execute(text(
            "SELECT b.id, count(*) AS n FROM certificate c JOIN application a ON a.id = c.application_id "
            "JOIN announcement_batch b ON b.id = a.announcement_id "
            "WHERE c.status = 'valid' AND b.state = 'published' GROUP BY b.id "
            "ORDER BY abs(count(*) - :target), b.id LIMIT 1"), {"target": args.certificates}).first()
        facts["postgres"] = db.session.execute(text("SHOW server_version")).scalar()
        db.session.remove()
        db.engine.dispose()
    return facts


def settle(args):
    """After the bulk load: vacuum the schema's tables and checkpoint, so the idle sample does not meet
    autovacuum or the checkpoint of the load."""
    started = time.perf_counter()
    with connect(args) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (args.schema,))]
        for table in tables:
            conn.execute(f'VACUUM (ANALYZE) "{args.schema}"."{table}"')
        conn.execute("CHECKPOINT")
    print(f"vacuumed {len(tables)} tables and checkpointed in {time.perf_counter() - started:.0f} s", flush=True)


def drop_schema(args):
    with psycopg.connect(plain_url(args.database_url), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{args.schema}" CASCADE')


def flush_broker(url):
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


# --- The stack: gunicorn and a Celery worker ----------------------------------------------------

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    """gunicorn and one Celery worker as child processes, with their logs in the instance folder."""

    def __init__(self, args, instance):
        self.args, self.instance = args, Path(instance)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.hostname = f"bench-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
        url = plain_url(args.database_url)
        self.env = {**os.environ, "DATABASE_URL": f"{url}{'&' if '?' in url else '?'}options="
                                                  f"{quote(f'-csearch_path={args.schema}', safe='')}",
                    "CELERY_BROKER_URL": args.broker, "INSTANCE_DIR": str(self.instance),
                    "JOB_RESULT_FOLDER": str(self.instance / "job_results"), "SECRET_KEY": SECRET_KEY,
                    "RATELIMIT_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
        self.env.pop("JOBS_EAGER", None)
        self.procs = []

    def start(self):
        self._spawn("gunicorn", [str(BIN / "gunicorn"), "--workers", str(self.args.workers), "--worker-class",
                                 "gthread", "--threads", str(self.args.threads), "--timeout", "900", "--bind",
                                 f"127.0.0.1:{self.port}", "wsgi:app"])
        nice = ["nice", "-n", str(self.args.nice)] if self.args.nice else []
        self._spawn("celery", [*nice, str(BIN / "celery"), "-A", "worker", "worker", "-Q", "default,exports,documents",
                               "-c", str(self.args.concurrency), "--hostname", self.hostname, "--without-gossip",
                               "--without-mingle", "-l", "info"])
        deadline = time.monotonic() + 120
        web = worker = False
        while not (web and worker):
            if time.monotonic() > deadline:
                raise SystemExit(f"the stack did not start; logs in {self.instance}")
            for name, proc in self.procs:
                if proc.poll() is not None:
                    raise SystemExit(f"{name} exited ({proc.returncode}); log: {self.instance / (name + '.log')}")
            if not web:
                try:
                    web = requests.get(self.base + "/login/", timeout=5).status_code == 200
                except requests.RequestException:
                    pass
            if not worker:
                with connect(self.args) as conn:
                    worker = conn.execute("SELECT 1 FROM worker_status WHERE hostname = %s",
                                          (self.hostname,)).fetchone() is not None
            time.sleep(0.5)

    def _spawn(self, name, cmd):
        log = open(self.instance / f"{name}.log", "wb")
        proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append((name, proc))

    def stop(self):
        """Terminate each child (its own process group: gunicorn's and Celery's workers), then kill."""
        for _name, proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for _name, proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        # The process groups may still hold forked children that outlived their parent.
        for _name, proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# --- The client ---------------------------------------------------------------------------------

def sign_in(stack, args, username):
    session = requests.Session()
    html = session.get(stack.base + "/login/", timeout=30).text
    csrf, nonce = _CSRF.search(html), _NONCE.search(html)
    assert csrf and nonce, "no CSRF token or captcha on /login/"
    nonce = nonce.group(1) or nonce.group(2)
    with connect(args) as conn:
        answer = conn.execute("SELECT answer FROM captcha_challenge WHERE nonce = %s", (nonce,)).fetchone()[0]
    response = session.post(stack.base + "/login/", allow_redirects=False, timeout=30,
                            data={"username": username, "password": PASSWORD, "captcha_nonce": nonce,
                                  "captcha": answer, "csrf_token": csrf.group(1) or csrf.group(2)})
    assert response.status_code == 302 and "/login" not in response.headers.get("Location", ""), \
        f"sign-in failed: {response.status_code}"
    return session


def get(session, url):
    """Seconds of one GET on a new connection (both gunicorn workers take turns), body read."""
    started = time.perf_counter()
    response = session.get(url, headers={"Connection": "close"}, allow_redirects=False, timeout=900)
    seconds = time.perf_counter() - started
    assert response.status_code == 200, (url, response.status_code)
    return seconds


def sample(session, base, urls, count, until=None):
    """{url: [seconds]} of `count` GETs of each url, in turn; stops early when until() is true."""
    times = {url: [] for url in urls}
    for _ in range(count):
        if until is not None and until():
            break
        for url in urls:
            times[url].append(get(session, base + url))
    return times


def p(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- Background work ----------------------------------------------------------------------------

def start_exports(session, base, count):
    """Start `count` XLSX exports of all registrations; each request returns at once (→ 我的任务)."""
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        response = session.get(base + "/exports/registrations/export/xlsx/", allow_redirects=False, timeout=900)
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 302 and "/jobs" in response.headers.get("Location", ""), \
            f"the export did not become a job: {response.status_code} {response.headers.get('Location')}"
    return seconds


class BatchPrint(threading.Thread):
    """GET /certificates/batch/<id> in its own thread (its own session): a redirect to 我的任务 means it became a
    job; a PDF means it was rendered inside the request (the request's time is then the batch's cost)."""

    def __init__(self, session, base, batch_id):
        super().__init__(daemon=True, name="batch-print")
        self.session, self.url = session, f"{base}/certificates/batch/{batch_id}"
        self.result = None

    def run(self):
        started = time.perf_counter()
        try:
            response = self.session.get(self.url, allow_redirects=False, timeout=900)
        except requests.RequestException as exc:
            self.result = {"error": type(exc).__name__, "seconds": time.perf_counter() - started}
            return
        location = response.headers.get("Location", "")
        self.result = {"seconds": time.perf_counter() - started, "status": response.status_code,
                       "job": response.status_code == 302 and "/jobs" in location, "location": location,
                       "bytes": len(response.content), "type": response.headers.get("Content-Type", "")}


class Jobs:
    """Reads the job table on one connection of its own (no HTTP: the measured pages stay the only traffic)."""

    def __init__(self, args):
        self.conn = connect(args)

    def next_id(self):
        return self.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM job").fetchone()[0]

    def since(self, first_id):
        return self.conn.execute("SELECT id, kind, title, state, created_at, started_at, finished_at, progress_done, "
                                 "progress_total, error FROM job WHERE id >= %s ORDER BY id", (first_id,)).fetchall()

    def ended(self, first_id, count):
        rows = self.since(first_id)
        return len(rows) >= count and all(r[3] in ("done", "failed", "cancelled") for r in rows)

    def wait(self, first_id, count, timeout=3 * 3600):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ended(first_id, count):
                return self.since(first_id)
            time.sleep(0.5)
        raise SystemExit("the jobs did not end in time")

    def close(self):
        self.conn.close()


def seconds_between(a, b):
    return (b - a).total_seconds() if a and b else float("nan")


# --- Main ---------------------------------------------------------------------------------------

def run(args, facts, instance):
    stack = Stack(args, instance)
    flush_broker(args.broker)
    try:
        started = time.perf_counter()
        stack.start()
        print(f"stack up in {time.perf_counter() - started:.1f} s: gunicorn {args.workers} workers × {args.threads} "
              f"threads on :{stack.port}, Celery worker -c {args.concurrency}"
              f"{f' nice {args.nice}' if args.nice else ''} ({stack.hostname})", flush=True)
        return measure(args, facts, stack)
    finally:
        stack.stop()
        flush_broker(args.broker)


def measure(args, facts, stack):
    jobs = Jobs(args)
    try:
        return _measure(args, facts, stack, jobs)
    finally:
        jobs.close()


def _measure(args, facts, stack, jobs):
    base, urls = stack.base, args.url
    session = sign_in(stack, args, facts["username"])
    sample(session, base, urls, 20)  # warm both workers: templates, caches, pooled connections
    time.sleep(2)
    load = os.getloadavg()
    print("load average before the idle sample: " + ", ".join(f"{x:.2f}" for x in load)
          + " (1, 5, 15 min; other work on the machine shows here)", flush=True)
    phases = [("idle", sample(session, base, urls, args.requests), None)]
    say("idle", phases[0][1])
    with_batch = facts["batch"] is not None and not args.skip_batch
    loads = [False, True] if with_batch else [False]
    for batch_too in loads:
        phases.append(load_phase(args, facts, session, base, urls, jobs, batch_too))
        time.sleep(2)
    alone = None
    if not args.skip_alone:  # the old way's cost: one export by itself, which a request used to wait for
        first_alone = jobs.next_id()
        start_exports(session, base, 1)
        (r,) = jobs.wait(first_alone, 1)
        alone = (seconds_between(r[4], r[6]), r[7])
        print(f"one export alone: {alone[0]:.1f} s from the click to the file ({r[7]:,} rows)", flush=True)
    return {"phases": phases, "alone": alone, "load": load}


def say(label, times):
    print(f"{label}: " + "; ".join(f"{u} p50 {statistics.median(t) * 1000:.1f} ms, p95 {p(t, .95) * 1000:.1f} ms, "
                                  f"max {max(t) * 1000:.0f} ms, {len(t)} requests" for u, t in times.items() if t),
          flush=True)


def load_phase(args, facts, session, base, urls, jobs, batch_too):
    """Start the exports (and the batch print), sample the pages until the work ends or the sample is done."""
    first = jobs.next_id()
    load_started = time.perf_counter()
    start_seconds = start_exports(session, base, args.exports)
    batch = None
    if batch_too:
        batch_session = requests.Session()
        batch_session.cookies.update(session.cookies)
        batch = BatchPrint(batch_session, base, facts["batch"][0])
        batch.start()
    checked = [0.0, False]

    def expected():
        return args.exports + (1 if batch is not None and (batch.result or {}).get("job") else 0)

    def work_done():  # read the job table at most twice a second
        if time.monotonic() - checked[0] >= 0.5:
            checked[0] = time.monotonic()
            checked[1] = not (batch is not None and batch.is_alive()) and jobs.ended(first, expected())
        return checked[1]

    loaded = sample(session, base, urls, args.requests, until=work_done)
    sampled_for = time.perf_counter() - load_started
    if batch is not None:
        batch.join()
    rows = jobs.wait(first, expected())
    work_seconds = max([seconds_between(rows[0][4], r[6]) for r in rows]
                       + [batch.result.get("seconds", 0) if batch is not None else 0])
    label = f"{args.exports} exports" + (" + batch print" if batch_too else "")
    say(f"under load: {label} ({sampled_for:.1f} s sampled)", loaded)
    print("  export requests answered in " + ", ".join(f"{s * 1000:.0f} ms" for s in start_seconds)
          + " (each started a job)")
    for r in rows:
        print(f"  job {r[0]} {r[1]} {r[3]}: queued {seconds_between(r[4], r[5]):.1f} s, ran "
              f"{seconds_between(r[5], r[6]):.1f} s, {r[7]:,} {'' if r[8] is None else f'of {r[8]:,} '}units"
              + (f" — {r[9]}" if r[9] else ""), flush=True)
    b = batch.result if batch is not None else None
    if b is not None:
        name = f"certificate batch {facts['batch'][0]} ({facts['batch'][1]:,} valid certificates)"
        if b.get("job"):
            print(f"  {name}: became a job")
        elif "error" in b:
            print(f"  {name}: the request failed ({b['error']}) after {b['seconds']:.1f} s")
        else:
            print(f"  {name}: NOT a job, rendered inside the request: HTTP {b.get('status')} {b.get('type')}, "
                  f"{b.get('bytes', 0) / 1e6:.1f} MB in {b['seconds']:.1f} s (a gunicorn thread busy all that time)",
                  flush=True)
    return label, loaded, {"rows": rows, "batch": b, "work_seconds": work_seconds, "sampled_for": sampled_for}


def report(args, facts, result):
    phases = result["phases"]
    idle = phases[0][1]
    print()
    print(f"{facts['persons']:,} persons, {facts['registrations']:,} registrations"
          + (f" (generated in {facts['generated_seconds']:.0f} s)" if facts["generated_seconds"] else "")
          + (f"; certificate batch of {facts['batch'][1]:,}" if facts["batch"] else "; no published batch"))
    print(f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, PostgreSQL "
          f"{facts['postgres']}, {dt.date.today().isoformat()}; gunicorn {args.workers}×{args.threads} gthread, "
          f"Celery -c {args.concurrency}{f' (nice {args.nice})' if args.nice else ''}, Redis broker; "
          f"up to {args.requests} sequential requests per page and phase; load average before: "
          f"{result['load'][0]:.2f}\n")
    print("| page | background | p50 ms | p95 ms | p95 vs idle | requests |")
    print("|---|---|---:|---:|---:|---:|")
    for url in args.url:
        for label, times, _info in phases:
            t = times[url]
            if not t:
                print(f"| `{url}` | {label} | — | — | — | 0 |")
                continue
            ratio = p(t, .95) / p(idle[url], .95)
            verdict = "" if label == "idle" else (" ✓" if ratio <= 1.5 else " ✗ (goal ≤ 1.5×)")
            print(f"| `{url}` | {label} | {statistics.median(t) * 1000:.1f} | {p(t, .95) * 1000:.1f} "
                  f"| {ratio:.2f}×{verdict} | {len(t)} |")
    print()
    print("| background work | seconds |")
    print("|---|---:|")
    for label, _times, info in phases[1:]:
        exports = [r for r in info["rows"] if r[1] == "export"]
        runs = [seconds_between(r[5], r[6]) for r in exports]
        if exports:
            print(f"| {label}: each export of {exports[0][7]:,} rows ran (worker -c {args.concurrency}) "
                  f"| {min(runs):.1f}–{max(runs):.1f} |")
        for r in info["rows"]:
            if r[1] != "export":
                print(f"| {label}: job {r[1]} ran | {seconds_between(r[5], r[6]):.1f} |")
        b = info["batch"]
        if b is not None and not b.get("job") and "seconds" in b:
            print(f"| {label}: the batch print, inside its request (not a job) | {b['seconds']:.1f} |")
        print(f"| {label}: all of it, from the first click | {info['work_seconds']:.1f} |")
    if result["alone"] is not None:
        print(f"| one export alone ({result['alone'][1]:,} rows): what the request waited when exports ran in it "
              f"| {result['alone'][0]:.1f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--schema", default=None, help="a schema of --database-url already filled: reuse, keep")
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="sequential requests per page, idle and under load")
    parser.add_argument("--url", action="append", default=None,
                        help="a cheap signed-in page (repeatable); default /jobs/status?ids= and /help/")
    parser.add_argument("--exports", type=int, default=3)
    parser.add_argument("--certificates", type=int, default=1000, help="the batch printed: closest to this size")
    parser.add_argument("--skip-batch", action="store_true", help="no certificate batch print")
    parser.add_argument("--skip-alone", action="store_true", help="skip the single export after the load")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--nice", type=int, default=0, help="run the Celery worker at this niceness (e.g. 10)")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    args.url = args.url or ["/jobs/status?ids=", "/help/"]
    keep = bool(args.schema)
    instance = tempfile.mkdtemp(prefix="bench-jobs-")
    try:
        facts = prepare(args)
        print(f"schema {args.schema}: {facts['persons']:,} persons; signing in as {facts['username']}; batch: "
              + (f"{facts['batch'][0]} with {facts['batch'][1]:,} valid certificates" if facts["batch"]
                 else "none published with valid certificates (no batch print)"), flush=True)
        result = run(args, facts, instance)
        report(args, facts, result)
    finally:
        if not keep and args.schema:
            drop_schema(args)
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
