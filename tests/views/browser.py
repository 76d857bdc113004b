"""Shared set-up of the real-browser tests: a live server in a thread, headless Debian Chromium, the captcha.

A test module imports the fixture functions (`from tests.views.browser import browser_fixture, live_server_fixture`)
and asks for them by their fixture names, `browser` and `live_server`."""
import os
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module", name="live_server")
def live_server_fixture(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module", name="browser")
def browser_fixture():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed (scripts/test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def solve_captcha(page, app):
    """Type the captcha's answer, read through the test-only hook (off outside tests)."""
    from app.services import captcha

    nonce = page.get_attribute("input[name=captcha_nonce]", "value")
    with app.app_context():
        page.fill("#captcha", captcha.peek_answer(nonce))


def sign_in(page, base, username, app, password="Test@2026"):
    """The login page: user name, password and the captcha."""
    page.goto(f"{base}/login/")
    page.fill("#username", username)
    page.fill("#password", password)
    solve_captcha(page, app)
    with page.expect_navigation():
        page.click("form button[type=submit]")


def sign_out(page):
    """The user menu's sign-out button (a POST)."""
    page.click(".navbar-right a.dropdown-toggle:has(.fa-user)")
    with page.expect_navigation():
        page.click(".logout-form button")
