"""Social-insurance data for the conflict check (挂证, app/conflicts.py): who paid a person's social insurance in a
month. Pluggable like the real-name and SMS backends: SOCIAL_INSURANCE_SOURCE names the class.

A source implements one method:

    class MySource(SocialInsuranceSource):
        name = "my-source"

        def payers(self, id_numbers, month) -> dict[str, set[str]]:
            # {ID number: unified social credit codes of the enterprises that paid its social insurance in
            #  `month` ("YYYY-MM")}; a person the source has no data for is left out (no data is no conflict).

Built in: `CsvSource` reads the payments imported from the insurance authority's CSV files
(`import_payments`: ID number, the paying enterprise's credit code, month; `flask import-social-insurance FILE`),
and `SimulatorSource` answers deterministically for demos and tests: every Nth registered person
(SOCIAL_INSURANCE_SIMULATOR_EVERY, by a hash of the ID number) is paid by another enterprise of the directory,
everyone else by the registered employer.
"""
from __future__ import annotations

import abc
import hashlib
import re

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app import tables
from app.audit import actor_fields
from app.services.backends import configured
from ground.clock import today
from ground.extensions import db
from ground.identifiers import InvalidIdentifier, clean_credit_code, clean_id_number
from models import AuditLog, Enterprise, Person, Registration, SocialInsuranceRecord

CHUNK = 500
_MONTH = re.compile(r"^(\d{4})[-/.年](\d{1,2})月?$")


class SocialInsuranceSource(abc.ABC):
    """Interface of a social-insurance data source."""

    name = "source"

    @abc.abstractmethod
    def payers(self, id_numbers: list[str], month: str) -> dict[str, set[str]]:
        """ID number → credit codes of the enterprises that paid in `month`; people without data left out."""


class CsvSource(SocialInsuranceSource):
    """The payments imported from CSV files (SocialInsuranceRecord)."""

    name = "csv"

    def payers(self, id_numbers, month):
        found: dict[str, set[str]] = {}
        ids = sorted(set(id_numbers))
        for i in range(0, len(ids), CHUNK):
            for id_number, code in db.session.execute(select(SocialInsuranceRecord.id_number,
                                                             SocialInsuranceRecord.credit_code).where(
                    SocialInsuranceRecord.id_number.in_(ids[i:i + CHUNK]), SocialInsuranceRecord.month == month)):
                found.setdefault(id_number, set()).add(code)
        return found


class SimulatorSource(SocialInsuranceSource):
    """Deterministic stand-in: every Nth registered person is paid by another enterprise (the same one each run)."""

    name = "simulator"

    @staticmethod
    def _hash(id_number: str) -> int:
        return int(hashlib.sha256(id_number.encode()).hexdigest()[:12], 16)

    def payers(self, id_numbers, month):
        every = current_app.config.get("SOCIAL_INSURANCE_SIMULATOR_EVERY", 0)
        ids = sorted(set(id_numbers))
        employers: dict[str, str] = {}
        for i in range(0, len(ids), CHUNK):
            employers.update(db.session.execute(
                select(Person.id_number, Enterprise.credit_code).join(Registration, Registration.person_id == Person.id)
                .join(Enterprise, Enterprise.id == Registration.enterprise_id)
                .where(Person.id_number.in_(ids[i:i + CHUNK]))).tuples().all())
        codes = list(db.session.scalars(select(Enterprise.credit_code).order_by(Enterprise.id).limit(50)))
        found = {}
        for id_number, own in employers.items():
            others = [c for c in codes if c != own]
            if every and others and self._hash(id_number) % every == 0:
                found[id_number] = {others[self._hash(id_number) // every % len(others)]}
            else:
                found[id_number] = {own}
        return found


def source() -> SocialInsuranceSource:
    return configured("SOCIAL_INSURANCE_SOURCE")


# --- The CSV import of payments (CsvSource's data) --------------------------------------------------------
COLUMNS = {
    "id_number": ("身份证号", "身份证号码", "id_number"),
    "credit_code": ("缴费单位统一社会信用代码", "统一社会信用代码", "credit_code"),
    "month": ("缴费月份", "月份", "month"),
}
REQUIRED = ("id_number", "credit_code", "month")
REPORT_HEADER = (_l("ID number"), _l("Unified social credit code"), _l("Month"))


def parse_month(value) -> str | None:
    """"2026-11", "2026/11", "2026年11月", a date → "2026-11"; None when not understood."""
    day, reason = tables.parse_date(value)
    if reason is None:
        return f"{day.year:04d}-{day.month:02d}"
    match = _MONTH.match(tables.text(value))
    if match and 1 <= int(match.group(2)) <= 12:
        return f"{int(match.group(1)):04d}-{int(match.group(2)):02d}"
    return None


def import_payments(source_file, filename, user) -> tables.Report:
    """Import a payments file: each row accepted (new), unchanged (already imported) or refused with its reason;
    one transaction; an audit row with the counts."""
    report = tables.Report(REPORT_HEADER)
    filename = tables.clean_filename(filename)
    try:
        rows = tables.read(source_file, COLUMNS, REQUIRED)
    except tables.TableRefused as exc:
        report.error = str(exc.message)
        rows = []
    this_month = f"{today():%Y-%m}"
    seen = set()
    for number, cells in rows:
        raw_id, raw_code = tables.text(cells.get("id_number")), tables.text(cells.get("credit_code"))
        reasons, id_number, code = [], "", ""
        try:
            id_number = clean_id_number(raw_id)
        except InvalidIdentifier as exc:
            reasons.append(exc.message)
        try:
            code = clean_credit_code(raw_code)
        except InvalidIdentifier as exc:
            reasons.append(exc.message)
        month = parse_month(cells.get("month"))
        if month is None:
            reasons.append(_l("The month “%(value)s” is not understood; write it as YYYY-MM, e.g. 2026-11.",
                              value=tables.text(cells.get("month"))[:20]))
        elif month > this_month:
            reasons.append(_l("The month %(month)s is in the future.", month=month))
        shown = [tables.mask(id_number or raw_id), code or raw_code[:20], month or tables.text(cells.get("month"))[:20]]
        if reasons:
            report.add(number, shown, "refused", " ".join(str(r) for r in reasons))
            continue
        key = (id_number, month, code)
        exists = key in seen or db.session.scalar(select(SocialInsuranceRecord.id).where(
            SocialInsuranceRecord.id_number == id_number, SocialInsuranceRecord.month == month,
            SocialInsuranceRecord.credit_code == code)) is not None
        seen.add(key)
        if exists:
            report.add(number, shown, "unchanged")
            continue
        db.session.add(SocialInsuranceRecord(id_number=id_number, credit_code=code, month=month))
        report.add(number, shown, "accepted")
    counts = report.counts
    db.session.add(AuditLog(action="import", object_type="SocialInsurance",
                            summary=(f"{filename}: rows {counts['rows']}, accepted {counts['accepted']}, "
                                     f"refused {counts['refused']}, unchanged {counts['unchanged']}")[:200],
                            detail={**counts, "filename": filename, "error": report.error or None},
                            **actor_fields(user)))
    db.session.commit()
    return report
