"""At 1024×768 the menu bar stays on one line for every role, in English too (longer words), whatever the
signed-in name."""
import pytest

from ground.extensions import db
from models import AppUser
from tests import factories as f
from tests.views.browser import browser_fixture, live_server_fixture, solve_captcha  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def accounts(app):
    with app.app_context():
        enterprise = f.make_enterprise("11")
        users = [f.make_user("Admin"), f.make_user("Ministry"), f.make_user("Province", province_code="11"),
                 f.make_user("Enterprise", enterprise_id=enterprise), f.make_applicant()[0]]
        for username in users:
            user = db.session.query(AppUser).filter_by(username=username).one()
            user.first_name, user.last_name = "Maximiliana-Konstantina", "Featherstonehaugh-Wolfeschlegel"
        db.session.commit()
        return users


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_menu_bar_is_one_line_at_1024(app, live_server, browser, accounts, lang):
    tall = {}
    for username in accounts:
        context = browser.new_context(viewport={"width": 1024, "height": 768})
        page = context.new_page()
        page.goto(f"{live_server}/lang/{lang}?next=/login/")
        page.fill("#username", username)
        page.fill("#password", f.PASSWORD)
        solve_captcha(page, app)
        with page.expect_navigation():
            page.click("form button[type=submit]")
        height = page.evaluate("document.querySelector('.navbar').getBoundingClientRect().height")
        if height > 60:
            tall[username] = height
            page.screenshot(path=f"/tmp/navbar-{lang}-{username}.png")
        context.close()
    assert not tall, tall
