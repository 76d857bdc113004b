"""注销注册 lodged by others: the employer's page to report that a registered staff member left, and the province's
and ministry's page to cancel or revoke a registration by law (app/cancellations.py does the work).

One page per type: search the registrations in the officer's own row scope (paged), choose one, fill in what the
type asks, tick the confirmation, lodge. A type the officer's role does not start is not offered (404).
"""
from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.forms import DynamicForm
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, HiddenField, SelectField, TextAreaField
from wtforms.validators import Optional

from app import cancellations, workflow
from app.scope import current_user
from app.submission import SubmissionRejected


class LodgeForm(DynamicForm):
    registration = HiddenField()
    leaving_date = DateField(_l("Leaving date"), validators=[Optional()],
                             description=_l("The day the labour contract ended; not in the future."))
    reason = SelectField(_l("Legal ground"), choices=[], validate_choice=False)
    reason_text = TextAreaField(_l("Statement"), render_kw={"rows": 4, "maxlength": cancellations.STATEMENT_MAX_LENGTH})
    document = FileField(_l("Decision document (PDF or JPEG)"))
    confirmed = BooleanField(_l("I confirm the above is true. Once approved, the registration is cancelled and its "
                                "certificate revoked; this cannot be undone."))


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class CancellationView(BaseView):
    route_base = "/cancellations"
    default_view = "new"

    @expose("/<business_type>/new", methods=["GET", "POST"])
    @has_access
    def new(self, business_type):
        user = current_user()
        try:
            btype = cancellations.lodgeable_type(business_type, user)
        except workflow.NotFound:
            abort(404)
        form = LodgeForm()
        form.reason.choices = btype.reasons.choices(blank=True) if btype.reasons is not None else []
        chosen_id = _int(request.form.get("registration") if request.method == "POST" else request.args.get("registration"))
        chosen = None
        if chosen_id is not None:
            try:
                chosen = cancellations.registration_in_scope(user, chosen_id)
            except workflow.NotFound:
                abort(404)
        errors = {}
        if request.method == "POST" and form.validate_on_submit():
            upload = form.document.data if btype.document else None
            lodging = cancellations.Lodging(
                business_type=btype.code, registration_id=chosen_id, reason=form.reason.data or None,
                reason_text=form.reason_text.data, leaving_date=form.leaving_date.data,
                document=upload.read() if upload else None, document_name=getattr(upload, "filename", "") or "",
                confirmed=bool(form.confirmed.data))
            try:
                item = cancellations.lodge(user, lodging)
            except SubmissionRejected as exc:
                errors = {name: [str(m) for m in msgs] for name, msgs in exc.fields.items()}
            except workflow.WorkflowError as exc:
                errors = {"": [str(exc.message), *(str(r) for r in exc.reasons)]}
            else:
                flash(_("%(type)s %(number)s is lodged; %(person)s has been notified.", type=btype.label,
                        number=item.number, person=item.person.name), "success")
                return redirect(url_for("ApplicationsView.show", pk=item.id))
        elif request.method == "POST":
            errors = {name: [str(m) for m in msgs] for name, msgs in form.errors.items()}
        search = (request.args.get("q") or "").strip()
        page = cancellations.candidates(user, search, _int(request.args.get("page")) or 1)
        return self.render_template(
            "cancellations/new.html", btype=btype, form=form, page=page, search=search, chosen=chosen,
            errors=errors, confirm=workflow.TRANSITIONS["lodge"].confirm, title=str(btype.label),
            max_mb=cancellations.document_limit_mb())
