"""A real browser (headless Chromium, 1024×768, in Chinese, the default language) walks the personal edition
from the login page: a person on the qualification roster opens an account in four steps (SMS code, photo with
its preview and the scans, profile, online real-name verification through the provider simulator), signs out,
signs in again, finds 初始注册 in the menu, picks the employer from the keyword suggestions, signs the submission
with an SMS code and lands on the progress page. Every request stays on the server (nothing from a CDN).

Elements are found by name, id, value or href (translations of new pages may lag); only the final state
label is checked as Chinese text. Screenshots of the key pages are kept under tmp_path and in SHOTS.
"""
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from ground.clock import add_years, today
from ground.extensions import db
from models import Application, Person
from tests import factories as f
from tests.views.browser import browser_fixture, live_server_fixture, sign_in, sign_out, solve_captcha  # noqa: F401
from tests.views.test_personal_journey import PASSWORD, image, random_phone, sms_code

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/dev/shots")  # copies for a person to look at
NAME = "钱浏览"
EMPLOYER = "翠微浏览器工程建设集团有限公司"


class Shots:
    """Full-page screenshots saved under the test's tmp_path and copied to SHOTS."""

    def __init__(self, folder: Path):
        self.folder = folder

    def __call__(self, page, name):
        path = self.folder / f"signup-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        try:
            SHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, SHOTS / path.name)
        except OSError:  # the copy is a convenience; the test does not depend on it
            pass


def _upload(page, kind, path):
    """Choose the kind in the select, the file, press 上传 (the upload form's only submit button)."""
    page.select_option("#kind", kind)
    page.set_input_files("#file", str(path))
    with page.expect_navigation():
        page.click("form[enctype='multipart/form-data'] button[type=submit]")


def _flash_ok(page):
    assert page.locator(".alert-danger, .has-error").count() == 0, page.inner_text(".container")


def test_new_person_signs_up_verifies_and_applies_in_a_browser(app, live_server, browser, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_RESEND_SECONDS", 0)  # sign-up and submission send two codes at once
    with app.app_context():
        person_id = f.make_person(verified=False, materials=False, name=NAME)
        id_number = db.session.get(Person, person_id).id_number
        enterprise_id = f.make_enterprise("11", name=EMPLOYER)
        label = f"{EMPLOYER} [{db.session.get(f.Enterprise, enterprise_id).credit_code}]"
    phone = random_phone()
    files = {}
    for kind, data, suffix in (("photo", image(), "jpg"), ("id_front", image((800, 500), face=False), "jpg"),
                               ("id_back", image((800, 500), face=False), "jpg"),
                               ("id_handheld", image((800, 500), face=False), "jpg"),
                               ("signature", image((600, 200), fmt="PNG", face=False), "png")):
        files[kind] = tmp_path / f"{kind}.{suffix}"
        files[kind].write_bytes(data)
    shot = Shots(tmp_path)

    # A browser set up in China; the interface is Chinese by default (the app ignores Accept-Language).
    context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="zh-CN",
                                  timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    foreign = []
    context.on("request", lambda r: None if r.url.startswith(live_server) else foreign.append(r.url))
    page = context.new_page()

    # --- Step 1: from the login page to an account ------------------------------------------------
    page.goto(f"{live_server}/login/")
    assert "中文" in page.inner_text(".navbar-right .dropdown-toggle:has(.fa-language)")  # nobody chose English
    page.click("a[href='/signup/']")
    page.wait_for_url(f"{live_server}/signup/")
    page.fill("#name", NAME)
    page.fill("#id_number", id_number)
    page.fill("#phone", phone)
    solve_captcha(page, app)
    shot(page, "1-step1")
    with page.expect_navigation():  # the page comes back with the flash and what was typed
        page.click("button[name=action][value=send_sms]")
    _flash_ok(page)
    assert page.input_value("#id_number") == id_number and page.input_value("#phone") == phone  # kept
    page.fill("#sms_code", sms_code(app, phone))
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("button[name=action][value=next]")
    page.wait_for_url(f"{live_server}/me/materials")

    # --- Step 2: the photo (with its preview), the ID scans and the signature ---------------------
    _upload(page, "photo", files["photo"])
    page.wait_for_url(f"{live_server}/me/materials/photo")
    loaded = page.wait_for_function(
        "() => { const img = document.querySelector('img.photo-preview');"
        " return img && img.complete && img.naturalWidth && [img.naturalWidth, img.naturalHeight]; }")
    assert loaded.json_value() == [295, 413]  # the 1-inch crop is shown before it is kept
    shot(page, "2-photo-preview")
    page.click("button[name=decision][value=keep]")
    page.wait_for_url(f"{live_server}/me/materials?after=photo")
    for kind in ("id_front", "id_back", "id_handheld", "signature"):
        assert page.input_value("#kind") == kind  # the next missing material is offered
        _upload(page, kind, files[kind])
        assert page.url == f"{live_server}/me/materials?after={kind}", (kind, page.url)
        _flash_ok(page)
    with app.app_context():
        person = db.session.get(Person, person_id)
        assert all(person.latest_attachment(k) is not None
                   for k in ("photo", "id_front", "id_back", "id_handheld", "signature"))
    assert page.locator("img.material-thumb").count() == 5

    # --- Step 3: the profile ----------------------------------------------------------------------
    page.click("a.btn-success[href='/me/profile']")  # 下一步 appears once the materials are complete
    page.wait_for_url(f"{live_server}/me/profile")
    page.select_option("#ethnicity", "01")
    page.fill("#email", "qian@example.cn")
    page.select_option("#education", "bachelor")
    page.select_option("#degree", "bachelor")
    page.fill("#school", "同济大学")
    page.fill("#graduation_date", "2008-07-01")
    page.fill("#major", "土木工程")
    page.click("form[action='/me/profile'] button[type=submit]")
    page.wait_for_url(f"{live_server}/me/verify")  # the next step

    # --- Step 4: online verification through the simulator ----------------------------------------
    page.click("form[action='/me/verify/online'] button[type=submit]")
    page.wait_for_url(f"{live_server}/me/verify/online/*")
    assert page.locator(".qr-box svg").is_visible()
    shot(page, "3-verify-qr")
    with context.expect_page() as opened:
        page.click("a[href*='/realname/simulator/']")  # "no phone at hand? open it here" (a new tab)
    phone_page = opened.value
    phone_page.wait_for_load_state()
    phone_page.click("button.ok")  # authorise
    phone_page.wait_for_load_state()
    assert "✔" in phone_page.inner_text("h2")
    phone_page.close()
    page.wait_for_url(f"{live_server}/me/verify", timeout=10_000)  # static/js/realname.js polls every 3 s
    assert page.locator(".alert-success").count() == 1
    with app.app_context():
        assert db.session.get(Person, person_id).is_verified

    # --- Sign out (user menu) and in again with the ID number -------------------------------------
    sign_out(page)
    assert page.locator(".navbar-right a[href='/login/']").count() == 1
    sign_in(page, live_server, id_number, app, password=PASSWORD)
    assert "/login" not in page.url
    assert NAME in page.inner_text(".navbar-right")

    # --- 注册申报 → 一级建造师 → 初始注册 through the menus, as in the user manual ---------------------
    page.click(".navbar-nav > li.dropdown:has(a[href='/apply/?kind=regular']) > a.dropdown-toggle")
    with page.expect_navigation():
        page.click(".navbar-nav .dropdown-menu a[href='/apply/?kind=regular']")
    page.click(".side-menu a[href='/apply/initial']")
    page.wait_for_url(f"{live_server}/apply/initial")
    assert page.locator(".eligibility-ok").count() == 1, page.inner_text(".panel")
    assert page.locator("#enterprise-options option").count() == 0  # filled only as the person types
    page.locator("#enterprise").press_sequentially(EMPLOYER[:2])  # two characters: the suggestions arrive
    option = page.locator(f"#enterprise-options option[value='{label}']")
    option.wait_for(state="attached")
    # A datalist's pop-up is drawn by the browser outside the page (headless Chromium shows none):
    # choosing the suggestion puts its value in the field, as here.
    page.fill("#enterprise", option.get_attribute("value"))
    page.fill("#contract_start", (today() - timedelta(days=30)).isoformat())
    page.fill("#contract_end", add_years(today(), 3).isoformat())
    page.check("input[name=specialties][value=building]")
    page.check("#agree_notice")
    page.check("#agree_commitment")
    with page.expect_navigation():  # the page comes back with the flash and what was typed
        page.click("button[name=action][value=send_sms]")
    assert page.locator(".has-error").count() == 0, page.inner_text("form[enctype]")
    assert page.input_value("#enterprise") == label and page.is_checked("#agree_commitment")  # kept
    page.fill("#sms_code", sms_code(app, phone))
    shot(page, "4-apply-form")
    page.click("button[name=action][value=submit]")
    page.wait_for_url(f"{live_server}/progress/*")

    # --- 进度查询 ------------------------------------------------------------------------------------
    with app.app_context():
        application = db.session.query(Application).filter_by(person_id=person_id).one()
        number, application_id = application.number, application.id
        assert application.state == "enterprise_review" and application.enterprise_id == enterprise_id
    panel = page.locator(f"#application-{application_id}")
    assert number in panel.locator(".panel-heading").inner_text()
    assert panel.locator(".label-state").inner_text().strip() == "待企业确认"
    shot(page, "5-progress")

    assert foreign == [], f"requests left the server: {foreign}"
    context.close()
