"""Employer status (企业状态): the ministry's entries, the national enterprise register's import, and the nightly
job that applies what follows from a status in the rules (app/employer_rules.py).

- `set_status(enterprise, status, effective_on, source, note, user)`: one change, with its history row
  (EnterpriseStatusChange) and its audit row, in the caller's transaction. The day may not lie in the future.
- `import_register(source, filename, user)`: a CSV/XLSX of the national enterprise register (unified social
  credit code, name, status, date); every row accepted, unchanged (the status is already so) or refused with its
  reason; each change through `set_status`. The page runs it as the job "enterprise_register_import".
- `nightly(as_of)` ("employer-status" in ops/schedule.py): open applications naming a non-qualified employer are
  returned to the applicant through the engine (System move `employer_closed`), and the people registered there are
  told to change employer, once per status change (the message's event is the change). Idempotent; one audit row.
"""
from __future__ import annotations

import logging
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app import employer_rules, jobs, notifications, tables, workflow
from app.audit import actor_fields, record
from app.business_types.shared import configured_limits
from app.scope import current_user
from ground.clock import as_of as clock_as_of, today
from ground.errors import UserError
from ground.extensions import db
from ground.identifiers import InvalidIdentifier, clean_credit_code
from ground.vocabulary import State
from models import Application, AuditLog, Enterprise, EnterpriseStatusChange, Registration
from models.choices import ENTERPRISE_STATUS_SOURCES, ENTERPRISE_STATUSES

log = logging.getLogger(__name__)
NOTE_MAX = 500
# The stages the System returns an application from (after approval the registration has changed already).
RETURNABLE = (State.ENTERPRISE, State.RELEASE, State.PROVINCE, State.INDUSTRY, State.MINISTRY)


class StatusRefused(UserError):
    """A status change that cannot be made (nothing is written)."""


def set_status(enterprise: Enterprise, status: str, effective_on: date, source: str, note: str | None, user):
    """Record that `enterprise` is `status` from `effective_on` (source: models.choices.ENTERPRISE_STATUS_SOURCES).
    Returns the history row; the caller commits. StatusRefused (nothing written) for what cannot be."""
    if status not in ENTERPRISE_STATUSES:
        raise StatusRefused(_l("Choose a status from the list."))
    if source not in ENTERPRISE_STATUS_SOURCES:
        raise StatusRefused(_l("Unknown source of the status."))
    if not isinstance(effective_on, date):
        raise StatusRefused(_l("Enter the date the status took effect."))
    if effective_on > today():
        raise StatusRefused(_l("The date %(date)s is in the future; enter a status once it has taken effect.",
                               date=effective_on.isoformat()))
    if status == (enterprise.status or "active"):
        raise StatusRefused(_l("%(name)s is already “%(status)s”.", name=enterprise.name,
                               status=ENTERPRISE_STATUSES.label(status)))
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise StatusRefused(_l("The note is longer than %(max)s characters.", max=NOTE_MAX))
    actor = actor_fields(user)
    change = EnterpriseStatusChange(enterprise_id=enterprise.id, status=status,
                                    previous_status=enterprise.status or "active", effective_on=effective_on,
                                    source=source, note=note or None, user_id=actor.get("user_id"),
                                    username=actor.get("username"))
    db.session.add(change)
    enterprise.status, enterprise.status_since, enterprise.status_source = status, effective_on, source
    db.session.flush()
    record("enterprise.status", "Enterprise", enterprise.id,
           summary=f"{enterprise.name}: {change.previous_status} → {status} ({effective_on}, {source})",
           detail={"status": status, "previous": change.previous_status, "effective_on": effective_on.isoformat(),
                   "source": source, "note": note or None}, user=user)
    return change


# --- The national enterprise register's import ----------------------------------------------------------
COLUMNS = {
    "credit_code": ("统一社会信用代码", "信用代码", "credit_code"),
    "name": ("企业名称", "单位名称", "name"),
    "status": ("登记状态", "经营状态", "企业状态", "status"),
    "effective_on": ("状态日期", "变更日期", "日期", "effective_on"),
}
REQUIRED = ("credit_code", "status", "effective_on")
REPORT_HEADER = (_l("Unified social credit code"), _l("Enterprise name"), _l("Status"), _l("Date"))
# The register's words for a status (and our codes and English labels) → our code.
STATUS_WORDS = {
    "active": ("存续", "在业", "开业", "正常", "在营", "active"),
    "suspended": ("停业", "歇业", "暂停", "suspended"),
    "revoked": ("吊销", "吊销营业执照", "吊销未注销", "吊销，未注销", "revoked"),
    "deregistered": ("注销", "已注销", "deregistered"),
}
_STATUS_LOOKUP = {word.lower(): code for code, words in STATUS_WORDS.items() for word in words}


def _check_register_row(number, cells, known: dict):
    """(enterprise, status, day, report cells, reasons)."""
    raw_code, name = tables.text(cells.get("credit_code")), tables.text(cells.get("name"))
    raw_status = tables.text(cells.get("status"))
    reasons, enterprise, code = [], None, ""
    try:
        code = clean_credit_code(raw_code)
        enterprise = known.get(code)
        if enterprise is None:
            reasons.append(_l("No enterprise with this credit code is in the directory."))
    except InvalidIdentifier as exc:
        reasons.append(exc.message)
    status = _STATUS_LOOKUP.get(raw_status.replace(" ", "").lower())
    if status is None:
        reasons.append(_l("Unknown status “%(value)s”; write 存续, 停业, 吊销 or 注销.", value=raw_status[:20]))
    day, reason = tables.parse_date(cells.get("effective_on"))
    if reason:
        reasons.append(reason)
    elif day > today():
        reasons.append(_l("The date %(date)s is in the future.", date=day.isoformat()))
    shown = [code or raw_code[:20], name[:60] or (enterprise.name if enterprise else ""), raw_status[:20],
             day.isoformat() if day else tables.text(cells.get("effective_on"))[:20]]
    return enterprise, status, day, shown, reasons


def import_register(source, filename, user, after_rows=None) -> tables.Report:
    """Import a register file (path, bytes or stream): every row through `set_status`, one transaction per 500
    rows; the row report. `after_rows(n)` is called after each committed part (the job's progress)."""
    report = tables.Report(REPORT_HEADER)
    filename = tables.clean_filename(filename)
    try:
        rows = tables.read(source, COLUMNS, REQUIRED)
    except tables.TableRefused as exc:
        report.error = str(exc.message)
        _audit_import(report, filename, user)
        db.session.commit()
        return report
    for start in range(0, len(rows), 500):
        part = rows[start:start + 500]
        codes = set()
        for _number, cells in part:
            try:
                codes.add(clean_credit_code(tables.text(cells.get("credit_code"))))
            except InvalidIdentifier:
                pass
        known = {e.credit_code: e for e in db.session.scalars(select(Enterprise).where(Enterprise.credit_code.in_(codes)))}
        for number, cells in part:
            enterprise, status, day, shown, reasons = _check_register_row(number, cells, known)
            if reasons:
                report.add(number, shown, "refused", " ".join(str(r) for r in reasons))
            elif status == (enterprise.status or "active"):
                report.add(number, shown, "unchanged")
            else:
                try:
                    with db.session.begin_nested():
                        set_status(enterprise, status, day, "register", _("National enterprise register import"), user)
                    report.add(number, shown, "accepted")
                except StatusRefused as exc:
                    report.add(number, shown, "refused", str(exc.message))
        db.session.commit()
        if after_rows:
            after_rows(len(part))
    _audit_import(report, filename, user)
    db.session.commit()
    return report


def _audit_import(report, filename, user):
    counts = report.counts
    db.session.add(AuditLog(action="import", object_type="EnterpriseRegister",
                            summary=(f"{filename}: rows {counts['rows']}, accepted {counts['accepted']}, "
                                     f"refused {counts['refused']}, unchanged {counts['unchanged']}")[:200],
                            detail={**counts, "filename": filename, "error": report.error or None},
                            **actor_fields(user)))


def check_register_file(source):
    """Refuse (TableRefused) a file the import cannot read, before a job starts."""
    tables.read(source, COLUMNS, REQUIRED)


@jobs.job_kind("enterprise_register_import", _l("National enterprise register import"), queue="default", unit="rows")
def run_register_import(job, work):
    """The page's import: the uploaded file (the job's input); the row report is the job's download. Running it
    again changes nothing twice (a status already so is "unchanged")."""
    path = jobs.input_path(work.params)
    if path is None or not path.is_file():
        raise UserError(_("The uploaded file is no longer kept; upload it again."))
    work.total(len(tables.read(path, COLUMNS, REQUIRED)))
    db.session.rollback()
    report = import_register(path, work.params.get("filename"), current_user(), after_rows=work.advance)
    report.save(work.output)
    return jobs.Outcome(report.counts, "enterprise-register-report.csv", "text/csv")


# --- What follows each night ----------------------------------------------------------------------------
def _blocked_ids(limits) -> list[int]:
    return list(db.session.scalars(select(Enterprise.id).where(
        Enterprise.status.in_(list(limits["EMPLOYER_BLOCKING_STATUSES"]))).order_by(Enterprise.id)))


def _latest_changes(enterprise_ids) -> dict[int, EnterpriseStatusChange]:
    if not enterprise_ids:
        return {}
    latest = (select(func.max(EnterpriseStatusChange.id)).where(EnterpriseStatusChange.enterprise_id.in_(enterprise_ids))
              .group_by(EnterpriseStatusChange.enterprise_id))
    return {c.enterprise_id: c for c in db.session.scalars(select(EnterpriseStatusChange)
                                                            .where(EnterpriseStatusChange.id.in_(latest)))}


def _return(app_id: int) -> bool:
    app = db.session.get(Application, app_id)
    reasons = employer_rules.application_reasons(app)
    opinion = " ".join(str(r) for r in reasons) or str(_l("The employer is not qualified."))
    try:
        workflow.apply(app_id, workflow.Move("employer_closed", opinion=opinion), None, as_system=True)
        return True
    except workflow.WorkflowError as exc:
        log.info("application %s: employer_closed not taken (%s)", app_id, exc.message)
        return False


def nightly(as_of: date) -> dict:
    with clock_as_of(as_of):
        limits = configured_limits()
        figures = {"as_of": as_of.isoformat(), "employers_not_qualified": 0, "applications_returned": 0,
                   "people_notified": 0}
        blocked = _blocked_ids(limits)
        figures["employers_not_qualified"] = len(blocked)
        if blocked:
            open_ids = list(db.session.scalars(select(Application.id).where(
                Application.state.in_(RETURNABLE), Application.enterprise_id.in_(blocked),
                Application.business_type.in_(employer_rules.checked_types())).order_by(Application.id)))
            for app_id in open_ids:
                figures["applications_returned"] += _return(app_id)
            changes = _latest_changes(blocked)
            registered = db.session.execute(select(Registration.person_id, Registration.enterprise_id).where(
                Registration.status == "active", Registration.enterprise_id.in_(blocked))).tuples().all()
            users = notifications.applicant_users_of(person_id for person_id, _ in registered)
            messages = []
            for person_id, enterprise_id in registered:
                change = changes.get(enterprise_id)
                if change is None:
                    continue
                messages.append((f"employer_not_qualified:{change.id}:{person_id}", users.get(person_id, []),
                                 {"enterprise": change.enterprise.name, "enterprise_status": change.status,
                                  "day": change.effective_on}, f"enterprise:{enterprise_id}"))
            figures["people_notified"] = notifications.send_many("employer_not_qualified", messages)
        record("lifecycle.employer_status", "Lifecycle", None,
               summary=", ".join(f"{k} {v}" for k, v in figures.items() if k != "as_of"), detail=figures)
        db.session.commit()
        return figures
