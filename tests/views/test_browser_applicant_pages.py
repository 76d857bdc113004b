"""An applicant in Chromium, in Chinese: 修改 on a returned application opens 注册申报's form of its type with
the opinion above it; 进度查询 names the enterprise that holds the application; a business type the person
cannot use shows its form closed, with the reasons above it."""
import pytest

from tests import factories as f
from tests.views.browser import browser_fixture, live_server_fixture, sign_in  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def test_edit_progress_and_closed_forms(app, live_server, browser, tmp_path):
    with app.app_context():
        staff = f.Staff()
        enterprise = f.make_enterprise("11", name="浏览器修改测试建设有限公司")
        username, _person = f.make_applicant(name="韩修改")
        app_id = f.make_application(username, "initial", enterprise_id=enterprise, **f.contract())
        staff.take(app_id, username, "submit")
        f.move(app_id, "return", staff.enterprise(enterprise), opinion="请补充劳动合同扫描件")

    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    sign_in(page, live_server, username, app)
    page.goto(f"{live_server}/applications/show/{app_id}")
    with page.expect_navigation():
        page.click(f"a[href='/applications/edit/{app_id}']")
    page.wait_for_url(f"{live_server}/apply/initial")
    assert page.locator("select[name=business_type]").count() == 0
    assert page.locator("#agree_commitment").count() == 1 and page.locator("#agree_notice").count() == 1
    opinion = page.inner_text(".returned-opinion")
    assert "请补充劳动合同扫描件" in opinion and "浏览器修改测试建设有限公司" in opinion
    page.screenshot(path=str(tmp_path / "amend.png"), full_page=True)

    # A returned application is open: another business type's form is closed, with the reason above it.
    page.goto(f"{live_server}/apply/cancellation")
    assert page.get_attribute("fieldset.form-blocked", "disabled") is not None
    assert page.is_disabled("button[name=action][value=submit]") and page.is_disabled("#reason")
    assert page.locator(".panel-warning li").count() >= 1
    page.screenshot(path=str(tmp_path / "closed.png"), full_page=True)

    # Resubmitted, it waits for the enterprise: 进度查询 names it.
    with app.app_context():
        f.move(app_id, "submit", username)
    page.goto(f"{live_server}/progress/")
    current = page.inner_text(f"#application-{app_id}")
    assert "浏览器修改测试建设有限公司" in current and "企业，" not in current, current
    context.close()
