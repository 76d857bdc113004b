"""消息中心 in a real browser at 1024×768: an applicant whose application the employer returned sees the envelope's
count, opens the message centre from the navbar, clicks the message and lands on its progress entry, and the
count drops; the employer sees the message of the application that arrived and opens the application.
Screenshots go to /tmp/shots/messages-*.png for people to look at."""
import os

import pytest

from ground.extensions import db
from models import Application, Notification
from tests import factories as f
from tests.views.browser import browser_fixture, live_server_fixture, sign_in  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots"
OPINION = "请补交劳动合同扫描件"


@pytest.fixture(scope="module")
def story(app):
    """An employer's officer, an applicant whose application it returned, and an older message already read."""
    from app import notifications

    with app.app_context():
        enterprise = f.make_enterprise("11")
        officer = f.make_user("Enterprise", enterprise_id=enterprise)
        applicant, _person = f.make_applicant()
        app_id = f.make_application(applicant, "initial", enterprise_id=enterprise)
        f.move(app_id, "submit", applicant)  # the officer's message: confirm it
        f.move(app_id, "return", officer, opinion=OPINION)  # the applicant's message: amend it
        notifications.send("application_approved", f"browser-old:{app_id}", [f.user(applicant)],
                           {"number": "SQ-OLD", "type": "initial"}, None)
        notifications.send("stage_due", f"browser-due:{app_id}", [f.user(applicant)],
                           {"number": "SQ-DUE", "type": "initial", "state": "returned", "deadline": "2030-01-01"})
        db.session.commit()
        old = db.session.query(Notification.id).filter_by(event=f"browser-old:{app_id}").scalar()
        notifications.mark_read(f.user(applicant), [old])
        return {"officer": officer, "applicant": applicant, "app_id": app_id,
                "number": db.session.get(Application, app_id).number}


def _badge(page) -> str:
    return page.locator("#messages-badge").inner_text().strip()


def _one_line_navbar(page):
    assert page.evaluate("document.querySelector('.navbar').getBoundingClientRect().height") <= 60


def test_the_applicant_follows_a_message_to_the_progress_page(app, live_server, browser, story):
    os.makedirs(SHOTS, exist_ok=True)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1024, "height": 768})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    sign_in(page, live_server, story["applicant"], app)
    assert _badge(page) == "2"  # the return, and the reminder without a subject
    _one_line_navbar(page)
    with page.expect_navigation():
        page.click("#messages-link")
    assert page.url.endswith("/messages/")
    assert page.locator(".side-menu .list-group-item.active").get_attribute("href") == "/messages/"
    assert page.locator("#messages-menu-badge").inner_text().strip() == "2"
    rows = page.locator("tr.message")
    assert rows.count() == 3 and page.locator("tr.message-unread").count() == 2
    newest = rows.nth(0)
    returned = rows.filter(has_text=OPINION)
    assert returned.count() == 1 and story["number"] in returned.inner_text()
    assert newest.locator(".message-open").count() == 0  # the reminder has nothing to open
    page.screenshot(path=f"{SHOTS}/messages-applicant.png", full_page=True)

    with page.expect_navigation():
        returned.locator(".message-open").click()
    assert page.url.endswith(f"/progress/?kind=regular#application-{story['app_id']}")
    assert page.locator(f"#application-{story['app_id']}").is_visible()
    assert _badge(page) == "1"
    page.screenshot(path=f"{SHOTS}/messages-progress.png")

    page.goto(f"{live_server}/messages/?show=unread")
    assert page.locator("tr.message").count() == 1
    with page.expect_navigation():
        page.click(".messages-read-all button")
    assert _badge(page) == "" and page.locator("tr.message-unread").count() == 0
    assert page.locator(".messages-read-all").count() == 0
    page.screenshot(path=f"{SHOTS}/messages-all-read.png")
    assert not errors, errors
    context.close()


def test_the_employer_sees_the_arrival_and_opens_the_application(app, live_server, browser, story):
    os.makedirs(SHOTS, exist_ok=True)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1024, "height": 768})
    page = context.new_page()
    sign_in(page, live_server, story["officer"], app)
    assert _badge(page) == "1"
    _one_line_navbar(page)
    with page.expect_navigation():
        page.click("#messages-link")
    assert page.locator(".side-menu").count() == 0  # the panel's layout
    row = page.locator("tr.message-unread")
    assert row.count() == 1 and story["number"] in row.inner_text()
    page.screenshot(path=f"{SHOTS}/messages-enterprise.png", full_page=True)
    with page.expect_navigation():
        row.locator(".message-open").click()
    assert page.url.endswith(f"/applications/show/{story['app_id']}")
    assert _badge(page) == ""
    context.close()
