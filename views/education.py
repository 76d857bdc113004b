"""Continuing education (继续教育) for staff: the ministry imports the training providers' lists; provincial and
ministry officers look a person up by ID number, see their hours and records, and enter a record from the
certificate the person shows (with its scan). Persons are looked up within the officer's row scope (app/scope.py).
"""
import io
from datetime import date

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.forms import DynamicForm
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange

from app import education, scope
from app.business_types import shared
from app.scope import current_user
from ground.extensions import db
from ground.identifiers import InvalidIdentifier, clean_id_number, make_id_number
from models import Person, Specialty
from models.choices import EDUCATION_KINDS
from views.jobs import start_file_job


class EducationFileForm(DynamicForm):
    file = FileField(_l("Training provider's list (CSV or XLSX)"),
                     validators=[FileRequired(_l("Choose a file to upload."))])


class LookupForm(DynamicForm):
    id_number = StringField(_l("ID number"), validators=[DataRequired(), Length(max=20)])


class RecordForm(DynamicForm):
    specialty_code = SelectField(_l("Specialty"), choices=[], validate_choice=False)
    kind = SelectField(_l("Course kind"), choices=[])
    hours = IntegerField(_l("Hours"), validators=[DataRequired(), NumberRange(min=1, max=education.HOURS_MAX)])
    completed_on = DateField(_l("Course completed on"), validators=[DataRequired()], render_kw={"type": "date"})
    provider = StringField(_l("Training provider"), validators=[DataRequired(), Length(max=education.PROVIDER_MAX)])
    course = StringField(_l("Course"), validators=[DataRequired(), Length(max=education.COURSE_MAX)])
    certificate_no = StringField(_l("Training certificate number"),
                                 validators=[DataRequired(), Length(max=education.CERTIFICATE_MAX)])
    scan = FileField(_l("Scan of the training certificate"),
                     validators=[FileRequired(_l("Upload the scan of the training certificate."))])

    @classmethod
    def build(cls, formdata=None):
        form = cls(formdata=formdata)
        form.specialty_code.choices = [("", str(_l("General course (every specialty)")))] + [
            (s.code, str(s)) for s in db.session.query(Specialty).order_by(Specialty.sort_order)]
        form.kind.choices = EDUCATION_KINDS.choices()
        return form


def _person_in_scope(id_number: str):
    """The person with this ID number if the officer's row scope holds them, else None (no hint either way)."""
    try:
        number = clean_id_number(id_number)
    except InvalidIdentifier:
        return None
    return (db.session.query(Person).filter(Person.id_number == number)
            .filter(scope.clause(Person, current_user())).one_or_none())


class EducationRecordsView(BaseView):
    """继续教育学时: a person's hours and records; a record entered from the certificate."""

    route_base = "/education"
    default_view = "index"

    def _page(self, person=None, lookup=None, form=None, status=200):
        limits = shared.configured_limits()
        return self.render_template(
            "education/records.html", title=_("Continuing education"), person=person,
            lookup=lookup or LookupForm(formdata=None), form=form or RecordForm.build(),
            standing=education.standing(person, limits) if person else [],
            records=education.records_of(person.id) if person else [], limits=limits), status

    @expose("/", methods=["GET"])
    @has_access
    def index(self):
        lookup = LookupForm(request.args, meta={"csrf": False})
        if request.args.get("id_number"):
            person = _person_in_scope(request.args["id_number"])
            if person is None:
                flash(_("No person with this ID number is within your area."), "warning")
                return self._page(lookup=lookup, status=404)
            return self._page(person=person, lookup=lookup)
        return self._page(lookup=lookup)

    @expose("/enter", methods=["POST"])
    @has_access
    def enter(self):
        """The person is named by ID number (a hidden field of the page) and looked up in scope again."""
        id_number = request.form.get("person", "")
        if not id_number:
            flash(_("Look the person up by ID number first."), "warning")
            return redirect(url_for("EducationRecordsView.index"))
        person = _person_in_scope(id_number)
        if person is None:
            abort(404)
        form = RecordForm.build(formdata=request.form.copy() | request.files)
        lookup = LookupForm(formdata=None, data={"id_number": person.id_number})
        if not form.validate_on_submit():
            return self._page(person=person, lookup=lookup, form=form, status=400)
        values = {name: form[name].data for name in ("specialty_code", "kind", "hours", "completed_on", "provider",
                                                     "course", "certificate_no")}
        try:
            education.enter_record(person, values, form.scan.data.read(), current_user())
        except education.EducationRefused as exc:
            db.session.rollback()
            flash(str(exc.message), "danger")
            return self._page(person=person, lookup=lookup, form=form, status=400)
        flash(_("The record is saved; its hours count at once."), "success")
        return redirect(url_for("EducationRecordsView.index", id_number=person.id_number))


def _start(upload):
    """Keep the upload, check it and start the job; the refusal's message when the file is refused."""
    return start_file_job(upload, "education_import", education.check_file,
                          lambda filename: _("Continuing-education import: %(file)s", file=filename),
                          education.audit_refusal)


class EducationImportView(BaseView):
    """继续教育学时导入: the ministry uploads a training provider's list; it runs as a job (我的任务)."""

    route_base = "/education-import"
    default_view = "upload"

    @expose("/upload", methods=["GET", "POST"])
    @has_access
    def upload(self):
        form = EducationFileForm()
        error = None
        if request.method == "POST" and form.validate_on_submit():
            error = _start(form.file.data)
            if error is None:
                return redirect(url_for("JobsView.index"))
        return self.render_template("education/upload.html", form=form, columns=education.COLUMNS, error=error,
                                    required=education.REQUIRED, hours_max=education.HOURS_MAX,
                                    max_mb=current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024),
                                    title=_("Import continuing education"))

    @expose("/sample")
    @has_access
    def sample(self):
        numbers = (make_id_number("110101", date(1985, 3, 14), 123), make_id_number("310104", date(1979, 11, 2), 246))
        body = education.sample_csv(numbers).encode("utf-8-sig")
        return send_file(io.BytesIO(body), mimetype="text/csv", as_attachment=True,
                         download_name="education-sample.csv")
