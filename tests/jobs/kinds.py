"""Job kinds that exist only in tests: registered in the test process by importing this module, and in a real
worker through worker.py's REGISTRY_EXTRA_MODULES=tests.jobs.kinds."""
import time

from sqlalchemy.exc import DBAPIError, OperationalError

from app import jobs, scope
from ground.extensions import db
from ground.errors import UserError

CALLS = {}  # (backend, job id) -> runs of the "test-steps" kind in this process
REACHED = {}  # (backend, job id) -> the last step the work reached


def key(job_id):
    """Job ids restart on each backend's database; the tests of one process run on both."""
    return db.engine.url.get_backend_name(), job_id


class _Orig(Exception):
    """A driver error as psycopg raises it: with its SQLSTATE."""

    def __init__(self, sqlstate):
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


@jobs.job_kind("test-slow", "Slow test job", queue="default", unit="steps")
def run_slow(job, work):
    """Writes the first line of its file, then one line per step, sleeping between steps."""
    steps, pause = int(work.params.get("steps", 20)), float(work.params.get("pause", 0.25))
    work.total(steps)
    with open(work.output, "w") as out:
        out.write("start\n")
        out.flush()
        for step in range(steps):
            time.sleep(pause)
            out.write(f"step {step}\n")
            out.flush()
            work.advance(1)
        out.write("end\n")
    return jobs.Outcome({"steps": steps}, "slow.txt", "text/plain")


@jobs.job_kind("test-steps", "Test steps", queue="default", unit="steps")
def run_steps(job, work):
    """Three steps, misbehaving as params["how"] asks: ok, user_error, crash, cancel_self, transient, invalidated."""
    how = work.params.get("how", "ok")
    CALLS[key(job.id)] = CALLS.get(key(job.id), 0) + 1
    work.total(3)
    with open(work.output, "w") as out:
        out.write("one\n")
    work.advance(1)
    REACHED[key(job.id)] = 1
    if how == "user_error":
        raise UserError("The roster has no rows.")
    if how == "crash":
        raise RuntimeError("secret internal detail")
    if how == "transient":
        raise OperationalError("UPDATE x", {}, _Orig("40001"))
    if how == "invalidated":
        raise DBAPIError("SELECT 1", {}, _Orig(""), connection_invalidated=True)
    if how == "cancel_self":  # the person presses Cancel while the job runs
        me = scope.current_user()
        assert jobs.cancel(jobs.find(job.id, me), me)
        work.check()
        REACHED[key(job.id)] = 2  # never: check() stops the work
    work.advance(2)
    REACHED[key(job.id)] = 3
    return jobs.Outcome({"steps": 3}, "steps.txt", "text/plain")
