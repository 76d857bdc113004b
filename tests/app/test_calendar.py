"""The working-day calendar kept as data (app/calendar.py, app/services/workdays.py): a row entered moves the
deadlines at once, a make-up Saturday counts as a working day, a year chinese-calendar does not know counts
Monday to Friday until its rows are entered; the CSV import (good, bad, BOM, duplicates, all or nothing,
audited), the fill from chinese-calendar, the example file in docs/ and the `flask calendar` commands."""
from datetime import date, datetime
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import delete, select, true

from app import calendar
from app.services import workdays
from app.services.workdays import add_working_days, is_workday, stage_deadline
from ground.extensions import db
from models import AuditLog, CalendarDay
from tests.calendar_fixtures import UNKNOWN, fresh_calendar, unknown_year  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[2]




def _add(day, is_workday=False, name="测试", source="admin"):
    db.session.add(CalendarDay(day=day, is_workday=is_workday, name=name, source=source))
    db.session.commit()
    calendar.changed()


def _csv(*lines, bom=False) -> bytes:
    data = "\r\n".join(lines).encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if bom else data


# --- deadlines -------------------------------------------------------------------------------------------
def test_an_entered_holiday_moves_a_stage_deadline(ctx, fresh_calendar, unknown_year):
    entered = datetime(2027, 3, 1, 2, 0)  # Monday 10:00 in China
    limit = 5
    assert current_app.config["STAGE_TIME_LIMITS"]["change"]["province_review"] == limit
    assert stage_deadline("change", "province_review", entered) == date(2027, 3, 8)  # Mon-Fri: next Monday
    _add(date(2027, 3, 3), name="测试假日")  # a Wednesday off
    assert not is_workday(date(2027, 3, 3))
    assert stage_deadline("change", "province_review", entered) == date(2027, 3, 9)


def test_the_table_comes_before_chinese_calendar(ctx, fresh_calendar):
    assert is_workday(date(2026, 11, 25))  # an ordinary Wednesday for the library
    assert add_working_days(date(2026, 11, 23), 5) == date(2026, 11, 30)
    _add(date(2026, 11, 25), name="测试")
    assert not is_workday(date(2026, 11, 25))
    assert add_working_days(date(2026, 11, 23), 5) == date(2026, 12, 1)


def test_a_make_up_saturday_counts_as_a_working_day(ctx, fresh_calendar, unknown_year):
    friday, saturday = date(2027, 3, 5), date(2027, 3, 6)
    assert add_working_days(friday, 1) == date(2027, 3, 8)
    _add(saturday, is_workday=True, name="调休")
    assert is_workday(saturday)
    assert add_working_days(friday, 1) == saturday
    assert workdays.working_days_between(friday, date(2027, 3, 8)) == 2


def test_an_unknown_year_counts_monday_to_friday_until_rows_are_entered(ctx, fresh_calendar, unknown_year):
    national_day = date(unknown_year, 10, 1)  # a Friday in 2027
    assert national_day.weekday() == 4 and is_workday(national_day)
    assert unknown_year in workdays.years_without_data(date(unknown_year - 1, 12, 1))
    calendar.import_csv(_csv("date,type,name", f"{unknown_year}-10-01,休,国庆节",
                             f"{unknown_year}-09-26,班,国庆节"), "2027.csv")
    assert not is_workday(national_day)
    assert is_workday(date(unknown_year, 9, 26))  # a Sunday worked
    assert unknown_year not in workdays.years_without_data(date(unknown_year - 1, 12, 1))


# --- the rules of a row ------------------------------------------------------------------------------------
def test_row_rules(ctx):
    assert calendar.entry_error(date(2027, 3, 3), True)  # a make-up working day on a Wednesday
    assert "Wednesday" in calendar.entry_error(date(2027, 3, 3), True)
    assert calendar.entry_error(date(2027, 3, 6), True) is None
    assert calendar.entry_error(date(2027, 3, 6), False) is None  # a holiday on a Saturday is allowed …
    assert "Saturday" in calendar.entry_warning(date(2027, 3, 6), False)  # … with a warning
    assert calendar.entry_warning(date(2027, 3, 3), False) is None


# --- the CSV import ----------------------------------------------------------------------------------------
def test_import_a_good_file(ctx, fresh_calendar, unknown_year):
    data = _csv("# 2027 test arrangement", "date,type,name", "", "2027-01-01,休,元旦", "2027/02/06 , 班 , 春节",
                "2027年2月8日,holiday,春节", "2027-02-09,假,", "2027-02-20,Workday,春节,")
    before = db.session.query(AuditLog).filter_by(object_type="Calendar").count()
    outcome = calendar.import_csv(data, "../etc/2027.csv")
    assert (outcome.created, outcome.updated, outcome.unchanged, outcome.years) == (5, 0, 0, [2027])
    rows = {r.day: r for r in calendar.table_entries(2027)}
    assert rows[date(2027, 2, 6)].is_workday and rows[date(2027, 2, 6)].name == "春节"
    assert not rows[date(2027, 2, 8)].is_workday and rows[date(2027, 2, 9)].name == ""
    assert {r.source for r in rows.values()} == {"import"}
    audit = db.session.query(AuditLog).filter_by(object_type="Calendar").order_by(AuditLog.id.desc()).first()
    assert db.session.query(AuditLog).filter_by(object_type="Calendar").count() == before + 1
    assert audit.action == "import" and audit.detail["filename"] == "2027.csv"
    assert (audit.detail["rows"], audit.detail["created"], audit.detail["refused"]) == (5, 5, 0)
    # Each row's own creation is in the trail too (the model is audited).
    assert db.session.query(AuditLog).filter_by(object_type="CalendarDay", action="create").count() >= 5


def test_import_with_a_byte_order_mark_and_without_a_header(ctx, fresh_calendar, unknown_year):
    outcome = calendar.import_csv(_csv("2027-10-01,休,国庆节", "2027-10-09,班,国庆节", bom=True), "bom.csv")
    assert outcome.created == 2
    assert [r.day for r in calendar.table_entries(2027)] == [date(2027, 10, 1), date(2027, 10, 9)]
    # With the BOM before a header row, too.
    assert calendar.parse_csv(_csv("date,type,name", "2027-10-02,休,国庆节", bom=True))[0].day == date(2027, 10, 2)
    # GB18030, as Chinese Excel saves "CSV".
    assert calendar.parse_csv("2027-10-03,休,国庆节".encode("gb18030"))[0].name == "国庆节"


def test_existing_dates_are_updated_not_added_twice(ctx, fresh_calendar, unknown_year):
    _add(date(2027, 5, 3), name="旧名", source="admin")
    _add(date(2027, 5, 4), name="劳动节", source="admin")
    outcome = calendar.import_csv(_csv("2027-05-03,休,劳动节", "2027-05-04,休,劳动节", "2027-05-05,休,劳动节"), "x.csv")
    assert (outcome.created, outcome.updated, outcome.unchanged) == (1, 1, 1)
    rows = {r.day: r for r in calendar.table_entries(2027)}
    assert len(rows) == 3
    assert (rows[date(2027, 5, 3)].name, rows[date(2027, 5, 3)].source) == ("劳动节", "import")
    assert rows[date(2027, 5, 4)].source == "admin"  # unchanged: its row as it was


def test_a_bad_row_refuses_the_whole_file_with_line_numbers(ctx, fresh_calendar, unknown_year):
    data = _csv("date,type,name", "2027-10-01,休,国庆节", "2027-13-01,休,x", "2027-10-04,放假啦,x",
                "2027-10-06,班,国庆节", "2027-10-01,休,again", "2027-10-07", "2027-10-08,休," + "长" * 61,
                "2027-10-09,班,国庆节,extra")
    with pytest.raises(calendar.CalendarRefused) as refused:
        calendar.import_csv(data, "bad.csv")
    problems = {p.line: p.reason for p in refused.value.problems}
    assert set(problems) == {3, 4, 5, 6, 7, 8, 9}, problems
    assert "not a date" in problems[3]
    assert "neither" in problems[4]
    assert "Saturday or Sunday" in problems[5] and "Wednesday" in problems[5]
    assert "also on line 2" in problems[6]
    assert "date and a type" in problems[7]
    assert "60 characters" in problems[8]
    assert "three columns" in problems[9]
    assert "7 rows have a problem" in str(refused.value.message)
    assert calendar.table_entries(2027) == []  # nothing written, not even the good first row
    audit = db.session.query(AuditLog).filter_by(object_type="Calendar").order_by(AuditLog.id.desc()).first()
    assert audit.detail["filename"] == "bad.csv" and audit.detail["refused"] == 7 and audit.detail["accepted"] == 0


@pytest.mark.parametrize("data,reason", [
    (b"", "no dates"), (b"date,type,name\r\n# nothing\r\n", "no dates"), (b"2027-10-01,\x00,x", "not a CSV"),
    (b"x" * (calendar.MAX_BYTES + 1), "larger than"),
])
def test_unusable_files_are_refused(ctx, fresh_calendar, data, reason):
    with pytest.raises(calendar.CalendarRefused, match=reason):
        calendar.import_csv(data, "f.csv")


def test_the_import_clears_the_cache_at_once(ctx, fresh_calendar, unknown_year, monkeypatch):
    monkeypatch.setitem(current_app.config, "CALENDAR_CACHE_SECONDS", 3600)
    assert is_workday(date(2027, 6, 14))  # loads the table into this process's copy
    calendar.import_csv(_csv("2027-06-14,休,端午节"), "x.csv")
    assert not is_workday(date(2027, 6, 14))


# --- chinese-calendar ----------------------------------------------------------------------------------------
def test_fill_a_year_from_chinese_calendar(ctx, fresh_calendar):
    if calendar.existing(date(2026, 10, 1)) is None:
        _add(date(2026, 10, 1), name="国庆（管理员）")  # the administrator's row stays as it is
    kept = calendar.existing(date(2026, 10, 1)).name
    library = calendar.library_entries(2026)
    outcome = calendar.fill_from_library(2026)
    rows = {r.day: r for r in calendar.table_entries(2026)}
    assert outcome.created + outcome.unchanged == len(library) == 39 and outcome.unchanged >= 1
    assert {e.day for e in library} <= set(rows)
    assert rows[date(2026, 10, 1)].name == kept
    assert rows[date(2026, 10, 2)].source == "chinese-calendar" and rows[date(2026, 10, 2)].name == "国庆节"
    assert rows[date(2026, 10, 10)].is_workday and rows[date(2026, 2, 14)].is_workday  # make-up Saturdays
    assert sum(r.is_workday for r in rows.values()) == 6
    again = calendar.fill_from_library(2026)
    assert (again.created, again.unchanged) == (0, len(library))
    # Deadlines are what they were: the rows say what the library says.
    assert all(is_workday(day) == (workdays._library_workday(day)) for day in rows if day != date(2026, 10, 1))


def test_a_year_the_library_does_not_know_cannot_be_filled(ctx, unknown_year):
    with pytest.raises(calendar.CalendarRefused, match="no holiday data"):
        calendar.fill_from_library(unknown_year)


def test_the_example_file_is_chinese_calendars_2026(ctx):
    """docs/calendar-example.csv holds 2026 as chinese-calendar has it (no invented dates) and imports cleanly."""
    data = (ROOT / "docs" / "calendar-example.csv").read_bytes()
    entries = calendar.parse_csv(data)
    expected = calendar.library_entries(2026)
    assert [(e.day, e.is_workday, e.name) for e in entries] == [(e.day, e.is_workday, e.name) for e in expected]
    assert {e.day.year for e in entries} == {2026}


# --- the command line --------------------------------------------------------------------------------------
def test_flask_calendar_import_and_show(app, fresh_calendar, unknown_year, tmp_path):
    runner = app.test_cli_runner()
    shown = runner.invoke(args=["calendar", "show", str(unknown_year)])
    assert shown.exit_code == 0 and "NO HOLIDAY DATA" in shown.output
    good = tmp_path / "2027.csv"
    good.write_bytes(_csv("date,type,name", "2027-10-01,休,国庆节", "2027-09-26,班,国庆节", bom=True))
    result = runner.invoke(args=["calendar", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "added 2, changed 0, unchanged 0" in result.output
    shown = runner.invoke(args=["calendar", "show", str(unknown_year)])
    assert "2027-10-01" in shown.output and "holiday" in shown.output and "table (import)" in shown.output
    assert "2027-09-26" in shown.output and "make-up working day" in shown.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(_csv("2027-10-02,休,国庆节", "2027-10-05,班,错"))
    result = runner.invoke(args=["calendar", "import", str(bad)])
    assert result.exit_code != 0 and "line 2:" in result.output
    with app.app_context():
        assert len(calendar.table_entries(2027)) == 2
    library = runner.invoke(args=["calendar", "show", "2026"])
    assert "2026-10-10" in library.output and "chinese-calendar" in library.output
