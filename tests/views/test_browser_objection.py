"""A real browser through a change of employer's objection period: the new employer confirms, the applicant's
progress page shows the clock (and reminds the previous employer), the previous employer finds the change in its
queue and objects with a reason, the province's page of the application shows the objection. Then the 超期督办
page of the province and the ministry. Screenshots go to /tmp/shots/objection-*.png and overdue-*.png."""
import os
from datetime import timedelta

import pytest

from ground.clock import today
from ground.extensions import db
from models import Application
from tests import factories as f
from tests.conftest import app_on_own_database
from tests.views.browser import browser_fixture, live_server_fixture, sign_in  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots"
REASON = "该同志与我单位劳动合同尚未解除，且有在建项目未完成交接。"


@pytest.fixture(scope="module", name="app")
def own_app(backend, tmp_path_factory):
    """A database of its own: the overdue page lists only this test's applications."""
    with app_on_own_database(backend, tmp_path_factory) as application:
        yield application


@pytest.fixture(scope="module")
def story(app):
    with app.app_context():
        old = f.make_enterprise("11", name="北京原建设工程有限公司")
        new = f.make_enterprise("11", name="北京新城建设集团有限公司")
        people = {"previous": f.make_user("Enterprise", enterprise_id=old),
                  "current": f.make_user("Enterprise", enterprise_id=new),
                  "province": f.make_user("Province", province_code="11"), "ministry": f.make_user("Ministry")}
        people["applicant"], _person = f.make_registered(old, temporary=True, name="李明")
        app_id = f.make_application(people["applicant"], "change", enterprise_id=new)
        f.move(app_id, "submit", people["applicant"])
        # Applications past, or near, their time limit for the overdue page.
        staff = f.Staff()
        staff._cache.update({("Province", "11"): people["province"], ("Ministry",): people["ministry"]})
        late = {}
        for province, actions, days in (("11", ("submit",), -9), ("11", ("submit", "confirm"), -4),
                                        ("31", ("submit", "confirm"), -2), ("11", ("submit", "confirm", "pass"), -1),
                                        ("11", ("submit", "confirm"), 0), ("11", ("submit",), 1)):
            late_id = f.initial_application(staff, province, *actions)[2]
            db.session.query(Application).filter_by(id=late_id).update(
                {"stage_deadline": today() + timedelta(days=days)})
            late[late_id] = province
        db.session.commit()
        number = db.session.get(Application, app_id).number
        late_numbers = {db.session.get(Application, i).number: p for i, p in late.items()}
    os.makedirs(SHOTS, exist_ok=True)
    return {"id": app_id, "number": number, "late": late_numbers, **people}


def _page(browser, base, username, app):
    page = browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    sign_in(page, base, username, app)
    page.errors = errors
    return page


def test_the_objection_clock_end_to_end(app, live_server, browser, story):
    base, app_id = live_server, story["id"]
    # The new employer confirms the change from its queue.
    current = _page(browser, base, story["current"], app)
    current.goto(f"{base}/myqueue/list/")
    assert story["number"] in current.inner_text("body")
    current.goto(f"{base}/myqueue/show/{app_id}")
    with current.expect_navigation():
        current.click(f"a[href$='/transition/{app_id}/confirm']")
    current.check("#attested")
    with current.expect_navigation():
        current.click("#transition-form button[type=submit]")
    with app.app_context():
        assert db.session.get(Application, app_id).state == "release_pending"
    current.goto(f"{base}/applications/show/{app_id}")
    assert current.locator(f"a[href*='/transition/{app_id}/']").count() == 0  # nothing left for the new employer
    assert not current.errors, current.errors
    current.close()

    # The applicant sees the clock and reminds the previous employer.
    applicant = _page(browser, base, story["applicant"], app)
    applicant.goto(f"{base}/progress/?kind=temporary")
    clock = applicant.locator(f"#application-{app_id} .objection-clock")
    assert clock.is_visible()
    text = clock.inner_text()
    assert "北京原建设工程有限公司" in text and (today() + timedelta(days=7)).isoformat() in text and "7" in text
    with applicant.expect_navigation():
        applicant.click(f"#application-{app_id} .remind-form button")
    assert applicant.locator(".alert-success").count() == 1
    assert applicant.locator(f"#application-{app_id} .remind-form").count() == 0  # once per interval
    applicant.screenshot(path=f"{SHOTS}/objection-progress.png", full_page=True)
    assert not applicant.errors, applicant.errors

    # The previous employer finds it in its queue (with the reminder) and objects with a reason.
    previous = _page(browser, base, story["previous"], app)
    previous.goto(f"{base}/myqueue/list/")
    row = previous.locator("tr", has_text=story["number"])
    assert row.count() == 1 and row.locator(".employer-reminders").is_visible()
    previous.screenshot(path=f"{SHOTS}/objection-queue.png", full_page=True)
    previous.goto(f"{base}/myqueue/show/{app_id}")
    assert previous.locator(f"a[href$='/transition/{app_id}/release']").is_visible()
    assert previous.locator(".objection-clock").is_visible()
    with previous.expect_navigation():
        previous.click(f"a[href$='/transition/{app_id}/object']")
    assert previous.get_attribute("#opinion", "required") is not None
    previous.fill("#opinion", REASON)
    previous.screenshot(path=f"{SHOTS}/objection-form.png", full_page=True)
    with previous.expect_navigation():
        previous.click("#transition-form button[type=submit]")
    with app.app_context():
        item = db.session.get(Application, app_id)
        assert item.state == "province_review" and item.objection == REASON
    assert not previous.errors, previous.errors
    previous.close()

    # The province's page of the application shows the objection; the applicant's too.
    province = _page(browser, base, story["province"], app)
    province.goto(f"{base}/applications/show/{app_id}")
    alert = province.locator(".alert.objection")
    assert alert.is_visible() and REASON in alert.inner_text() and "北京原建设工程有限公司" in alert.inner_text()
    province.screenshot(path=f"{SHOTS}/objection-province.png", full_page=True)
    assert not province.errors, province.errors
    province.close()
    applicant.goto(f"{base}/progress/?kind=temporary")
    assert REASON in applicant.locator(f"#application-{app_id} .objection").inner_text()
    assert applicant.locator(f"#application-{app_id} .objection-clock").count() == 0
    applicant.screenshot(path=f"{SHOTS}/objection-applicant-after.png", full_page=True)
    applicant.close()


def test_the_overdue_page(app, live_server, browser, story):
    base = live_server
    beijing = [n for n, p in story["late"].items() if p == "11"]
    province = _page(browser, base, story["province"], app)
    province.goto(f"{base}/")  # through the menu: 业务办理 → 超期督办
    province.click("li.dropdown:has(a[href='/overdue/']) > a.dropdown-toggle")
    with province.expect_navigation():
        province.click("a[href='/overdue/']")
    rows = province.locator(".overdue-table tbody tr")
    shown = [rows.nth(i).locator("td").first.inner_text().strip() for i in range(rows.count())]
    assert len(shown) == 3 and set(shown) <= set(beijing)  # its own province's, past the limit
    province.screenshot(path=f"{SHOTS}/overdue-province.png", full_page=True)
    with province.expect_navigation():
        province.click(".overdue-table tbody tr:first-child td a")
    assert "/applications/show/" in province.url
    assert not province.errors, province.errors
    province.close()

    ministry = _page(browser, base, story["ministry"], app)
    ministry.goto(f"{base}/overdue/")
    assert ministry.locator(".overdue-table tbody tr").count() == 4
    ministry.screenshot(path=f"{SHOTS}/overdue-ministry.png", full_page=True)
    ministry.goto(f"{base}/overdue/?tab=due")
    assert ministry.locator(".overdue-table tbody tr").count() >= 1
    ministry.screenshot(path=f"{SHOTS}/overdue-due.png", full_page=True)
    assert not ministry.errors, ministry.errors
    ministry.close()
