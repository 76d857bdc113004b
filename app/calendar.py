"""Keeping the working-day calendar (models/calendar.py): the rules a calendar row obeys, the CSV import of a
year's arrangement, and filling a year from the chinese-calendar library.

Rules of a row (the administrator's form, the import and the library fill alike):
- a date appears once;
- a make-up working day (调休上班) is a Saturday or Sunday: on a weekday it would change nothing, so it is an
  error (`entry_error`);
- a public holiday on a Saturday or Sunday is allowed: the State Council's notices (and chinese-calendar) list
  the whole break, weekend days included. The form warns (`entry_warning`) since such a row moves no deadline.

The CSV file (`parse_csv`): columns `date,type,name` in that order, an optional header row, UTF-8 with or
without a byte-order mark (GB18030, as Chinese Excel saves "CSV", is accepted too), blank lines and lines
starting with "#" ignored. The type is 休/假/holiday (no work) or 班/workday (a make-up working day). The import
is all or nothing: one bad row and nothing is written; the refusal lists every bad row with its line number.
Dates already in the table are updated (source "import"), not added twice.

Every write commits, clears this process's copy of the table (app.services.workdays.clear_cache) and leaves an
audit row summarising it (each row's own change is audited by the model).
"""
import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

import chinese_calendar
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ground.errors import UserError
from ground.extensions import db
from models import CalendarDay

from app import audit
from app.services import workdays

MAX_BYTES = 256 * 1024  # a calendar is a few dozen rows; the limit leaves room for many years
MAX_ROWS = 2000
NAME_MAX = 60

HOLIDAY_TYPES = ("休", "假", "holiday", "放假", "休息")
WORKDAY_TYPES = ("班", "workday", "上班", "补班")
HEADER_FIRST_CELLS = ("date", "日期")

WEEKDAYS = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"), _l("Saturday"),
            _l("Sunday"))
KINDS = {False: _l("Public holiday (no work)"), True: _l("Make-up working day")}

# chinese-calendar's holiday names (English) → the names of the State Council's notices.
LIBRARY_NAMES = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节", "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节", "National Day": "国庆节", "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}

_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_DATE_CN = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class CalendarRefused(UserError):
    """Nothing was written: the file (or the year) is refused; `problems` lists the bad rows."""

    def __init__(self, message, problems=()):
        super().__init__(message)
        self.problems = list(problems)


@dataclass(frozen=True)
class Entry:
    day: date
    is_workday: bool
    name: str = ""
    line: int | None = None  # the line of the CSV file it came from


@dataclass(frozen=True)
class Problem:
    line: int
    text: str  # the line as read (shortened)
    reason: str


@dataclass
class Outcome:
    """What a write did: rows added, changed, and left as they were."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    years: list = field(default_factory=list)

    @property
    def rows(self):
        return self.created + self.updated + self.unchanged


def weekday_name(day: date) -> str:
    return str(WEEKDAYS[day.weekday()])


def kind_label(is_workday: bool) -> str:
    return str(KINDS[bool(is_workday)])


def is_weekend(day: date) -> bool:
    return day.weekday() >= 5


def entry_error(day: date, is_workday: bool) -> str | None:
    """Why this row cannot be kept, or None."""
    if is_workday and not is_weekend(day):
        return _("A make-up working day must be a Saturday or Sunday: %(day)s is a %(weekday)s, a working day anyway.",
                 day=day.isoformat(), weekday=weekday_name(day))
    return None


def entry_warning(day: date, is_workday: bool) -> str | None:
    """What the administrator should know about a row that is kept (a holiday on a weekend moves no deadline)."""
    if not is_workday and is_weekend(day):
        return _("%(day)s is a %(weekday)s: it is not a working day anyway, so this row changes no deadline "
                 "(it records the holiday's name).", day=day.isoformat(), weekday=weekday_name(day))
    return None


def existing(day: date, except_id=None) -> CalendarDay | None:
    """The row of this date, other than the row `except_id` (the one being edited)."""
    stmt = select(CalendarDay).where(CalendarDay.day == day)
    if except_id is not None:
        stmt = stmt.where(CalendarDay.id != except_id)
    return db.session.scalars(stmt).first()


def duplicate_error(day: date, except_id=None) -> str | None:
    row = existing(day, except_id)
    if row is None:
        return None
    return _("%(day)s is already in the calendar (%(kind)s %(name)s): change that row instead.",
             day=day.isoformat(), kind=kind_label(row.is_workday), name=row.name or "")


def clean_name(value) -> str:
    return _CONTROL.sub("", str(value or "")).strip()


def changed():
    """After any write to the table: this process counts with it at once (others within CALENDAR_CACHE_SECONDS)."""
    workdays.clear_cache()


# --- the CSV file -----------------------------------------------------------------------------------------
def parse_date(text: str) -> date | None:
    text = (text or "").strip()
    match = _DATE.match(text) or _DATE_CN.match(text)
    if not match:
        return None
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def parse_type(text: str) -> bool | None:
    """True for a make-up working day, False for a holiday, None for anything else."""
    value = (text or "").strip().lower()
    if value in HOLIDAY_TYPES:
        return False
    if value in WORKDAY_TYPES:
        return True
    return None


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise CalendarRefused(_("The file is larger than %(size)s KB; a calendar file is a few dozen rows.",
                                size=MAX_BYTES // 1024))
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise CalendarRefused(_("The file is not a text file in UTF-8. Save it as \"CSV UTF-8\" and upload it "
                                    "again.")) from None
    if "\x00" in text:
        raise CalendarRefused(_("The file is not a CSV text file."))
    return text


def _shown(cells) -> str:
    line = ",".join(cells)
    return line if len(line) <= 80 else line[:79] + "…"


def parse_csv(data: bytes) -> list[Entry]:
    """The entries of a calendar file; CalendarRefused (with the bad rows) if any row is bad."""
    text = _decode(data)
    entries, problems, seen = [], [], {}
    header_allowed = True
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise CalendarRefused(_("The file cannot be read as CSV: %(error)s", error=str(exc))) from None
    for number, cells in enumerate(rows, start=1):
        cells = [c.strip() for c in cells]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if header_allowed and cells[0].lstrip("\ufeff").lower() in HEADER_FIRST_CELLS:
            header_allowed = False
            continue
        header_allowed = False
        if len(entries) + len(problems) >= MAX_ROWS:
            raise CalendarRefused(_("The file has more than %(rows)s rows.", rows=MAX_ROWS))
        reason, entry = _check_row(number, cells, seen)
        if reason:
            problems.append(Problem(number, _shown(cells), reason))
        else:
            seen[entry.day] = number
            entries.append(entry)
    if problems:
        raise CalendarRefused(_("%(count)s rows have a problem; nothing was imported. Correct them and upload the "
                                "file again.", count=len(problems)), problems)
    if not entries:
        raise CalendarRefused(_("The file holds no dates. Each row is: date,type,name (e.g. 2026-10-01,休,国庆节)."))
    return entries


def _check_row(number, cells, seen) -> tuple[str | None, Entry | None]:
    if len(cells) < 2:
        return _("Each row needs a date and a type (休 or 班)."), None
    if any(cells[3:]):
        return _("More than three columns: date, type, name."), None
    day = parse_date(cells[0])
    if day is None:
        return _("\"%(value)s\" is not a date (write 2026-10-01).", value=cells[0][:20]), None
    is_workday = parse_type(cells[1])
    if is_workday is None:
        return _("The type \"%(value)s\" is neither 休/假/holiday (no work) nor 班/workday (make-up working day).",
                 value=cells[1][:20]), None
    name = clean_name(cells[2] if len(cells) > 2 else "")
    if len(name) > NAME_MAX:
        return _("The name is longer than %(max)s characters.", max=NAME_MAX), None
    if day in seen:
        return _("%(day)s is also on line %(line)s.", day=day.isoformat(), line=seen[day]), None
    error = entry_error(day, is_workday)
    if error:
        return error, None
    return None, Entry(day, is_workday, name, number)


# --- writing ----------------------------------------------------------------------------------------------
def _write(entries: list[Entry], source: str, overwrite: bool = True) -> Outcome:
    """Add or update the entries' rows (one query for the existing ones); the caller commits."""
    days = [e.day for e in entries]
    rows = {row.day: row for row in db.session.scalars(select(CalendarDay).where(CalendarDay.day.in_(days)))}
    outcome = Outcome(years=sorted({d.year for d in days}))
    for entry in entries:
        row = rows.get(entry.day)
        if row is None:
            db.session.add(CalendarDay(day=entry.day, is_workday=entry.is_workday, name=entry.name, source=source))
            outcome.created += 1
        elif (row.is_workday, row.name) == (entry.is_workday, entry.name) or not overwrite:
            outcome.unchanged += 1
        else:
            row.is_workday, row.name, row.source = entry.is_workday, entry.name, source
            outcome.updated += 1
    return outcome


def _audit_import(filename, outcome: Outcome | None, user=None, error=None, refused=0, extra=None):
    rows = outcome.rows if outcome else refused
    detail = {"filename": filename, "rows": rows, "accepted": outcome.created + outcome.updated if outcome else 0,
              "refused": refused, "unchanged": outcome.unchanged if outcome else 0, "error": error,
              **(extra or {})}
    if outcome:
        detail.update(created=outcome.created, updated=outcome.updated, years=outcome.years)
    summary = f"{filename}: rows {rows}, accepted {detail['accepted']}, refused {refused}, " \
              f"unchanged {detail['unchanged']}"
    audit.record("import", "Calendar", summary=summary, detail=detail, user=user)


def clean_filename(filename) -> str:
    name = re.split(r"[\\/]", str(filename or ""))[-1]
    return _CONTROL.sub("", name).strip()[:100] or "calendar.csv"


def import_csv(data: bytes, filename: str, user=None) -> Outcome:
    """Import a calendar file, all or nothing. CalendarRefused (nothing written but the audit row of the
    refusal) when the file or any row is bad."""
    filename = clean_filename(filename)
    try:
        entries = parse_csv(data)
    except CalendarRefused as exc:
        db.session.rollback()
        _audit_import(filename, None, user, error=str(exc.message), refused=len(exc.problems))
        db.session.commit()
        raise
    outcome = _write(entries, "import")
    _audit_import(filename, outcome, user)
    db.session.commit()
    changed()
    return outcome


# --- chinese-calendar -------------------------------------------------------------------------------------
def library_entries(year: int) -> list[Entry]:
    """The year's holidays and make-up working days as chinese-calendar knows them (names as in the notices);
    CalendarRefused for a year it has no data for."""
    if not (1900 < year < 2200) or not workdays.library_knows(year):
        raise CalendarRefused(_("The chinese-calendar library has no holiday data for %(year)s: enter the year's "
                                "arrangement or import it from a CSV file.", year=year))
    entries = []
    day = date(year, 1, 1)
    while day.year == year:
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
        if name is not None:  # a plain weekend has no name; a make-up working day is named, not a holiday
            entries.append(Entry(day, not on_holiday, LIBRARY_NAMES.get(name, name)))
        day += timedelta(days=1)
    return entries


def fill_from_library(year: int, user=None) -> Outcome:
    """Write the year's days chinese-calendar knows as rows (source "chinese-calendar"); dates already in the table
    keep their row (the administrator's word stands)."""
    entries = library_entries(year)
    outcome = _write(entries, "chinese-calendar", overwrite=False)
    _audit_import(f"chinese-calendar {year}", outcome, user, extra={"source": "chinese-calendar", "year": year})
    db.session.commit()
    changed()
    return outcome


def to_csv(entries: list[Entry], comment: str | None = None) -> str:
    """Entries in the import format (the example file, the page's sample)."""
    out = io.StringIO()
    if comment:
        out.write(f"# {comment}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", "type", "name"])
    for entry in entries:
        writer.writerow([entry.day.isoformat(), "班" if entry.is_workday else "休", entry.name])
    return out.getvalue()


def table_entries(year: int) -> list[CalendarDay]:
    return list(db.session.scalars(select(CalendarDay).where(
        CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)).order_by(CalendarDay.day)))


def year_summary(years) -> list[dict]:
    """Per year: holidays and make-up days in the table, whether chinese-calendar knows it, and so what the
    deadlines of that year count by."""
    years = sorted(set(years))
    if not years:
        return []
    counts = {}
    for row in db.session.execute(select(CalendarDay.day, CalendarDay.is_workday).where(
            CalendarDay.day >= date(years[0], 1, 1), CalendarDay.day <= date(years[-1], 12, 31))):
        key = (row.day.year, bool(row.is_workday))
        counts[key] = counts.get(key, 0) + 1
    out = []
    for year in years:
        holidays, makeups = counts.get((year, False), 0), counts.get((year, True), 0)
        known = workdays.library_knows(year)
        if holidays or makeups:
            basis = _l("the table") if not known else _l("the table, then chinese-calendar")
        else:
            basis = _l("chinese-calendar") if known else _l("Monday to Friday (no holiday data)")
        out.append({"year": year, "holidays": holidays, "makeups": makeups, "library": known, "basis": basis,
                    "missing": not (holidays or makeups or known)})
    return out


def table_years() -> list[int]:
    return sorted({d.year for d in db.session.scalars(select(CalendarDay.day))})
