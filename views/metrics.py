"""/metrics in the Prometheus text format: requests by endpoint and status, their latency, workflow moves by action,
sign-ins by outcome, and the background jobs by state.

With several gunicorn workers every process keeps its own counters: set PROMETHEUS_MULTIPROC_DIR to an empty folder
(./scripts/serve does) and the scrape adds up all of them (prometheus-client's multiprocess mode). Moves are counted
when their transaction commits. Like /readyz, the page answers only the addresses in HEALTH_ALLOW or a request with
the HEALTH_TOKEN bearer token; anyone else gets a 404.
"""
import os
import time

from flask import abort, g, request
from flask_appbuilder import BaseView, expose
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from ground import signals
from ground.extensions import db
from models import Job
from models.job import JOB_STATES
from views.health import readiness_allowed

REQUESTS = Counter("registry_http_requests_total", "HTTP requests answered", ["endpoint", "method", "status"])
LATENCY = Histogram("registry_http_request_duration_seconds", "Time to answer a request", ["endpoint"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
MOVES = Counter("registry_workflow_transitions_total", "Workflow moves committed", ["action"])
LOGINS = Counter("registry_login_events_total", "Sign-in events (login, login_failed, login_refused, ...)",
                 ["event"])


class JobsCollector:
    """Background jobs by state, read from the database at each scrape (one small GROUP BY)."""

    def collect(self):
        family = GaugeMetricFamily("registry_jobs", "Background jobs by state", labels=["state"])
        try:
            counts = dict(db.session.execute(select(Job.state, func.count()).group_by(Job.state)).all())
        except Exception:  # a scrape during a database outage still answers the process metrics
            db.session.rollback()
            return
        for state in JOB_STATES:
            family.add_metric([state], counts.get(state, 0))
        yield family


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # every worker process's counters, added up
    else:
        for collector in (REQUESTS, LATENCY, MOVES, LOGINS):
            registry.register(collector)
    registry.register(JobsCollector())
    return registry


def _started():
    g.metrics_started = time.perf_counter()


def _answered(response):
    endpoint = request.endpoint or "unmatched"  # bounded: unknown addresses share one label
    started = g.pop("metrics_started", None)
    if endpoint != "MetricsView.metrics":
        REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
        if started is not None:
            LATENCY.labels(endpoint).observe(time.perf_counter() - started)
    return response


def _committed(session):
    for action in session.info.pop("moves", ()):
        MOVES.labels(action).inc()


def _rolled_back(session, previous_transaction=None):
    session.info.pop("moves", None)


def _login_event(action):
    LOGINS.labels(action).inc()


def install(app):
    """The request hooks, the commit hook and the sign-in listener (once per process for the last two)."""
    app.before_request(_started)
    app.after_request(_answered)
    if not event.contains(Session, "after_commit", _committed):
        event.listen(Session, "after_commit", _committed)
        event.listen(Session, "after_soft_rollback", _rolled_back)
    signals.login_event.connect(_login_event)


class MetricsView(BaseView):
    """Public route on purpose (no @has_access): guarded like /readyz, by address or token."""

    route_base = ""
    default_view = "metrics"

    @expose("/metrics")
    def metrics(self):
        if not readiness_allowed():
            abort(404)
        return generate_latest(_registry()), 200, {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}


    metrics.talisman_view_options = {"force_https": False}  # scraped over plain HTTP inside the network
