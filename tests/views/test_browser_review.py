"""A real browser, in Chinese: a provincial reviewer passes an application, a ministry officer approves it,
gathers it into an announcement batch and publishes it; the certificate PDF's QR code, opened by a
phone-sized browser, shows the certificate verified. Screenshots go to the test's tmp_path."""
import subprocess

import pytest
from PIL import Image

from ground.extensions import db
from models import AnnouncementBatch, Application, Certificate, Person
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


def _qr_url(pdf: bytes, folder) -> str:
    import zxingcpp

    (folder / "certificate.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(folder / "certificate.pdf"),
                    str(folder / "certificate")], check=True)
    found = zxingcpp.read_barcodes(Image.open(folder / "certificate.png"))
    assert found, "no QR code on the certificate"
    return found[0].text


def test_review_approve_publish_and_verify_on_a_phone(app, live_server, browser, tmp_path):
    with app.app_context():
        staff = f.Staff()
        enterprise = f.make_enterprise("11", name="浏览器审查建设集团有限公司")
        _, person_id = f.make_applicant(name="周审批")
        username = db.session.get(Person, person_id).id_number
        app_id = f.make_application(username, "initial", enterprise_id=enterprise)
        staff.take(app_id, username, "submit", "confirm")
        number = db.session.get(Application, app_id).number
        reviewer, ministry = staff.province("11"), staff.ministry

    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    foreign = []
    page.on("request", lambda r: None if r.url.startswith(live_server) else foreign.append(r.url))

    sign_in(page, live_server, reviewer, app)
    # The queue filtered to this application (the worker's shared database holds other tests' applications).
    page.goto(f"{live_server}/myqueue/list/?_flt_0_number={number}")
    assert "周审批" in page.content() and "剩余" in page.content()  # the queue shows the working days left
    page.screenshot(path=str(tmp_path / "province-queue.png"), full_page=True)
    _decide(page, live_server, app_id, "pass", "材料齐全，符合初始注册条件。")
    assert "待部级审批" in page.content()
    page.screenshot(path=str(tmp_path / "province-passed.png"), full_page=True)
    sign_out(page)

    sign_in(page, live_server, ministry, app)
    _decide(page, live_server, app_id, "approve", "同意注册。")
    assert "已审批待公告" in page.content()
    # A new batch from the list's labelled add button; saving lands on the new batch with the next step offered.
    page.goto(f"{live_server}/announcements/list/")
    with page.expect_navigation():
        page.click("a.list-add:has-text('新建公告批次')")
    page.fill("#title", "浏览器测试公告")
    with page.expect_navigation():
        page.click("#model_form button[type=submit]")
    with app.app_context():
        batch_id = db.session.query(AnnouncementBatch.id).filter_by(title="浏览器测试公告").scalar()
    assert page.url.endswith(f"/announcements/show/{batch_id}")
    assert "浏览器测试公告" in page.content() and "加入全部" in page.content()
    page.screenshot(path=str(tmp_path / "ministry-new-batch.png"), full_page=True)
    with page.expect_navigation():
        page.click("form[action*='/gather/'] button")
    assert "周审批" in page.content()
    with page.expect_navigation():
        page.click("a[href*='/announcements/publish/']")
    with page.expect_navigation():
        page.click("form button[type=submit].btn-primary")
    assert "年第" in page.content() and "批" in page.content()
    page.screenshot(path=str(tmp_path / "ministry-published.png"), full_page=True)
    # The batches list sorts by number and by state through its column headers.
    page.goto(f"{live_server}/announcements/list/")
    for column in ("number", "state_label"):
        with page.expect_navigation() as sorted_list:
            page.click(f"th a[href*='_oc_AnnouncementsView={column}']")
        # Other tests' batches (drafts without a number sort first) may fill the page: a sorted table answers.
        assert sorted_list.value.ok and page.locator("table tbody tr").count() > 0

    with app.app_context():
        certificate = db.session.query(Certificate).filter_by(person_id=person_id, status="valid").one()
        certificate_id, number = certificate.id, certificate.number
    pdf = page.request.get(f"{live_server}/certificates/pdf/{certificate_id}")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    url = _qr_url(pdf.body(), tmp_path)
    assert "/verify/" in url
    context.close()

    phone = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    phone_page = phone.new_page()
    phone_page.goto(url)
    content = phone_page.content()
    assert "有效" in content and "周审批" in content and number in content
    assert username not in content  # only the masked ID number
    phone_page.screenshot(path=str(tmp_path / "phone-verified.png"), full_page=True)
    phone.close()
    assert foreign == [], f"requests left the server: {foreign}"
