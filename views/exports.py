"""Ministry data exports through Flask-Admin, mounted at /exports beside FAB.

One Flask-Admin ModelView per model (persons, enterprises, registrations, certificates, applications):
a paged list with filters and search, and CSV / XLSX exports of exactly the filtered rows. Both read
one SQL SELECT (reports/exports.py) with the row scope applied, stream in constant memory and never
load ORM objects. Guarded by FAB: "can_export" on "Exports"; full ID and mobile numbers need
"can_export_unmasked" (held by no role by default). An export is a background job (kind "export",
app/jobs.py): the page starts it and lands on 我的任务; the worker writes the file as the person who asked, and
the export's audit row is committed with the job's end, so it exists only when the file does.
"""
import os
import shutil
import tempfile
from datetime import datetime, time, timedelta
from pathlib import Path

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import Admin, AdminIndexView, expose
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla import filters as F
from flask_admin.theme import Bootstrap4Theme
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func

from ground import replica
from ground.clock import CHINA_TZ
from ground.extensions import db
from ground.roles import EXPORT_UNMASKED, EXPORTS
from models import (Application, Certificate, Enterprise, Person, Registration,
                    RegistrationSpecialty, application_specialty)
from models.choices import Bilingual, CERTIFICATE_STATUSES, GENDERS, REALNAME_STATUSES, REGISTRATION_STATUSES
from models.dictionary import PROVINCES, SPECIALTIES
from models.labels import LABELS
from app import audit, jobs, scope, workflow
from ground.errors import UserError
from reports import exports as X
from views.jobs import announce
from views.shell.headers import csp_nonce

CAN_EXPORT = "can_export"
MAX_PAGE = 10**6
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def may_export() -> bool:
    return _holds(CAN_EXPORT)


def may_unmask() -> bool:
    return _holds(EXPORT_UNMASKED)


def _holds(permission) -> bool:
    user = scope.current_user()
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return current_app.appbuilder.sm.has_access(permission, EXPORTS)


class ExportAccess:
    """Flask-Admin checks is_accessible() on every request of the view (list, export, index)."""

    def is_accessible(self):
        return may_export()

    def render(self, template, **kwargs):
        """Flask-Admin's templates use `javascript:void(0)` links and an inline `onclick` on the filter menu,
        which the Content-Security-Policy blocks (views/shell/headers.py); Bootstrap and Flask-Admin's scripts bind
        those elements by class, so plain links (the filter items without any address) do the same."""
        html = super().render(template, **kwargs)
        html = html.replace('href="javascript:void(0)" class="dropdown-item filter" onclick="return false;"',
                            'role="button" tabindex="0" class="dropdown-item filter"')  # no navigation at all
        return html.replace('href="javascript:void(0)"', 'href="#"')

    def inaccessible_callback(self, name, **kwargs):
        user = scope.current_user()
        if user is None or not getattr(user, "is_authenticated", False):
            return redirect(current_app.appbuilder.get_url_for_login_with(request.full_path))
        abort(403)


# --- Filters ------------------------------------------------------------------------------------

def _named(flt, arg):
    """A stable, language-independent URL name for the filter (flt0_<arg>=...)."""
    flt.arg = arg
    return flt


class StartsWith(F.BaseSQLAFilter):
    """Prefix match (ID numbers, credit codes): can use the column's index, x → X."""

    def apply(self, query, value, alias=None):
        term = value.strip().upper().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return query.filter(self.get_column(alias).like(term + "%", escape="\\"))

    def operation(self):
        return _l("starts with")


class Holds(F.BaseSQLAFilter):
    """A condition on related rows (e.g. holds a specialty) as EXISTS: no join, no duplicated rows."""

    def __init__(self, model, condition, name, options=None):
        super().__init__(model.id, name, options)
        self.condition = condition

    def apply(self, query, value, alias=None):
        return query.filter(self.condition(value))

    def operation(self):
        return _l("includes")


class ChinaDateBetween(F.DateBetweenFilter):
    """Dates picked in China time on a naive-UTC timestamp column."""

    def apply(self, query, value, alias=None):
        start, end = value
        column = self.get_column(alias)
        low = datetime.combine(start, time()) - timedelta(hours=8)
        high = datetime.combine(end + timedelta(days=1), time()) - timedelta(hours=8)
        return query.filter(column >= low, column < high)


class ValidUntilBetween(F.DateBetweenFilter):
    """Registrations with an active specialty expiring between two dates."""

    def __init__(self, name):
        super().__init__(Registration.id, name)

    def apply(self, query, value, alias=None):
        start, end = value
        rs = RegistrationSpecialty
        return query.filter(exists().where(rs.registration_id == Registration.id, rs.status == "active",
                                           rs.valid_until.between(start, end)))


def _province_options():
    return [(code, Bilingual(name, name_en)) for code, name, name_en, _abbr in PROVINCES]


def _specialty_options():
    return [(code, Bilingual(name, name_en)) for code, name, name_en, _industry in SPECIALTIES]


def _choices(labels):
    return lambda: list(labels.items())


def _registration_holds(code):
    rs = RegistrationSpecialty
    return exists().where(rs.registration_id == Registration.id, rs.specialty_code == code, rs.status == "active")


def _application_holds(code):
    link = application_specialty.c
    return exists().where(link.application_id == Application.id, link.specialty_code == code)


def _filters(spec_name, L):
    """Fresh filter objects for one view (they bind to its model). No filter lists a large table."""
    if spec_name == "persons":
        return [
            _named(F.FilterLike(Person.name, L["name"]), "name"),
            _named(StartsWith(Person.id_number, L["id_number"]), "id_number"),
            _named(F.FilterEqual(Person.gender, L["gender"], options=_choices(GENDERS.labels)), "gender"),
            _named(F.DateBetweenFilter(Person.birth_date, L["birth_date"]), "birth_date"),
            _named(F.FilterEqual(Person.realname_status, L["realname_status"],
                                 options=_choices(REALNAME_STATUSES.labels)), "realname"),
        ]
    if spec_name == "enterprises":
        return [
            _named(F.FilterLike(Enterprise.name, L["name"]), "name"),
            _named(StartsWith(Enterprise.credit_code, L["credit_code"]), "credit_code"),
            _named(F.FilterEqual(Enterprise.province_code, L["province"], options=_province_options), "province"),
        ]
    if spec_name == "registrations":
        return [
            _named(F.FilterEqual("enterprise.province_code", L["province"], options=_province_options), "province"),
            _named(F.FilterEqual(Registration.status, L["status"], options=_choices(REGISTRATION_STATUSES.labels)),
                   "status"),
            _named(Holds(Registration, _registration_holds, L["specialty"], options=_specialty_options), "specialty"),
            _named(F.DateBetweenFilter(Registration.registered_on, L["registered_on"]), "registered_on"),
            _named(ValidUntilBetween(L["valid_until"]), "valid_until"),
            _named(F.FilterLike("enterprise.name", L["enterprise_name"]), "employer"),
            _named(F.FilterLike("person.name", L["name"]), "name"),
            _named(StartsWith("person.id_number", L["id_number"]), "id_number"),
        ]
    if spec_name == "certificates":
        return [
            _named(F.FilterEqual("registration.enterprise.province_code", L["province"], options=_province_options),
                   "province"),
            _named(F.FilterEqual(Certificate.status, L["status"], options=_choices(CERTIFICATE_STATUSES.labels)),
                   "status"),
            _named(F.DateBetweenFilter(Certificate.issued_on, L["issued_on"]), "issued_on"),
            _named(F.DateBetweenFilter(Certificate.valid_until, L["valid_until"]), "valid_until"),
            _named(F.FilterLike(Certificate.holder_name, L["holder_name"]), "holder"),
            _named(F.FilterLike(Certificate.enterprise_name, L["enterprise_name"]), "employer"),
        ]
    if spec_name == "applications":
        types = {code: t.label for code, t in workflow.BUSINESS_TYPES.items()}
        return [
            _named(F.FilterEqual(Application.province_code, L["province"], options=_province_options), "province"),
            _named(F.FilterEqual(Application.state, L["state"], options=_choices(workflow.STATE_LABELS)), "state"),
            _named(F.FilterEqual(Application.business_type, L["business_type"], options=_choices(types)), "type"),
            _named(Holds(Application, _application_holds, L["specialty"], options=_specialty_options), "specialty"),
            _named(ChinaDateBetween(Application.submitted_at, L["submitted_at"]), "submitted"),
            _named(F.DateBetweenFilter(Application.stage_deadline, L["stage_deadline"]), "deadline"),
            _named(F.FilterLike("enterprise.name", L["enterprise_name"]), "employer"),
            _named(F.FilterLike("person.name", L["name"]), "name"),
            _named(StartsWith("person.id_number", L["id_number"]), "id_number"),
        ]
    raise KeyError(spec_name)


# (spec name, menu label, search columns, sortable columns)
VIEWS = [
    ("persons", _l("Persons"), ["name", "id_number"], ["name", "birth_date"]),
    ("enterprises", _l("Enterprises"), ["name", "credit_code"], ["name", "credit_code"]),
    ("registrations", _l("Registrations"), ["number", "person.name"], ["number", "registered_on"]),
    ("certificates", _l("Certificates"), ["number", "holder_name", "registration_number"],
     ["number", "issued_on", "valid_until"]),
    ("applications", _l("Applications"), ["number", "person.name"],
     ["number", "submitted_at", "state_changed_at", "stage_deadline"]),
]


# --- Views --------------------------------------------------------------------------------------

class ExportView(ExportAccess, ModelView):
    can_create = can_edit = can_delete = False
    can_view_details = False
    can_export = True
    export_types = ["csv", "xlsx"]
    export_max_rows = 0  # our export streams; Flask-Admin's in-memory path is never used
    page_size = 50
    can_set_page_size = False
    column_display_actions = False
    column_default_sort = ("id", False)
    list_template = "admin/exports/list.html"

    # Exports only read: Flask-Admin's create, edit, details, delete, row-action and inline-edit routes
    # answer 404 whatever the flags say.
    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        abort(404)

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        abort(404)

    @expose("/details/")
    def details_view(self):
        abort(404)

    @expose("/delete/", methods=("POST",))
    def delete_view(self):
        abort(404)

    @expose("/action/", methods=("POST",))
    def action_view(self):
        abort(404)

    @expose("/ajax/lookup/")
    def ajax_lookup(self):
        abort(404)

    @expose("/ajax/update/", methods=("POST",))
    def ajax_update(self):
        abort(404)

    def __init__(self, spec: X.ExportSpec, name, search, sortable):
        self.spec = spec
        columns = spec.columns
        self.column_list = [c.key for c in columns]
        self.column_labels = {"person.name": LABELS["name"], **{c.key: c.label for c in columns}}
        self.column_searchable_list = search
        self.column_sortable_list = sortable
        self.column_filters = _filters(spec.name, LABELS)
        super().__init__(spec.model, db, name=name, endpoint=f"exports_{spec.name}", url=f"/exports/{spec.name}")

    def get_filter_arg(self, index, flt):
        return getattr(flt, "arg", None) or str(index)

    def masked(self) -> bool:
        return not may_unmask()

    def _ctx(self, text):
        lang = str(get_locale() or "zh")
        return X.Ctx(dialect=db.engine.dialect.name, masked=self.masked(), text=text, lang=lang,
                     specialties=X.specialty_names(db.session, lang) if self.model is Registration else ())

    # Queries: scope → search → filters → sort; the SELECT of the export columns comes last.
    def get_query(self):
        return (db.session.query(self.model).select_from(self.model)
                .filter(scope.clause(self.model, scope.current_user())))

    def get_count_query(self):
        return (db.session.query(func.count("*")).select_from(self.model)
                .filter(scope.clause(self.model, scope.current_user())))

    def get_one(self, id):
        return self.get_query().filter(self.model.id == id).one_or_none()

    def _filtered(self, search, filters):
        query, joins = self.get_query(), {}
        if self._search_supported and search:
            query, _count, joins, _cj = self._apply_search(query, None, joins, {}, search)
        if filters and self._filters:
            query, _count, joins, _cj = self._apply_filters(query, None, joins, {}, filters)
        return query, joins

    def _sorted(self, query, joins, sort_column, sort_desc):
        query, _joins = self._apply_sorting(query, joins, sort_column, sort_desc)
        return query.order_by(self.model.id) if sort_column is not None else query

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        """One page of plain rows (the export's own SELECT, typed values) and one count (from the replica when
        one is configured)."""
        with replica.reads():
            query, joins = self._filtered(search, filters)
            count = X.count_rows(db.session, query, self.model)
            query = self._sorted(query, joins, sort_column, sort_desc)
            size = page_size or self.page_size
            page = min(page or 0, MAX_PAGE)  # an offset SQL can hold, whatever the address says
            stmt = self.spec.statement(query, self._ctx(text=False), with_id=True).limit(size).offset(page * size)
            return count, db.session.execute(stmt).all()

    @expose("/export/<export_type>/")
    def export(self, export_type):
        """Start the export as a background job and land on 我的任务, where its progress shows."""
        if export_type not in self.export_types:
            abort(404)
        args = self._get_list_extra_args()
        if len(args.filters or []) != sum(1 for name in request.args if name.startswith("flt")):
            # Flask-Admin drops a filter it cannot read: an export must not silently hold more rows.
            flash(_("A filter in the address is not valid: nothing was exported."), "error")
            return redirect(self.get_url(".index_view", **request.args))
        params = {"view": self.spec.name, "format": export_type, "search": args.search or None,
                  "filters": [list(f) for f in args.filters or []], "sort": args.sort, "sort_desc": bool(args.sort_desc),
                  "lang": jobs.current_language()}
        title = _("%(format)s export of %(what)s", format=export_type.upper(), what=self.name)
        job = jobs.start("export", params, scope.current_user(), title=title)
        announce(job)
        return redirect(url_for("JobsView.index"))

    def write(self, work, params):
        """The export job's work, as the person who started it: the same scope, filters, sort and masking."""
        if not may_export():
            raise UserError(_("Your account may no longer export data."))
        fmt = params["format"]
        filters = [tuple(f) for f in params["filters"]]
        sort = self._get_column_by_idx(params["sort"])
        with replica.reads():  # the rows come from the replica when one is configured; the audit row below not
            query, joins = self._filtered(params["search"], filters)
            rows = X.count_rows(db.session, query, self.model)
            work.total(rows)
            ctx = self._ctx(text=fmt == "csv")
            query = self._sorted(query, joins, sort[0] if sort else None, params["sort_desc"])
            stmt = self.spec.statement(query, ctx)
            db.session.rollback()  # the count's read transaction ends before the long stream
        source = replica.engine()
        if fmt == "csv":
            method = current_app.config.get("EXPORT_CSV_METHOD", "auto")  # auto | copy | cursor
            with open(work.output, "wb") as out:
                for chunk in X.csv_chunks(source, stmt, self.spec.header(), method, on_rows=work.advance):
                    out.write(chunk)
        else:
            path = X.write_xlsx(source, stmt, self.spec, _worksheet_name(self.name), directory=work.output.parent,
                                on_rows=work.advance)
            os.replace(path, work.output)
        self._audit(fmt, rows, filters, params["search"], ctx.masked)
        filename = f"{self.spec.name}-{datetime.now(CHINA_TZ):%Y%m%d-%H%M}.{fmt}"
        return jobs.Outcome({"rows": rows, "format": fmt, "masked": ctx.masked}, filename,
                            "text/csv" if fmt == "csv" else XLSX_MIMETYPE)

    def _audit(self, fmt, rows, filters, search, masked):
        """The export's audit row, committed with the job's end: it exists only if the file does."""
        described = []
        for idx, _name, value in filters or []:
            flt = self._filters[idx]
            described.append({"arg": self.get_filter_arg(idx, flt), "filter": str(flt.name),
                              "operation": str(flt.operation()), "value": value})
        detail = {"format": fmt, "filters": described, "search": search or None, "rows": rows, "masked": masked}
        summary = _("%(format)s export of %(what)s: %(rows)s rows", format=fmt.upper(), what=self.name,
                    rows=f"{rows:,}")
        audit.record("export", self.model.__name__, summary=summary, detail=detail)


@jobs.job_kind("export", _l("Data export"), queue="exports", unit="rows")
def run_export(job, work):
    views = current_app.extensions["admin"][0]._views
    view = next((v for v in views if isinstance(v, ExportView) and v.spec.name == work.params["view"]), None)
    if view is None:
        raise UserError(_("This export no longer exists."))
    return view.write(work, work.params)


def _worksheet_name(name):
    """Excel's rules: at most 31 characters (room left for " (2)"), none of []:*?/\\."""
    title = str(name)
    for char in "[]:*?/\\":
        title = title.replace(char, " ")
    return title[:25]


class ExportsHome(ExportAccess, AdminIndexView):
    export_views = ()

    @expose("/")
    def index(self):
        return self.render("admin/exports/index.html", export_views=self.export_views, masked=not may_unmask())


# --- Set-up -------------------------------------------------------------------------------------

def _admin_translations(app) -> str:
    """Flask-Admin ships Chinese as zh_Hans_CN only; the platform's locale is "zh": copy it there."""
    import flask_admin.translations

    source = Path(flask_admin.translations.__path__[0]) / "zh_Hans_CN" / "LC_MESSAGES" / "admin.mo"
    root = Path(app.instance_path) / "flask_admin_translations"
    target = root / "zh" / "LC_MESSAGES" / "admin.mo"
    if not target.exists() or target.stat().st_size != source.stat().st_size:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent)
        os.close(fd)
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)  # atomic: several workers may start at once
    return str(root)


def init_exports(app) -> Admin:
    """Mount the exports (call after FAB is initialised)."""

    home = ExportsHome(name=_l("Data exports"), url="/exports", endpoint="exports")
    admin = Admin(app, name=_l("Data exports"), url="/exports", endpoint="exports", index_view=home,
                  theme=Bootstrap4Theme(base_template="admin/exports/base.html"),
                  translations_path=_admin_translations(app), csp_nonce_generator=csp_nonce)
    home.export_views = [ExportView(X.SPECS[name], label, search, sortable) for name, label, search, sortable in VIEWS]
    admin.add_views(*home.export_views)
    return admin
