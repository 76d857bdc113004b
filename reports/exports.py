"""Ministry exports: one SQL SELECT of exactly the exported columns, streamed as CSV or XLSX.

An `ExportSpec` per model gives the SQL expression of each column models/columns.py declares for its
export (which columns, their order, headers and widths). Labels, masking (ID numbers, mobiles), China
time and the CSV-injection guard are computed in SQL, so the same statement serves the list
page, the CSV (PostgreSQL: COPY ... TO STDOUT; other databases: a streamed cursor) and the XLSX
(openpyxl write-only builds the workbook and header; the rows stream into its sheet part as XML).
Memory stays constant whatever the row count (bench/exports.py measures it).
views/exports.py builds the filtered, scoped, sorted ORM query; `statement()` turns it into the SELECT.
"""
import codecs
import csv
import io
import os
import re
import tempfile
import zipfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Callable

from sqlalchemy import DateTime, Interval, String, case, func, literal, select, type_coerce
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import aliased

from app import workflow
from models.columns import COLUMNS
from models import Application, Certificate, Enterprise, Person, Province, Registration, RegistrationSpecialty, Specialty
from models.choices import CERTIFICATE_STATUSES, GENDERS, REALNAME_STATUSES, REGISTRATION_STATUSES

CHUNK_ROWS = 2_000  # rows fetched per round trip from the server-side cursor
COPY_FLUSH_BYTES = 256 * 1024  # COPY sends one message per row: gather them before yielding
XLSX_MAX_ROWS = 1_048_576  # rows per sheet (Excel's limit), header included
XLSX_COMPRESSLEVEL = 1  # deflate level of the sheet data: level 6 takes twice as long for 10 % less
BOM = codecs.BOM_UTF8  # lets Excel open UTF-8 CSV with Chinese text correctly
FORMULA_STARTS = ("=", "+", "-", "@")  # a cell starting so would run as a formula in Excel
# For the export's own transaction on PostgreSQL: JIT compiling costs a second and gains nothing on a
# streamed scan; a larger work_mem sorts a million rows in memory instead of on disk.
PG_SETTINGS = ("SET LOCAL jit = off", "SET LOCAL work_mem = '64MB'")


@dataclass(frozen=True)
class Ctx:
    """How to render: the database dialect, masking, text (CSV) or typed values (XLSX, list), language."""

    dialect: str
    masked: bool
    text: bool
    lang: str = "zh"
    specialties: tuple = ()  # (code, name): see specialty_names()

    @property
    def pg(self):
        return self.dialect == "postgresql"

    @property
    def english(self):
        return self.lang.startswith("en")


@dataclass(frozen=True)
class Col:
    key: str
    label: object
    expr: Callable[[Ctx], object]
    kind: str = "text"  # text | date | datetime
    width: int = 16  # XLSX column width (characters)


# --- SQL helpers --------------------------------------------------------------------------------

def _cat(*parts):
    """a || b || ...: string concatenation on every database."""
    parts = [literal(p, String) if isinstance(p, str) else p for p in parts]
    out = parts[0]
    for part in parts[1:]:
        out = out.op("||", return_type=String)(part)
    return out


def mask_id(col, ctx):
    """ground.identifiers.mask_id_number in SQL: 110101********1234."""
    if not ctx.masked:
        return col
    return case((func.length(col) == 18, _cat(func.substr(col, 1, 6), "********", func.substr(col, 15, 4))),
                else_=col)


def mask_phone(col, ctx):
    """138****1234."""
    if not ctx.masked:
        return col
    return case((func.length(col) == 11, _cat(func.substr(col, 1, 3), "****", func.substr(col, 8, 4))), else_=col)


def safe_text(col):
    """Free text typed by users: a leading = + - @ gets a quote, so Excel shows it instead of running it."""
    return case((func.substr(col, 1, 1).in_(FORMULA_STARTS), _cat("'", col)), else_=col)


def label_of(col, labels):
    """A code as its label in the current language (labels: code → lazy string)."""
    return case({code: str(label) for code, label in labels.items()}, value=col, else_=col)


def day_text(col, ctx):
    return func.to_char(col, "YYYY-MM-DD") if ctx.pg else type_coerce(col, String)


def day(col, ctx):
    return day_text(col, ctx) if ctx.text else col


def china_time(col, ctx):
    """Naive UTC timestamp → China time (text or datetime)."""
    if ctx.pg:
        shifted = col + literal(timedelta(hours=8), Interval())
        return func.to_char(shifted, "YYYY-MM-DD HH24:MI:SS") if ctx.text else shifted
    if ctx.text:
        return func.strftime("%Y-%m-%d %H:%M:%S", col, "+8 hours")
    return type_coerce(func.datetime(col, "+8 hours"), DateTime)


def localized_name(entity, ctx):
    """A dictionary entry's name (province, specialty) in the interface language."""
    return func.coalesce(entity.name_en, entity.name) if ctx.english else entity.name


# --- The five exports ---------------------------------------------------------------------------

_P = aliased(Person, name="exp_person")
_E = aliased(Enterprise, name="exp_enterprise")
_PV = aliased(Province, name="exp_province")
_RS = aliased(RegistrationSpecialty, name="exp_rs")


class ExportSpec(ABC):
    """One model's export: which columns, in which order, with which header (models.columns.COLUMNS), each
    computed by its SQL expression here."""

    model: type
    name: str  # file name stem, e.g. "registrations"

    @abstractmethod
    def expressions(self) -> dict:
        """Column key → function of the Ctx giving the column's SQL expression."""

    @property
    def columns(self) -> list:
        expressions = self.expressions()
        return [Col(c.key, c.label, expressions[c.key], c.kind, c.width) for c in COLUMNS[self.model].export]

    def joins(self, query):
        """Add the outer joins the columns read (filters bring their own aliased joins)."""
        return query

    def statement(self, query, ctx: Ctx, with_id=False):
        """The filtered query's rows as exactly the exported columns (a Core SELECT)."""
        cols = [c.expr(ctx).label(c.key) for c in self.columns]
        if with_id:
            cols.insert(0, self.model.id.label("id"))
        return self.joins(query).with_entities(*cols).statement

    def header(self):
        return [str(c.label) for c in self.columns]


def _registration_specialties(ctx):
    """Active specialties with their valid-until dates, in the order they were added (as the panel shows
    them): 建筑工程 2029-11-23；市政公用工程 2028-05-01. Names come from ctx.specialties as a CASE: a join to
    the specialty table inside this per-row subquery doubles its cost on PostgreSQL."""
    rs = _RS
    name = (case(dict(ctx.specialties), value=rs.specialty_code, else_=rs.specialty_code) if ctx.specialties
            else rs.specialty_code)
    item = _cat(name, " ", day_text(rs.valid_until, ctx))
    if ctx.pg:
        agg = func.string_agg(item, aggregate_order_by(literal("；", String), rs.id))
    else:
        agg = func.group_concat(item, "；")
    return (select(agg).where(rs.registration_id == Registration.id, rs.status == "active")
            .correlate(Registration).scalar_subquery())


def specialty_names(session, lang="zh"):
    """(code, name in the interface language) of every specialty, for Ctx.specialties."""
    english = lang.startswith("en")
    return tuple((s.code, (s.name_en or s.name) if english else s.name) for s in session.query(Specialty))


class PersonExport(ExportSpec):
    model = Person
    name = "persons"

    def expressions(self):
        return {
            "name": lambda c: safe_text(Person.name),
            "id_number": lambda c: mask_id(Person.id_number, c),
            "gender_label": lambda c: label_of(Person.gender, GENDERS.labels),
            "birth_date": lambda c: day(Person.birth_date, c),
            "phone": lambda c: mask_phone(Person.phone, c),
            "realname_label": lambda c: label_of(Person.realname_status, REALNAME_STATUSES.labels),
        }


class EnterpriseExport(ExportSpec):
    model = Enterprise
    name = "enterprises"

    def expressions(self):
        return {
            "name": lambda c: safe_text(Enterprise.name),
            "credit_code": lambda c: Enterprise.credit_code,
            "province": lambda c: localized_name(_PV, c),
            "legal_representative": lambda c: safe_text(Enterprise.legal_representative),
        }

    def joins(self, query):
        return query.outerjoin(_PV, Enterprise.province_code == _PV.code)


class RegistrationExport(ExportSpec):
    model = Registration
    name = "registrations"

    def expressions(self):
        return {
            "number": lambda c: Registration.number,
            "person_name": lambda c: safe_text(_P.name),
            "id_number": lambda c: mask_id(_P.id_number, c),
            "enterprise_name": lambda c: safe_text(_E.name),
            "province": lambda c: localized_name(_PV, c),
            "status_label": lambda c: label_of(Registration.status, REGISTRATION_STATUSES.labels),
            "registered_on": lambda c: day(Registration.registered_on, c),
            "specialty_summary": _registration_specialties,
        }

    def joins(self, query):
        return (query.join(_P, Registration.person_id == _P.id)
                .outerjoin(_E, Registration.enterprise_id == _E.id)
                .outerjoin(_PV, _E.province_code == _PV.code))


class CertificateExport(ExportSpec):
    model = Certificate
    name = "certificates"

    def expressions(self):
        return {
            "number": lambda c: Certificate.number,
            "holder_name": lambda c: safe_text(Certificate.holder_name),
            "registration_number": lambda c: Certificate.registration_number,
            "enterprise_name": lambda c: safe_text(Certificate.enterprise_name),
            "status_label": lambda c: label_of(Certificate.status, CERTIFICATE_STATUSES.labels),
            "issued_on": lambda c: day(Certificate.issued_on, c),
            "valid_until": lambda c: day(Certificate.valid_until, c),
        }


class ApplicationExport(ExportSpec):
    model = Application
    name = "applications"

    def expressions(self):
        types = {code: t.label for code, t in workflow.BUSINESS_TYPES.items()}
        return {
            "number": lambda c: Application.number,
            "business_type_label": lambda c: label_of(Application.business_type, types),
            "state_label": lambda c: label_of(Application.state, workflow.STATE_LABELS),
            "person_name": lambda c: safe_text(_P.name),
            "id_number": lambda c: mask_id(_P.id_number, c),
            "new_id_number": lambda c: mask_id(Application.new_id_number, c),
            "enterprise_name": lambda c: safe_text(_E.name),
            "province": lambda c: localized_name(_PV, c),
            "submitted_at": lambda c: china_time(Application.submitted_at, c),
            "state_changed_at": lambda c: china_time(Application.state_changed_at, c),
            "stage_deadline": lambda c: day(Application.stage_deadline, c),
        }

    def joins(self, query):
        return (query.join(_P, Application.person_id == _P.id)
                .outerjoin(_E, Application.enterprise_id == _E.id)
                .outerjoin(_PV, Application.province_code == _PV.code))


SPECS = {spec.name: spec for spec in (PersonExport(), EnterpriseExport(), RegistrationExport(), CertificateExport(),
                                      ApplicationExport())}


# --- Counting and streaming ---------------------------------------------------------------------

def count_rows(session, query, model) -> int:
    """SELECT count(*) of the filtered, scoped query (no sort, no export columns)."""
    inner = query.with_entities(model.id).order_by(None).subquery()
    return session.execute(select(func.count()).select_from(inner)).scalar_one()


def _stream(engine, stmt):
    """Yield lists of rows from a server-side cursor (PostgreSQL) or a lazily read SQLite cursor."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            for setting in PG_SETTINGS:
                conn.exec_driver_sql(setting)
        result = conn.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(stmt)
        for part in result.partitions(CHUNK_ROWS):
            yield part


def _header_bytes(header):
    buf = io.StringIO()
    csv.writer(buf).writerow(header)
    return BOM + buf.getvalue().encode("utf-8")


def csv_chunks(engine, stmt, header, method="auto", on_rows=None):
    """UTF-8 CSV (with BOM) of a text-mode statement, as byte chunks.

    method: "copy" (PostgreSQL COPY ... TO STDOUT), "cursor" (csv module over a streamed cursor),
    "auto" = COPY on PostgreSQL, the cursor elsewhere. `on_rows(n)` hears how many rows each chunk held
    (COPY: counted by line ends, so a value with a line break counts twice).
    """
    if method == "auto":
        method = "copy" if engine.dialect.name == "postgresql" else "cursor"
    yield _header_bytes(header)
    if method == "copy":
        for chunk in _copy_chunks(engine, stmt):
            if on_rows:
                on_rows(chunk.count(b"\n"))
            yield chunk
        return
    buf = io.StringIO()
    writer = csv.writer(buf)
    for part in _stream(engine, stmt):
        writer.writerows(part)
        if on_rows:
            on_rows(len(part))
        yield buf.getvalue().encode("utf-8")
        buf.seek(0)
        buf.truncate()


def _copy_chunks(engine, stmt):
    """COPY (SELECT ...) TO STDOUT: PostgreSQL writes the CSV itself; parameters are bound client-side."""
    compiled = stmt.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
    sql = f"COPY ({compiled.string}) TO STDOUT WITH (FORMAT csv, ENCODING 'UTF8')"
    raw = engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cursor:
            for setting in PG_SETTINGS:
                cursor.execute(setting)
            with cursor.copy(sql, compiled.params) as copy:
                buf = bytearray()
                for data in copy:
                    buf += data
                    if len(buf) >= COPY_FLUSH_BYTES:
                        yield bytes(buf)
                        buf.clear()
                if buf:
                    yield bytes(buf)
    finally:
        raw.close()  # back to the pool, rolled back


# --- XLSX ----------------------------------------------------------------------------------------
# openpyxl (write-only) builds the workbook: styles, sheet settings, column widths, frozen bold header.
# Its per-cell path costs ~65-80 µs a row (a million rows: over a minute before any database time), so
# the data rows are written here as XML text into the same sheet parts, with openpyxl's own cell styles.

_SAMPLES = {"text": "x", "date": date(2000, 1, 1), "datetime": datetime(2000, 1, 1, 12, 0)}
_EPOCH = datetime(1899, 12, 30)
_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_SAMPLE_ROW = re.compile(r'<row r="2"[^>]*>.*?</row>', re.S)
_CELL = re.compile(r'<c r="([A-Z]+)2"([^>]*)>')


def _sheet_title(title, number):
    return title if number == 1 else f"{title} ({number})"


def _template(columns, title, sheets) -> zipfile.ZipFile:
    """openpyxl's workbook with `sheets` sheets, each holding the bold header and one sample row."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    for number in range(1, sheets + 1):
        sheet = workbook.create_sheet(_sheet_title(title, number))
        for i, col in enumerate(columns, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = col.width
        sheet.freeze_panes = "A2"
        header = []
        for col in columns:
            cell = WriteOnlyCell(sheet, value=str(col.label))
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        sheet.append([_SAMPLES[col.kind] for col in columns])
    buf = io.BytesIO()
    workbook.save(buf)
    return zipfile.ZipFile(buf)


def _split_sheet(xml: str):
    """(text before the data rows, text after them, style attribute per column) of a template sheet."""
    sample = _SAMPLE_ROW.search(xml)
    styles = {}
    for letter, attrs in _CELL.findall(sample.group(0)):
        style = re.search(r's="(\d+)"', attrs)
        styles[letter] = f' s="{style.group(1)}"' if style else ""
    return xml[:sample.start()], xml[sample.end():], styles


def _cell_writers(columns, styles):
    """One function per column: value → <c> element text ('' for empty cells)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.utils import get_column_letter

    def text_cell(letter):
        def write(value, row):
            if value is None or value == "":
                return ""
            value = str(value)
            if ILLEGAL_CHARACTERS_RE.search(value):
                value = ILLEGAL_CHARACTERS_RE.sub("", value)
            space = ' xml:space="preserve"' if value[0].isspace() or value[-1].isspace() else ""
            return (f'<c r="{letter}{row}" t="inlineStr"><is><t{space}>{value.translate(_XML_ESCAPES)}'
                    f"</t></is></c>")
        return write

    def number_cell(letter, style, as_number):
        def write(value, row):
            if value is None:
                return ""
            if isinstance(value, str):  # a database that returned text: write it as such
                return text_cell(letter)(value, row)
            return f'<c r="{letter}{row}"{style} t="n"><v>{as_number(value)}</v></c>'
        return write

    def day_number(value):
        return (value - _EPOCH.date()).days

    def time_number(value):
        delta = value - _EPOCH
        return round(delta.days + delta.seconds / 86400, 8)

    writers = []
    for i, col in enumerate(columns, start=1):
        letter = get_column_letter(i)
        if col.kind == "date":
            writers.append(number_cell(letter, styles[letter], day_number))
        elif col.kind == "datetime":
            writers.append(number_cell(letter, styles[letter], time_number))
        else:
            writers.append(text_cell(letter))
    return writers


def write_xlsx(engine, stmt, spec: ExportSpec, title: str, directory=None, on_rows=None) -> str:
    """Write the typed statement's rows into a new XLSX file; returns its path (the caller deletes it).

    Bold frozen header, dates as dates; past Excel's row limit a new sheet continues. Memory stays
    constant: rows go from the streamed cursor straight into the compressed sheet part. `on_rows(n)` hears
    each chunk written.
    """
    columns = spec.columns
    with _template(columns, title, 1) as first:
        prefix, suffix, styles = _split_sheet(first.read("xl/worksheets/sheet1.xml").decode("utf-8"))
    writers = _cell_writers(columns, styles)
    fd, path = tempfile.mkstemp(prefix="export-", suffix=".xlsx", dir=directory)
    os.close(fd)
    try:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=XLSX_COMPRESSLEVEL) as archive:
            sheets = _write_sheets(archive, engine, stmt, writers, prefix, suffix, on_rows)
            with _template(columns, title, sheets) as package:
                for name in package.namelist():
                    if name.startswith("xl/worksheets/sheet"):
                        check = _split_sheet(package.read(name).decode("utf-8"))
                        if check != (prefix, suffix, styles):
                            raise RuntimeError(f"unexpected sheet layout from openpyxl in {name}")
                    else:
                        archive.writestr(name, package.read(name))
    except BaseException:
        os.unlink(path)
        raise
    return path


def _write_sheets(archive, engine, stmt, writers, prefix, suffix, on_rows=None) -> int:
    sheets, out, row_number = 0, None, XLSX_MAX_ROWS + 1
    parts = []
    try:
        for chunk in _stream(engine, stmt):
            for values in chunk:
                if row_number > XLSX_MAX_ROWS:  # header is row 1: data rows 2 … 1,048,576
                    if out is not None:
                        out.write("".join(parts).encode("utf-8") + suffix.encode("utf-8"))
                        out.close()
                        parts = []
                    sheets += 1
                    out = archive.open(f"xl/worksheets/sheet{sheets}.xml", "w")
                    out.write(prefix.encode("utf-8"))
                    row_number = 2
                cells = "".join([write(value, row_number) for write, value in zip(writers, values, strict=True)])
                parts.append(f'<row r="{row_number}">{cells}</row>')
                row_number += 1
            if parts:
                out.write("".join(parts).encode("utf-8"))
                parts = []
            if on_rows:
                on_rows(len(chunk))
        if out is None:  # no rows: the header alone
            sheets = 1
            out = archive.open("xl/worksheets/sheet1.xml", "w")
            out.write(prefix.encode("utf-8"))
        out.write(suffix.encode("utf-8"))
    finally:
        if out is not None:
            out.close()
    return sheets
