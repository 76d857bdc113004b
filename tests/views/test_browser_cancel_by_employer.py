"""A real browser, in Chinese: an employer reports that a registered constructor left (注销注册，聘用企业申报) from
its menu, the province passes it, the ministry approves and publishes it in a batch, and the person sees it in
进度查询 with who lodged it. Screenshots go to the test's tmp_path."""
from datetime import timedelta

import pytest

from ground.clock import today
from ground.extensions import db
from models import Application, Registration
from tests import factories as f
from tests.views.browser import browser_fixture, live_server_fixture, sign_in, sign_out  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def _decide(page, base, app_id, action, opinion):
    page.goto(f"{base}/myqueue/show/{app_id}")
    page.click(f"a[href='/myqueue/transition/{app_id}/{action}']")
    page.wait_for_selector("#transition-form")
    page.fill("#opinion", opinion)
    with page.expect_navigation():
        page.click("#transition-form [type=submit]")


def test_employer_lodges_province_passes_ministry_approves_person_sees_it(app, live_server, browser, tmp_path):
    with app.app_context():
        staff = f.Staff()
        enterprise = f.make_enterprise("11", name="浏览器离职建设集团有限公司")
        username, person_id = f.make_registered(enterprise, name="孙离职")
        registration = db.session.query(Registration).filter_by(person_id=person_id).one()
        registration_id, number = registration.id, registration.number
        employer, reviewer, ministry = staff.enterprise(enterprise), staff.province("11"), staff.ministry

    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    foreign = []
    page.on("request", lambda r: None if r.url.startswith(live_server) else foreign.append(r.url))

    # The employer: its menu entry, the search among its own staff, the form, the confirmation.
    sign_in(page, live_server, employer, app)
    assert "/cancellations/cancel_by_employer/new" in page.content()
    page.goto(f"{live_server}/cancellations/cancel_by_employer/new")
    page.fill("#q", "孙离职")
    with page.expect_navigation():
        page.click(".person-search button")
    assert number in page.content()
    with page.expect_navigation():
        page.click(f"tr[data-registration-id='{registration_id}'] a.choose")
    assert "离职日期" in page.content() and "不可撤回" in page.content()
    page.fill("#leaving_date", (today() - timedelta(days=7)).isoformat())
    page.fill("#reason_text", "劳动合同期满，本人不再续签，已办理离职手续。")
    with page.expect_navigation():  # without the tick: refused with the reason, nothing lodged
        page.click("#lodge")
    assert "请勾选确认后再提交" in page.content()
    page.check("#confirmed")
    page.screenshot(path=str(tmp_path / "employer-form.png"), full_page=True)
    with page.expect_navigation():
        page.click("#lodge")
    assert "已提交" in page.content() and "待省级审查" in page.content()
    page.screenshot(path=str(tmp_path / "employer-lodged.png"), full_page=True)
    with app.app_context():
        app_id = db.session.query(Application.id).filter_by(person_id=person_id,
                                                             business_type="cancel_by_employer").scalar()
    sign_out(page)

    sign_in(page, live_server, reviewer, app)
    _decide(page, live_server, app_id, "pass", "经核实，该人员已离职，同意注销。")
    assert "待部级审批" in page.content()
    sign_out(page)

    sign_in(page, live_server, ministry, app)
    _decide(page, live_server, app_id, "approve", "同意注销注册。")
    assert "已审批待公告" in page.content()
    sign_out(page)
    with app.app_context():
        f.publish_alone(app_id, ministry)  # the announcement batch (its own pages: test_browser_review.py)
        assert db.session.get(Registration, registration_id).status == "cancelled"

    sign_in(page, live_server, username, app)
    page.goto(f"{live_server}/progress/")
    content = page.content()
    assert "注销注册（聘用企业申报）" in content and "浏览器离职建设集团有限公司" in content
    assert "并非您本人申报" in content and "劳动合同终止" in content and "已办结" in content
    page.screenshot(path=str(tmp_path / "person-progress.png"), full_page=True)
    page.goto(f"{live_server}/messages/")
    assert "已就您的注册提交" in page.content() and "已审批通过" in page.content()
    page.screenshot(path=str(tmp_path / "person-messages.png"), full_page=True)
    context.close()
    assert foreign == [], f"requests left the server: {foreign}"
