"""The image captcha in a real browser (headless Chromium, 1024×768): "换一张" swaps the image and the hidden
nonce in place through GET /captcha/new, keeps what was typed, clears and focuses the captcha field, and the
new challenge signs in. A screenshot of the login page is kept under tmp_path."""
import pytest

from app.services import captcha
from tests import factories as f
from tests.views.browser import browser_fixture, live_server_fixture, solve_captcha  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def _state(page):
    return (page.get_attribute("input[name=captcha_nonce]", "value"), page.get_attribute(".captcha-image", "src"))


def _swap(page, click):
    """Click (the link or the image) and wait for GET /captcha/new; returns the new (nonce, src)."""
    with page.expect_response(lambda r: r.url.endswith("/captcha/new")) as new:
        page.click(click)
    data = new.value.json()
    page.wait_for_function("n => document.querySelector('input[name=captcha_nonce]').value === n", arg=data["nonce"])
    page.wait_for_function("() => { const i = document.querySelector('.captcha-image');"
                           " return i.complete && i.naturalWidth > 0; }")
    return _state(page), data


def test_another_one_swaps_the_captcha_in_place(app, live_server, browser, tmp_path):
    with app.app_context():
        username = f.make_user("Admin")
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    page.goto(f"{live_server}/login/")
    link = page.locator(".captcha-refresh")
    assert link.is_visible() and "换一张" in link.inner_text() and link.locator(".fa-refresh").count() == 1
    image = page.locator(".captcha-image")
    box = image.bounding_box()
    assert (box["width"], box["height"]) == (captcha.WIDTH, captcha.HEIGHT)
    assert page.evaluate("() => document.querySelector('.captcha-image').naturalWidth") == captcha.WIDTH
    # the field beside the image, the link under it, all inside the login panel
    field, link_box = page.locator("#captcha").bounding_box(), link.bounding_box()
    panel = page.locator(".panel-body:has(.captcha-row)").bounding_box()
    assert field["x"] + field["width"] < box["x"] and box["y"] < field["y"] + field["height"] / 2 < box["y"] + box["height"]
    assert link_box["y"] >= box["y"] + box["height"] - 1
    assert panel["x"] < field["x"] and max(box["x"] + box["width"], link_box["x"] + link_box["width"]) <= panel["x"] + panel["width"]
    page.screenshot(path=str(tmp_path / "login-captcha.png"))

    page.fill("#username", username)
    page.fill("#password", f.PASSWORD)
    page.fill("#captcha", "XXXX")
    old = _state(page)
    (nonce, src), data = _swap(page, ".captcha-refresh")
    assert nonce != old[0] and src != old[1] and src == data["image"] and nonce == data["nonce"]
    assert page.url == f"{live_server}/login/"  # no page load
    assert page.input_value("#username") == username and page.input_value("#password") == f.PASSWORD
    assert page.input_value("#captcha") == ""
    assert page.evaluate("() => document.activeElement.id") == "captcha"
    with app.app_context():  # the old challenge is not consumed by the swap; it just waits to expire
        assert captcha.render_png(old[0]) is not None

    (second, _), _ = _swap(page, ".captcha-image")  # a click on the image does the same
    assert second not in (nonce, old[0])

    solve_captcha(page, app)
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert "/login/" not in page.url
    context.close()


def test_another_one_without_javascript_reloads_the_page(app, live_server, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server}/login/?next=/registry/")
    old = page.get_attribute("input[name=captcha_nonce]", "value")
    assert page.get_attribute(".captcha-refresh", "href") == "/login/?next=/registry/"
    with page.expect_navigation():
        page.click(".captcha-refresh")
    assert page.url.endswith("/login/?next=/registry/")
    assert page.get_attribute("input[name=captcha_nonce]", "value") != old
    context.close()
