"""Qualification roster import (资格名单导入) for the ministry: upload a CSV or XLSX, read the report,
download it in full, download a sample file.

The last report of each user is kept as a CSV file under instance/roster_reports/, named by the user's
id and a random token held in the session; nothing from the request ever becomes part of a path.
"""
import csv
import io
import re
import secrets
import time
from datetime import date
from pathlib import Path

from flask import Response, current_app, request, send_file, session
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.forms import DynamicForm
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired

from app import roster
from ground.identifiers import make_id_number
from app.scope import current_user

SHOWN_ROWS = 500  # rows of the report shown on the page; the download has them all
_SESSION_KEY = "roster_report"
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_REPORT_DAYS = 7  # report files older than this are removed when the next one is written


class RosterForm(DynamicForm):
    file = FileField(_l("Roster file (CSV or XLSX)"), validators=[FileRequired(_l("Choose a file to upload."))])


def _folder() -> Path:
    return Path(current_app.instance_path) / "roster_reports"


def _report_path(user_id: int, token: str) -> Path | None:
    if not isinstance(token, str) or not _TOKEN.match(token):
        return None
    return _folder() / f"{int(user_id)}-{token}.csv"


def _prune(folder: Path):
    cutoff = time.time() - _REPORT_DAYS * 86400
    for old in folder.glob("*.csv"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            pass


def _keep(report, user) -> None:
    """Write the report for download; replaces the user's previous one in this session."""
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    previous = _report_path(user.id, session.get(_SESSION_KEY))
    if previous is not None:
        previous.unlink(missing_ok=True)
    _prune(folder)
    token = secrets.token_hex(16)
    _report_path(user.id, token).write_text(report.to_csv(), encoding="utf-8-sig")
    session[_SESSION_KEY] = token


def _csv_response(text: str, filename: str) -> Response:
    body = text.encode("utf-8-sig")  # Excel opens UTF-8 with a BOM correctly
    return send_file(io.BytesIO(body), mimetype="text/csv", as_attachment=True, download_name=filename)


def sample_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["姓名", "身份证号", "资格证书编号", "专业", "取得日期", "临时"])
    writer.writerow(["张三", make_id_number("110101", date(1985, 3, 14), 123), "0011012024000001", "建筑工程",
                     "2024-06-30", "否"])
    writer.writerow(["李四", make_id_number("310104", date(1979, 11, 2), 246), "0031012023000002", "市政公用工程",
                     "2023年9月15日", "是"])
    return out.getvalue()


class RosterImportView(BaseView):
    route_base = "/roster"
    default_view = "upload"

    @expose("/upload", methods=["GET", "POST"])
    @has_access
    def upload(self):
        form = RosterForm()
        if request.method == "POST" and form.validate_on_submit():
            upload = form.file.data
            user = current_user()
            report = roster.import_roster(upload.stream, upload.filename, user)
            _keep(report, user)
            ordered = report.ordered()
            return self.render_template("roster/report.html", report=report, shown=ordered[:SHOWN_ROWS],
                                        shown_max=SHOWN_ROWS, title=_("Roster import report"))
        return self.render_template("roster/upload.html", form=form, columns=roster.COLUMNS,
                                    required=roster.REQUIRED, max_rows=current_app.config.get("ROSTER_MAX_ROWS"),
                                    max_mb=current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024),
                                    title=_("Import qualification roster"))

    @expose("/report")
    @has_access
    def report(self):
        path = _report_path(current_user().id, session.get(_SESSION_KEY))
        if path is None or not path.is_file():
            return self.render_template("roster/report.html", report=None, shown=[], shown_max=SHOWN_ROWS,
                                        title=_("Roster import report")), 404
        return send_file(path, mimetype="text/csv", as_attachment=True, download_name="roster-report.csv")

    @expose("/sample")
    @has_access
    def sample(self):
        return _csv_response(sample_csv(), "roster-sample.csv")
