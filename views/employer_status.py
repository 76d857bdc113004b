"""企业状态维护: the ministry sets an enterprise's status (with the day it took effect and a note; a confirmation
page before it is written; audited) and imports the national enterprise register (CSV/XLSX, a background job with
a row report on 我的任务, like the roster import). The rules that follow are app/employer_rules.py's."""
import csv
import io

from flask import current_app, flash, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.forms import DynamicForm
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app import employer_status
from app.scope import current_user
from ground.clock import today
from ground.extensions import db
from ground.identifiers import make_credit_code
from models import Enterprise
from models.choices import ENTERPRISE_STATUSES
from views.forms import CreditCode, add_error
from views.jobs import start_file_job


class StatusForm(DynamicForm):
    credit_code = StringField(_l("Unified social credit code"), validators=[DataRequired(), CreditCode()])
    status = SelectField(_l("Status"), choices=lambda: ENTERPRISE_STATUSES.choices(), validators=[DataRequired()])
    effective_on = DateField(_l("Effective from"), validators=[DataRequired()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=employer_status.NOTE_MAX)])


class RegisterForm(DynamicForm):
    file = FileField(_l("Register file (CSV or XLSX)"), validators=[FileRequired(_l("Choose a file to upload."))])


def sample_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["统一社会信用代码", "企业名称", "登记状态", "状态日期"])
    writer.writerow([make_credit_code("110105", 10000001), "北京示例建设有限公司", "注销", "2026-10-08"])
    writer.writerow([make_credit_code("310104", 10000002), "上海示例工程有限公司", "存续", "2026-01-01"])
    return out.getvalue()


class EmployerStatusView(BaseView):
    route_base = "/employer-status"
    default_view = "index"

    @expose("/", methods=["GET", "POST"])
    @has_access
    def index(self):
        form = StatusForm(request.form if request.method == "POST" else None)
        if request.method == "GET" and request.args.get("code"):
            form.credit_code.data = request.args.get("code", "")[:30]
        if request.method == "GET" and not form.effective_on.data:
            form.effective_on.data = today()
        enterprise = None
        if request.method == "POST" and form.validate():
            enterprise = db.session.scalar(select(Enterprise).where(Enterprise.credit_code == form.credit_code.data))
            if enterprise is None:
                add_error(form.credit_code, _("No enterprise with this credit code is in the directory."))
            elif request.form.get("confirmed") == "y":
                try:
                    employer_status.set_status(enterprise, form.status.data, form.effective_on.data, "ministry",
                                               form.note.data, current_user())
                    db.session.commit()
                except employer_status.StatusRefused as exc:
                    db.session.rollback()
                    add_error(form.status, exc.message)
                else:
                    flash(_("The status of %(name)s is now “%(status)s”.", name=enterprise.name,
                            status=enterprise.status_label), "success")
                    return redirect(url_for("EnterprisesView.show", pk=enterprise.id))
            else:
                return self.render_template("employer_status/confirm.html", form=form, enterprise=enterprise,
                                            status_label=ENTERPRISE_STATUSES.label(form.status.data),
                                            title=_("Confirm the status change"))
        return self.render_template("employer_status/index.html", form=form, enterprise=enterprise,
                                    title=_("Enterprise status"))

    @expose("/register", methods=["GET", "POST"])
    @has_access
    def register(self):
        form = RegisterForm()
        error = None
        if request.method == "POST" and form.validate_on_submit():
            error = _start(form.file.data)
            if error is None:
                return redirect(url_for("JobsView.index"))
        return self.render_template("employer_status/register.html", form=form, columns=employer_status.COLUMNS,
                                    error=error, words=employer_status.STATUS_WORDS,
                                    max_mb=current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024),
                                    title=_("Import the national enterprise register"))

    @expose("/register/sample")
    @has_access
    def sample(self):
        body = sample_csv().encode("utf-8-sig")
        return send_file(io.BytesIO(body), mimetype="text/csv", as_attachment=True,
                         download_name="enterprise-register-sample.csv")


def _start(upload):
    """Keep the upload, check its header and start the job; the refusal's message when the file is refused."""
    return start_file_job(upload, "enterprise_register_import", employer_status.check_register_file,
                          lambda filename: _("Enterprise register import: %(file)s", file=filename))
