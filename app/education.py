"""Continuing education (继续教育): the records of hours, how they reach the platform, and a person's standing.

Two ways in (docs/CONTINUING_EDUCATION.md):
- the ministry imports a training provider's list (CSV/XLSX, read like the qualification roster, app/roster.py):
  the job "education_import" checks each row, writes the good ones BATCH at a time and leaves a row report; a
  training certificate number already on record is "unchanged" when it says the same, refused otherwise, so a
  certificate is never counted twice and a file can be imported again;
- a provincial or ministry officer enters one record from the certificate the person shows, with its scan
  (`enter_record`): staff enter, applicants do not, so every counted hour was checked by an authority.

What the rules require per validity period is in app/business_types/shared.py (`education_status`), read by the
business types at the form, at submission and at approval, and by `standing` for the person's own page.
"""
import csv
import io
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app import jobs, roster
from app.audit import actor_fields
from app.business_types import shared
from app.scope import current_user
from app.services import images, storage
from ground.clock import today
from ground.errors import UserError
from ground.extensions import db
from ground.identifiers import InvalidIdentifier, clean_id_number, clean_person_name
from models import AuditLog, ContinuingEducation, Person, Specialty
from models.choices import EDUCATION_KINDS

BATCH = roster.BATCH
HOURS_MAX = 200  # hours on one training certificate (our bound: a typing error beyond it)
PROVIDER_MAX, COURSE_MAX, CERTIFICATE_MAX = 100, 200, 40

# Column → accepted header spellings (compared after roster._header_key()).
COLUMNS = {
    "name": ("姓名", "name"),
    "id_number": ("身份证号", "身份证号码", "id_number"),
    "certificate_no": ("培训证书编号", "学时证明编号", "证书编号", "certificate_no"),
    "kind": ("课程类别", "类别", "kind"),
    "hours": ("学时", "hours"),
    "completed_on": ("结业日期", "完成日期", "completed_on"),
    "provider": ("培训单位", "培训机构", "provider"),
    "course": ("课程名称", "课程", "course"),
    "specialty": ("专业", "specialty"),
}
REQUIRED = ("name", "id_number", "certificate_no", "kind", "hours", "completed_on", "provider", "course")
_KINDS = {"必修": "compulsory", "必修课": "compulsory", "compulsory": "compulsory",
          "选修": "elective", "选修课": "elective", "elective": "elective"}
_GENERAL = {"", "公共课", "通用", "全部", "all", "general"}


class EducationRefused(UserError):
    """A whole file or one entry refused; nothing is written."""


# --- a person's standing (个人信息 → 继续教育) -------------------------------------------------------------
@dataclass
class PeriodStanding:
    specialty: object
    start: date
    end: date
    status: dict  # kind → {"required", "done", "missing"}

    @property
    def met(self) -> bool:
        return not any(s["missing"] for s in self.status.values())


def standing(person, limits) -> list[PeriodStanding]:
    """Per specialty: the period that counts now (the current validity period of a registered specialty, else the
    last VALIDITY_YEARS years) with the hours required, done and missing."""
    registration = person.registration
    if shared.is_active(registration):
        periods = [(s.specialty, s.valid_from, s.valid_until) for s in
                   sorted(registration.active_specialties, key=lambda s: s.specialty.sort_order)]
    else:
        start, end = shared.recent_period(today(), limits)
        periods = [(s, start, end) for s in shared.qualified_specialties(person)]
    rows = []
    for specialty, start, end in periods:
        hours = shared.education_hours(person.id, start, end)
        rows.append(PeriodStanding(specialty, start, end, shared.education_status(hours, specialty.code, limits)))
    return rows


def records_of(person_id) -> list:
    return (db.session.query(ContinuingEducation).filter(ContinuingEducation.person_id == person_id)
            .order_by(ContinuingEducation.completed_on.desc(), ContinuingEducation.id.desc()).all())


# --- one record entered by staff from the certificate ---------------------------------------------------------
def enter_record(person, values: dict, scan: bytes | None, user) -> ContinuingEducation:
    """A record entered by a provincial or ministry officer from the certificate the person shows (its scan is
    required). `values`: specialty_code (or ""), kind, hours, completed_on, provider, course, certificate_no.
    Raises EducationRefused with every reason; commits."""
    reasons = []
    certificate_no = (values.get("certificate_no") or "").strip()
    if not certificate_no:
        reasons.append(_l("The training certificate number is missing."))
    elif db.session.query(ContinuingEducation.id).filter_by(certificate_no=certificate_no).first():
        reasons.append(_l("Training certificate %(number)s is already on record; it is counted once.",
                          number=certificate_no))
    if values.get("kind") not in EDUCATION_KINDS:
        reasons.append(_l("Choose compulsory or elective."))
    hours = values.get("hours")
    if not isinstance(hours, int) or not 1 <= hours <= HOURS_MAX:
        reasons.append(_l("Hours: a whole number from 1 to %(max)s.", max=HOURS_MAX))
    completed_on = values.get("completed_on")
    if not isinstance(completed_on, date):
        reasons.append(_l("The completion date is missing."))
    elif completed_on > today():
        reasons.append(_l("The date %(date)s is in the future.", date=completed_on.isoformat()))
    for field, limit, message in (("provider", PROVIDER_MAX, _l("The training provider is missing.")),
                                  ("course", COURSE_MAX, _l("The course is missing."))):
        if not (values.get(field) or "").strip():
            reasons.append(message)
    code = values.get("specialty_code") or None
    if code is not None and db.session.get(Specialty, code) is None:
        reasons.append(_l("Unknown specialty: %(code)s.", code=code))
    processed = None
    if not scan:
        reasons.append(_l("Upload the scan of the training certificate."))
    else:
        try:
            processed = images.process("education_proof", scan)
        except images.UploadRejected as exc:
            reasons.append(exc.message)
    if reasons:
        raise EducationRefused(" ".join(str(r) for r in reasons))
    attachment = storage.save(db.session, person, "education_proof", f"education.{processed.extension}",
                              processed.data, processed.content_type)
    record = ContinuingEducation(person=person, specialty_code=code, kind=values["kind"], hours=hours,
                                 completed_on=completed_on, provider=values["provider"].strip()[:PROVIDER_MAX],
                                 course=values["course"].strip()[:COURSE_MAX], certificate_no=certificate_no[:CERTIFICATE_MAX],
                                 attachment=attachment, source="entry", entered_by_id=getattr(user, "id", None))
    db.session.add(record)
    db.session.commit()
    return record


# --- the providers' lists --------------------------------------------------------------------------------------
def _header(numbered_rows):
    return roster.header_mapping(numbered_rows, COLUMNS, REQUIRED)


def _rows(open_file):
    numbered = enumerate(roster._table(open_file), start=1)
    return _header(numbered), numbered


def check_file(path) -> None:
    """Refuse (roster.RosterRefused) an unreadable file or one without the required columns."""
    open_file = roster._opener(path)
    table = roster._table(open_file)
    try:
        _header(enumerate(table, start=1))
    finally:
        table.close()


def _count(open_file) -> int:
    _columns, numbered = _rows(open_file)
    return sum(1 for _n, values in numbered if not roster._blank(values))


@dataclass
class _Candidate:
    result: roster.RowResult
    id_number: str
    name: str
    values: dict


def _check_row(number, values, columns, specialties):
    def cell(column):
        index = columns.get(column)
        return values[index] if index is not None and index < len(values) else None

    text = {c: roster._text(cell(c)) for c in COLUMNS}
    reasons, id_number = [], ""
    try:
        id_number = clean_id_number(text["id_number"])
    except InvalidIdentifier as exc:
        reasons.append(exc.message)
    if not text["name"]:
        reasons.append(_l("The name is missing."))
    else:
        try:
            text["name"] = clean_person_name(text["name"])
        except InvalidIdentifier as exc:
            reasons.append(exc.message)
    kind = _KINDS.get(text["kind"].lower())
    if kind is None:
        reasons.append(_l("Course kind: write 必修 or 选修 (compulsory or elective)."))
    try:
        hours = int(float(text["hours"])) if text["hours"] else None
        if hours is not None and float(text["hours"]) != hours:
            hours = None
    except ValueError:
        hours = None
    if hours is None or not 1 <= hours <= HOURS_MAX:
        reasons.append(_l("Hours: a whole number from 1 to %(max)s.", max=HOURS_MAX))
    completed_on, reason = roster._parse_date(cell("completed_on"))
    if reason:
        reasons.append(reason)
    elif completed_on > today():
        reasons.append(_l("The date %(date)s is in the future.", date=completed_on.isoformat()))
    if not text["provider"]:
        reasons.append(_l("The training provider is missing."))
    if not text["course"]:
        reasons.append(_l("The course is missing."))
    certificate_no = text["certificate_no"]
    if not certificate_no:
        reasons.append(_l("The training certificate number is missing."))
    elif len(certificate_no) > CERTIFICATE_MAX:
        reasons.append(_l("The certificate number is longer than %(max)s characters.", max=CERTIFICATE_MAX))
    code = None
    if text["specialty"].lower() not in _GENERAL:
        code = specialties.get(text["specialty"].lower())
        if code is None:
            reasons.append(_l("Unknown specialty “%(value)s”; use one of the ten specialty names, e.g. 建筑工程, "
                              "or leave it empty for a general course.", value=text["specialty"][:40]))
    result = roster.RowResult(row=number, masked_id=roster._mask(id_number or text["id_number"]),
                              name=text["name"][:50], specialty=f"{text['course'][:60]} ({text['kind']} {text['hours']})",
                              certificate_no=certificate_no[:CERTIFICATE_MAX], status="refused")
    if reasons:
        result.reason = " ".join(str(r) for r in reasons)
        return result
    result.status = "accepted"
    return _Candidate(result, id_number, text["name"], {
        "specialty_code": code, "kind": kind, "hours": hours, "completed_on": completed_on,
        "provider": text["provider"][:PROVIDER_MAX], "course": text["course"][:COURSE_MAX],
        "certificate_no": certificate_no})


def _settle(session, candidates, seen: dict):
    """Rules between rows and against the database; adds the accepted records."""
    ids = {c.id_number for c in candidates}
    persons = {row.id_number: (row.id, row.name) for row in
               session.query(Person.id, Person.id_number, Person.name).filter(Person.id_number.in_(ids))}
    numbers = {c.values["certificate_no"] for c in candidates}
    existing = {r.certificate_no: r for r in
                session.query(ContinuingEducation).filter(ContinuingEducation.certificate_no.in_(numbers))}
    for c in candidates:
        number = c.values["certificate_no"]
        first = seen.setdefault(number, c.result.row)
        person = persons.get(c.id_number)
        record = existing.get(number)
        if first != c.result.row:
            _refuse(c, _l("Certificate number %(number)s is also on row %(row)s.", number=number, row=first))
        elif person is None:
            _refuse(c, _l("No person with this ID number is on file (the qualification roster names them)."))
        elif person[1] != c.name:
            _refuse(c, _l("This ID number is on file under the name %(name)s; the names differ.", name=person[1]))
        elif record is not None:
            same = (record.person_id == person[0] and
                    all(getattr(record, k) == v for k, v in c.values.items() if k not in ("provider", "course")))
            if same:
                c.result.status = "unchanged"
            else:
                _refuse(c, _l("Training certificate %(number)s is already on record with other data; it is "
                              "counted once.", number=number))
        else:
            session.add(ContinuingEducation(person_id=person[0], source="import", **c.values))


def _refuse(candidate, reason):
    candidate.result.status = "refused"
    candidate.result.reason = str(reason)


def _report_header() -> list:
    return [_("Row"), _("ID number"), _("Name"), _("Course"), _("Training certificate number"), _("Result"),
            _("Reason")]


class _Report(roster.ReportFile):
    def header(self) -> list:
        return _report_header()


def _audit(session, report, user):
    counts = report.counts
    summary = (f"{report.filename}: rows {counts['rows']}, accepted {counts['accepted']}, "
               f"refused {counts['refused']}, unchanged {counts['unchanged']}")
    session.add(AuditLog(action="import", object_type="ContinuingEducation", summary=summary[:500],
                         detail={**counts, "filename": report.filename, "error": report.error or None},
                         **actor_fields(user)))


def import_rows(open_file, report, after_part=None):
    """Check and write every row, BATCH at a time; `after_part(rows)` after each part (the job commits there)."""
    session = db.session
    columns, numbered = _rows(open_file)
    specialties = roster._specialty_lookup(session.query(Specialty).all())
    seen = {}

    def settle(part):
        _settle(session, [c for c in part if isinstance(c, _Candidate)], seen)
        for checked in part:
            report.add(checked.result if isinstance(checked, _Candidate) else checked)
        session.flush()
        if after_part:
            after_part(len(part))

    part = []
    for number, values in numbered:
        if roster._blank(values):
            continue
        part.append(_check_row(number, list(values), columns, specialties))
        if len(part) >= BATCH:
            settle(part)
            part = []
    if part:
        settle(part)


@jobs.job_kind("education_import", _l("Continuing-education import"), queue="default", unit="rows")
def run_import(job, work):
    """The ministry's import of a training provider's list: the uploaded file (the job's input) read twice, BATCH
    rows per transaction, the row report as the job's file. Running it again changes nothing twice."""
    path = jobs.input_path(work.params)
    if path is None or not path.is_file():
        raise UserError(_("The uploaded file is no longer kept; upload it again."))
    user = current_user()
    report = _Report(roster.clean_filename(work.params.get("filename")))

    def after_part(rows):
        db.session.commit()
        work.advance(rows)

    try:
        open_file = roster._opener(path)
        work.total(_count(open_file))
        db.session.rollback()
        import_rows(open_file, report, after_part)
        _audit(db.session, report, user)
        report.save(work.output)
    finally:
        report.close()
    return jobs.Outcome(dict(report.counts), "education-report.csv", "text/csv")


def audit_refusal(filename, message, user):
    report = roster.ImportReport(filename=roster.clean_filename(filename), error=str(message))
    _audit(db.session, report, user)
    db.session.commit()


def sample_csv(example_id_numbers) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["姓名", "身份证号", "培训证书编号", "课程类别", "学时", "结业日期", "培训单位", "课程名称", "专业"])
    first, second = example_id_numbers
    writer.writerow(["张三", first, "JX2025110001", "必修", "24", "2025-06-30", "某某建设职业培训中心",
                     "建设工程法规及相关知识", ""])
    writer.writerow(["李四", second, "JX2025110002", "选修", "12", "2025年9月15日", "某某建设职业培训中心",
                     "BIM技术在施工管理中的应用", "建筑工程"])
    return out.getvalue()
