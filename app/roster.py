"""Qualification roster import (资格名单导入): the ministry uploads the exam authority's list as CSV or XLSX.

`import_roster()` reads the file (type from its content, not its name), finds the header row (Chinese or
English column names), checks every row, and writes all accepted rows in one transaction at the end.
Every refused row carries a translated reason; refused rows change nothing. A row that is already on the
roster exactly as written (same person, specialty, certificate number, date and temporary flag) is
"unchanged", so the same file can be imported again after its refused rows were fixed.

Existing persons and certificates are looked up in batches (IN queries), never one query per row.
"""
import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import SQLAlchemyError

from models import AuditLog, Person, Qualification, Specialty

from app.audit import actor_fields
from ground.clock import today
from ground.errors import UserError
from ground.extensions import db
from ground.identifiers import InvalidIdentifier, clean_id_number, mask_id_number

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


_HEADER_LOOKUP = {_header_key(alias): column for column, aliases in COLUMNS.items() for alias in aliases}


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


@dataclass
class ImportReport:
    filename: str
    rows: list[RowResult] = field(default_factory=list)
    error: str = ""  # the whole file was refused, or the database refused the write

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
        writer.writerow([_("Row"), _("ID number"), _("Name"), _("Specialty"), _("Qualification certificate number"),
                         _("Result"), _("Reason")])
        for r in self.ordered():
            writer.writerow([r.row, _safe_cell(r.masked_id), _safe_cell(r.name), _safe_cell(r.specialty),
                             _safe_cell(r.certificate_no), r.status_label, _safe_cell(r.reason)])
        return out.getvalue()


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
def _read_bytes(stream_or_bytes) -> bytes:
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 16 * 1024 * 1024
    if isinstance(stream_or_bytes, (bytes, bytearray, memoryview)):
        data = bytes(stream_or_bytes)
    else:
        data = stream_or_bytes.read(limit + 1)
    if len(data) > limit:
        raise RosterRefused(_l("The file is larger than %(size)s MB; split it into smaller files.",
                               size=limit // (1024 * 1024)))
    return data


def _xlsx_rows(data: bytes):
    from openpyxl import load_workbook

    unreadable = _l("The file could not be read as an Excel workbook (.xlsx); save it again as .xlsx or CSV.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            too_big = sum(info.file_size for info in archive.infolist()) > MAX_UNZIPPED_BYTES
        if too_big:
            raise RosterRefused(_l("This Excel file unpacks to too much data; split it into smaller files."))
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
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


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text" export
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text.lstrip("\ufeff")
    raise RosterRefused(_l("The file is neither an Excel workbook (.xlsx) nor a CSV text file in UTF-8 or GB18030."))


def _csv_rows(data: bytes):
    text = _decode(data)
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max((",", "\t", ";"), key=first.count) if first else ","
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except csv.Error:
        raise RosterRefused(_l("The CSV file is malformed (check the quotation marks).")) from None


def _table(data: bytes):
    """Rows of cell values: the first sheet of an XLSX, or the records of a CSV text."""
    if not data.strip():
        raise RosterRefused(_l("The file is empty."))
    if data.startswith(b"PK\x03\x04"):
        return _xlsx_rows(data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise RosterRefused(_l("Old Excel files (.xls) are not accepted; save the sheet as .xlsx or CSV."))
    return _csv_rows(data)


def _blank(values) -> bool:
    return all(_text(v) == "" for v in values)


def _column_caption(column) -> str:
    return f"{COLUMNS[column][0]} ({COLUMNS[column][-1]})"


def _header(numbered_rows):
    """Consume rows up to the header row (title rows above it are skipped); {column: cell index}."""
    mapping = {}
    for number, values in numbered_rows:
        if _blank(values):
            continue
        for index, value in enumerate(values):
            column = _HEADER_LOOKUP.get(_header_key(value))
            if column and column not in mapping:
                mapping[column] = index
        if mapping or number >= HEADER_SEARCH_ROWS:
            break
    missing = [c for c in REQUIRED if c not in mapping]
    if missing:
        raise RosterRefused(_l("Columns missing from the header row: %(columns)s. Nothing was imported.",
                               columns=", ".join(_column_caption(c) for c in missing)))
    return mapping


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
    elif len(name) > NAME_MAX:
        reasons.append(_l("The name is longer than %(max)s characters.", max=NAME_MAX))

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


def _cross_check(session, candidates):
    """Rules between rows and against the database; returns the candidates to write, in file order."""
    persons, by_certificate, by_pair = _existing(session, candidates)
    first_pair, first_certificate, first_name = {}, {}, {}
    accepted = []
    for c in candidates:
        pair = (c.id_number, c.specialty_code)
        earlier_pair = first_pair.setdefault(pair, c.result.row)
        earlier_certificate = first_certificate.setdefault(c.certificate_no, c.result.row)
        earlier_name, earlier_name_row = first_name.setdefault(c.id_number, (c.name, c.result.row))
        person = persons.get(c.id_number)
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
        elif c.certificate_no in by_certificate:
            _refuse(c, _l("Certificate number %(number)s is already on the roster for another person or "
                          "specialty.", number=c.certificate_no))
        elif earlier_certificate != c.result.row:
            _refuse(c, _l("Certificate number %(number)s is also on row %(row)s.", number=c.certificate_no,
                          row=earlier_certificate))
        else:
            accepted.append(c)
    return accepted, persons


def _write(session, accepted, persons):
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
        session.add_all(Qualification(person_id=person_ids[c.id_number], certificate_no=c.certificate_no,
                                      specialty_code=c.specialty_code, qualified_on=c.qualified_on,
                                      is_temporary=c.is_temporary) for c in chunk)
        session.flush()


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


def import_roster(stream_or_bytes, filename, user) -> "ImportReport":
    """Check every row of the file and write the accepted ones in one transaction; the report says what
    happened to each row. Commits (or rolls back) the session."""
    session = db.session
    report = ImportReport(filename=clean_filename(filename))
    try:
        data = _read_bytes(stream_or_bytes)
        numbered = enumerate(_table(data), start=1)
        columns = _header(numbered)
        # Held for the whole import: the audit rows name each new qualification's specialty, which
        # then comes from the session's identity map instead of a query per row.
        specialty_rows = session.query(Specialty).all()
        specialties = _specialty_lookup(specialty_rows)
        limit = current_app.config.get("ROSTER_MAX_ROWS", 200_000)
        candidates = []
        for number, values in numbered:
            if _blank(values):
                continue
            if len(report.rows) >= limit:
                raise RosterRefused(_l("The file has more than %(max)s rows; split it into smaller files.",
                                       max=limit))
            checked = _check_row(number, list(values), columns, specialties)
            if isinstance(checked, _Candidate):
                candidates.append(checked)
                report.rows.append(checked.result)
            else:
                report.rows.append(checked)
    except RosterRefused as exc:
        report.rows = []
        report.error = str(exc.message)
        _audit(session, report, user)
        session.commit()
        return report

    labels = {s.code: str(s) for s in specialty_rows}
    for c in candidates:
        c.result.specialty = labels[c.specialty_code]
    accepted, persons = _cross_check(session, candidates)
    try:
        _write(session, accepted, persons)
        _audit(session, report, user)
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        current_app.logger.exception("roster import of %s failed", report.filename)
        reason = _("The database refused the import; nothing was written.")
        for c in accepted:
            _refuse(c, reason)
        report.error = reason
        _audit(session, report, user)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return report
