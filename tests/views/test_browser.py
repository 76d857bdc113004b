"""A real browser (headless Chromium via Playwright) walks the main road: the applicant submits (from the
application's page to the form that signs it with an SMS code), the enterprise confirms from its queue.
Every request stays on the server (nothing from a CDN)."""
import pytest

from ground.extensions import db
from models import Person
from tests import factories as f
from tests.views.test_personal_journey import sms_code
from tests.views.browser import browser_fixture, live_server_fixture, sign_in, sign_out  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def _take(page, base, view, app_id, action):
    """Open the application, press the move's button, confirm on the confirmation page."""
    page.goto(f"{base}/{view}/show/{app_id}")
    page.click(f"a[href='/{view}/transition/{app_id}/{action}']")
    page.wait_for_selector("#transition-form")
    if page.locator("#attested").count():  # e.g. the enterprise confirms the contract period
        page.check("#attested")
    with page.expect_navigation():
        page.click("#transition-form [type=submit]")


def test_submit_and_confirm_in_a_browser(app, live_server, browser, tmp_path):
    with app.app_context():
        enterprise = f.make_enterprise("11", name="浏览器测试建设有限公司")
        applicant, person_id = f.make_applicant(name="李浏览")
        phone = f"136{f.next_serial():08d}"
        db.session.get(Person, person_id).phone = phone
        db.session.commit()
        app_id = f.make_application(applicant, "initial", enterprise_id=enterprise)
        officer = f.make_user("Enterprise", enterprise_id=enterprise)

    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    foreign = []
    page.on("request", lambda r: None if r.url.startswith(live_server) else foreign.append(r.url))

    sign_in(page, live_server, applicant.lower(), app)  # a lower-case x in the ID number still signs in
    assert "注册申报" in page.content()
    page.goto(f"{live_server}/applications/show/{app_id}")
    page.click(f"a[href='/applications/transition/{app_id}/submit']")  # leads to the signing form
    page.wait_for_url(f"{live_server}/apply/initial")
    page.check("#agree_notice")
    page.check("#agree_commitment")
    with page.expect_navigation():
        page.click("button[name=action][value=send_sms]")
    page.check("#agree_notice")
    page.check("#agree_commitment")
    page.fill("#sms_code", sms_code(app, phone))
    with page.expect_navigation():
        page.click("button[name=action][value=submit]")
    assert "/progress/" in page.url and "待企业确认" in page.content()
    page.screenshot(path=str(tmp_path / "applicant.png"), full_page=True)

    sign_out(page)
    sign_in(page, live_server, officer, app)
    page.goto(f"{live_server}/myqueue/list/")
    assert "李浏览" in page.content()
    _take(page, live_server, "myqueue", app_id, "confirm")
    assert "待省级审查" in page.content()
    page.screenshot(path=str(tmp_path / "enterprise.png"), full_page=True)
    assert foreign == [], f"requests left the server: {foreign}"
    context.close()
