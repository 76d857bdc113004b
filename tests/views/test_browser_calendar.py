"""节假日与调休 in a real browser, in Chinese: the administrator's home page flags 2027, the calendar fills 2026
from chinese-calendar, a bad CSV file is refused with its rows listed, a good one clears the flag. Screenshots
of the pages go to /tmp/shots/calendar-*.png for people to look at."""
import os
from datetime import datetime

import pytest
from sqlalchemy import delete, select, true

import ground.clock
from app.services import workdays
from ground.extensions import db
from models import CalendarDay
from tests import factories as f
from tests.views.browser import browser_fixture, live_server_fixture, sign_in  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots"


@pytest.fixture
def fresh_calendar(app):
    with app.app_context():
        before = set(db.session.scalars(select(CalendarDay.id)))
    yield
    with app.app_context():
        db.session.execute(delete(CalendarDay).where(CalendarDay.id.not_in(before) if before else true()))
        db.session.commit()
        workdays.clear_cache()


def test_the_administrator_keeps_the_calendar(app, live_server, browser, fresh_calendar, monkeypatch, tmp_path):
    if workdays.library_knows(2027):
        pytest.skip("chinese-calendar knows 2027 now")
    monkeypatch.setattr(ground.clock, "now_utc", lambda: datetime(2026, 12, 1, 2, 0))
    os.makedirs(SHOTS, exist_ok=True)
    with app.app_context():
        admin = f.make_user("Admin")
    page = browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 900})
    sign_in(page, live_server, admin, app)
    page.goto(f"{live_server}/lang/zh")
    page.goto(f"{live_server}/")
    flag = page.locator(".calendar-gap[data-year='2027']")
    assert flag.count() == 1
    page.screenshot(path=f"{SHOTS}/calendar-home-flag.png")

    flag.locator("a.btn-default").click()
    page.wait_for_url("**/calendardays/list/**")
    page.select_option("form.calendar-fill select", "2026")
    with page.expect_navigation():
        page.click("form.calendar-fill button[type=submit]")
    assert page.locator(".alert-success").count() >= 1
    assert page.locator("table.table-hover tbody tr, table.table tr").count() > 20
    page.screenshot(path=f"{SHOTS}/calendar-list.png", full_page=True)

    bad = tmp_path / "bad.csv"
    bad.write_text("date,type,name\n2027-10-01,休,国庆节\n2027-10-06,班,国庆节\n2027-13-01,休,x\n", encoding="utf-8")
    page.goto(f"{live_server}/calendardays/upload")
    page.set_input_files("input[type=file]", str(bad))
    with page.expect_navigation():
        page.click("form[enctype] button[type=submit]")
    assert page.locator(".calendar-problems tr").count() == 3  # header + two bad rows
    page.screenshot(path=f"{SHOTS}/calendar-import-refused.png", full_page=True)

    good = tmp_path / "good.csv"
    good.write_bytes("\ufeffdate,type,name\n2027-01-01,休,元旦\n2027-10-01,休,国庆节\n".encode())
    page.set_input_files("input[type=file]", str(good))
    with page.expect_navigation():
        page.click("form[enctype] button[type=submit]")
    assert "_day=2027" in page.url and page.locator(".alert-success").count() >= 1
    page.screenshot(path=f"{SHOTS}/calendar-imported.png", full_page=True)
    page.goto(f"{live_server}/")
    assert page.locator(".calendar-gap").count() == 0

    # The form refuses a make-up working day on a Wednesday, under the field.
    page.goto(f"{live_server}/calendardays/add")
    page.click("#day")
    page.keyboard.type("2027-03-03")
    page.click("#name")  # the date picker keeps a typed date (page.fill's would be dropped on blur)
    page.keyboard.type("调休")
    page.evaluate("() => { const s = document.querySelector('#is_workday'); s.value = 'True';"
                  " s.dispatchEvent(new Event('change')); }")  # Select2 hides the select itself
    with page.expect_navigation():
        page.click("#model_form button[type=submit]")
    assert "星期三" in page.content() or "Wednesday" in page.content()
    page.screenshot(path=f"{SHOTS}/calendar-add-refused.png", full_page=True)
