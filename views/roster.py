"""Qualification roster import (资格名单导入) for the ministry: upload a CSV or XLSX, download a sample file.

The page checks the file (size, type, zip bomb, the header row), keeps it as the job's private input file
(app.jobs.keep_input: a random name, nothing from the request in the path) and starts the job "roster_import"
(app/roster.py); the person lands on 我的任务, where its progress, its figures and the row report show.
"""
import csv
import io
from datetime import date

from flask import current_app, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.forms import DynamicForm
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired

from app import roster
from ground.identifiers import make_id_number
from views.jobs import start_file_job


class RosterForm(DynamicForm):
    file = FileField(_l("Roster file (CSV or XLSX)"), validators=[FileRequired(_l("Choose a file to upload."))])


def sample_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["姓名", "身份证号", "资格证书编号", "专业", "取得日期", "临时"])
    writer.writerow(["张三", make_id_number("110101", date(1985, 3, 14), 123), "0011012024000001", "建筑工程",
                     "2024-06-30", "否"])
    writer.writerow(["李四", make_id_number("310104", date(1979, 11, 2), 246), "0031012023000002", "市政公用工程",
                     "2023年9月15日", "是"])
    return out.getvalue()


def _start(upload):
    """Keep the upload, check it and start the job; the refusal's message when the file is refused."""
    return start_file_job(upload, "roster_import", roster.check_file,
                          lambda filename: _("Roster import: %(file)s", file=filename), roster.audit_refusal)


class RosterImportView(BaseView):
    route_base = "/roster"
    default_view = "upload"

    @expose("/upload", methods=["GET", "POST"])
    @has_access
    def upload(self):
        form = RosterForm()
        error = None
        if request.method == "POST" and form.validate_on_submit():
            error = _start(form.file.data)
            if error is None:
                return redirect(url_for("JobsView.index"))
        return self.render_template("roster/upload.html", form=form, columns=roster.COLUMNS, error=error,
                                    required=roster.REQUIRED,
                                    max_mb=current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024),
                                    title=_("Import qualification roster"))

    @expose("/sample")
    @has_access
    def sample(self):
        body = sample_csv().encode("utf-8-sig")  # Excel opens UTF-8 with a BOM correctly
        return send_file(io.BytesIO(body), mimetype="text/csv", as_attachment=True, download_name="roster-sample.csv")
