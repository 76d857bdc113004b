"""Benchmark: batch certificate printing as a background job in parts (reports/certificate_batch.py).

Builds a fresh database (bench/certificates.py's data: N persons with photo, signature and a valid certificate),
puts the certificates in a published announcement batch, and measures in the same run:

  (a) naive       one reports.certificates.render_certificate_pdf per certificate, in this process
  (b) 1 worker    the job "certificate_batch" run by one real Celery worker process (pool solo)
  (c) 2 workers   the same job, two worker processes rendering the parts side by side

(b) and (c): real workers started here on the machine's Redis (redis://127.0.0.1:6379/15, emptied before and
after), fresh per measurement, each warmed up first (one small job per worker, at once); timed from jobs.start to the job's done
state (planning, parts, merge, audit rows). Peak RSS of every worker process is its VmHWM (/proc/<pid>/status,
read before it stops; psutil is not in the venv). With --memory, a 10,000-certificate batch is printed by two fresh workers and their peak
RSS is compared with the one of the N run: flat memory means about the same figure.

Run: .venv/bin/python bench/certificate_jobs.py [--count 1000] [--per-part 100] [--memory]
                                                 [--database-url postgresql://...]
Figures only: nothing here asserts a timing.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pypdf import PdfReader

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("INSTANCE_DIR", tempfile.mkdtemp(prefix="bench-"))
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 58)

BROKER = "redis://127.0.0.1:6379/15"
BASE_URL = "https://jzs.example.gov.cn"
WARM_UP = 4  # certificates of the warm-up batch
MEMORY_COUNT = 10_000
SETTINGS_ENV = "BENCH_CERTIFICATE_JOBS_SETTINGS"


def _settings(info, workdir, per_part) -> dict:
    return {"SQLALCHEMY_DATABASE_URI": info["uri"], "SQLALCHEMY_ENGINE_OPTIONS": info["engine_options"],
            "UPLOAD_FOLDER": str(workdir / "uploads"), "JOB_RESULT_FOLDER": str(workdir / "results"),
            "CELERY_BROKER_URL": BROKER, "JOBS_EAGER": False, "CERTIFICATES_PER_PART": per_part,
            "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False, "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}


if os.environ.get(SETTINGS_ENV):  # imported by `celery -A bench.certificate_jobs worker`: the worker's app
    from server import create_app

    flask_app = create_app(json.loads(os.environ[SETTINGS_ENV]))
    celery = flask_app.extensions["celery"]


def _empty_broker():
    import redis

    redis.Redis.from_url(BROKER).flushdb()


def publish_batches(app, ids, sizes) -> list[int]:
    """Published announcement batches of `sizes` certificates each (taken in order from `ids`), one application
    per certificate; and a Ministry officer. Returns the batch ids."""
    from sqlalchemy import insert, select, update

    from ground.clock import now_utc, today
    from ground.extensions import db
    from models import AnnouncementBatch, Application, Certificate

    batch_ids, start = [], 0
    with app.app_context():
        now = now_utc()
        sm = app.appbuilder.sm
        sm.add_user("bench-ministry", "部", "官", "bench-ministry@test.invalid", sm.find_role("Ministry"),
                    password="Bench@2026x")
        for sequence, size in enumerate(sizes, start=1):
            chunk = ids[start:start + size]
            start += size
            batch = AnnouncementBatch(title=f"基准公告{sequence}", state="published", year=2026, sequence=sequence,
                                      published_on=today(), created_at=now)
            db.session.add(batch)
            db.session.flush()
            rows = db.session.execute(select(Certificate.id, Certificate.person_id).where(Certificate.id.in_(chunk)))
            by_number = {}
            values = []
            for cid, person_id in rows:
                number = f"SQB{sequence:02d}{cid:09d}"
                by_number[number] = cid
                values.append({"number": number, "business_type": "initial", "person_id": person_id,
                               "state": "approved", "version": 1, "state_changed_at": now,
                               "continuing_education": False, "announcement_id": batch.id})
            db.session.execute(insert(Application), values)
            for number, app_id in db.session.execute(select(Application.number, Application.id)
                                                     .where(Application.number.in_(list(by_number)))):
                db.session.execute(update(Certificate).where(Certificate.id == by_number[number])
                                   .values(application_id=app_id))
            batch_ids.append(batch.id)
        db.session.commit()
        db.session.remove()
    return batch_ids


def naive(app, batch_id) -> dict:
    """(a) one WeasyPrint document per certificate, one after another (warmed up by one untimed render)."""
    from ground.extensions import db
    from models import AppUser
    from app import jobs
    from reports.certificate_batch import _load, certificate_ids
    from reports.certificates import render_certificate_pdf

    with app.app_context():
        user = db.session.query(AppUser).filter_by(username="bench-ministry").one()
        with jobs.acting_as(user, "zh", None, BASE_URL):
            items = _load(certificate_ids(batch_id, user))
            render_certificate_pdf(items[0])
            start = time.perf_counter()
            size = sum(len(render_certificate_pdf(item)) for item in items)
            seconds = time.perf_counter() - start
        db.session.remove()
    return {"certificates": len(items), "seconds": seconds, "bytes": size}


def _proc_hwm(pid) -> float | None:
    """The process's peak resident memory (VmHWM) in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Workers:
    """`count` real Celery worker processes on the documents queue (pool solo: the worker renders itself)."""

    def __init__(self, settings, count, workdir):
        env = {**os.environ, SETTINGS_ENV: json.dumps(settings), "PYTHONPATH": str(ROOT)}
        self.procs = []
        for n in range(count):
            log = open(workdir / f"worker-{n}.log", "ab")
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "bench.certificate_jobs", "worker", "--pool", "solo",
                 "-Q", "documents", "-n", f"bench{n}-{os.getpid()}@%h", "--without-gossip", "--without-mingle",
                 "--without-heartbeat", "-l", "warning"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))

    def wait_ready(self, app, timeout=120):
        from ground.extensions import db
        from models import WorkerStatus

        deadline = time.monotonic() + timeout
        pids = {p.pid for p in self.procs}
        with app.app_context():
            while time.monotonic() < deadline:
                seen = {row.pid for row in db.session.query(WorkerStatus)}
                db.session.remove()
                if pids <= seen:
                    return
                if any(p.poll() is not None for p in self.procs):
                    raise RuntimeError("a worker stopped; see worker-*.log")
                time.sleep(0.2)
        raise RuntimeError("the workers did not start")

    def peak_mb(self) -> list:
        return [_proc_hwm(p.pid) for p in self.procs]

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def run_jobs(app, batch_ids) -> list[dict]:
    """Start printing each batch as the Ministry officer (all at once) and wait for their ends."""
    from flask import g

    from ground.extensions import db
    from models import AnnouncementBatch, AppUser, Job
    from app import jobs
    from reports import certificate_batch

    results = []
    with app.app_context():
        user = db.session.query(AppUser).filter_by(username="bench-ministry").one()
        with app.test_request_context("/", base_url=BASE_URL):
            g.user = user
            start = time.perf_counter()
            job_ids = [certificate_batch.start(db.session.get(AnnouncementBatch, batch_id), user, BASE_URL).id
                       for batch_id in batch_ids]
        while True:
            db.session.remove()
            found = [db.session.get(Job, job_id) for job_id in job_ids]
            if all(job.state not in ("queued", "running") for job in found):
                break
            time.sleep(0.1)
        seconds = time.perf_counter() - start
        for job in found:
            result = {"state": job.state, "error": job.error, "seconds": seconds, "certificates": job.progress_done,
                      "parts": job.parts_total, "bytes": job.result_size}
            path = jobs.result_path(job)
            if path is not None:
                result["pages"] = len(PdfReader(str(path)).pages)
                path.unlink()
            results.append(result)
        db.session.remove()
    return results


def with_workers(app, settings, workdir, count, warm_batch, batch_id) -> dict:
    _empty_broker()
    workers = Workers(settings, count, workdir)
    try:
        workers.wait_ready(app)
        for warm in run_jobs(app, [warm_batch] * count):  # one job each: every worker loads its fonts
            if warm["state"] != "done":
                raise RuntimeError(f"warm-up job ended {warm['state']}: {warm['error']}")
        result = run_jobs(app, [batch_id])[0]
        result["peak_mb"] = workers.peak_mb()
        return result
    finally:
        workers.stop()
        _empty_broker()


def run(info, args):
    from bench.certificates import build
    from server import create_app

    workdir = Path(tempfile.mkdtemp(prefix="bench-certificate-jobs-"))
    settings = _settings(info, workdir, args.per_part)
    started = time.perf_counter()
    total = WARM_UP + args.count + (MEMORY_COUNT if args.memory else 0)
    ids = build(info["uri"], info["engine_options"], settings["UPLOAD_FOLDER"], total)
    sizes = [WARM_UP, args.count] + ([MEMORY_COUNT] if args.memory else [])
    app = create_app(settings)
    batches = publish_batches(app, ids, sizes)
    print(f"{total} registered persons with photo, signature and certificate in {len(sizes)} published batches, "
          f"generated in {time.perf_counter() - started:.1f}s on {info['uri'].split(':')[0]}; "
          f"{os.cpu_count()} CPUs; {args.per_part} certificates per part")

    results = {"naive": naive(app, batches[1])}
    for count in (1, 2):
        results[count] = with_workers(app, settings, workdir, count, batches[0], batches[1])

    def mb(values):
        return " / ".join("?" if v is None else f"{v:.0f}" for v in values)

    print(f"\n{'method':<30}{'certs':>7}{'parts':>7}{'seconds':>9}{'certs/s':>9}{'pages':>7}{'PDF MB':>8}"
          f"  worker peak RSS MB")
    a = results["naive"]
    print(f"{'(a) naive: one doc each':<30}{a['certificates']:>7}{'-':>7}{a['seconds']:>9.1f}"
          f"{a['certificates'] / a['seconds']:>9.1f}{'-':>7}{a['bytes'] / 1e6:>8.1f}  (in this process)")
    for count, label in ((1, "(b) job, 1 worker"), (2, "(c) job, 2 workers")):
        r = results[count]
        if r["state"] != "done":
            print(f"{label:<30} ended {r['state']}: {r['error']}")
            continue
        print(f"{label:<30}{r['certificates']:>7}{r['parts']:>7}{r['seconds']:>9.1f}"
              f"{r['certificates'] / r['seconds']:>9.1f}{r['pages']:>7}{r['bytes'] / 1e6:>8.1f}  {mb(r['peak_mb'])}")
    rate = {k: (r["certificates"] / r["seconds"]) for k, r in results.items() if k == "naive" or r["state"] == "done"}
    if 1 in rate and 2 in rate:
        print(f"\nratios: 2 workers / 1 worker {rate[2] / rate[1]:.2f}x; 1 worker / naive {rate[1] / rate['naive']:.1f}x;"
              f" 2 workers / naive {rate[2] / rate['naive']:.1f}x")

    if args.memory:
        r = with_workers(app, settings, workdir, 2, batches[0], batches[2])
        print(f"\n--memory: {MEMORY_COUNT:,} certificates, 2 workers: {r['state']} in {r['seconds']:.1f}s "
              f"({r['certificates'] / r['seconds']:.1f} certs/s), {r.get('pages')} pages, "
              f"{(r['bytes'] or 0) / 1e6:.1f} MB PDF; worker peak RSS MB {mb(r['peak_mb'])} "
              f"(vs {mb(results[2]['peak_mb'])} for {args.count:,})")
    with app.app_context():
        from ground.extensions import db

        db.session.remove()
        db.engine.dispose()
    print(f"work folder (worker logs): {workdir}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--per-part", type=int, default=100, help="CERTIFICATES_PER_PART")
    parser.add_argument("--memory", action="store_true", help=f"also a {MEMORY_COUNT:,}-certificate batch")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    from bench.common import run_in_fresh_database

    run_in_fresh_database(run, args)


if __name__ == "__main__":
    main()
