"""Background jobs: long work started from a page, run by a Celery worker with progress, cancellable.

A job kind is one declaration (`JobKind`: label, queue, unit, the function doing the work), registered with
`@job_kind` by the module that holds the work (reports, views, operations). The engine here promises:
- one run at a time per job: a guarded UPDATE claims it, so a message delivered twice changes nothing twice;
- the result file appears only complete (written locally as `.part`, put into the object store under
  `jobs/<job id>-<token><suffix>` when the job is marked done), and a job that fails, is cancelled or loses its
  worker leaves no file behind;
- audit rows when the job is started and when it really ends (with its figures, or the failure);
- the file a job was started with (an upload, `keep_input`) is removed when the job ends, however it ends;
- a lost worker's job (no heartbeat for JOB_STALE_SECONDS) runs again or, after JOB_MAX_ATTEMPTS, ends failed;
- transient database errors are retried with backoff; anything else ends the job with a message for people.
The work function runs as the person who started the job (their scope, masking and language: `acting_as`).

Work split in parts (`JobKind.parts`, e.g. batch printing): the kind's function only plans, returning the list of
parts (each a JSON list of items, kept as `jobs/<job id>-plan.json` in the object store); each part is a Celery task
("jobs.part", on the kind's queue) so several workers, on several hosts, render side by side; a part puts
`jobs/<job id>-part-<n><suffix>` complete (written locally, then put exclusively: of two runs of one part, exactly
one publishes and counts it), is never rendered twice, and counts itself in `parts_done`; the part that completes the count merges them into the job's file
and ends the job through the same path as any job (the same promises: file with the done state, audit rows, cancel
stops the remaining parts; an end other than done, or the end after the merge, deletes the part files). In eager
mode (tests) the parts run inline, one after another.
"""
import json
import logging
import os
import re
import secrets
import shutil
import threading
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Callable

from celery import Celery, Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from flask import current_app, g, has_app_context, has_request_context, request
from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _pl
from kombu import Exchange, Queue
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import DBAPIError, OperationalError

from ground import logs
from ground import roles as R
from ground.clock import now_utc
from ground.errors import UserError
from ground.extensions import db
from models import AppUser, Job, WorkerStatus
from models.job import ACTIVE_JOB_STATES
from app import audit, scope
from app.services import storage

log = logging.getLogger(__name__)

QUEUES = ("default", "exports", "documents")
QUEUE_LABELS = {"default": _l("Imports, statistics, housekeeping"), "exports": _l("Data exports"),
                "documents": _l("PDF documents")}
UNITS = {"rows": _l("rows"), "certificates": _l("certificates"), "steps": _l("steps"), "files": _l("files")}
STATE_LABELS = {"queued": _pl("job", "Queued"), "running": _pl("job", "Running"), "done": _pl("job", "Done"),
                "failed": _pl("job", "Failed"), "cancelled": _pl("job", "Cancelled")}
PROGRESS_WRITE_SECONDS = 0.5  # progress reaches the database at most this often
HEARTBEAT_SECONDS = 15
RETRY_BACKOFF_SECONDS = (5, 30, 120)


class JobCancelled(Exception):
    """Raised inside the work when the person cancelled the job."""


class TooManyJobs(UserError):
    """A person may have JOBS_ACTIVE_PER_USER jobs queued or running at once (a link clicked in a loop, or a
    page opened many times, cannot fill the queues)."""


@dataclass(frozen=True)
class Parts:
    """How a kind's work is split: the kind's function returns the plan (a list of parts, each a JSON-able list of
    items, in order); render(job, work, items, path) writes one part's file at `path` (as the starter);
    merge(job, work, paths, plan) writes `work.output` from the part files, in order, and returns the Outcome."""

    render: Callable
    merge: Callable
    suffix: str = ".pdf"


@dataclass(frozen=True)
class JobKind:
    name: str
    label: object
    run: Callable  # run(job, work) -> Outcome | None; with parts: run(job, work) -> the plan (list of parts)
    queue: str = "default"
    unit: str = "rows"
    parts: Parts | None = None


KINDS: dict[str, JobKind] = {}


def job_kind(name: str, label, queue: str = "default", unit: str = "rows", parts: Parts | None = None):
    """Register the decorated function as the work of job kind `name` (with `parts`: as its planner)."""
    if queue not in QUEUES or unit not in UNITS:
        raise ValueError(f"job kind {name}: unknown queue {queue!r} or unit {unit!r}")

    def register(run):
        KINDS[name] = JobKind(name, label, run, queue, unit, parts)
        return run
    return register


@dataclass
class Outcome:
    """What the work produced: figures for the audit row and the page, and the download's name and type
    when it wrote `work.output`."""

    figures: dict = field(default_factory=dict)
    filename: str | None = None
    mimetype: str | None = None


# --- Starting, cancelling, retrying ---------------------------------------------------------------

def start(kind_name: str, params: dict, user, title=None) -> Job:
    """Record a queued job started by `user` (None: the scheduler), audit it, commit, hand it to a worker."""
    kind = KINDS[kind_name]
    limit = current_app.config.get("JOBS_ACTIVE_PER_USER", 5)
    if user is not None and limit and db.session.execute(select(func.count()).select_from(Job).where(
            Job.created_by_fk == user.id, Job.state.in_(ACTIVE_JOB_STATES))).scalar() >= limit:
        raise TooManyJobs(_l("You have %(count)s jobs waiting or running; start another when one of them has "
                             "finished.", count=limit))
    params = {**params, "ip": request.remote_addr} if has_request_context() else dict(params)
    shared = R.MINISTRY if R.MINISTRY in R.user_role_names(user) else None
    job = Job(kind=kind_name, params=dict(params), title=str(title or kind.label)[:200], unit=kind.unit,
              created_by_fk=getattr(user, "id", None), shared_role=shared, state="queued", created_at=now_utc())
    db.session.add(job)
    db.session.flush()
    audit.record("job_start", "Job", job.id, summary=job.title, detail={"job_kind": kind_name, "params": job.params},
                 user=user)
    db.session.commit()
    dispatch(job.id)
    return db.session.get(Job, job.id)


def _task(shared):
    """This Flask app's own Celery task, not the process's default app's (another app may have made itself that)."""
    return current_app.extensions["celery"].tasks[shared.name]


def dispatch(job_id: int):
    """Send the job to its queue. A broker that cannot be reached ends the job failed, with the reason."""
    job = db.session.get(Job, job_id)
    try:
        _task(run_job).apply_async((job_id,), queue=KINDS[job.kind].queue, retry=False)
    except Exception as exc:  # kombu/redis connection errors differ per transport
        if current_app.config.get("JOBS_EAGER"):
            raise
        log.error("job %s: the broker cannot be reached: %s", job_id, type(exc).__name__)
        _end(job_id, "failed", error=str(_l("The background service cannot be reached; try again in a few "
                                             "minutes, or tell the administrator.")), expected=("queued",))


def cancel(job: Job, user) -> bool:
    """Cancel a queued job at once; ask a running one to stop at its next step. False when already ended."""
    if job.state == "queued" and _end(job.id, "cancelled", expected=("queued",), actor=user):
        return True
    if job.state in ("queued", "running"):
        db.session.execute(update(Job).where(Job.id == job.id, Job.state.in_(ACTIVE_JOB_STATES))
                           .values(cancel_requested=True))
        audit.record("job_cancel", "Job", job.id, summary=job.title, detail={"job_kind": job.kind}, user=user)
        db.session.commit()
        return True
    return False


def retry(job: Job, user) -> Job:
    """A new job with the same work (the old one keeps its history)."""
    return start(job.kind, job.params, user, title=job.title)


# --- Running ------------------------------------------------------------------------------------

class Work:
    """The running job's handle: progress, heartbeat, cancellation, and the file it writes.

    Progress is written in its own transaction, so work that writes rows of its own commits them before it
    reports progress (SQLite has one writer at a time), or writes them last: they are committed with the job's end.
    """

    def __init__(self, job: Job):
        self.job_id = job.id
        self.params = dict(job.params or {})
        self.done = 0
        self.total_count = job.progress_total
        self._written_at = 0.0
        folder = results_folder()
        folder.mkdir(parents=True, exist_ok=True)
        self.token = secrets.token_hex(8)
        self.output = folder / f"{job.id}-{self.token}.part"

    def total(self, count: int):
        self.total_count = int(count)
        self._write(force=True)

    def advance(self, count: int = 1):
        self.done += int(count)
        self._write()

    def set(self, done: int):
        self.done = int(done)
        self._write()

    def check(self):
        """Raise JobCancelled when the person cancelled (called between steps)."""
        self._write(force=True)

    def _write(self, force=False):
        import time

        now = time.monotonic()
        if not force and now - self._written_at < PROGRESS_WRITE_SECONDS:
            return
        self._written_at = now
        with db.engine.begin() as conn:  # its own transaction: visible at once, whatever the work holds open
            conn.execute(update(Job).where(Job.id == self.job_id).values(**self._values()))
            cancelled = conn.execute(select(Job.cancel_requested).where(Job.id == self.job_id)).scalar()
        if cancelled:
            raise JobCancelled()

    def _values(self) -> dict:
        done = self.done if self.total_count is None else min(self.done, self.total_count)
        return {"progress_done": done, "progress_total": self.total_count, "heartbeat_at": now_utc()}

    def discard(self):
        self.output.unlink(missing_ok=True)


class PartWork(Work):
    """One part's handle: heartbeat and cancellation only; the job's progress grows when a part is published."""

    def _values(self) -> dict:
        return {"heartbeat_at": now_utc()}


class _Heartbeat(threading.Thread):
    """Marks the job alive while its work runs, even in a long step without progress."""

    def __init__(self, app, job_id):
        super().__init__(daemon=True, name=f"job-{job_id}-heartbeat")
        self.app, self.job_id, self.stopped = app, job_id, threading.Event()

    def run(self):
        while not self.stopped.wait(HEARTBEAT_SECONDS):
            try:
                with self.app.app_context(), db.engine.begin() as conn:
                    conn.execute(update(Job).where(Job.id == self.job_id, Job.state == "running")
                                 .values(heartbeat_at=now_utc()))
            except Exception as exc:  # the next beat tries again; a job silent too long is reaped
                log.warning("job %s heartbeat failed: %s", self.job_id, type(exc).__name__)


def execute(job_id: int) -> str:
    """Run the job once if it is waiting (or its worker was lost). Returns what happened: skipped, done,
    cancelled, failed or retry."""
    if not _claim(job_id):
        return "skipped"
    job = db.session.get(Job, job_id)
    db.session.refresh(job)
    kind = KINDS.get(job.kind)
    user = db.session.get(AppUser, job.created_by_fk) if job.created_by_fk else None
    if kind is None:
        _end(job_id, "failed", error=f"unknown job kind {job.kind}")
        return "failed"
    work = Work(job)
    heart = _Heartbeat(current_app._get_current_object(), job_id)
    heart.start()

    def run():
        if kind.parts is not None:
            return _plan(job, kind, work, user)
        _finish(job_id, work, kind.run(job, work) or Outcome(), user)
        return "done"

    def requeue():
        if job.attempts < current_app.config["JOB_MAX_ATTEMPTS"]:
            _requeue(job_id)
            return True
        return False

    try:
        with acting_as(user, *_context(job)):
            return _guarded(job_id, user, run, requeue)
    finally:
        heart.stopped.set()
        work.discard()


def _context(job: Job) -> tuple:
    params = job.params or {}
    return params.get("lang"), params.get("ip"), params.get("base_url")


def _guarded(job_id: int, user, run, retry) -> str:
    """Run `run()`; a job that raises ends cancelled or failed (with a message for people), or, on a transient
    database error, returns "retry" when `retry()` says another run will come."""
    try:
        return run()
    except JobCancelled:
        db.session.rollback()
        _end(job_id, "cancelled", actor=user)
        return "cancelled"
    except (OperationalError, DBAPIError) as exc:
        db.session.rollback()
        if _transient(exc) and retry():
            return "retry"
        log.exception("job %s failed", job_id)
        _end(job_id, "failed", error=_unexpected(), actor=user)
        return "failed"
    except UserError as exc:
        db.session.rollback()
        _end(job_id, "failed", error=str(exc.message), actor=user)
        return "failed"
    except SoftTimeLimitExceeded:
        db.session.rollback()
        _end(job_id, "failed", error=str(_l("The job took longer than its time limit and was stopped.")),
             actor=user)
        return "failed"
    except Exception:
        db.session.rollback()
        log.exception("job %s failed", job_id)
        _end(job_id, "failed", error=_unexpected(), actor=user)
        return "failed"


# --- Work in parts --------------------------------------------------------------------------------

JOBS = "jobs"  # the object store's area of job files


def plan_key(job_id: int) -> str:
    return f"{JOBS}/{job_id}-plan.json"


def part_key(job_id: int, number: int, suffix: str) -> str:
    return f"{JOBS}/{job_id}-part-{number}{suffix}"


def _part_keys(job_id: int) -> list[str]:
    return [key for key in storage.backend().list(f"{JOBS}/{job_id}-")
            if "/" not in key[len(JOBS) + 1:] and _is_parts(PurePosixPath(key)) and not key.endswith(".part")]


def _discard_parts(job_id: int):
    store = storage.backend()
    for key in _part_keys(job_id):
        store.delete(key)


def _read_plan(job_id: int) -> list | None:
    try:
        return json.loads(storage.backend().get(plan_key(job_id)))
    except FileNotFoundError:
        return None


def _plan(job: Job, kind: JobKind, work: Work, user) -> str:
    """Plan the parts (or take the plan of an earlier run of this job), count those already rendered, and send
    the others to the workers; with every part rendered, merge at once."""
    plan = _read_plan(job.id)
    store = storage.backend()
    if plan is None:
        plan = [list(items) for items in kind.run(job, work) or []]
        store.put(plan_key(job.id), json.dumps(plan).encode())
    published = set(store.list(f"{JOBS}/{job.id}-part-"))
    done = [n for n in range(len(plan)) if part_key(job.id, n, kind.parts.suffix) in published]
    db.session.rollback()  # the planning's read transaction ends; the counts are written in their own
    with db.engine.begin() as conn:
        conn.execute(update(Job).where(Job.id == job.id).values(
            parts_total=len(plan), parts_done=len(done), progress_total=sum(len(p) for p in plan),
            progress_done=sum(len(plan[n]) for n in done), heartbeat_at=now_utc()))
    missing = [n for n in range(len(plan)) if n not in done]
    if not missing:
        return _merge(job.id, kind, plan, user)
    for number in missing:
        _task(run_part).apply_async((job.id, number), queue=kind.queue, retry=False)
    return "dispatched"


def execute_part(job_id: int, number: int, last_try: bool = True) -> str:
    """Render part `number` of the job once, count it, and merge when it was the last one. Returns skipped
    (job ended, or the part already rendered), counted, done, cancelled, failed or retry."""
    job = db.session.get(Job, job_id)
    if job is None:
        return "skipped"
    db.session.refresh(job)
    kind = KINDS.get(job.kind)
    plan = _read_plan(job_id)
    if job.state != "running" or kind is None or kind.parts is None or plan is None or number >= len(plan):
        return "skipped"
    user = db.session.get(AppUser, job.created_by_fk) if job.created_by_fk else None
    target = part_key(job_id, number, kind.parts.suffix)
    store = storage.backend()
    if store.exists(target):
        return "skipped"
    work = PartWork(job)
    work.output = results_folder() / f"{job_id}-part-{number}-{work.token}.part"
    heart = _Heartbeat(current_app._get_current_object(), job_id)
    heart.start()

    def run():
        work.check()
        kind.parts.render(job, work, plan[number], work.output)
        work.check()
        db.session.rollback()  # the render's read transaction ends before the count is written
        if not store.put_file(target, work.output, exclusive=True, move=True):
            return "skipped"  # exclusive: of two runs of this part, one publishes it
        with db.engine.begin() as conn:
            counted = conn.execute(update(Job).where(Job.id == job_id, Job.state == "running",
                                                     Job.cancel_requested.is_(False))
                                   .values(parts_done=Job.parts_done + 1, heartbeat_at=now_utc(),
                                           progress_done=Job.progress_done + len(plan[number]))).rowcount
            done, total = conn.execute(select(Job.parts_done, Job.parts_total).where(Job.id == job_id)).one()
        if not counted:  # cancelled meanwhile, or ended by another part: nothing of it is kept
            if _state(job_id) in ACTIVE_JOB_STATES:
                raise JobCancelled()
            _discard_parts(job_id)
            return "skipped"
        if done == total:
            return _merge(job_id, kind, plan, user)
        return "counted"

    try:
        with acting_as(user, *_context(job)):
            return _guarded(job_id, user, run, lambda: not last_try)
    finally:
        heart.stopped.set()
        work.discard()


def _state(job_id: int) -> str | None:
    with db.engine.connect() as conn:
        return conn.execute(select(Job.state).where(Job.id == job_id)).scalar()


def _merge(job_id: int, kind: JobKind, plan: list, user) -> str:
    """Merge the parts into the job's file and end it done; the part files go with it."""
    job = db.session.get(Job, job_id)
    db.session.refresh(job)
    keys = [part_key(job_id, n, kind.parts.suffix) for n in range(len(plan))]
    work = Work(job)
    work.done = work.total_count = sum(len(p) for p in plan)
    try:
        with ExitStack() as stack:  # local files of the parts (the store's own when it is a local folder)
            try:
                paths = [stack.enter_context(storage.backend().as_file(key, kind.parts.suffix)) for key in keys]
            except FileNotFoundError:
                raise RuntimeError(f"job {job_id}: a part file is missing at the merge") from None
            outcome = kind.parts.merge(job, work, paths, plan) or Outcome()
        _finish(job_id, work, outcome, user)
    finally:
        work.discard()
    _discard_parts(job_id)
    return "done"


def _unexpected() -> str:
    return str(_l("The job stopped on an unexpected error; it has been logged. Try again, or tell the administrator."))


def _transient(exc) -> bool:
    """A lost or refused connection, a deadlock or serialization failure: worth running again."""
    if getattr(exc, "connection_invalidated", False):
        return True
    code = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    return code.startswith("08") or code in ("40001", "40P01", "57P01")


def _claim(job_id: int) -> bool:
    now = now_utc()
    stale = now - timedelta(seconds=current_app.config["JOB_STALE_SECONDS"])
    with db.engine.begin() as conn:
        claimed = conn.execute(
            update(Job).where(Job.id == job_id, Job.cancel_requested.is_(False),
                              Job.attempts < current_app.config["JOB_MAX_ATTEMPTS"],
                              or_(Job.state == "queued", and_(Job.state == "running", Job.heartbeat_at < stale)))
            .values(state="running", attempts=Job.attempts + 1, started_at=now, heartbeat_at=now,
                    progress_done=0)).rowcount
    return claimed == 1


def _requeue(job_id: int):
    with db.engine.begin() as conn:
        conn.execute(update(Job).where(Job.id == job_id, Job.state == "running")
                     .values(state="queued", heartbeat_at=now_utc()))


def _finish(job_id: int, work: Work, outcome: Outcome, user):
    """Mark done in one transaction with the work's own rows and the audit row; the file appears with it."""
    values = {"state": "done", "finished_at": now_utc(), "outcome": outcome.figures, "progress_done": work.done,
              "progress_total": work.total_count if work.total_count is not None else work.done,
              "expires_at": now_utc() + timedelta(days=current_app.config["JOB_RESULT_DAYS"])}
    final = None
    if outcome.filename and work.output.exists():
        name = work.output.with_suffix(Path(outcome.filename).suffix or ".bin").name
        size = work.output.stat().st_size
        final = f"{JOBS}/{name}"
        storage.backend().put_file(final, work.output, move=True)  # visible only complete
        values.update(result_key=name, result_name=outcome.filename, result_mimetype=outcome.mimetype,
                      result_size=size)
    try:
        moved = db.session.execute(update(Job).where(Job.id == job_id, Job.state == "running",
                                                     Job.cancel_requested.is_(False)).values(**values)).rowcount
        if moved != 1:
            raise JobCancelled()
        job = db.session.get(Job, job_id)
        audit.record("job_done", "Job", job_id, summary=job.title, detail={"job_kind": job.kind, **outcome.figures},
                     user=user)
        db.session.commit()
        drop_input(job.params)
    except BaseException:
        db.session.rollback()
        if final is not None:
            with suppress(OSError):
                storage.backend().delete(final)
        raise


def _end(job_id: int, state: str, error: str | None = None, expected=("running",), actor=None) -> bool:
    """End the job (failed or cancelled) with its audit row, if it is still in an expected state."""
    ended = db.session.execute(update(Job).where(Job.id == job_id, Job.state.in_(expected))
                               .values(state=state, error=error, finished_at=now_utc())).rowcount == 1
    if ended:
        job = db.session.get(Job, job_id)
        db.session.refresh(job)
        audit.record(f"job_{state}", "Job", job_id, summary=job.title,
                     detail={"job_kind": job.kind, "error": error} if error else {"job_kind": job.kind}, user=actor)
    db.session.commit()
    if ended:
        drop_input(job.params)
        _discard_parts(job_id)
    return ended


@contextmanager
def acting_as(user, lang=None, ip=None, base_url=None):
    """Run as `user` outside a request: their row scope, permissions and masking, in their language; audit rows
    carry the address the job was started from; absolute links use `base_url` (the site the job was started on)."""
    if user is None:
        with force_locale(lang or "zh"):
            yield
        return
    with current_app.test_request_context("/", base_url=base_url,
                                          environ_base={"REMOTE_ADDR": ip} if ip else None):
        g.user = user
        g._login_user = user  # what flask_login's current_user reads
        with force_locale(lang or "zh"):
            yield


def current_language() -> str:
    return str(get_locale() or "zh")


# --- Reading -----------------------------------------------------------------------------------

def results_folder() -> Path:
    return Path(current_app.config["JOB_RESULT_FOLDER"]).resolve()


def result_object(job: Job) -> str | None:
    """The finished job's key in the object store, if it is still kept (a local store is asked; S3 is trusted to
    hold what the database names until purge() removes both)."""
    if job.state != "done" or not job.result_key or "/" in job.result_key:
        return None
    try:
        key = storage.check_key(f"{JOBS}/{job.result_key}")
    except ValueError:
        return None
    store = storage.backend()
    if store.local_path(key) is not None and not store.exists(key):
        return None
    return key


def open_result(job: Job):
    """The finished job's file as a stream. Raises FileNotFoundError when it is no longer kept, OSError when the
    store cannot be reached."""
    key = result_object(job)
    if key is None:
        raise FileNotFoundError(job.result_key)
    return storage.backend().open(key)


def read_result(job: Job) -> bytes:
    with open_result(job) as fh:
        return fh.read()


def result_path(job: Job) -> Path | None:
    """The finished job's file on this machine (local store only), if it is still kept."""
    key = result_object(job)
    return storage.backend().local_path(key) if key else None


INPUT_FOLDER = "inputs"  # under the results folder: purge() and reap() look at its top level only
_INPUT_NAME = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]{1,8}$")


def keep_input(stream, extension: str) -> str:
    """Copy an upload to a private file for a job to read; its name goes into the job's params["input"].
    The name is random (nothing from the request); the engine removes the file when the job ends."""
    folder = results_folder() / INPUT_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.{extension}"
    if not _INPUT_NAME.fullmatch(name):
        raise ValueError(f"input extension {extension!r}")
    with open(folder / name, "xb") as out:
        shutil.copyfileobj(stream, out, 1024 * 1024)
    storage.backend().put_file(_input_key(name), folder / name)  # the worker may run on another host
    return name


def _input_key(name: str) -> str:
    return f"{JOBS}/{INPUT_FOLDER}/{name}"


def input_path(params) -> Path | None:
    """The job's input file (params["input"]), or None."""
    name = (params or {}).get("input")
    if not isinstance(name, str) or not _INPUT_NAME.fullmatch(name):
        return None
    path = results_folder() / INPUT_FOLDER / name
    if not path.exists():  # started on another host: fetched from the object store
        with suppress(FileNotFoundError):
            path.parent.mkdir(parents=True, exist_ok=True)
            storage.backend().download(_input_key(name), path)
    return path


def drop_input(params):
    """Remove the job's input file (called when the job ends; never fails the job's end)."""
    name = (params or {}).get("input")
    if not isinstance(name, str) or not _INPUT_NAME.fullmatch(name):
        return
    with suppress(OSError):
        (results_folder() / INPUT_FOLDER / name).unlink(missing_ok=True)
    with suppress(OSError, ValueError):
        storage.backend().delete(_input_key(name))


def visible(user):
    """Jobs `user` may see (app/scope.py): their own; a Ministry officer also the Ministry's."""
    return scope.clause(Job, user)


def find(job_id: int, user) -> Job | None:
    return db.session.execute(select(Job).where(Job.id == job_id, visible(user))).scalar_one_or_none()


def seconds_left(job: Job, now=None) -> int | None:
    """Time left from the rate so far (None until there is one)."""
    if job.state != "running" or not job.started_at or not job.progress_total or not job.progress_done:
        return None
    elapsed = ((now or now_utc()) - job.started_at).total_seconds()
    rate = job.progress_done / max(elapsed, 0.001)
    return max(0, int((job.progress_total - job.progress_done) / rate))


# --- Keeping the queue true (the scheduler runs these) -------------------------------------------

def reap(now=None) -> dict:
    """Jobs whose worker was lost run again (or end failed after the last attempt); queued jobs whose
    message was lost are sent again; part files nobody is writing, and the parts and plans of jobs that
    ended, are removed. Idempotent."""
    now = now or now_utc()
    cfg = current_app.config
    stale = now - timedelta(seconds=cfg["JOB_STALE_SECONDS"])
    requeued = failed = resent = 0
    lost = db.session.execute(select(Job.id, Job.attempts, Job.cancel_requested)
                              .where(Job.state == "running", Job.heartbeat_at < stale)).all()
    for job_id, attempts, cancel_requested in lost:
        if cancel_requested:
            _end(job_id, "cancelled", expected=("running",))
        elif attempts < cfg["JOB_MAX_ATTEMPTS"]:
            moved = db.session.execute(update(Job).where(Job.id == job_id, Job.state == "running",
                                                         Job.heartbeat_at < stale)
                                       .values(state="queued", heartbeat_at=now)).rowcount
            db.session.commit()
            if moved:
                requeued += 1
                dispatch(job_id)
        elif _end(job_id, "failed", error=str(_l("The worker running this job stopped. Start it again.")),
                  expected=("running",)):
            failed += 1
    waiting = db.session.execute(select(Job.id).where(
        Job.state == "queued", or_(Job.heartbeat_at < stale, and_(Job.heartbeat_at.is_(None), Job.created_at < stale)))
    ).scalars().all()
    for job_id in waiting:
        db.session.execute(update(Job).where(Job.id == job_id).values(heartbeat_at=now))
        db.session.commit()
        resent += 1
        dispatch(job_id)
    running = set(db.session.execute(select(Job.id).where(Job.state == "running")).scalars())
    active = set(db.session.execute(select(Job.id).where(Job.state.in_(ACTIVE_JOB_STATES))).scalars())
    removed = 0
    folder = results_folder()  # this machine's working files
    if folder.is_dir():
        for path in folder.iterdir():
            if path.name.endswith(".part") and path.is_file() and _owner(path) not in running:
                path.unlink(missing_ok=True)
                removed += 1
    store = storage.backend()
    for key in store.list(f"{JOBS}/"):
        path = PurePosixPath(key)
        if "/" not in key[len(JOBS) + 1:] and not key.endswith(".part") and _is_parts(path) \
                and _owner(path) not in active:
            store.delete(key)
            removed += 1
    return {"requeued": requeued, "failed": failed, "resent": resent, "parts_removed": removed}


def _owner(path) -> int | None:
    head = path.name.split("-", 1)[0]
    return int(head) if head.isdigit() else None


def _is_parts(path) -> bool:
    """A part file or plan of work in parts (`<job id>-part-<n>…`, `<job id>-plan.json`)."""
    rest = path.name.split("-", 1)[1] if "-" in path.name else ""
    return _owner(path) is not None and (rest.startswith("part-") or rest == "plan.json")


def purge(now=None) -> dict:
    """Delete the result files of jobs past JOB_RESULT_DAYS, and files no job names. Idempotent."""
    now = now or now_utc()
    expired = db.session.execute(select(Job).where(Job.expires_at < now, Job.result_key.is_not(None))).scalars().all()
    store = storage.backend()
    for job in expired:
        with suppress(ValueError):
            store.delete(f"{JOBS}/{job.result_key}")
        job.result_key = None
    db.session.commit()
    kept = set(db.session.execute(select(Job.result_key).where(Job.result_key.is_not(None))).scalars())
    active = set(db.session.execute(select(Job.id).where(Job.state.in_(ACTIVE_JOB_STATES))).scalars())
    orphans = 0
    for key in store.list(f"{JOBS}/"):
        name = key[len(JOBS) + 1:]
        path = PurePosixPath(key)
        if "/" in name or name.endswith(".part") or name in kept or (_is_parts(path) and _owner(path) in active):
            continue  # inputs/ of running jobs, working files, kept results, parts of live jobs
        store.delete(key)
        orphans += 1
    return {"expired": len(expired), "orphans": orphans}


# --- The Celery side ------------------------------------------------------------------------------

@shared_task(bind=True, name="jobs.run", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(self, job_id: int):
    with logs.job_context(job_id):  # every log line of the job carries job_id (ground/logs.py)
        happened = execute(job_id)
        while happened == "retry" and self.request.is_eager:  # eager (tests): again at once; Retry would propagate
            happened = execute(job_id)
    if happened == "retry":
        delay = RETRY_BACKOFF_SECONDS[min(self.request.retries, len(RETRY_BACKOFF_SECONDS) - 1)]
        raise self.retry(countdown=delay, max_retries=len(RETRY_BACKOFF_SECONDS))


@shared_task(bind=True, name="jobs.part", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_part(self, job_id: int, number: int):
    """One part of a job split in parts (sent to the kind's queue)."""
    last = self.request.retries >= len(RETRY_BACKOFF_SECONDS)
    with logs.job_context(job_id):
        happened = execute_part(job_id, number, last_try=last)
    if happened == "retry":
        delay = RETRY_BACKOFF_SECONDS[min(self.request.retries, len(RETRY_BACKOFF_SECONDS) - 1)]
        raise self.retry(countdown=delay, max_retries=len(RETRY_BACKOFF_SECONDS))


def init_celery(app, beat_schedule: dict | None = None) -> Celery:
    """The Celery app of this Flask app: every task runs inside the Flask app context."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            if has_app_context():  # eager mode: inside the request or command that started it, on its app
                return self.run(*args, **kwargs)
            with app.app_context():
                try:
                    return self.run(*args, **kwargs)
                finally:
                    db.session.remove()

    cfg = app.config
    celery = Celery(app.import_name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=cfg["CELERY_BROKER_URL"], task_ignore_result=True, result_backend=None,
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        task_default_queue="default", task_queues=[Queue(name, Exchange(name), routing_key=name) for name in QUEUES],
        task_soft_time_limit=cfg["JOB_TIME_LIMIT_SECONDS"], task_time_limit=cfg["JOB_TIME_LIMIT_SECONDS"] + 60,
        task_always_eager=cfg.get("JOBS_EAGER", False), task_eager_propagates=True,
        broker_connection_retry_on_startup=True, broker_transport_options=_transport_options(cfg),
        timezone="Asia/Shanghai", enable_utc=True, beat_schedule=beat_schedule or {},
        worker_hijack_root_logger=False, worker_send_task_events=False,
    )
    celery.set_default()
    app.extensions["celery"] = celery
    _watch_workers(app)
    return celery


def _transport_options(cfg) -> dict:
    """Redis: an unacknowledged message (its worker died) is delivered again after the longest job may run."""
    url = cfg["CELERY_BROKER_URL"]
    if url.startswith(("redis://", "rediss://")):
        prefix = {"global_keyprefix": cfg["CELERY_KEY_PREFIX"]} if cfg.get("CELERY_KEY_PREFIX") else {}
        return {"visibility_timeout": cfg["JOB_TIME_LIMIT_SECONDS"] + 600, **prefix}
    return {}  # kombu's SQLAlchemy transport hands every option to create_engine: none for it


def _watch_workers(app):
    """Each worker writes a heartbeat row while it lives (the operations page lists the workers alive)."""
    from celery.signals import worker_ready, worker_shutdown

    stop = threading.Event()

    def beat(hostname, queues):
        first = True
        while first or not stop.wait(HEARTBEAT_SECONDS):
            first = False
            with suppress(Exception), app.app_context():
                row = db.session.get(WorkerStatus, hostname) or WorkerStatus(hostname=hostname, started_at=now_utc())
                row.pid, row.queues, row.seen_at = os.getpid(), queues, now_utc()
                db.session.add(row)
                db.session.commit()
                db.session.remove()

    @worker_ready.connect(weak=False)
    def started(sender=None, **_kwargs):
        queues = ",".join(sorted(q.name for q in sender.app.amqp.queues.consume_from.values())) \
            if sender.app.amqp.queues.consume_from else ",".join(QUEUES)
        threading.Thread(target=beat, args=(sender.hostname, queues), daemon=True, name="worker-status").start()

    @worker_shutdown.connect(weak=False)
    def stopped(sender=None, **_kwargs):
        stop.set()
        with suppress(Exception), app.app_context():
            row = db.session.get(WorkerStatus, getattr(sender, "hostname", ""))
            if row is not None:
                db.session.delete(row)
                db.session.commit()


def workers_alive(now=None) -> list[WorkerStatus]:
    cutoff = (now or now_utc()) - timedelta(seconds=HEARTBEAT_SECONDS * 3)
    return db.session.execute(select(WorkerStatus).where(WorkerStatus.seen_at >= cutoff)
                              .order_by(WorkerStatus.hostname)).scalars().all()


def queue_lengths() -> dict:
    """Messages waiting per queue, read from the broker (None when it cannot be reached)."""
    celery = current_app.extensions["celery"]
    lengths = {}
    try:
        with celery.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            channel = conn.default_channel
            for name in QUEUES:
                try:
                    lengths[name] = channel.queue_declare(queue=name, passive=True).message_count
                except Exception:
                    lengths[name] = 0  # a queue never used yet
    except Exception:
        return dict.fromkeys(QUEUES)
    return lengths
