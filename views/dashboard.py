"""The statistics dashboard (统计分析) for the ministry and, scoped to their province, provincial authorities;
its PDF report, and the PDF roster of a province's registered constructors (the job "roster_pdf", any size).
The figures come from the shared snapshot that a background job computes (reports/snapshots.py), or are
computed here when the cache is off."""
import tempfile
from pathlib import Path

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pypdf import PdfReader, PdfWriter
from sqlalchemy import select, tuple_

from ground import roles as R
from ground.clock import today
from ground.errors import UserError
from ground.extensions import db
from models import Enterprise, Person, Province, Registration, RegistrationSpecialty
from models.job import ACTIVE_JOB_STATES
from app import audit, jobs, workflow
from app.scope import current_user
from reports import snapshots, statistics
from reports.pdf import render_pdf
from views.jobs import announce


def _scope():
    """(province, enterprise id) the user's statistics are limited to: the ministry sees the country, a
    provincial authority its province, an enterprise itself."""
    user = current_user()
    roles = R.user_role_names(user)
    if R.MINISTRY in roles:
        return None, None
    if R.PROVINCE in roles and user.province_code:
        return user.province_code, None
    if R.ENTERPRISE in roles and user.enterprise_id:
        return None, user.enterprise_id
    abort(403)


class BadFilters(Exception):
    """The address holds a filter that cannot be used: back to the dashboard with the message."""


def back_to_dashboard(_error):
    """Error handler for BadFilters (registered in views/__init__.py)."""
    return redirect(url_for("DashboardView.index"))


def _filters():
    province, enterprise_id = _scope()
    try:
        return statistics.Filters.from_args(request.args, forced_province=province, forced_enterprise=enterprise_id)
    except statistics.FilterError as exc:
        flash(str(exc), "danger")
        raise BadFilters() from exc


def _filename(stem: str) -> str:
    return f"{stem}-{today():%Y%m%d}.pdf"


def _pdf(data: bytes, filename: str) -> Response:
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})


class DashboardView(BaseView):
    route_base = "/dashboard"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        """The report for the filters: computed here when STATISTICS_CACHE_SECONDS is 0; otherwise the shared
        snapshot (reports/snapshots.py), refreshed by a background job when stale or asked for."""
        filters = _filters()
        refresh = request.args.get("refresh") == "1"
        if current_app.config["STATISTICS_CACHE_SECONDS"] <= 0:
            if refresh:
                return redirect(url_for("DashboardView.index", **filters.as_args()))
            return self._page(statistics.report(filters))
        lang = jobs.current_language()
        snapshot_key = snapshots.key(filters, today(), lang)
        if refresh:
            if snapshots.ensure_job(filters, lang, current_user(), force=True) is not None:
                flash(_("The statistics are being recalculated in the background."), "info")
            return redirect(url_for("DashboardView.index", **filters.as_args()))
        found = snapshots.load(snapshot_key)
        job = snapshots.latest_job(snapshot_key)
        if found is None or not found.is_fresh():
            if job is None or job.state not in ACTIVE_JOB_STATES:
                job = snapshots.ensure_job(filters, lang, current_user()) or job
                found = snapshots.load(snapshot_key) or found  # a quick worker (or JOBS_EAGER) has finished
        if found is None:
            return self._computing(filters, job)
        active = job if job is not None and job.state in ACTIVE_JOB_STATES else None
        return self._page(found.report, snapshot=found, refreshing=active)

    def _page(self, report, snapshot=None, refreshing=None):
        forced, enterprise_id = _scope()
        filters = report.filters
        return self.render_template(
            "dashboard/index.html", report=report, charts=report.charts(), filters=filters,
            provinces=statistics.province_labels(), specialties=statistics.specialty_labels(),
            business_types={code: str(t.label) for code, t in workflow.BUSINESS_TYPES.items()},
            expiry_choices=statistics.EXPIRY_CHOICES, forced_province=forced, title=_("Statistics"),
            enterprise=db.session.get(Enterprise, enterprise_id) if enterprise_id else None,
            snapshot=snapshot, stale=snapshot is not None and not snapshot.is_fresh(), refreshing=refreshing,
            cache_minutes=current_app.config["STATISTICS_CACHE_SECONDS"] // 60)

    def _computing(self, filters, job):
        """No figures yet: the page follows the job (static/js/dashboard.js polls /jobs/status) and shows
        the report when it is done; a failed job is shown with its reason and a way to try again."""
        user = current_user()
        visible = job is not None and jobs.find(job.id, user) is not None
        return self.render_template(
            "dashboard/computing.html", filters=filters, job=job, visible=visible,
            failed=job is not None and job.state == "failed", title=_("Statistics"),
            show_url=url_for("DashboardView.index", **filters.as_args()),
            retry_url=url_for("DashboardView.index", refresh="1", **filters.as_args()))

    @expose("/pdf")
    @has_access
    def pdf(self):
        """The statistics report with its charts, for the filters on the page: the shared snapshot when
        there is one (whatever its age), else computed here."""

        filters = _filters()
        found = None
        if current_app.config["STATISTICS_CACHE_SECONDS"] > 0:
            found = snapshots.load(snapshots.key(filters, today(), jobs.current_language()))
        report = found.report if found is not None else statistics.report(filters)
        data = render_pdf("statistics.html", report=report, charts=report.charts(),
                          provinces=statistics.province_labels(), specialties=statistics.specialty_labels(),
                          business_types={c: str(t.label) for c, t in workflow.BUSINESS_TYPES.items()})
        return _pdf(data, _filename("statistics"))

    @expose("/roster")
    @has_access
    def roster(self):
        """Start the PDF list of one province's registered constructors (optionally one specialty) as a job."""

        forced, enterprise_id = _scope()
        if enterprise_id:  # an enterprise's roster is 本单位注册人员
            abort(403)
        code = forced or request.args.get("province") or ""
        province = db.session.get(Province, code) if code else None
        back = url_for("DashboardView.index", **{k: v for k, v in request.args.items() if k != "province"})
        if province is None:
            flash(_("Choose a province for the roster."), "warning")
            return redirect(back)
        specialty = (request.args.get("specialty") or "")[:20] or None
        specialty_name = statistics.specialty_labels().get(specialty) if specialty else None
        title = " · ".join(str(part) for part in (_("Roster of registered constructors"), province, specialty_name)
                           if part)
        job = jobs.start("roster_pdf", {"province": code, "specialty": specialty, "lang": jobs.current_language()},
                         current_user(), title=title)
        announce(job)
        return redirect(url_for("JobsView.index"))


@jobs.job_kind("roster_pdf", _l("Roster of registered constructors (PDF)"), queue="documents", unit="rows")
def run_roster_pdf(job, work):
    """The province roster in parts of ROSTER_PDF_ROWS_PER_PART rows, each rendered to its own PDF (WeasyPrint's
    memory is that of one part) and merged with pypdf; rows are read page by page on the sort key."""
    code, specialty = work.params["province"], work.params.get("specialty")
    user = current_user()
    roles = R.user_role_names(user)
    if not (R.MINISTRY in roles or (R.PROVINCE in roles and user.province_code == code)):
        raise UserError(_("Your account may no longer print this roster."))
    province = db.session.get(Province, code)
    if province is None:
        raise UserError(_("Choose a province for the roster."))
    query = _roster_query(code, specialty)
    count = db.session.execute(select(db.func.count()).select_from(query.subquery())).scalar()
    per_part = max(1, current_app.config["ROSTER_PDF_ROWS_PER_PART"])
    context = {"province": str(province), "as_of": today(), "total": count,
               "specialty_name": statistics.specialty_labels().get(specialty) if specialty else None}
    db.session.rollback()  # the count's read transaction ends before the progress is written
    work.total(count)
    with tempfile.TemporaryDirectory(prefix="roster-pdf-") as folder:
        parts, done, pages, last = [], 0, 0, None
        while True:
            page_query = query.limit(per_part)
            if last is not None:
                page_query = page_query.where(tuple_(Enterprise.name, Registration.number, Registration.id) >
                                              tuple_(last.enterprise, last.number, last.id))
            rows = db.session.execute(page_query).all()
            if not rows and parts:
                break
            summaries = specialty_summaries([r.id for r in rows])
            db.session.rollback()  # no read transaction stays open while a part renders
            data = render_pdf("roster.html", rows=rows, offset=done, first_page=pages + 1, summaries=summaries,
                              **context)
            path = Path(folder) / f"{len(parts):05d}.pdf"
            path.write_bytes(data)
            parts.append(path)
            pages += len(PdfReader(path).pages)
            done += len(rows)
            work.advance(len(rows))
            if len(rows) < per_part:
                break
            last = rows[-1]
        writer = PdfWriter()
        for path in parts:
            writer.append(str(path))
        with open(work.output, "wb") as out:
            writer.write(out)
    args = {"province": code, **({"specialty": specialty} if specialty else {})}
    audit.record("print", "Report", summary="DashboardView.roster",  # committed with the job's end
                 detail={"endpoint": "DashboardView.roster", "args": args, "rows": done,
                         "bytes": work.output.stat().st_size})
    return jobs.Outcome({"rows": done, "pages": pages}, _filename(f"roster-{code}"), "application/pdf")


def _roster_query(province_code: str, specialty: str | None):
    """Active registrations with a specialty valid today whose employer is in the province, by employer."""
    day = today()
    valid = select(RegistrationSpecialty.registration_id).where(
        RegistrationSpecialty.status == "active", RegistrationSpecialty.valid_until >= day)
    if specialty:
        valid = valid.where(RegistrationSpecialty.specialty_code == specialty)
    return (select(Person.name, Person.id_number, Registration.number, Enterprise.name.label("enterprise"),
                   Registration.id)
            .join(Registration, Registration.person_id == Person.id)
            .join(Enterprise, Enterprise.id == Registration.enterprise_id)
            .where(Enterprise.province_code == province_code, Registration.status == "active",
                   Registration.id.in_(valid))
            .order_by(Enterprise.name, Registration.number, Registration.id))


def specialty_summaries(registration_ids, day=None) -> dict:
    """registration id → "建筑工程 2029-11-23；…" of its specialties valid on `day`."""
    day = day or today()
    names = statistics.specialty_labels()
    found = {}
    for rid, code, until in db.session.execute(
            select(RegistrationSpecialty.registration_id, RegistrationSpecialty.specialty_code,
                   RegistrationSpecialty.valid_until)
            .where(RegistrationSpecialty.registration_id.in_(registration_ids),
                   RegistrationSpecialty.status == "active", RegistrationSpecialty.valid_until >= day)
            .order_by(RegistrationSpecialty.id)):
        found.setdefault(rid, []).append(f"{names.get(code, code)} {until}")
    return {rid: "；".join(parts) for rid, parts in found.items()}

