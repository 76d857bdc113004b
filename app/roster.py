"""Qualification roster import (资格名单导入): the ministry uploads the exam authority's list as CSV or XLSX.

The file's type comes from its content, not its name; the header row has Chinese or English column names.
The file is read twice: once to check it can be read to its end (and count the rows), then row by row, BATCH
rows at a time, checked and written. Every refused row carries a translated reason; refused rows change nothing.
A row that is already on the roster exactly as written (same person, specialty, certificate number, date and
temporary flag) is "unchanged", so the same file can be imported again after its refused rows were fixed, and an
import that stopped half-way can simply run again.

Two ways in: the page starts the job "roster_import" (`run_import`: any size, each part committed, the row
report written to a file as it goes); the command line calls `import_roster()` (one transaction, report in
memory). Existing persons and certificates are looked up in batches (IN queries), never one query per row.
"""
import codecs
import csv
import io
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import SQLAlchemyError

from models import AuditLog, Person, Qualification, Specialty

from app import jobs
from app.audit import actor_fields
from app.scope import current_user
from ground.clock import today
from ground.errors import UserError
from ground.extensions import db
from ground.identifiers import InvalidIdentifier, clean_id_number, clean_person_name, mask_id_number

BATCH = 1000  # rows per IN query and per flush
HEADER_SEARCH_ROWS = 10  # title rows above the header row are skipped
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024  # an XLSX that unpacks to more is refused (zip bomb)
NAME_MAX = 50
CERTIFICATE_MAX = 32

# Column → accepted header spellings (compared after _header_key()).
COLUMNS = {
    "name": ("姓名", "name"),
    "id_number": ("身份证号", "身份证号码", "id_number"),
    "certificate_no": ("资格证书编号", "证书编号", "certificate_no"),
    "specialty": ("专业", "specialty"),
    "qualified_on": ("取得日期", "签发日期", "qualified_on"),
    "is_temporary": ("临时", "is_temporary"),
}
REQUIRED = ("name", "id_number", "certificate_no", "specialty", "qualified_on")

STATUS_LABELS = {
    "accepted": _l("Imported"),
    "unchanged": _l("Unchanged"),
    "refused": _l("Not imported"),
}

_TRUE = {"是", "yes", "y", "1", "true"}
_FALSE = {"否", "no", "n", "0", "false", ""}
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$")
_DATE_CN = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$")
_SCIENTIFIC = re.compile(r"^\d(?:\.\d+)?[eE]\+?\d+$")


class RosterRefused(UserError):
    """The whole file is refused (unreadable, missing columns, too many rows); nothing is written."""


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).replace("\ufeff", "").strip()


def _header_key(value) -> str:
    """"ID Number", "id_number", "身份证号码*", "取得日期（YYYY-MM-DD）" → comparable keys."""
    text = re.sub(r"[（(].*?[)）]", "", _text(value).lower())
    text = re.sub(r"[*＊:：.]", "", text)
    return re.sub(r"[\s_\-]+", "_", text).strip("_")


# --- report ---------------------------------------------------------------------------------------
@dataclass
class RowResult:
    row: int  # row number as in the file (the header row counts)
    masked_id: str
    name: str
    specialty: str
    certificate_no: str
    status: str  # accepted / unchanged / refused
    reason: str = ""

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS[self.status])

    def cells(self, labels=None) -> list:
        """The row of the report file; text from the upload made inert for spreadsheets."""
        label = labels[self.status] if labels else self.status_label
        return [self.row, _safe_cell(self.masked_id), _safe_cell(self.name), _safe_cell(self.specialty),
                _safe_cell(self.certificate_no), label, _safe_cell(self.reason)]


def _report_header() -> list:
    return [_("Row"), _("ID number"), _("Name"), _("Specialty"), _("Qualification certificate number"), _("Result"),
            _("Reason")]


@dataclass
class ImportReport:
    """The report held in memory (the command line, small files)."""

    filename: str
    rows: list[RowResult] = field(default_factory=list)
    error: str = ""  # the whole file was refused, or the database refused the write

    def add(self, result: RowResult):
        self.rows.append(result)

    def _count(self, status) -> int:
        return sum(1 for r in self.rows if r.status == status)

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def accepted(self) -> int:
        return self._count("accepted")

    @property
    def refused(self) -> int:
        return self._count("refused")

    @property
    def unchanged(self) -> int:
        return self._count("unchanged")

    @property
    def counts(self) -> dict:
        return {"rows": self.total, "accepted": self.accepted, "refused": self.refused, "unchanged": self.unchanged}

    def ordered(self) -> list[RowResult]:
        """Refused rows first, then unchanged, then accepted; each in file order."""
        rank = {"refused": 0, "unchanged": 1, "accepted": 2}
        return sorted(self.rows, key=lambda r: (rank[r.status], r.row))

    def to_csv(self) -> str:
        """The full report (refused rows first), for download; the caller encodes it (UTF-8 with BOM for Excel)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        if self.error:
            writer.writerow([_safe_cell(self.error)])
        writer.writerow(_report_header())
        writer.writerows(r.cells() for r in self.ordered())
        return out.getvalue()


class ReportFile:
    """The report written as the rows are settled, in constant memory: refused, unchanged and accepted rows
    each go to their own anonymous temporary file, joined in that order by save(). Rows must be added in file
    order, with their final status."""

    ORDER = ("refused", "unchanged", "accepted")

    def __init__(self, filename: str):
        self.filename = filename
        self.error = ""
        self.counts = {"rows": 0, "accepted": 0, "refused": 0, "unchanged": 0}
        self._files = {status: tempfile.TemporaryFile("w+", encoding="utf-8", newline="") for status in self.ORDER}
        self._writers = {status: csv.writer(f, lineterminator="\r\n") for status, f in self._files.items()}
        self._labels = {status: str(label) for status, label in STATUS_LABELS.items()}  # translated once

    def add(self, result: RowResult):
        self._writers[result.status].writerow(result.cells(self._labels))
        self.counts[result.status] += 1
        self.counts["rows"] += 1

    def header(self) -> list:
        """The report's column titles (an import with other columns overrides it)."""
        return _report_header()

    def save(self, path):
        """The report file: UTF-8 with a BOM (Excel opens it correctly), refused rows first."""
        with open(path, "w", encoding="utf-8-sig", newline="") as out:
            csv.writer(out, lineterminator="\r\n").writerow(self.header())
            for status in self.ORDER:
                part = self._files[status]
                part.seek(0)
                shutil.copyfileobj(part, out, 1024 * 1024)

    def close(self):
        for part in self._files.values():
            part.close()


def _safe_cell(value) -> str:
    """Text from the uploaded file, made inert for spreadsheets (no formulas: =, +, -, @, tab, CR)."""
    text = str(value or "")
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _mask(raw: str) -> str:
    """The ID number as the report shows it: masked like the public registry, even when it is invalid."""
    if len(raw) == 18:
        return mask_id_number(raw)
    if len(raw) > 8:
        return raw[:6] + "*" * (len(raw) - 8) + raw[-2:]
    return "*" * len(raw)


# --- reading the file -----------------------------------------------------------------------------
# The file is read from a function that opens it afresh (binary): an import reads it twice, once to check
# and count, once to write. A path is read where it is; bytes and streams are held in memory.
def _opener(source):
    if isinstance(source, (str, os.PathLike)):
        return lambda: open(source, "rb")
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 16 * 1024 * 1024
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        data = source.read(limit + 1)
    if len(data) > limit:
        raise RosterRefused(_too_large(limit))
    return lambda: io.BytesIO(data)


def _too_large(limit):
    return _l("The file is larger than %(size)s MB; split it into smaller files.", size=limit // (1024 * 1024))


def _xlsx_rows(open_file):
    from openpyxl import load_workbook

    unreadable = _l("The file could not be read as an Excel workbook (.xlsx); save it again as .xlsx or CSV.")
    with open_file() as raw:
        try:
            with zipfile.ZipFile(raw) as archive:
                too_big = sum(info.file_size for info in archive.infolist()) > MAX_UNZIPPED_BYTES
            if too_big:
                raise RosterRefused(_l("This Excel file unpacks to too much data; split it into smaller files."))
            raw.seek(0)
            workbook = load_workbook(raw, read_only=True, data_only=True)
        except RosterRefused:
            raise
        except Exception:  # a zip that is no workbook (a .docx, a damaged file): openpyxl raises many kinds
            raise RosterRefused(unreadable) from None
        try:
            sheets = workbook.worksheets
            rows = sheets[0].iter_rows(values_only=True) if sheets else ()
            while True:
                try:
                    values = next(rows, None)
                except Exception:  # damaged sheet XML
                    raise RosterRefused(unreadable) from None
                if values is None:
                    return
                yield list(values)
        finally:
            workbook.close()


def _encoding(open_file) -> str:
    """The text encoding the whole file decodes with (read in pieces, never whole)."""
    with open_file() as raw:
        head = raw.read(2)
    encodings = ("utf-16",) if head in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig", "gb18030")  # Excel's "Unicode text"
    for encoding in encodings:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with open_file() as raw:
                while chunk := raw.read(1024 * 1024):
                    if "\x00" in decoder.decode(chunk):
                        raise RosterRefused(_not_text())
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise RosterRefused(_not_text())


def _not_text():
    return _l("The file is neither an Excel workbook (.xlsx) nor a CSV text file in UTF-8 or GB18030.")


def _csv_rows(open_file):
    encoding = _encoding(open_file)
    with io.TextIOWrapper(open_file(), encoding=encoding, newline="") as text:
        first = next((line for line in text if line.strip()), "")
    delimiter = max((",", "\t", ";"), key=first.count) if first else ","
    with io.TextIOWrapper(open_file(), encoding=encoding, newline="") as text:
        try:
            yield from csv.reader(text, delimiter=delimiter)
        except csv.Error:
            raise RosterRefused(_l("The CSV file is malformed (check the quotation marks).")) from None


def _empty(open_file) -> bool:
    with open_file() as raw:
        while chunk := raw.read(64 * 1024):
            if chunk.strip():
                return False
    return True


def _table(open_file):
    """Rows of cell values: the first sheet of an XLSX, or the records of a CSV text (type from the content)."""
    if _empty(open_file):
        raise RosterRefused(_l("The file is empty."))
    with open_file() as raw:
        head = raw.read(8)
    if head.startswith(b"PK\x03\x04"):
        return _xlsx_rows(open_file)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise RosterRefused(_l("Old Excel files (.xls) are not accepted; save the sheet as .xlsx or CSV."))
    return _csv_rows(open_file)


def file_type(open_file) -> str:
    """"xlsx" or "csv", from the content (the upload's name says nothing)."""
    with open_file() as raw:
        return "xlsx" if raw.read(4) == b"PK\x03\x04" else "csv"



def _blank(values) -> bool:
    return all(_text(v) == "" for v in values)


def header_mapping(numbered_rows, columns: dict, required) -> dict:
    """Consume rows up to the header row (title rows above it are skipped); {column: cell index}. `columns` maps each
    column to its accepted headers (the first Chinese, the last English); a missing required one refuses the file."""
    lookup = {_header_key(alias): column for column, aliases in columns.items() for alias in aliases}
    mapping = {}
    for number, values in numbered_rows:
        if _blank(values):
            continue
        for index, value in enumerate(values):
            column = lookup.get(_header_key(value))
            if column and column not in mapping:
                mapping[column] = index
        if mapping or number >= HEADER_SEARCH_ROWS:
            break
    missing = [c for c in required if c not in mapping]
    if missing:
        raise RosterRefused(_l("Columns missing from the header row: %(columns)s. Nothing was imported.",
                               columns=", ".join(f"{columns[c][0]} ({columns[c][-1]})" for c in missing)))
    return mapping


def _header(numbered_rows):
    return header_mapping(numbered_rows, COLUMNS, REQUIRED)


# --- checking one row -----------------------------------------------------------------------------
@dataclass
class _Candidate:
    result: RowResult
    id_number: str
    name: str
    specialty_code: str
    certificate_no: str
    qualified_on: date
    is_temporary: bool


def _parse_date(value):
    """(date, None) or (None, reason)."""
    if isinstance(value, datetime):
        return value.date(), None
    if isinstance(value, date):
        return value, None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 1 <= value < 2958466:
        from openpyxl.utils.datetime import from_excel  # a date cell without a date format: Excel's serial

        day = from_excel(value)
        return (day.date() if isinstance(day, datetime) else day), None
    text = _text(value)
    if not text:
        return None, _l("The date is missing.")
    match = _DATE.match(text) or _DATE_CN.match(text)
    if not match:
        return None, _l("The date “%(value)s” is not understood; write it as YYYY-MM-DD, e.g. 2024-06-30.",
                        value=text[:40])
    try:
        return date(*(int(part) for part in match.groups())), None
    except ValueError:
        return None, _l("The date “%(value)s” does not exist.", value=text[:40])


def _parse_flag(value):
    text = _text(value).lower()
    if text in _TRUE:
        return True, None
    if text in _FALSE:
        return False, None
    return None, _l("Temporary certificate: write 是 or 否 (yes or no).")


def _check_row(number, values, columns, specialties):
    """A _Candidate when every field is valid, else a refused RowResult with all the reasons."""
    def cell(column):
        index = columns.get(column)
        return values[index] if index is not None and index < len(values) else None

    raw_id, name = _text(cell("id_number")), _text(cell("name"))
    specialty_text, certificate_no = _text(cell("specialty")), _text(cell("certificate_no"))
    reasons = []

    id_number = ""
    if isinstance(cell("id_number"), float) or _SCIENTIFIC.match(raw_id):
        reasons.append(_l("The ID number was stored as a number and lost its last digits; format the column as "
                          "text and type it again."))
    else:
        try:
            id_number = clean_id_number(raw_id)
        except InvalidIdentifier as exc:
            reasons.append(exc.message)

    if not name:
        reasons.append(_l("The name is missing."))
    else:
        try:
            name = clean_person_name(name)
        except InvalidIdentifier as exc:
            reasons.append(exc.message)

    specialty_code = specialties.get(specialty_text.lower())
    if not specialty_text:
        reasons.append(_l("The specialty is missing."))
    elif specialty_code is None:
        reasons.append(_l("Unknown specialty “%(value)s”; use one of the ten specialty names, e.g. 建筑工程.",
                          value=specialty_text[:40]))

    qualified_on, reason = _parse_date(cell("qualified_on"))
    if reason:
        reasons.append(reason)
    elif qualified_on > today():
        reasons.append(_l("The date %(date)s is in the future.", date=qualified_on.isoformat()))

    if not certificate_no:
        reasons.append(_l("The qualification certificate number is missing."))
    elif len(certificate_no) > CERTIFICATE_MAX:
        reasons.append(_l("The certificate number is longer than %(max)s characters.", max=CERTIFICATE_MAX))

    is_temporary, reason = _parse_flag(cell("is_temporary")) if "is_temporary" in columns else (False, None)
    if reason:
        reasons.append(reason)

    result = RowResult(row=number, masked_id=_mask(id_number or raw_id), name=name[:NAME_MAX],
                       specialty=specialty_text[:40], certificate_no=certificate_no[:CERTIFICATE_MAX],
                       status="refused")
    if reasons:
        result.reason = " ".join(str(r) for r in reasons)
        return result
    result.status = "accepted"
    return _Candidate(result, id_number, name, specialty_code, certificate_no, qualified_on, is_temporary)


def _specialty_lookup(specialties) -> dict:
    """Code, Chinese name or English name (any case) → code."""
    lookup = {}
    for s in specialties:
        lookup.update({s.code.lower(): s.code, s.name.lower(): s.code})
        if s.name_en:
            lookup[s.name_en.lower()] = s.code
    return lookup


def _batches(items):
    items = list(items)
    for start in range(0, len(items), BATCH):
        yield items[start:start + BATCH]


def _existing(session, candidates):
    """Persons by ID number, qualifications by certificate number and by (person, specialty): IN batches."""
    persons = {}
    for chunk in _batches({c.id_number for c in candidates}):
        for pid, id_number, name in session.query(Person.id, Person.id_number, Person.name).filter(
                Person.id_number.in_(chunk)):
            persons[id_number] = (pid, name)
    columns = (Qualification.person_id, Qualification.specialty_code, Qualification.certificate_no,
               Qualification.qualified_on, Qualification.is_temporary)
    by_certificate, by_pair = {}, {}
    for chunk in _batches({c.certificate_no for c in candidates}):
        for row in session.query(*columns).filter(Qualification.certificate_no.in_(chunk)):
            by_certificate[row.certificate_no] = row
    for chunk in _batches({pid for pid, _name in persons.values()}):
        for row in session.query(*columns).filter(Qualification.person_id.in_(chunk)):
            by_pair[(row.person_id, row.specialty_code)] = row
    return persons, by_certificate, by_pair


def _refuse(candidate, reason):
    candidate.result.status = "refused"
    candidate.result.reason = str(reason)


@dataclass
class _Seen:
    """What the import met in the rows before, across parts: the rules between rows hold for the whole file."""

    first_pair: dict = field(default_factory=dict)  # (ID number, specialty) → row
    first_certificate: dict = field(default_factory=dict)  # certificate number → row
    first_name: dict = field(default_factory=dict)  # ID number → (name, row)
    created: set = field(default_factory=set)  # ID numbers of persons this import added
    certificates: set = field(default_factory=set)  # certificate numbers this import wrote


def _cross_check(session, candidates, seen: _Seen):
    """Rules between rows and against the database; returns the candidates to write, in file order.
    Rows an earlier part of this import wrote count as rows of the file, not as the database's."""
    persons, by_certificate, by_pair = _existing(session, candidates)
    accepted = []
    for c in candidates:
        pair = (c.id_number, c.specialty_code)
        earlier_pair = seen.first_pair.setdefault(pair, c.result.row)
        earlier_certificate = seen.first_certificate.setdefault(c.certificate_no, c.result.row)
        earlier_name, earlier_name_row = seen.first_name.setdefault(c.id_number, (c.name, c.result.row))
        person = persons.get(c.id_number) if c.id_number not in seen.created else None
        existing = by_pair.get((person[0], c.specialty_code)) if person else None
        if earlier_pair != c.result.row:
            _refuse(c, _l("Same person and specialty as row %(row)s; this row is ignored.", row=earlier_pair))
        elif person and person[1] != c.name:
            _refuse(c, _l("This ID number is on file under the name %(name)s; the names differ.", name=person[1]))
        elif person is None and earlier_name != c.name:
            _refuse(c, _l("Row %(row)s gives another name (%(name)s) for this ID number.", row=earlier_name_row,
                          name=earlier_name))
        elif existing is not None:
            if (existing.certificate_no, existing.qualified_on, bool(existing.is_temporary)) == (
                    c.certificate_no, c.qualified_on, c.is_temporary):
                c.result.status = "unchanged"
            else:
                _refuse(c, _l("Already on the roster in this specialty with certificate %(number)s of %(date)s; "
                              "correct it under Qualifications.", number=existing.certificate_no,
                              date=existing.qualified_on.isoformat()))
        elif c.certificate_no in by_certificate and c.certificate_no not in seen.certificates:
            _refuse(c, _l("Certificate number %(number)s is already on the roster for another person or "
                          "specialty.", number=c.certificate_no))
        elif earlier_certificate != c.result.row:
            _refuse(c, _l("Certificate number %(number)s is also on row %(row)s.", number=c.certificate_no,
                          row=earlier_certificate))
        else:
            accepted.append(c)
    return accepted, persons


def _write(session, accepted, persons, seen: _Seen):
    """Add persons and qualifications, flushing every BATCH rows (audit rows follow each flush)."""
    person_ids = {id_number: pid for id_number, (pid, _name) in persons.items()}
    for chunk in _batches(accepted):
        new = {}
        for c in chunk:
            if c.id_number not in person_ids and c.id_number not in new:
                new[c.id_number] = Person(id_number=c.id_number, name=c.name)
        session.add_all(new.values())
        session.flush()
        person_ids.update({id_number: p.id for id_number, p in new.items()})
        seen.created.update(new)
        session.add_all(Qualification(person_id=person_ids[c.id_number], certificate_no=c.certificate_no,
                                      specialty_code=c.specialty_code, qualified_on=c.qualified_on,
                                      is_temporary=c.is_temporary) for c in chunk)
        session.flush()
        seen.certificates.update(c.certificate_no for c in chunk)


def _audit(session, report, user):
    counts = report.counts
    summary = (f"{report.filename}: rows {counts['rows']}, accepted {counts['accepted']}, "
               f"refused {counts['refused']}, unchanged {counts['unchanged']}")
    session.add(AuditLog(action="import", object_type="Roster", summary=summary[:500],
                         detail={**counts, "filename": report.filename, "error": report.error or None},
                         **actor_fields(user)))


def clean_filename(filename) -> str:
    """The uploaded file's own name, for the report and the audit log only (never a path we open)."""
    name = re.split(r"[\\/]", str(filename or ""))[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return name[:100] or "roster"


def _rows(open_file):
    """(header columns, the numbered rows after the header row)."""
    numbered = enumerate(_table(open_file), start=1)
    return _header(numbered), numbered


def check_file(source) -> str:
    """Refuse (RosterRefused) a file that is too large, empty, of another type, a zip bomb or without the
    required columns; cheap enough for a web request (the rows are read later). Returns "xlsx" or "csv"."""
    if isinstance(source, (str, os.PathLike)):
        limit = current_app.config.get("MAX_CONTENT_LENGTH") or 16 * 1024 * 1024
        if os.path.getsize(source) > limit:
            raise RosterRefused(_too_large(limit))
    open_file = _opener(source)
    table = _table(open_file)
    try:
        _header(enumerate(table, start=1))
    finally:
        table.close()  # the workbook or text file it holds open
    return file_type(open_file)


def count_rows(open_file, max_rows=None) -> int:
    """Read the whole file once: the rows to import (blank ones are skipped). A file that cannot be read to its
    end, or holds more than `max_rows`, is refused before anything is written."""
    _columns, numbered = _rows(open_file)
    count = 0
    for _number, values in numbered:
        if not _blank(values):
            count += 1
            if max_rows is not None and count > max_rows:
                raise RosterRefused(_l("The file has more than %(max)s rows; split it into smaller files.",
                                       max=max_rows))
    return count


def _import_rows(open_file, report, after_part=None):
    """Check and write every row, BATCH rows at a time; each part's rows go to the report with their final
    status before they are written. `after_part(rows)` is called after each part (the job commits there)."""
    session = db.session
    columns, numbered = _rows(open_file)
    # Held for the whole import: the audit rows name each new qualification's specialty, which
    # then comes from the session's identity map instead of a query per row.
    specialty_rows = session.query(Specialty).all()
    specialties = _specialty_lookup(specialty_rows)
    labels = {s.code: str(s) for s in specialty_rows}
    seen = _Seen()

    def settle(part):
        candidates = [c for c in part if isinstance(c, _Candidate)]
        for c in candidates:
            c.result.specialty = labels[c.specialty_code]
        accepted, persons = _cross_check(session, candidates, seen)
        for checked in part:
            report.add(checked.result if isinstance(checked, _Candidate) else checked)
        _write(session, accepted, persons, seen)
        if after_part:
            after_part(len(part))

    part = []
    for number, values in numbered:
        if _blank(values):
            continue
        part.append(_check_row(number, list(values), columns, specialties))
        if len(part) >= BATCH:
            settle(part)
            part = []
    if part:
        settle(part)


def import_roster(source, filename, user, max_rows=None) -> "ImportReport":
    """Check every row of the file (a path, bytes or a stream) and write the accepted ones in one transaction;
    the report, held in memory, says what happened to each row. Commits (or rolls back) the session.
    The page runs large files as a job instead (`run_import`)."""
    session = db.session
    report = ImportReport(filename=clean_filename(filename))
    try:
        open_file = _opener(source)
        count_rows(open_file, max_rows)
        _import_rows(open_file, report)
    except RosterRefused as exc:
        session.rollback()
        report.rows = []
        report.error = str(exc.message)
        _audit(session, report, user)
        session.commit()
        return report
    except SQLAlchemyError:
        session.rollback()
        current_app.logger.exception("roster import of %s failed", report.filename)
        reason = _("The database refused the import; nothing was written.")
        for r in report.rows:
            if r.status == "accepted":
                r.status, r.reason = "refused", reason
        report.error = reason
        _audit(session, report, user)
        session.commit()
        return report
    except Exception:
        session.rollback()
        raise
    _audit(session, report, user)
    session.commit()
    return report


def audit_refusal(filename, message, user):
    """The audit row of a file the page refused before any job started."""
    report = ImportReport(filename=clean_filename(filename), error=str(message))
    _audit(db.session, report, user)
    db.session.commit()


@jobs.job_kind("roster_import", _l("Qualification roster import"), queue="default", unit="rows")
def run_import(job, work):
    """The page's import: reads the uploaded file (the job's input) twice, writes BATCH rows per transaction
    (each committed before the progress is reported) and leaves the row report as the job's file. Running it
    again changes nothing twice: a row already written is "unchanged"."""
    path = jobs.input_path(work.params)
    if path is None or not path.is_file():
        raise UserError(_("The uploaded file is no longer kept; upload it again."))
    user = current_user()
    report = ReportFile(clean_filename(work.params.get("filename")))

    def after_part(rows):
        db.session.commit()  # SQLite has one writer: the part's rows first, then the progress
        work.advance(rows)

    try:
        open_file = _opener(path)
        work.total(count_rows(open_file))
        db.session.rollback()  # no read transaction stays open across the long write
        _import_rows(open_file, report, after_part)
        _audit(db.session, report, user)  # committed with the job's end
        report.save(work.output)
    finally:
        report.close()
    return jobs.Outcome(dict(report.counts), "roster-report.csv", "text/csv")
