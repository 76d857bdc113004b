"""Statistics computed once and shared: the report for (filters, day, language) kept in StatisticsSnapshot.

A job of kind "statistics" computes a report (its parts as steps) and upserts the snapshot; every web worker
and host then reads the same row. The payload is the JSON of reports.statistics.to_dict (no pickle: what is
read back from the database is data, never code). The key is the sha256 of the canonical JSON of the filters,
the day (China) and the language. At most one statistics job per key is queued or running at a time.
"""
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ground.clock import now_utc, today
from ground.extensions import db
from models import Job, StatisticsSnapshot
from models.job import ACTIVE_JOB_STATES
from app import jobs
from reports import statistics

KIND = "statistics"


def key(filters: statistics.Filters, day: date, lang: str) -> str:
    canonical = json.dumps({"filters": statistics.filters_to_dict(filters), "day": day.isoformat(), "lang": lang},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Snapshot:
    report: statistics.Report
    computed_at: datetime

    @property
    def age_seconds(self) -> float:
        return (now_utc() - self.computed_at).total_seconds()

    def is_fresh(self, seconds: int | None = None) -> bool:
        limit = current_app.config["STATISTICS_CACHE_SECONDS"] if seconds is None else seconds
        return self.age_seconds < limit


def load(snapshot_key: str) -> Snapshot | None:
    """The stored report for this key; None when there is none (or it cannot be read: it is computed again)."""
    row = db.session.get(StatisticsSnapshot, snapshot_key)
    if row is None:
        return None
    try:
        found = statistics.from_dict(json.loads(row.payload.decode("utf-8")))
    except (ValueError, KeyError, TypeError):
        return None
    found.computed_at = row.computed_at
    return Snapshot(found, row.computed_at)


def store(snapshot_key: str, result: statistics.Report) -> datetime:
    """Upsert the snapshot (a second writer of the same key simply replaces it) and commit."""
    computed_at = result.computed_at
    values = {"key": snapshot_key, "computed_at": computed_at,
              "payload": json.dumps(statistics.to_dict(result), ensure_ascii=False, separators=(",", ":")).encode()}
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    statement = insert(StatisticsSnapshot).values(**values)
    db.session.execute(statement.on_conflict_do_update(
        index_elements=["key"], set_={"computed_at": statement.excluded.computed_at,
                                      "payload": statement.excluded.payload}))
    db.session.commit()
    return computed_at


def latest_job(snapshot_key: str) -> Job | None:
    """The newest statistics job for this key, whoever started it."""
    return db.session.execute(select(Job).where(Job.kind == KIND, Job.params["key"].as_string() == snapshot_key)
                              .order_by(Job.id.desc()).limit(1)).scalar_one_or_none()


def _lock(snapshot_key: str):
    """PostgreSQL: serialize the check-and-start of one key until the transaction ends (jobs.start commits).
    SQLite deployments are one host; a duplicate job there finds the fresh snapshot and does nothing."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:n)"), {"n": int(snapshot_key[:15], 16)})


def ensure_job(filters: statistics.Filters, lang: str, user, force: bool = False) -> Job | None:
    """The active statistics job for these filters, or a new one. Without `force` (a person's "recalculate"),
    a job that failed within STATISTICS_CACHE_SECONDS is not started again by itself: None then."""
    snapshot_key = key(filters, today(), lang)
    _lock(snapshot_key)
    job = latest_job(snapshot_key)
    if job is not None and job.state in ACTIVE_JOB_STATES:
        db.session.commit()  # ends the lock's transaction
        return job
    recently = now_utc() - timedelta(seconds=current_app.config["STATISTICS_CACHE_SECONDS"])
    if (not force and job is not None and job.state == "failed" and job.finished_at
            and job.finished_at > recently):
        db.session.commit()
        return None
    params = {"filters": statistics.filters_to_dict(filters), "day": today().isoformat(), "lang": lang,
              "key": snapshot_key}
    title = f"{_l('Statistics')} {filters.date_from.isoformat()} – {filters.date_to.isoformat()}"
    return jobs.start(KIND, params, user, title=title)


@jobs.job_kind(KIND, _l("Statistics"), queue="default", unit="steps")
def compute(job: Job, work: jobs.Work) -> jobs.Outcome:
    """Compute the report and store it. A duplicate (the snapshot was written after this job was queued)
    does nothing."""
    filters = statistics.filters_from_dict(work.params["filters"])
    snapshot_key = key(filters, today(), work.params.get("lang") or jobs.current_language())
    row = db.session.get(StatisticsSnapshot, snapshot_key)
    if row is not None and job.created_at and row.computed_at >= job.created_at:
        work.total(0)
        return jobs.Outcome({"reused": True})
    work.total(len(statistics.PARTS) + 1)

    def step(_part):
        work.advance(1)
        work.check()

    result = statistics.report(filters, step=step)
    computed_at = store(snapshot_key, result)
    work.advance(1)
    return jobs.Outcome({"computed_at": computed_at.isoformat(timespec="seconds")})


def national(as_of: date | None = None) -> dict:
    """Start (unless one is running or today's is fresh) the national report of each language: the nightly
    schedule entry. Idempotent."""
    started = {}
    for lang in current_app.config["LANGUAGES"]:
        filters = statistics.Filters.default()
        snapshot = load(key(filters, today(), lang))
        if snapshot is not None and snapshot.is_fresh():
            continue
        job = ensure_job(filters, lang, None, force=True)
        started[lang] = job.id
    return started
