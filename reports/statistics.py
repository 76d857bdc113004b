"""Ministry and provincial statistics: registered constructors, expiries, applications, stage times, refusals.

Every figure is one grouped SQL query whose small result is pivoted here, so the same numbers feed the
dashboard, its charts and the PDF report. Snapshot figures count as of today (China time); period
figures count what was submitted, decided or refused between two dates (inclusive). Percentiles are
nearest-rank over whole working days (the unit of the statutory limits in config.STAGE_TIME_LIMITS).
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, exists, func, literal_column, select

from ground import replica
from ground.clock import CHINA_TZ, today
from ground.extensions import db
from models import (Application, Enterprise, Province, Registration, RegistrationSpecialty, Specialty,
                    TransitionLog, application_specialty)
from models.choices import REFUSAL_REASONS
from app import workflow
from app.services import dictionaries
from reports.charts import all_charts

# Stages whose time is measured (the pipeline), in pipeline order.
MEASURED_STAGES = workflow.STAGE_ORDER
EXPIRY_CHOICES = (30, 90, 180, 365)


class FilterError(ValueError):
    """A filter value that cannot be used; the message is translated."""


@dataclass(frozen=True)
class Filters:
    date_from: date
    date_to: date
    province: str | None = None
    specialty: str | None = None
    business_type: str | None = None
    expiring_days: int = 90
    enterprise_id: int | None = None  # an enterprise's own dashboard (never from the address)

    @classmethod
    def default(cls) -> "Filters":
        end = today()
        return cls(date_from=end.replace(month=1, day=1), date_to=end)

    @classmethod
    def from_args(cls, args, forced_province: str | None = None, forced_enterprise: int | None = None) -> "Filters":
        """Read query-string filters; raise FilterError with a translated message on a bad value."""
        base = cls.default()
        values = {}
        for key in ("date_from", "date_to"):
            raw = (args.get(key) or "").strip()
            if raw:
                try:
                    values[key] = date.fromisoformat(raw)
                except ValueError:
                    raise FilterError(_l("Dates are written like 2026-01-31.")) from None
        filters = replace(base, **values)
        if filters.date_from > filters.date_to:
            raise FilterError(_l("The period starts after it ends."))
        if (filters.date_to - filters.date_from).days > 366 * 10:
            raise FilterError(_l("The period may be at most ten years."))
        province = forced_province or (None if forced_enterprise else args.get("province") or None)
        if province and not db.session.get(Province, province):
            raise FilterError(_l("Unknown province."))
        specialty = args.get("specialty") or None
        if specialty and not db.session.get(Specialty, specialty):
            raise FilterError(_l("Unknown specialty."))
        business_type = args.get("business_type") or None
        if business_type and business_type not in workflow.BUSINESS_TYPES:
            raise FilterError(_l("Unknown business type."))
        days = args.get("expiring_days") or str(filters.expiring_days)
        if not (days.isascii() and days.isdigit()) or not 1 <= int(days) <= 3660:  # "²".isdigit() is True
            raise FilterError(_l("Expiring within: a number of days from 1 to 3660."))
        return replace(filters, province=province, specialty=specialty, business_type=business_type,
                       expiring_days=int(days), enterprise_id=forced_enterprise)

    def as_args(self) -> dict:
        args = {"date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat(),
                "expiring_days": str(self.expiring_days)}
        args.update({k: v for k, v in (("province", self.province), ("specialty", self.specialty),
                                       ("business_type", self.business_type)) if v})
        return args

    @property
    def moments(self) -> tuple[datetime, datetime]:
        """The period as naive-UTC [start, end) for timestamp columns."""
        start = datetime.combine(self.date_from, time.min, CHINA_TZ)
        end = datetime.combine(self.date_to + timedelta(days=1), time.min, CHINA_TZ)
        return tuple(m.astimezone(timezone.utc).replace(tzinfo=None) for m in (start, end))


@dataclass
class Table:
    """A pivot: row keys × column keys → count, with labels and totals."""

    rows: list
    columns: list
    cells: dict  # (row, column) → int
    row_labels: dict = field(default_factory=dict)
    column_labels: dict = field(default_factory=dict)
    row_totals: dict | None = None  # when a row's total is not the sum of its cells (distinct counts)

    def cell(self, row, column) -> int:
        return self.cells.get((row, column), 0)

    def row_total(self, row) -> int:
        if self.row_totals is not None:
            return self.row_totals.get(row, 0)
        return sum(self.cell(row, c) for c in self.columns)

    def column_total(self, column) -> int:
        return sum(self.cell(r, column) for r in self.rows)

    @property
    def total(self) -> int:
        return sum(self.row_total(r) for r in self.rows)


@dataclass
class StageTime:
    stage: str
    label: object
    count: int
    median: int | None
    p90: int | None
    overdue: int  # finished after the statutory limit
    open_count: int  # still in the stage now
    open_overdue: int  # still in the stage past its deadline
    limit: str  # the statutory limits that apply, e.g. "5" or "5–20"


def _month(column):
    """'YYYY-MM' of a naive-UTC timestamp in China time, on PostgreSQL and SQLite."""
    if db.engine.dialect.name == "postgresql":
        return func.to_char(column + literal_column("interval '8 hours'"), "YYYY-MM")
    return func.strftime("%Y-%m", column, "+8 hours")


def province_labels() -> dict:
    return dictionaries.labels("province")


def specialty_labels() -> dict:
    return dictionaries.labels("specialty")


def _specialty_conditions(filters: Filters, valid_from: date, valid_to: date | None) -> list:
    """Active specialties valid in a date range (and of the filtered specialty)."""
    conditions = [RegistrationSpecialty.status == "active", RegistrationSpecialty.valid_until >= valid_from]
    if valid_to is not None:
        conditions.append(RegistrationSpecialty.valid_until <= valid_to)
    if filters.specialty:
        conditions.append(RegistrationSpecialty.specialty_code == filters.specialty)
    return conditions


def _by_province_and_specialty(filters: Filters, valid_from: date, valid_to: date | None) -> Table:
    """Active registrations by their employer's province × specialty valid in the range; a row's total
    counts persons (a registration with two such specialties once), through a semi-join, not DISTINCT."""
    held = _specialty_conditions(filters, valid_from, valid_to)
    where = [Registration.status == "active"]
    if filters.province:
        where.append(Enterprise.province_code == filters.province)
    if filters.enterprise_id:
        where.append(Registration.enterprise_id == filters.enterprise_id)
    cells = {(p, s): n for p, s, n in db.session.execute(
        select(Enterprise.province_code, RegistrationSpecialty.specialty_code, func.count())
        .select_from(RegistrationSpecialty)
        .join(Registration, Registration.id == RegistrationSpecialty.registration_id)
        .join(Enterprise, Enterprise.id == Registration.enterprise_id)
        .where(*where, *held).group_by(Enterprise.province_code, RegistrationSpecialty.specialty_code))}
    persons = dict(db.session.execute(
        select(Enterprise.province_code, func.count())
        .select_from(Registration).join(Enterprise, Enterprise.id == Registration.enterprise_id)
        .where(*where, exists().where(RegistrationSpecialty.registration_id == Registration.id, *held))
        .group_by(Enterprise.province_code)).all())
    return _province_specialty_table(cells, persons, filters)


def registered(filters: Filters) -> Table:
    """Registered constructors (active registration, a specialty valid today) by province × specialty.
    A person registered in two specialties counts once in each column and once in the row total."""
    return _by_province_and_specialty(filters, today(), None)


def expiring(filters: Filters) -> Table:
    """Registered specialties whose validity ends within `expiring_days` from today."""
    day = today()
    return _by_province_and_specialty(filters, day, day + timedelta(days=filters.expiring_days))


def _province_specialty_table(cells, persons, filters) -> Table:
    provinces, specialties = province_labels(), specialty_labels()
    rows = [p for p in provinces if p in persons]
    columns = [s for s in specialties if not filters.specialty or s == filters.specialty]
    return Table(rows, columns, cells, provinces, specialties, row_totals=persons)


def _application_conditions(filters: Filters):
    conditions = [Application.submitted_at.isnot(None)]  # drafts are the applicant's own business
    if filters.province:
        conditions.append(Application.province_code == filters.province)
    if filters.business_type:
        conditions.append(Application.business_type == filters.business_type)
    if filters.enterprise_id:
        conditions.append(Application.enterprise_id == filters.enterprise_id)
    if filters.specialty:
        conditions.append(exists().where(application_specialty.c.application_id == Application.id,
                                         application_specialty.c.specialty_code == filters.specialty))
    return conditions


@dataclass
class ApplicationFigures:
    by_type_state: Table  # submitted in the period
    by_province_state: Table  # submitted in the period
    by_month: list  # [(YYYY-MM, count)] submitted per month
    pending: Table  # now: in-progress applications by province × stage
    pending_overdue: dict  # province → in-progress past the stage deadline
    overdue_by_stage: dict  # stage → in-progress past the stage deadline

    @property
    def submitted(self) -> int:
        return self.by_type_state.total


def applications(filters: Filters) -> ApplicationFigures:
    start, end = filters.moments
    month = _month(Application.submitted_at)
    grouped = db.session.execute(
        select(Application.business_type, Application.state, Application.province_code, month, func.count())
        .where(*_application_conditions(filters), Application.submitted_at >= start, Application.submitted_at < end)
        .group_by(Application.business_type, Application.state, Application.province_code, month)).all()
    by_type_state, by_province_state, by_month = defaultdict(int), defaultdict(int), defaultdict(int)
    for btype, state, province, ym, n in grouped:
        by_type_state[(btype, state)] += n
        by_province_state[(province, state)] += n
        by_month[ym] += n
    states = [s for s in workflow.STATE_LABELS if s != workflow.State.DRAFT]
    state_labels = {s: str(workflow.STATE_LABELS[s]) for s in states}
    types = {code: str(t.label) for code, t in workflow.BUSINESS_TYPES.items()}
    provinces = province_labels()

    day = today()
    open_rows = db.session.execute(
        select(Application.province_code, Application.state, func.count(),
               func.sum(_as_int(and_(Application.stage_deadline.isnot(None), Application.stage_deadline < day))))
        .where(*_application_conditions(filters), Application.state.in_(MEASURED_STAGES))
        .group_by(Application.province_code, Application.state)).all()
    pending = {(p, s): n for p, s, n, _late in open_rows}
    overdue, overdue_by_stage = defaultdict(int), defaultdict(int)
    for p, stage, _n, late in open_rows:
        overdue[p] += int(late or 0)
        overdue_by_stage[stage] += int(late or 0)
    stage_labels = {s: str(workflow.STATE_LABELS[s]) for s in MEASURED_STAGES}
    return ApplicationFigures(
        by_type_state=Table(_with_data(types, by_type_state), states,
                            dict(by_type_state), types, state_labels),
        by_province_state=Table(_with_data(provinces, by_province_state), states,
                                dict(by_province_state), provinces, state_labels),
        by_month=sorted(by_month.items()),
        pending=Table(_with_data(provinces, pending), list(MEASURED_STAGES), pending,
                      provinces, stage_labels),
        pending_overdue=dict(overdue),
        overdue_by_stage=dict(overdue_by_stage),
    )


def _as_int(condition):
    return case((condition, 1), else_=0)


def _with_data(keys, cells) -> list:
    """The keys (in their order) that head at least one (key, …) cell."""
    present = {k[0] for k in cells}
    return [k for k in keys if k in present]


def _log_conditions(filters: Filters):
    start, end = filters.moments
    conditions = [TransitionLog.created_at >= start, TransitionLog.created_at < end]
    if filters.province:
        conditions.append(TransitionLog.province_code == filters.province)
    if filters.business_type:
        conditions.append(TransitionLog.business_type == filters.business_type)
    if filters.enterprise_id:
        conditions.append(TransitionLog.application_id.in_(
            select(Application.id).where(Application.enterprise_id == filters.enterprise_id)))
    if filters.specialty:
        conditions.append(exists().where(application_specialty.c.application_id == TransitionLog.application_id,
                                         application_specialty.c.specialty_code == filters.specialty))
    return conditions


def nearest_rank(histogram: dict[int, int], share: float) -> int | None:
    """The smallest value v with at least `share` of all observations ≤ v (nearest-rank percentile)."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, math.ceil(share * total))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return None


def stage_times(filters: Filters, figures: "ApplicationFigures | None" = None) -> list[StageTime]:
    """Working days spent in each stage left during the period (median, p90, over the limit), and the
    applications in each stage now, with those past their deadline (from `figures` when given)."""
    limits = current_app.config["STAGE_TIME_LIMITS"]
    rows = db.session.execute(
        select(TransitionLog.from_state, TransitionLog.business_type, TransitionLog.stage_days, func.count())
        .where(*_log_conditions(filters), TransitionLog.from_state.in_(MEASURED_STAGES),
               TransitionLog.stage_days.isnot(None))
        .group_by(TransitionLog.from_state, TransitionLog.business_type, TransitionLog.stage_days)).all()
    histograms, overdue = defaultdict(lambda: defaultdict(int)), defaultdict(int)
    for stage, btype, days, n in rows:
        histograms[stage][days] += n
        limit = limits.get(btype, {}).get(stage)
        if limit is not None and days > limit:
            overdue[stage] += n
    if figures is None:
        figures = applications(filters)
    open_now = {stage: (figures.pending.column_total(stage), figures.overdue_by_stage.get(stage, 0))
                for stage in MEASURED_STAGES}
    result = []
    for stage in MEASURED_STAGES:
        applicable = sorted({v[stage] for k, v in limits.items() if stage in v
                             and (not filters.business_type or k == filters.business_type)})
        limit = "—" if not applicable else (str(applicable[0]) if len(applicable) == 1
                                            else f"{applicable[0]}–{applicable[-1]}")
        histogram = histograms.get(stage, {})
        result.append(StageTime(stage, workflow.STATE_LABELS[stage], sum(histogram.values()),
                                nearest_rank(histogram, 0.5), nearest_rank(histogram, 0.9), overdue.get(stage, 0),
                                *open_now.get(stage, (0, 0)), limit))
    return result


def refusals(filters: Filters) -> list[tuple[str, str, int]]:
    """(reason code, label, count) of refusals made in the period, most frequent first."""
    rows = db.session.execute(
        select(TransitionLog.reason, func.count())
        .where(*_log_conditions(filters), TransitionLog.action == "refuse")
        .group_by(TransitionLog.reason)).all()
    return sorted(((code or "", str(REFUSAL_REASONS.label(code)) if code else str(_l("Not recorded")), n)
                   for code, n in rows), key=lambda r: (-r[2], r[0]))


@dataclass
class Report:
    filters: Filters
    registered: Table
    expiring: Table
    applications: ApplicationFigures
    stage_times: list
    refusals: list
    computed_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc).replace(tzinfo=None))
    _charts: dict | None = field(default=None, repr=False)

    def charts(self) -> dict:
        """The SVG charts (data: URIs), drawn once per report."""
        if self._charts is None:

            self._charts = all_charts(self)
        return self._charts


PARTS = ("applications", "registered", "expiring", "stage_times", "refusals")  # the steps of a report job


def report(filters: Filters, step=None) -> Report:
    """Every figure for these filters; `step(part)` is called after each of PARTS (a job's progress). Read from the
    replica when one is configured (ground/replica.py)."""
    step = step or (lambda _part: None)
    with replica.reads():
        figures = applications(filters)
        step("applications")
        registered_table = registered(filters)
        step("registered")
        expiring_table = expiring(filters)
        step("expiring")
        times = stage_times(filters, figures)
        step("stage_times")
        refused = refusals(filters)
        step("refusals")
    return Report(filters, registered_table, expiring_table, figures, times, refused)


# --- The report as JSON (the shared snapshot, reports/snapshots.py) -------------------------------------
# Plain JSON, not pickle: a row read back from the database is data, never code. Every mapping is a list of
# [key, value] pairs (keys may be None or tuples; order is kept); labels are stored as text in the report's
# language (the snapshot's key holds the language).

PAYLOAD_VERSION = 1


def filters_to_dict(filters: Filters) -> dict:
    return {"date_from": filters.date_from.isoformat(), "date_to": filters.date_to.isoformat(),
            "province": filters.province, "specialty": filters.specialty, "business_type": filters.business_type,
            "expiring_days": filters.expiring_days, "enterprise_id": filters.enterprise_id}


def filters_from_dict(data: dict) -> Filters:
    return Filters(date.fromisoformat(data["date_from"]), date.fromisoformat(data["date_to"]), data.get("province"),
                   data.get("specialty"), data.get("business_type"), int(data["expiring_days"]),
                   data.get("enterprise_id"))


def _pairs(mapping: dict | None):
    return None if mapping is None else [[k, v] for k, v in mapping.items()]


def _table_to_dict(table: Table) -> dict:
    return {"rows": table.rows, "columns": table.columns,
            "cells": [[r, c, n] for (r, c), n in table.cells.items()],
            "row_labels": _pairs(table.row_labels), "column_labels": _pairs(table.column_labels),
            "row_totals": _pairs(table.row_totals)}


def _table_from_dict(data: dict) -> Table:
    totals = data.get("row_totals")
    return Table(list(data["rows"]), list(data["columns"]), {(r, c): n for r, c, n in data["cells"]},
                 dict(map(tuple, data["row_labels"])), dict(map(tuple, data["column_labels"])),
                 None if totals is None else dict(map(tuple, totals)))


def to_dict(result: Report) -> dict:
    """The report's figures as JSON-ready data (from_dict rebuilds an equal report)."""
    figures = result.applications
    return {
        "version": PAYLOAD_VERSION, "filters": filters_to_dict(result.filters),
        "computed_at": result.computed_at.isoformat(),
        "registered": _table_to_dict(result.registered), "expiring": _table_to_dict(result.expiring),
        "applications": {
            "by_type_state": _table_to_dict(figures.by_type_state),
            "by_province_state": _table_to_dict(figures.by_province_state),
            "by_month": [[ym, n] for ym, n in figures.by_month], "pending": _table_to_dict(figures.pending),
            "pending_overdue": _pairs(figures.pending_overdue), "overdue_by_stage": _pairs(figures.overdue_by_stage)},
        "stage_times": [{"stage": t.stage, "label": str(t.label), "count": t.count, "median": t.median, "p90": t.p90,
                         "overdue": t.overdue, "open_count": t.open_count, "open_overdue": t.open_overdue,
                         "limit": t.limit} for t in result.stage_times],
        "refusals": [[code, str(label), n] for code, label, n in result.refusals],
    }


def from_dict(data: dict) -> Report:
    """The report of to_dict(); ValueError for data of another version."""
    if data.get("version") != PAYLOAD_VERSION:
        raise ValueError(f"statistics payload version {data.get('version')!r}")
    apps = data["applications"]
    figures = ApplicationFigures(
        _table_from_dict(apps["by_type_state"]), _table_from_dict(apps["by_province_state"]),
        [tuple(pair) for pair in apps["by_month"]], _table_from_dict(apps["pending"]),
        dict(map(tuple, apps["pending_overdue"])), dict(map(tuple, apps["overdue_by_stage"])))
    return Report(filters_from_dict(data["filters"]), _table_from_dict(data["registered"]),
                  _table_from_dict(data["expiring"]), figures, [StageTime(**t) for t in data["stage_times"]],
                  [tuple(r) for r in data["refusals"]], datetime.fromisoformat(data["computed_at"]))
