"""A real browser and a real worker: a Ministry officer starts a CSV export, lands on 我的任务 while the job waits
(no worker yet), and watches the page follow it without reloading — the bar moves to 100%, the done notice
appears — then downloads the file by its button. A screenshot goes to /tmp/jobs-page.png for people to look at."""
import csv
import io
import threading
import uuid

import pytest
from werkzeug.serving import make_server

from tests import factories as f
from tests.views.browser import browser_fixture, sign_in  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser
SCREENSHOT = "/tmp/jobs-page.png"


def test_the_jobs_page_follows_a_real_export_and_downloads_it(make_rig, browser):
    rig = make_rig()
    token = "浏览" + uuid.uuid4().hex[:8]
    with rig.app.app_context():
        enterprise = f.make_enterprise("11", name=f"{token}企业")
        for i in range(8):
            f.make_registered(enterprise, name=f"{token}{i}")
        ministry = f.make_user("Ministry")
    server = make_server("127.0.0.1", 0, rig.app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        page = browser.new_page(locale="zh-CN", viewport={"width": 1024, "height": 768}, accept_downloads=True)
        sign_in(page, base, ministry, rig.app)
        page.goto(f"{base}/exports/registrations/export/csv/?flt0_employer={token}")
        assert page.url.endswith("/jobs/")
        row = page.locator("tr[data-job-id]").first
        job_id = row.get_attribute("data-job-id")
        bar = row.locator(".job-bar")
        assert row.get_attribute("data-state") == "queued" and bar.get_attribute("aria-valuenow") == "0"
        assert "label-default" in row.locator(".job-state .label").get_attribute("class")
        page.evaluate("""() => {
            window.__samePage = true;
            window.__seen = [];
            const bar = document.querySelector('tr[data-job-id] .job-bar');
            new MutationObserver(() => window.__seen.push(bar.getAttribute('aria-valuenow')))
                .observe(bar, {attributes: true, attributeFilter: ['aria-valuenow']});
        }""")

        rig.start_worker()  # the job waits in Redis until now
        page.wait_for_selector("#job-notices .alert-success", timeout=60_000)
        assert page.evaluate("window.__samePage") is True  # followed without reloading
        assert bar.get_attribute("aria-valuenow") == "100" and "100" in page.evaluate("window.__seen")
        assert row.get_attribute("data-state") == "done"
        assert "8 / 8" in row.locator(".job-progress").inner_text()
        label = row.locator(".job-state .label")
        assert "label-success" in label.get_attribute("class") and label.inner_text().strip()
        assert label.evaluate("el => getComputedStyle(el).backgroundColor") != "rgba(0, 0, 0, 0)"  # readable
        page.wait_for_function("() => { const bar = document.querySelector('tr[data-job-id] .job-bar');"
                               " return bar.offsetWidth >= bar.parentElement.clientWidth - 1; }")  # its transition
        page.screenshot(path=SCREENSHOT)

        with page.expect_download() as download:
            row.locator(".job-result a").click()
        path = download.value.path()
        rows = list(csv.reader(io.StringIO(open(path, encoding="utf-8-sig").read())))
        assert len(rows) == 9 and all(token in ",".join(r) for r in rows[1:])
        assert download.value.url.endswith(f"/jobs/{job_id}/download")
        page.close()
    finally:
        server.shutdown()
