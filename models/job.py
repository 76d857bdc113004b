"""Background jobs (我的任务): long work run by the Celery workers, with progress and a result file; the
scheduler's record of periodic runs; the workers' heartbeats; shared statistics results.

A job belongs to the user who started it (Ministry jobs are shared by the Ministry's officers, app/scope.py).
States: queued → running → done | failed | cancelled; a lost worker's job goes back to queued or ends failed.
"""
from sqlalchemy import (JSON, BigInteger, Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, LargeBinary,
                        String, Text, UniqueConstraint)

from ground.clock import now_utc

from models.base import Model

JOB_STATES = ("queued", "running", "done", "failed", "cancelled")
ACTIVE_JOB_STATES = ("queued", "running")


class Job(Model):
    __tablename__ = "job"

    id = Column(Integer, primary_key=True)
    kind = Column(String(40), nullable=False, index=True)
    params = Column(JSON, nullable=False, default=dict)  # what to do: filters, format, language, …
    title = Column(String(200))  # what the person reads in the list ("CSV export of Registrations")
    state = Column(String(12), nullable=False, default="queued", index=True)
    cancel_requested = Column(Boolean, nullable=False, default=False)
    created_by_fk = Column(Integer, ForeignKey("ab_user.id"), index=True)  # None: started by the scheduler
    shared_role = Column(String(20))  # the role whose members all see the job (Ministry), else only the starter
    created_at = Column(DateTime, nullable=False, default=now_utc, index=True)
    started_at = Column(DateTime)
    finished_at = Column(DateTime)
    heartbeat_at = Column(DateTime)  # last sign of life from the worker running it
    attempts = Column(Integer, nullable=False, default=0)
    progress_done = Column(BigInteger, nullable=False, default=0)
    progress_total = Column(BigInteger)  # None until known
    unit = Column(String(20))  # rows, certificates, …: a code with a label (app/jobs.py)
    parts_total = Column(Integer)  # work split into parts rendered side by side (batch printing)
    parts_done = Column(Integer, nullable=False, default=0)
    result_key = Column(String(200))  # file name under JOB_RESULT_FOLDER
    result_name = Column(String(200))  # download name
    result_mimetype = Column(String(100))
    result_size = Column(BigInteger)
    outcome = Column(JSON)  # figures of the finished work, e.g. {"rows": 123}
    error = Column(Text)  # for people: what went wrong and what to do
    expires_at = Column(DateTime, index=True)  # the result file is deleted after this
    seen_at = Column(DateTime)  # the starter has seen it finished (navbar badge)


Index("ix_job_state_heartbeat", Job.state, Job.heartbeat_at)


class PeriodicRun(Model):
    """One run of a scheduled job for one slot (its day, or its minute): a second beat, or a second delivery,
    finds the row and does nothing."""

    __tablename__ = "periodic_run"
    __table_args__ = (UniqueConstraint("name", "slot", name="uq_periodic_run_name_slot"),)

    id = Column(Integer, primary_key=True)
    name = Column(String(60), nullable=False)
    slot = Column(String(20), nullable=False)
    as_of = Column(Date, nullable=False)
    started_at = Column(DateTime, nullable=False, default=now_utc)
    finished_at = Column(DateTime)
    outcome = Column(JSON)
    error = Column(Text)


class WorkerStatus(Model):
    """A worker's heartbeat (the operations page shows the workers alive)."""

    __tablename__ = "worker_status"

    hostname = Column(String(200), primary_key=True)
    pid = Column(Integer)
    queues = Column(String(200))
    started_at = Column(DateTime, nullable=False, default=now_utc)
    seen_at = Column(DateTime, nullable=False, default=now_utc)


class StatisticsSnapshot(Model):
    """A computed statistics report for one set of filters, day and language, shared by every web worker."""

    __tablename__ = "statistics_snapshot"

    key = Column(String(64), primary_key=True)
    computed_at = Column(DateTime, nullable=False, default=now_utc)
    payload = Column(LargeBinary, nullable=False)
