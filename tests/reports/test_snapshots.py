"""The shared statistics snapshot (reports/snapshots.py) with the cache on: one computation serves every app
instance, a stale snapshot is shown while one job refreshes it, "recalculate" starts the job, nothing is shown
before the first figures but a page following the job, and the figures equal the report computed inline."""
import base64
import itertools
import json
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from flask import g
from flask_babel import force_locale
from sqlalchemy import func, select, update

from app import jobs
from ground.clock import now_utc, today
from ground.extensions import db
from models import Job, StatisticsSnapshot
from models.job import ACTIVE_JOB_STATES
from ops import schedule
from reports import snapshots, statistics
from tests import factories as f
from tests.conftest import another_app, login

_periods = itertools.count(1)


def period() -> statistics.Filters:
    """Filters of the test's own (a snapshot key no other test uses), ending today."""
    return statistics.Filters(today() - timedelta(days=60 + next(_periods)), today())


def url(filters, **extra) -> str:
    return "/dashboard/?" + urlencode({**filters.as_args(), **extra})


def _chart(match) -> str:
    svg = base64.b64decode(match.group(1)).decode()
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "ID", svg)  # pygal names each drawing anew


def figures_part(html: str) -> str:
    """The figures, tables and charts of the page (not the note saying when they were computed)."""
    part = html[html.index('<div class="row figures">'):html.index('class="support-footer"')]
    assert part.count("data:image/svg+xml;base64,") == 4
    return re.sub(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", _chart, part)


def key_of(filters, lang="en") -> str:
    return snapshots.key(filters, today(), lang)


def statistics_jobs(application, filters, active_only=False) -> list[Job]:
    with application.app_context():
        query = select(Job).where(Job.kind == "statistics", Job.params["key"].as_string() == key_of(filters))
        if active_only:
            query = query.where(Job.state.in_(ACTIVE_JOB_STATES))
        found = db.session.execute(query.order_by(Job.id)).scalars().all()
        db.session.expunge_all()
        return found


@pytest.fixture(scope="module")
def ministry(app):
    """A Ministry officer, and a little data so the figures are not all zero."""
    with app.app_context():
        staff = f.Staff()
        enterprise = f.make_enterprise("31")
        f.make_registered(enterprise)
        username, _person = f.make_applicant()
        staff.take(f.make_application(username, "initial", enterprise_id=enterprise, **f.contract()), username,
                   "submit")
        return f.make_user("Ministry")


@pytest.fixture
def cached(database, tmp_path_factory):
    with another_app(database, tmp_path_factory, STATISTICS_CACHE_SECONDS=600) as application:
        yield application


@pytest.fixture
def queued_only(monkeypatch):
    """Jobs are recorded but not run (no worker): the page's view of a job still queued."""
    monkeypatch.setattr(jobs, "dispatch", lambda job_id: None)


def test_payload_round_trip_keeps_every_figure(ctx, ministry):
    original = statistics.report(statistics.Filters.default())
    data = json.loads(json.dumps(statistics.to_dict(original)))
    rebuilt = statistics.from_dict(data)
    assert statistics.to_dict(rebuilt) == statistics.to_dict(original)
    assert rebuilt.registered == original.registered and rebuilt.applications == original.applications
    assert rebuilt.registered.total >= 1 and rebuilt.applications.pending.total >= 1
    with pytest.raises(ValueError):
        statistics.from_dict({**data, "version": 99})


def test_snapshot_is_shared_between_app_instances(database, tmp_path_factory, cached, ministry, monkeypatch):
    filters = period()
    first = login(cached.test_client(), ministry).get(url(filters))
    assert first.status_code == 200 and "Computed at" in first.get_data(as_text=True)
    assert [job.state for job in statistics_jobs(cached, filters)] == ["done"]

    def no_computing(*_args, **_kwargs):
        raise AssertionError("the second app computed the report again")

    monkeypatch.setattr(statistics, "report", no_computing)
    with another_app(database, tmp_path_factory, STATISTICS_CACHE_SECONDS=600) as other:
        second = login(other.test_client(), ministry).get(url(filters))
    assert second.status_code == 200
    assert figures_part(second.get_data(as_text=True)) == figures_part(first.get_data(as_text=True))
    assert len(statistics_jobs(cached, filters)) == 1


def test_shared_figures_equal_the_report_computed_inline(app, cached, ministry):
    filters = period()
    shared = login(cached.test_client(), ministry).get(url(filters)).get_data(as_text=True)
    inline = login(app.test_client(), ministry).get(url(filters)).get_data(as_text=True)
    assert "Computed at" in shared and "Computed at" not in inline  # the cache is off in `app`
    assert figures_part(shared) == figures_part(inline)
    with cached.test_request_context():
        g.test_locale = "en"  # flask-babel forces a locale only where g is not empty
        with force_locale("en"):
            stored = snapshots.load(key_of(filters))
            assert stored is not None and stored.is_fresh()
            assert statistics.to_dict(stored.report) | {"computed_at": None} == \
                statistics.to_dict(statistics.report(filters)) | {"computed_at": None}


def test_stale_snapshot_is_shown_while_one_job_refreshes_it(cached, ministry, monkeypatch):
    filters = period()
    client = login(cached.test_client(), ministry)
    assert "Computed at" in client.get(url(filters)).get_data(as_text=True)
    with cached.app_context():
        db.session.execute(update(StatisticsSnapshot).where(StatisticsSnapshot.key == key_of(filters))
                           .values(computed_at=now_utc() - timedelta(hours=2)))
        db.session.commit()
    monkeypatch.setattr(jobs, "dispatch", lambda job_id: None)
    for _ in range(2):
        page = client.get(url(filters)).get_data(as_text=True)
        assert "These figures are older than that." in page and "Newer figures are being computed" in page
        assert "Recalculate now" not in page
    waiting = statistics_jobs(cached, filters, active_only=True)
    assert len(waiting) == 1  # one job, however many pages ask
    with cached.app_context():
        assert jobs.execute(waiting[0].id) == "done"
    page = client.get(url(filters)).get_data(as_text=True)
    assert "older than that" not in page and "Recalculate now" in page
    assert len(statistics_jobs(cached, filters)) == 2


def test_without_figures_the_page_follows_the_job_then_shows_the_report(cached, ministry, queued_only):
    filters = period()
    client = login(cached.test_client(), ministry)
    pages = [client.get(url(filters)).get_data(as_text=True) for _ in range(2)]
    [job] = statistics_jobs(cached, filters)
    for page in pages:
        assert "Computing the statistics" in page and f'data-job-id="{job.id}"' in page
        assert "js/dashboard.js" in page and "<script>" not in page
    status = client.get(f"/jobs/status?ids={job.id}").get_json()
    assert [item["state"] for item in status["jobs"]] == ["queued"]
    with cached.app_context():
        assert jobs.execute(job.id) == "done"
    page = client.get(url(filters)).get_data(as_text=True)
    assert "Computing the statistics" not in page and "Computed at" in page
    assert len(statistics_jobs(cached, filters)) == 1


def test_recalculate_starts_the_job_and_only_one_while_it_waits(cached, ministry, monkeypatch):
    filters = period()
    client = login(cached.test_client(), ministry)
    client.get(url(filters))
    with cached.app_context():
        before = db.session.get(StatisticsSnapshot, key_of(filters)).computed_at
    refreshed = client.get(url(filters, refresh="1"))
    assert refreshed.status_code == 302 and "refresh" not in refreshed.headers["Location"]
    assert [job.state for job in statistics_jobs(cached, filters)] == ["done", "done"]
    with cached.app_context():
        assert db.session.get(StatisticsSnapshot, key_of(filters)).computed_at > before
    monkeypatch.setattr(jobs, "dispatch", lambda job_id: None)
    client.get(url(filters, refresh="1"))
    client.get(url(filters, refresh="1"))
    assert len(statistics_jobs(cached, filters, active_only=True)) == 1


def test_a_failed_job_is_shown_and_not_started_again_by_itself(cached, ministry, monkeypatch):
    filters = period()

    def broken(*_args, **_kwargs):
        raise RuntimeError("broken statistics")

    monkeypatch.setattr(statistics, "report", broken)
    client = login(cached.test_client(), ministry)
    for _ in range(2):
        page = client.get(url(filters)).get_data(as_text=True)
        assert "The statistics could not be computed." in page and "unexpected error" in page
        assert "js/dashboard.js" in page and 'id="statistics-computing"' not in page  # nothing to poll
    assert [job.state for job in statistics_jobs(cached, filters)] == ["failed"]
    client.get(url(filters, refresh="1"))  # a person asks again: a new job
    assert [job.state for job in statistics_jobs(cached, filters)] == ["failed", "failed"]


def test_pdf_report_uses_the_snapshot_or_computes_inline(cached, ministry, monkeypatch):
    shared, absent = period(), period()
    client = login(cached.test_client(), ministry)
    client.get(url(shared))
    original = statistics.report

    def no_computing(*_args, **_kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(statistics, "report", no_computing)
    pdf = client.get("/dashboard/pdf?" + urlencode(shared.as_args()))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    monkeypatch.setattr(statistics, "report", original)
    pdf = client.get("/dashboard/pdf?" + urlencode(absent.as_args()))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert statistics_jobs(cached, absent) == []  # a PDF starts no job


def test_nightly_statistics_start_once_a_day_and_only_when_needed(cached):
    with cached.test_request_context():
        figures = schedule.run("nightly-statistics")
        assert set(figures) == {f"job_{lang}" for lang in cached.config["LANGUAGES"]}
        for lang in cached.config["LANGUAGES"]:
            stored = snapshots.load(snapshots.key(statistics.Filters.default(), today(), lang))
            assert stored is not None and stored.is_fresh()
        assert schedule.run("nightly-statistics") is None  # the day's run happened
        assert schedule.run("nightly-statistics", force=True) == {}  # forced: the figures are fresh already
        count = db.session.execute(select(func.count()).select_from(Job).where(Job.kind == "statistics",
                                                                               Job.created_by_fk.is_(None))).scalar()
        assert count == len(cached.config["LANGUAGES"])
