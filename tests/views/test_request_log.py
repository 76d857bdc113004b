"""Structured logs and request ids (ground/logs.py, views/shell/request_log.py): with LOG_FORMAT=json every line
is a JSON object with the request's id, user and access fields; personal numbers stay masked; the id is in the
response header, on error pages and in the API's JSON errors; an incoming sane X-Request-ID is kept."""
import contextlib
import json
import logging
import re

import pytest

from ground import logs
from tests import factories as f
from tests.conftest import another_app, login

ID_NUMBER = "110101199003071234"
MOBILE = "13812345678"
HEX_ID = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def log_app(app, database, tmp_path_factory):
    with another_app(database, tmp_path_factory, PROPAGATE_EXCEPTIONS=False, LOG_FORMAT="json") as application:
        @application.route("/test-log/write")
        def write_line():
            logging.getLogger("tests.request_log").warning("applicant %s called from %s", ID_NUMBER, MOBILE)
            return "ok"

        @application.route("/test-log/raise")
        @application.route("/api/v1/test-log/raise")
        def raise_error():
            raise RuntimeError("boom")

        yield application
    logs.configure("text")


@contextlib.contextmanager
def json_lines(capsys):
    """The JSON lines written to standard error inside the block (list filled when it ends)."""
    logs.configure("json")
    capsys.readouterr()
    lines = []
    try:
        yield lines
    finally:
        err = capsys.readouterr().err
        logs.configure("text")
        for line in err.splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))  # every line of ours parses


def _access(lines, path):
    found = [line for line in lines if line["logger"] == "registry.access" and line.get("path") == path]
    assert len(found) == 1, lines
    return found[0]


def test_access_line_has_every_field(log_app, capsys):
    with log_app.app_context():
        username, _person = f.make_applicant()
    client = login(log_app.test_client(), username)
    with json_lines(capsys) as lines:
        resp = client.get("/")
    assert resp.status_code == 200
    line = _access(lines, "/")
    for field in ("time", "level", "logger", "message", "request_id", "user_id", "roles", "endpoint", "method",
                  "path", "status", "duration_ms"):
        assert field in line, (field, line)
    assert line["time"].endswith("+00:00") and "T" in line["time"]
    assert line["level"] == "INFO" and line["method"] == "GET" and line["status"] == 200
    assert line["request_id"] == resp.headers["X-Request-ID"]
    assert HEX_ID.match(line["request_id"])
    assert isinstance(line["user_id"], int) and line["user_id"] > 0
    assert line["roles"] == ["Applicant"]
    assert line["endpoint"] and isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0


def test_a_line_written_during_the_request_carries_its_id_and_stays_masked(log_app, capsys):
    with log_app.app_context():
        username, _person = f.make_applicant()
    client = login(log_app.test_client(), username)
    with json_lines(capsys) as lines:
        resp = client.get("/test-log/write", headers={"X-Request-ID": "edge-42.a_b"})
    assert resp.status_code == 200 and resp.headers["X-Request-ID"] == "edge-42.a_b"
    written = [line for line in lines if line["logger"] == "tests.request_log"]
    assert len(written) == 1
    line = written[0]
    assert line["request_id"] == "edge-42.a_b" and line["user_id"] == _access(lines, "/test-log/write")["user_id"]
    assert line["level"] == "WARNING" and "applicant 110101" in line["message"]
    raw = json.dumps(lines, ensure_ascii=False)
    assert ID_NUMBER not in raw and MOBILE not in raw


def test_a_traceback_stays_masked(capsys):
    with json_lines(capsys) as lines:
        try:
            raise ValueError(f"bad row {ID_NUMBER}\n[parameters: ('{MOBILE}',)]")
        except ValueError:
            logging.getLogger("tests.request_log").exception("import failed for %s", ID_NUMBER)
    line = lines[-1]
    assert line["level"] == "ERROR" and "ValueError" in line["exc_info"]
    assert "[parameters: hidden]" in line["exc_info"]
    assert ID_NUMBER not in json.dumps(line) and MOBILE not in json.dumps(line)


def test_a_personal_number_in_the_path_is_masked(log_app, capsys):
    with json_lines(capsys) as lines:
        resp = log_app.test_client().get(f"/no-such/{ID_NUMBER}/{MOBILE}")
    assert resp.status_code == 404
    assert ID_NUMBER not in json.dumps(lines) and MOBILE not in json.dumps(lines)
    masked = [line for line in lines if line["logger"] == "registry.access"]
    assert len(masked) == 1 and masked[0]["path"].startswith("/no-such/110101")
    assert masked[0]["status"] == 404 and masked[0]["user_id"] is None


@pytest.mark.parametrize("incoming", ["x" * 65, "bad id", "<script>", "a/b", "é", ""])
def test_an_insane_incoming_id_is_replaced(log_app, incoming):
    resp = log_app.test_client().get("/healthz", headers={"X-Request-ID": incoming})
    assert HEX_ID.match(resp.headers["X-Request-ID"])


def test_a_sane_incoming_id_is_kept(log_app):
    sane = "A" * 64
    assert log_app.test_client().get("/healthz", headers={"X-Request-ID": sane}).headers["X-Request-ID"] == sane


def test_every_request_gets_its_own_id(log_app):
    client = log_app.test_client()
    ids = {client.get("/healthz").headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("path, code", [("/no-such-page", 404), ("/test-log/raise", 500)])
def test_error_pages_show_the_id(log_app, path, code, lang):
    client = log_app.test_client()
    client.get(f"/lang/{lang}")
    resp = client.get(path, headers={"X-Request-ID": "support-7731"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == code
    assert '<code class="request-id">support-7731</code>' in page
    assert ("联系技术支持时请提供此编号" if lang == "zh" else "Quote this number to technical support") in page


def test_api_errors_carry_the_id(log_app, capsys):
    client = log_app.test_client()
    with json_lines(capsys) as lines:
        resp = client.get("/api/v1/test-log/raise", headers={"X-Request-ID": "api-1"})
    assert resp.status_code == 500 and resp.get_json() == {"message": "Internal Server Error", "request_id": "api-1"}
    assert resp.headers["X-Request-ID"] == "api-1"
    # Flask's own record of the exception carries the id too
    assert any(line["request_id"] == "api-1" and line["level"] == "ERROR" for line in lines)
    resp = client.get("/api/v1/no-such-resource/")
    assert resp.status_code == 404 and resp.get_json()["request_id"] == resp.headers["X-Request-ID"]
    resp = client.get("/api/v1/person/", headers={"X-Request-ID": "api-2"})  # FAB's own 401
    assert resp.status_code == 401 and resp.get_json()["request_id"] == "api-2"
    resp = client.post("/api/v1/security/login", json={}, headers={"X-Request-ID": "api-3"})  # FAB's own 400
    assert resp.status_code == 400 and resp.get_json()["request_id"] == "api-3"


def test_job_lines_carry_the_job_id(capsys):
    with json_lines(capsys) as lines:
        with logs.job_context(41):
            logging.getLogger("app.jobs").warning("job %s failed for %s", 41, ID_NUMBER)
        logging.getLogger("app.jobs").warning("outside")
    inside, outside = lines[-2:]
    assert inside["job_id"] == 41 and ID_NUMBER not in inside["message"] and inside["request_id"] is None
    assert outside["job_id"] is None


def test_the_celery_task_runs_in_the_job_context(ctx, monkeypatch):
    from app import jobs

    seen = []

    def execute(job_id):
        seen.append(logs.context().get("job_id"))
        return "done"

    monkeypatch.setattr(jobs, "execute", execute)
    jobs.run_job.run(17)
    assert seen == [17] and logs.context().get("job_id") is None


def test_text_format_names_the_request(log_app, capsys):
    logs.configure("text")
    capsys.readouterr()
    log_app.test_client().get("/healthz", headers={"X-Request-ID": "text-9"})
    err = capsys.readouterr().err
    assert re.search(r"INFO registry\.access \[text-9\] GET /healthz 200", err), err
