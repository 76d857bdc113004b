"""Penalty and credit records (不良行为记录) on the web: the panel of records in the row scope (province: its persons'
and its own decisions; ministry: all) with the scoped, audited decision document, and the page where a province or
the ministry records one. The rules and the recording are app/penalties.py's."""
from flask import abort, flash, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.forms import DynamicForm
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app import audit, penalties, scope
from ground.extensions import db
from models.choices import PENALTY_GROUNDS, PENALTY_KINDS
from views.base import ScopedModelView
from views.forms import IdNumber, add_error

DOCUMENT_ACCEPT = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"


class PenaltyForm(DynamicForm):
    id_number = StringField(_l("ID number of the person"), validators=[DataRequired(), IdNumber()])
    kind = SelectField(_l("Kind"), choices=PENALTY_KINDS.choices, validators=[DataRequired()])
    ground_code = SelectField(_l("Legal ground"), choices=PENALTY_GROUNDS.choices, validators=[DataRequired()])
    ground_text = TextAreaField(_l("Article and wording"), validators=[Optional(), Length(max=1000)],
                                description=_l("Required when the ground is another law or regulation."))
    decision_number = StringField(_l("Decision number"), validators=[DataRequired(), Length(max=60)])
    decided_on = DateField(_l("Decided on"), validators=[DataRequired()], render_kw={"type": "date"})
    period_from = DateField(_l("Period from"), validators=[Optional()], render_kw={"type": "date"},
                            description=_l("For a criminal sentence: the day its execution began."))
    period_to = DateField(_l("Period until"), validators=[Optional()], render_kw={"type": "date"},
                          description=_l("For a criminal sentence: the day it was served; empty while unknown."))
    practice_related = BooleanField(_l("Crime related to construction practice"))
    public = BooleanField(_l("Published on the public register"), default=True)
    document = FileField(_l("Decision document (PDF, JPEG or PNG)"),
                         validators=[FileRequired(_l("Attach the decision document."))])
    confirm = BooleanField(_l("I have checked the record against the decision document; a record cannot be deleted."),
                           validators=[DataRequired(_l("Tick the confirmation to record."))])


def _values(form) -> dict:
    return {name: form[name].data for name in ("kind", "ground_code", "ground_text", "decision_number", "decided_on",
                                               "period_from", "period_to", "practice_related", "public")}


class PenaltyRecordView(ScopedModelView):
    """The panel of records; the decision document only through `document` (scoped, every view audited)."""

    show_template = "penalties/show.html"

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        item = self.get_in_scope(pk)
        return self.render_template(self.show_template, pk=pk, title=self.show_title, widgets=self._show(pk),
                                    related_views=self._related_views, item=item,
                                    view_name=self.__class__.__name__)

    @expose("/document/<int:pk>")
    @has_access
    def document(self, pk):
        item = self.get_in_scope(pk)
        try:
            stream = penalties.open_document(item)
        except (ValueError, FileNotFoundError):
            abort(404)
        except OSError:
            abort(503)
        audit.record("download", "PenaltyRecord", item.id, summary=item.decision_number,
                     detail={"person_id": item.person_id}, user=scope.current_user())
        db.session.commit()
        response = send_file(stream, mimetype=item.document_content_type, download_name=item.document_filename,
                             as_attachment=False, etag=False, last_modified=None, conditional=False)
        response.headers["Cache-Control"] = "private, no-store"
        return response


def _enter_form(form):
    """(the record entered, None) or (None, the refusal's message); errors about the person go under its field."""
    user = scope.current_user()
    try:
        person = penalties.find_person(user, form.id_number.data)
    except penalties.PenaltyError as exc:
        add_error(form.id_number, exc.message)
        return None, None
    upload = form.document.data
    try:
        rec = penalties.record(user, person, _values(form), upload.filename, upload.read())
        db.session.commit()
    except penalties.PenaltyError as exc:
        db.session.rollback()
        return None, str(exc.message)
    return rec, None


class PenaltyEntryView(BaseView):
    """记录不良行为: a province (for persons of its province) or the ministry enters a record with its document."""

    route_base = "/penalties"
    default_view = "record"

    @expose("/record", methods=["GET", "POST"])
    @has_access
    def record(self):
        form = PenaltyForm()
        error = None
        if request.method == "POST" and form.validate_on_submit():
            rec, error = _enter_form(form)
            if rec is not None:
                flash(_("The record of %(person)s is entered (decision %(number)s); the person is notified.",
                        person=rec.person.name, number=rec.decision_number), "success")
                return redirect(url_for("PenaltyRecordsView.show", pk=rec.id))
        return self.render_template("penalties/record.html", form=form, error=error, accept=DOCUMENT_ACCEPT,
                                    title=_("Record a penalty"))
