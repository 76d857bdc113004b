"""A real browser through a refusal on a penalty record: Beijing's provincial officer records the revocation of a
person's certificate (form, decision document upload, confirmation); the record shows with its document; the person
finds the message, the record on 个人信息, and the re-registration form closed with the reason and the day from which
they may apply again. Screenshots go to /tmp/shots/penalty-*.png."""
import os

import pytest

from ground.clock import add_years, today
from ground.extensions import db
from models import PenaltyRecord, Person
from tests import factories as f
from tests.views.browser import browser_fixture, live_server_fixture, sign_in  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots"
DECISION = "京建罚〔2026〕88号"


@pytest.fixture(scope="module")
def story(app):
    with app.app_context():
        enterprise = f.make_enterprise("11", name="北京城市建设工程有限公司")
        applicant, person_id = f.make_registered(enterprise, status="cancelled", name="张伟")
        people = {"applicant": applicant, "person_id": person_id,
                  "id_number": db.session.get(Person, person_id).id_number,
                  "province": f.make_user("Province", province_code="11")}
    os.makedirs(SHOTS, exist_ok=True)
    return people


def _page(browser, base, username, app):
    page = browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    sign_in(page, base, username, app)
    page.errors = errors
    return page


def test_a_province_records_a_revocation_and_the_re_registration_is_refused(app, live_server, browser, story):
    base, again = live_server, add_years(today(), 2).isoformat()
    officer = _page(browser, base, story["province"], app)
    officer.goto(f"{base}/penalties/record")
    assert "录入不良行为记录" in officer.inner_text("body")
    officer.fill("#id_number", story["id_number"])
    officer.select_option("#kind", "revoked")
    officer.select_option("#ground_code", "fraud_registration")
    officer.fill("#decision_number", DECISION)
    officer.fill("#decided_on", today().isoformat())
    officer.set_input_files("#document", files=[{"name": "处罚决定书.pdf", "mimeType": "application/pdf",
                                                 "buffer": b"%PDF-1.4\n% decision\n%%EOF\n"}])
    officer.screenshot(path=f"{SHOTS}/penalty-1-form.png", full_page=True)
    # Without the confirmation the form comes back and nothing is recorded.
    with officer.expect_navigation():
        officer.click("#penalty-form button[type=submit]")
    assert "请勾选确认后录入" in officer.inner_text("body")
    with app.app_context():
        assert db.session.query(PenaltyRecord).filter_by(person_id=story["person_id"]).count() == 0
    officer.fill("#decision_number", DECISION)
    officer.fill("#decided_on", today().isoformat())
    officer.set_input_files("#document", files=[{"name": "处罚决定书.pdf", "mimeType": "application/pdf",
                                                 "buffer": b"%PDF-1.4\n% decision\n%%EOF\n"}])
    officer.check("#confirm")
    with officer.expect_navigation():
        officer.click("#penalty-form button[type=submit]")
    shown = officer.inner_text("body")
    assert "/penaltyrecords/show/" in officer.url and DECISION in shown and "吊销注册证书" in shown
    assert "处罚决定书.pdf" in shown and "北京市住房和城乡建设主管部门" in shown
    officer.screenshot(path=f"{SHOTS}/penalty-2-recorded.png", full_page=True)
    assert officer.errors == []

    person = _page(browser, base, story["applicant"], app)
    person.goto(f"{base}/messages/")
    assert DECISION in person.inner_text("body")
    person.goto(f"{base}/me/")
    body = person.inner_text("body")
    assert "目前不予注册" in body and DECISION in body and again in body
    person.screenshot(path=f"{SHOTS}/penalty-3-account.png", full_page=True)
    person.goto(f"{base}/apply/re_registration")
    body = person.inner_text("body")
    assert f"自{again}起方可重新申请注册" in body and DECISION in body and "注册证书已于" in body
    person.screenshot(path=f"{SHOTS}/penalty-4-re-registration.png", full_page=True)
    assert person.errors == []
