"""/metrics (views/metrics.py): Prometheus text with requests by endpoint and status, latency, committed workflow
moves, sign-in events and jobs by state; guarded like /readyz; several processes add up in multiprocess mode."""
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from ground.extensions import db
from tests import factories as f

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = {"REMOTE_ADDR": "10.1.2.3"}


def _samples(text: str) -> dict:
    """(name, labels as a sorted tuple) → value."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def test_metrics_count_requests_moves_sign_ins_and_jobs(app, client):
    before = _samples(client.get("/metrics").get_data(as_text=True))
    client.get("/help/")
    client.get("/no-such-page")
    with app.app_context():
        username, _ = f.make_applicant()
        app_id = f.make_application(username, "initial", enterprise_id=f.make_enterprise())
        f.move(app_id, "submit", username)
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
    after = _samples(resp.get_data(as_text=True))
    help_page = ("registry_http_requests_total", dict(endpoint="HelpView.index", method="GET", status="200"))
    assert _value(after, help_page[0], **help_page[1]) == _value(before, help_page[0], **help_page[1]) + 1
    assert _value(after, "registry_http_requests_total", endpoint="unmatched", method="GET", status="404") >= 1
    assert _value(after, "registry_http_request_duration_seconds_count", endpoint="HelpView.index") >= 1
    assert (_value(after, "registry_workflow_transitions_total", action="submit")
            == _value(before, "registry_workflow_transitions_total", action="submit") + 1)
    assert any(name == "registry_jobs" and dict(labels).get("state") == "queued" for name, labels in after)


def test_a_rolled_back_move_is_not_counted(app, client):
    from app import workflow

    before = _samples(client.get("/metrics").get_data(as_text=True))
    with app.app_context():
        username, _ = f.make_applicant()
        app_id = f.make_application(username, "initial", enterprise_id=f.make_enterprise())
        workflow.apply(app_id, workflow.Move("submit", sms_confirmed=True), f.user(username), commit=False)
        db.session.rollback()
    after = _samples(client.get("/metrics").get_data(as_text=True))
    assert (_value(after, "registry_workflow_transitions_total", action="submit")
            == _value(before, "registry_workflow_transitions_total", action="submit"))


def test_failed_sign_ins_are_counted(app, client):
    from app.audit import record_login_event

    before = _samples(client.get("/metrics").get_data(as_text=True))
    with app.app_context():
        record_login_event("login_failed", username="someone")
        db.session.commit()
    after = _samples(client.get("/metrics").get_data(as_text=True))
    assert (_value(after, "registry_login_events_total", event="login_failed")
            == _value(before, "registry_login_events_total", event="login_failed") + 1)


def test_metrics_are_not_for_everyone(app, client, monkeypatch):
    assert client.get("/metrics", environ_base=OUTSIDE).status_code == 404
    monkeypatch.setitem(app.config, "HEALTH_TOKEN", "monitoring-token-123")
    assert client.get("/metrics", environ_base=OUTSIDE,
                      headers={"Authorization": "Bearer wrong"}).status_code == 404
    assert client.get("/metrics", environ_base=OUTSIDE,
                      headers={"Authorization": "Bearer monitoring-token-123"}).status_code == 200


def test_several_processes_add_up_in_multiprocess_mode(tmp_path):
    """Two worker processes count requests into the shared folder; a third scrapes the sum."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder), "PYTHONPATH": str(ROOT)}
    count = textwrap.dedent("""
        from views import metrics
        metrics.REQUESTS.labels("HelpView.index", "GET", "200").inc(3)
    """)
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, cwd=ROOT, check=True, timeout=120)
    scrape = textwrap.dedent("""
        from prometheus_client import generate_latest
        from views import metrics
        metrics.JobsCollector.collect = lambda self: iter(())  # no database in this process
        print(generate_latest(metrics._registry()).decode())
    """)
    out = subprocess.run([sys.executable, "-c", scrape], env=env, cwd=ROOT, check=True, timeout=120,
                         capture_output=True, text=True).stdout
    assert re.search(r'registry_http_requests_total\{endpoint="HelpView.index",method="GET",status="200"\} 6\.0', out)
