"""节假日与调休 as the administrator meets it (views/calendar.py): only Admin reaches the pages; the form keeps a
date once, refuses a make-up working day on a weekday, warns about a holiday on a weekend and moves the
deadlines at once; the CSV import (all or nothing, every bad row with its line); the fill from chinese-calendar;
the list's year filter; the home page's flag for a year without holiday data, gone once the year is imported."""
import io
import re
from datetime import date, datetime

import pytest
from sqlalchemy import delete, select, true

import ground.clock
from app import calendar
from app.services import workdays
from ground.extensions import db
from models import CalendarDay
from tests.calendar_fixtures import UNKNOWN, fresh_calendar, unknown_year  # noqa: F401 (fixtures)
from tests import factories as f
from tests.conftest import csrf_token, login



pytestmark = pytest.mark.usefixtures("fresh_calendar")


@pytest.fixture
def admin(app):
    with app.app_context():
        username = f.make_user("Admin")
    return login(app.test_client(), username)


def _rows(app, year):
    with app.app_context():
        return {r.day: (r.is_workday, r.name, r.source) for r in calendar.table_entries(year)}


def _form(client, url, **values):
    token = csrf_token(client, url)
    return client.post(url, data={"csrf_token": token, **values})


def _upload(client, data: bytes, filename="calendar.csv"):
    token = csrf_token(client, "/calendardays/upload")
    return client.post("/calendardays/upload", data={"csrf_token": token, "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def _freeze(monkeypatch, moment: datetime):
    """`today()` is that day (China time) for pages and rules alike."""
    monkeypatch.setattr(ground.clock, "now_utc", lambda: moment)


# --- who may enter -------------------------------------------------------------------------------------------
URLS = ["/calendardays/list/", "/calendardays/add", "/calendardays/upload", "/calendardays/sample"]


@pytest.mark.parametrize("role", ["Applicant", "Enterprise", "Province", "Ministry"])
def test_only_the_administrator_reaches_the_calendar(app, role):
    with app.app_context():
        if role == "Applicant":
            username, _person = f.make_applicant()
        elif role == "Enterprise":
            username = f.make_user(role, enterprise_id=f.make_enterprise("11"))
        elif role == "Province":
            username = f.make_user(role, province_code="11")
        else:
            username = f.make_user(role)
    client = login(app.test_client(), username)
    for url in URLS:
        assert client.get(url).status_code == 403, (role, url)
    token = csrf_token(client, "/")
    assert client.post("/calendardays/fill", data={"csrf_token": token, "year": "2026"}).status_code == 403
    assert client.post("/calendardays/upload", data={"csrf_token": token}).status_code == 403
    assert "/calendardays/" not in client.get("/").get_data(as_text=True)  # no menu entry, no flag


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for url in URLS:
        resp = client.get(url)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], url


def test_the_menu_and_the_list(app, admin):
    home = admin.get("/").get_data(as_text=True)
    assert 'href="/calendardays/list/"' in home  # under System
    page = admin.get("/calendardays/list/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Holidays and make-up days" in html and 'action="/calendardays/fill"' in html
    assert 'href="/calendardays/upload"' in html


# --- the form ------------------------------------------------------------------------------------------------
def test_admin_adds_a_holiday_and_the_deadline_moves_at_once(app, admin, unknown_year, monkeypatch):
    monkeypatch.setitem(app.config, "CALENDAR_CACHE_SECONDS", 3600)
    entered = datetime(2027, 3, 1, 2, 0)  # Monday 10:00 in China
    with app.app_context():
        assert workdays.stage_deadline("change", "province_review", entered) == date(2027, 3, 8)
    resp = _form(admin, "/calendardays/add", day="2027-03-03", is_workday="False", name="  测试假日 ")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    assert _rows(app, 2027) == {date(2027, 3, 3): (False, "测试假日", "admin")}
    with app.app_context():
        assert workdays.stage_deadline("change", "province_review", entered) == date(2027, 3, 9)
    shown = admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Wednesday" in shown and "Public holiday (no work)" in shown and "Entered by the administrator" in shown


def test_a_make_up_saturday_through_the_form(app, admin, unknown_year):
    resp = _form(admin, "/calendardays/add", day="2027-03-06", is_workday="True", name="调休")
    assert resp.status_code == 302
    with app.app_context():
        assert workdays.add_working_days(date(2027, 3, 5), 1) == date(2027, 3, 6)


def test_the_form_refuses_a_weekday_make_up_day_and_a_second_row(app, admin, unknown_year):
    resp = _form(admin, "/calendardays/add", day="2027-03-03", is_workday="True", name="x")
    assert resp.status_code == 200
    assert "must be a Saturday or Sunday" in resp.get_data(as_text=True)
    assert _rows(app, 2027) == {}
    assert _form(admin, "/calendardays/add", day="2027-03-04", is_workday="False", name="a").status_code == 302
    resp = _form(admin, "/calendardays/add", day="2027-03-04", is_workday="False", name="b")
    assert resp.status_code == 200 and "already in the calendar" in resp.get_data(as_text=True)
    resp = _form(admin, "/calendardays/add", day="2027-03-05", is_workday="maybe", name="c")
    assert resp.status_code == 200
    assert _rows(app, 2027) == {date(2027, 3, 4): (False, "a", "admin")}


def test_a_weekend_holiday_is_saved_with_a_warning(app, admin, unknown_year):
    resp = _form(admin, "/calendardays/add", day="2027-10-02", is_workday="False", name="国庆节")
    assert resp.status_code == 302
    page = admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert "alert-warning" in page and "changes no deadline" in page
    assert date(2027, 10, 2) in _rows(app, 2027)


def test_edit_and_delete(app, admin, unknown_year):
    with app.app_context():
        row = CalendarDay(day=date(2027, 10, 8), is_workday=False, name="国庆节", source="import")
        db.session.add(row)
        db.session.commit()
        pk = row.id
        workdays.clear_cache()
        assert not workdays.is_workday(date(2027, 10, 8))
    form = admin.get(f"/calendardays/edit/{pk}").get_data(as_text=True)
    assert 'value="2027-10-08"' in form
    # Editing the row itself is no duplicate; a Friday cannot become a make-up working day.
    resp = _form(admin, f"/calendardays/edit/{pk}", day="2027-10-08", is_workday="True", name="国庆节")
    assert resp.status_code == 200 and "Saturday or Sunday" in resp.get_data(as_text=True)
    resp = _form(admin, f"/calendardays/edit/{pk}", day="2027-10-09", is_workday="True", name="国庆节调休")
    assert resp.status_code == 302
    assert _rows(app, 2027) == {date(2027, 10, 9): (True, "国庆节调休", "admin")}
    with app.app_context():
        assert workdays.is_workday(date(2027, 10, 8)) and workdays.is_workday(date(2027, 10, 9))
    resp = admin.post(f"/calendardays/delete/{pk}", data={"csrf_token": csrf_token(admin, "/calendardays/list/")})
    assert resp.status_code == 302 and _rows(app, 2027) == {}
    with app.app_context():
        assert not workdays.is_workday(date(2027, 10, 9))  # a Saturday again


def test_the_list_filters_by_year(app, admin, unknown_year):
    with app.app_context():
        db.session.add_all([CalendarDay(day=date(2027, 1, 1), name="年份筛选甲"),
                            CalendarDay(day=date(2028, 1, 3), name="年份筛选乙")])
        db.session.commit()
    html = admin.get("/calendardays/list/").get_data(as_text=True)
    link = re.search(r'href="(/calendardays/list/\?_flt_\d_day=2027)"', html)
    assert link, "no link to 2027 in the year summary"
    listed = admin.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "年份筛选甲" in listed and "年份筛选乙" not in listed
    assert "年份筛选甲" in admin.get(f"{link.group(1).split('=')[0]}=2027-12-31").get_data(as_text=True)
    for odd in ("x", "²⁰²⁷", "99999", "0000", "２０２７"):
        resp = admin.get(f"{link.group(1).split('=')[0]}={odd}")
        assert resp.status_code == 200 and "年份筛选甲" not in resp.get_data(as_text=True)


# --- the import page -----------------------------------------------------------------------------------------
def test_import_page_good_file(app, admin, unknown_year):
    page = admin.get("/calendardays/upload")
    assert page.status_code == 200 and "date,type,name" in page.get_data(as_text=True)
    data = "\ufeffdate,type,name\r\n2027-10-01,休,国庆节\r\n2027-09-26,班,国庆节\r\n".encode()
    resp = _upload(admin, data)
    assert resp.status_code == 302 and "_day=2027" in resp.headers["Location"]
    listed = admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert "2 dates added" in listed and "国庆节" in listed
    assert _rows(app, 2027) == {date(2027, 10, 1): (False, "国庆节", "import"),
                                date(2027, 9, 26): (True, "国庆节", "import")}
    # Again, with one name changed: updated, not added twice.
    resp = _upload(admin, "2027-10-01,休,国庆\r\n2027-09-26,班,国庆节\r\n".encode())
    assert "0 dates added, 1 changed, 1 unchanged" in admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert len(_rows(app, 2027)) == 2


def test_import_page_bad_file_writes_nothing_and_lists_the_rows(app, admin, unknown_year):
    data = "date,type,name\n2027-10-01,休,国庆节\n2027-10-06,班,国庆节\n2027-10-01,休,again\n".encode()
    resp = _upload(admin, data)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "calendar-refused" in html and "nothing was imported" in html
    problems = re.findall(r"<tr><td>(\d+)</td><td><code>([^<]*)</code></td><td>([^<]*)</td></tr>", html)
    assert [(line, reason[:29]) for line, _row, reason in problems] == [
        ("3", "A make-up working day must be"), ("4", "2027-10-01 is also on line 2.")]
    assert _rows(app, 2027) == {}
    resp = _upload(admin, b"\x00\x01\x02")
    assert resp.status_code == 200 and "calendar-refused" in resp.get_data(as_text=True)
    resp = admin.post("/calendardays/upload", data={"csrf_token": csrf_token(admin, "/calendardays/upload")})
    assert resp.status_code == 200 and "Choose a file" in resp.get_data(as_text=True)


def test_the_sample_file_imports(app, admin):
    resp = admin.get("/calendardays/sample")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.data.startswith(b"\xef\xbb\xbf") and "国庆节".encode() in resp.data
    with app.app_context():
        assert calendar.parse_csv(resp.data)


# --- the fill from chinese-calendar ------------------------------------------------------------------------
def test_fill_a_year_from_chinese_calendar(app, admin, monkeypatch):
    _freeze(monkeypatch, datetime(2026, 12, 1, 2, 0))
    page = admin.get("/calendardays/list/").get_data(as_text=True)
    assert re.search(r'<option[^>]*value="2026"', page)
    assert not re.search(r'<option[^>]*value="2027"', page)  # the library does not know it
    resp = admin.post("/calendardays/fill", data={"csrf_token": csrf_token(admin, "/calendardays/list/"),
                                                   "year": "2026"})
    assert resp.status_code == 302
    rows = _rows(app, 2026)
    assert rows[date(2026, 10, 10)] == (True, "国庆节", "chinese-calendar")
    assert len(rows) >= 39
    for year in ("2027", "x", "²"):
        resp = admin.post("/calendardays/fill", data={"csrf_token": csrf_token(admin, "/calendardays/list/"),
                                                       "year": year})
        assert resp.status_code == 302
        assert "alert-danger" in admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert _rows(app, 2027) == {}


# --- the home page's flag ---------------------------------------------------------------------------------
def test_the_home_page_flags_a_year_without_holiday_data(app, admin, unknown_year, monkeypatch):
    with app.app_context():
        ministry_name, other_admin = f.make_user("Ministry"), f.make_user("Admin")
    ministry = login(app.test_client(), ministry_name)
    _freeze(monkeypatch, datetime(2026, 6, 1, 2, 0))
    assert "calendar-gap" not in admin.get("/").get_data(as_text=True)  # before November: this year only
    _freeze(monkeypatch, datetime(2026, 12, 1, 2, 0))
    html = admin.get("/").get_data(as_text=True)
    flags = re.findall(r'class="alert alert-warning calendar-gap" data-year="(\d+)"', html)
    assert flags == ["2027"]
    assert "The holiday arrangement for 2027 has not been entered yet" in html
    assert 'href="/calendardays/upload"' in html
    assert "calendar-gap" not in ministry.get("/").get_data(as_text=True)
    chinese = login(app.test_client(), other_admin, lang="zh")
    assert "calendar-gap" in chinese.get("/").get_data(as_text=True)
    _upload(admin, "date,type,name\n2027-01-01,休,元旦\n".encode())
    assert "calendar-gap" not in admin.get("/").get_data(as_text=True)
