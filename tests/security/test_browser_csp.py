"""The Content-Security-Policy in a real browser: the pages' scripts run (jQuery, Select2, the panel's own
JS) and Chromium reports no violation on the pages each role uses."""
import pytest

from tests import factories as f
from tests.views.browser import browser_fixture, live_server_fixture, sign_in  # noqa: F401

PAGES = {
    "Ministry": ["/", "/applications/list/", "/myqueue/list/", "/persons/list/", "/dashboard/",
                 "/exports/persons/", "/auditlog/list/", "/announcements/list/", "/swagger/v1"],
    "Applicant": ["/", "/apply/", "/progress/", "/me/", "/me/phone"],
    None: ["/login/", "/signup/", "/verify/", "/registry/", "/reset/"],
}


@pytest.mark.parametrize("role", list(PAGES), ids=lambda r: r or "anonymous")
def test_no_csp_violation_and_scripts_run(app, live_server, browser, role):
    page = browser.new_page()
    violations = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    if role == "Applicant":
        with app.app_context():
            username, _ = f.make_applicant()
        sign_in(page, live_server, username, app)
    elif role:
        with app.app_context():
            username = f.make_user(role)
        sign_in(page, live_server, username, app)
    for path in PAGES[role]:
        page.goto(live_server + path)
        assert page.evaluate("typeof window.jQuery") == "function", path  # the nonce'd scripts ran
        assert not violations, f"{path}: {violations}"
    page.close()
