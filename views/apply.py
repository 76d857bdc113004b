"""注册申报 and 进度查询 of the personal edition: one form per business type, and the progress timeline.

A form shows only its type's fields (its declaration in app/business_types/) and, before anything is typed, every
precondition the person does not meet. Submitting saves the draft and moves it with the workflow
engine in one transaction; saving a draft needs no SMS code. A returned application reopens in its form.
进度查询 shows where each application is, the previous employer's objection period (and objection) of a change of
employer, when an unconfirmed application expires, and lets the applicant remind the employer holding it (催办).
"""
import re

from flask import abort, current_app, flash, jsonify, redirect, request, session, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.forms import DynamicForm
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from sqlalchemy import or_
from wtforms import BooleanField, DateField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app import applications, rules, scope, submission, workflow
from app.business_types import APPLICANT_TYPES
from ground.clock import today
from ground.extensions import db
from app.services import sms, workdays
from models import Application, Enterprise, TransitionLog

from views.base import signed_in_person
from views.forms import IdNumber, PersonName, add_error

# Menu order of the user manual (3.1.3.1 - 3.1.3.8): the order of the business-type table.
MENU_ORDER = APPLICANT_TYPES  # the types a person applies for themself
# 执业资格: the two qualifications of the old system's menus (注册申报 and 进度查询).
QUALIFICATION_KINDS = {"regular": _l("First-class constructor"), "temporary": _l("First-class constructor (temporary)")}
_KIND = "apply_kind"  # session key: the 执业资格 chosen on 注册申报

def notice_items():
    """The 注册须知, with the rule values of config.py."""
    rules_config = current_app.config["RULES"]
    limits = current_app.config["STAGE_TIME_LIMITS"]["initial"]
    return (
        _l("Apply only with true, complete information; false statements lead to refusal and are recorded."),
        _l("You may be registered with one employer only, with a labour contract covering the registration."),
        _l("Each registered specialty is valid for %(years)s years; apply for renewal in the %(days)s days before "
           "it expires.", years=rules_config["VALIDITY_YEARS"], days=rules_config["RENEWAL_WINDOW_DAYS"]),
        _l("Your employer confirms the application within %(days)s working days; then the provincial authority "
           "and the ministry review it within their statutory time limits. Follow every step under Progress "
           "query.", days=limits["enterprise_review"]),
    )


COMMITMENT_TEXT = _l(
    "I promise that everything I have entered and uploaded is true and my own, that I am not registered with "
    "any other employer, and that I accept the legal consequences of any false statement.")


class _MultiCheckbox(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ApplyForm(DynamicForm):
    """Every field any type uses; `for_type` drops the ones a type does not."""

    enterprise = StringField(_l("Employer"), validators=[Optional(), Length(max=120)],
                             description=_l("Type part of the name or the credit code and choose from the list."))
    contract_start = DateField(_l("Labour contract from"), validators=[Optional()], render_kw={"type": "date"})
    contract_end = DateField(_l("Labour contract until"), validators=[Optional()], render_kw={"type": "date"})
    specialties = _MultiCheckbox(_l("Specialties"), choices=[], validate_choice=False)  # checked in _values
    pass_certificate_no = StringField(_l("Pass certificate number"), validators=[Optional(), Length(max=32)])
    reason = SelectField(_l("Reason"), choices=[])
    reason_text = TextAreaField(_l("Explanation"), validators=[Optional(), Length(max=2000)])
    new_name = StringField(_l("New name"), validators=[Optional(), Length(max=50), PersonName()])
    new_id_number = StringField(_l("New ID number"), validators=[Optional(), IdNumber()])
    id_front = FileField(_l("ID card front (new)"))
    id_back = FileField(_l("ID card back (new)"))
    agree_notice = BooleanField(_l("I have read the registration notice"))
    agree_commitment = BooleanField(_l("I make the personal commitment"))
    sms_code = StringField(_l("SMS code"), validators=[Optional(), Length(max=6)])

    @classmethod
    def for_type(cls, business_type, person, formdata=None, obj=None):
        form = cls(formdata=formdata, obj=obj)
        btype = workflow.BUSINESS_TYPES[business_type]
        used = set(btype.fields) | set(btype.scans) | {"agree_commitment", "sms_code"}
        if btype.notice:
            used.add("agree_notice")
        for name in list(form._fields):
            if name not in used and name != "csrf_token":
                del form[name]
        if "specialties" in form:
            form.specialties.choices = [(s.code, str(s)) for s in rules.eligible_specialties(person, business_type)]
            if obj is not None and formdata is None:
                form.specialties.data = [s.code for s in obj.specialties]
        if "reason" in form:
            form.reason.choices = btype.reasons.choices(blank=True)
        if "enterprise" in form and obj is not None and formdata is None and obj.enterprise is not None:
            form.enterprise.data = enterprise_label(obj.enterprise)
        return form


def enterprise_label(enterprise: Enterprise) -> str:
    return f"{enterprise.name} [{enterprise.credit_code}]"


_CODE_IN_LABEL = re.compile(r"\[([0-9A-Z]{18})\]\s*$")


def find_enterprise(text: str):
    """The enterprise a typed value names: "name [credit code]" from the list, a credit code, or an exact name."""
    text = (text or "").strip()
    match = _CODE_IN_LABEL.search(text)
    code = match.group(1) if match else text.upper()
    found = db.session.query(Enterprise).filter(Enterprise.credit_code == code).one_or_none()
    if found is None:
        by_name = db.session.query(Enterprise).filter(Enterprise.name == text).limit(2).all()
        found = by_name[0] if len(by_name) == 1 else None
    return found


def _editable(person, business_type):
    """The person's draft or returned application of this type, to continue instead of starting anew."""
    return (db.session.query(Application).filter_by(person_id=person.id, business_type=business_type)
            .filter(Application.state.in_(workflow.EDITABLE_STATES))
            .order_by(Application.id.desc()).first())


def apply_menu():
    return [(code, "ApplyView.form", workflow.BUSINESS_TYPES[code].label, {"business_type": code})
            for code in MENU_ORDER]


def held_qualifications(person) -> dict:
    """Qualification kind (一级建造师 / 一级建造师临时) → the person's qualifications of that kind on the roster."""
    held = {kind: [] for kind in QUALIFICATION_KINDS}
    for q in person.qualifications:
        held["temporary" if q.is_temporary else "regular"].append(q)
    return held


def chosen_kind(person) -> str:
    """The 执业资格 chosen on 注册申报 (kept in the session), else the one the person holds."""
    kind = session.get(_KIND)
    if kind in QUALIFICATION_KINDS:
        return kind
    held = held_qualifications(person)
    return "temporary" if held["temporary"] and not held["regular"] else "regular"


def other_draft_reasons(person, business_type) -> list:
    """A draft or returned application of another type: continue or withdraw it first (one open at a time)."""
    other = applications.open_application(person.id)
    if other is None or other.business_type == business_type or other.state not in workflow.EDITABLE_STATES:
        return []
    return [_l("Your %(type)s application %(number)s is not finished: continue it, or withdraw it under Progress "
               "query, before starting another.", type=other.business_type_label, number=other.number)]


def return_notice(item):
    """The move that returned the application to the applicant (who, when, opinion), or None."""
    if item is None or item.state != workflow.State.RETURNED:
        return None
    return (db.session.query(TransitionLog)
            .filter(TransitionLog.application_id == item.id, TransitionLog.to_state == workflow.State.RETURNED)
            .order_by(TransitionLog.id.desc()).first())


class ApplyView(BaseView):
    """注册申报: first the 执业资格 (一级建造师 / 一级建造师临时), then the business type's form (left menu)."""

    route_base = "/apply"
    default_view = "index"

    def _render(self, template, active, **kwargs):
        return self.render_template(template, menu=apply_menu(), active=active,
                                    kinds=QUALIFICATION_KINDS, **kwargs)

    @expose("/")
    @has_access
    def index(self):
        user, person = signed_in_person()
        kind = request.args.get("kind")
        if kind not in QUALIFICATION_KINDS:  # the 执业资格 step of the user manual (3.1.3)
            return self.render_template("personal/apply_kind.html", held=held_qualifications(person),
                                        kinds=QUALIFICATION_KINDS, chosen=session.get(_KIND))
        session[_KIND] = kind
        overview = [(code, workflow.BUSINESS_TYPES[code].label,
                     other_draft_reasons(person, code) + rules.preconditions(person, code, _editable(person, code)))
                    for code in MENU_ORDER]
        return self._render("personal/apply_index.html", None, person=person, overview=overview, kind=kind,
                            held=held_qualifications(person)[kind], open_app=applications.open_application(person.id))

    @expose("/enterprises")
    @has_access
    def enterprises(self):
        """Keyword autocomplete: up to 20 enterprises whose name contains the words or whose code starts so."""
        words = (request.args.get("q") or "").strip()[:60]
        if len(words) < 2:
            return jsonify([])
        rows = (db.session.query(Enterprise)
                .filter(or_(Enterprise.name.contains(words, autoescape=True),
                            Enterprise.credit_code.startswith(words.upper(), autoescape=True)))
                .order_by(Enterprise.name).limit(20).all())
        return jsonify([{"id": e.id, "label": enterprise_label(e), "province": str(e.province)} for e in rows])

    @expose("/<business_type>", methods=["GET", "POST"])
    @has_access
    def form(self, business_type):
        if business_type not in MENU_ORDER:  # unknown, or lodged by others (views/cancellations.py)
            abort(404)
        user, person = signed_in_person()
        item = _editable(person, business_type)
        if request.method == "POST":
            form = ApplyForm.for_type(business_type, person, formdata=request.form.copy() | request.files)
        else:
            form = ApplyForm.for_type(business_type, person, obj=item)
        blockers = other_draft_reasons(person, business_type) + rules.preconditions(person, business_type, item)
        sms_sent = False
        if request.method == "POST" and blockers:
            flash(_("This application cannot be made now; see the reasons above the form."), "danger")
        elif request.method == "POST" and form.validate_on_submit():
            action = request.form.get("action")
            if action == "send_sms":
                sms_sent = self._send_code(form, person)
            else:
                result = self._save(form, business_type, user, item, submit=action == "submit")
                if result is not None:
                    return result
        return self._render("personal/apply_form.html", business_type, form=form, item=item, person=person,
                            business_label=workflow.BUSINESS_TYPES[business_type].label, blockers=blockers,
                            kind=chosen_kind(person), returned=return_notice(item), office=applications.handling_office,
                            notice=notice_items(), commitment=COMMITMENT_TEXT,
                            masked_phone=sms.mask_phone(person.phone) if person.phone else None,
                            sms_wait=current_app.config["SMS_RESEND_SECONDS"] if sms_sent else 0)

    def _send_code(self, form, person) -> bool:
        if not person.phone:
            add_error(form.sms_code, _("No mobile number is on file; add it under Personal information."))
            return False
        try:
            sms.send_code(person.phone, "apply")
        except sms.SmsError as exc:
            add_error(form.sms_code, str(exc.message))
            return False
        flash(_("An SMS code was sent to %(phone)s.", phone=sms.mask_phone(person.phone)), "info")
        return True

    def _values(self, form) -> tuple[dict, dict]:
        """(values for app.rules.check_fields, field errors found while reading them)."""
        errors = {}
        values = {name: form[name].data for name in form._fields if name in Application.__table__.columns
                  or name in ("specialties", "enterprise")}
        if "enterprise" in form:
            text = form.enterprise.data
            values["enterprise"] = find_enterprise(text) if text else None
            if text and values["enterprise"] is None:
                errors["enterprise"] = [_("No enterprise matches; choose one from the suggestions or type its "
                                          "18-character credit code.")]
        if "specialties" in form:
            offered = {code for code, _label in form.specialties.choices}
            chosen = form.specialties.data or []
            if any(code not in offered for code in chosen):
                errors["specialties"] = [_("Choose only specialties you are qualified for.")]
            values["specialties"] = chosen
        if "reason" in form and not form.reason.data:
            values["reason"] = None
        return values, errors

    def _save(self, form, business_type, user, item, submit):
        values, errors = self._values(form)
        if submit:
            for name in ("agree_notice", "agree_commitment"):
                if name in form and not form[name].data:
                    errors.setdefault(name, []).append(_("Tick this box to submit."))
        scans = {kind: form[kind].data.read() for kind in workflow.BUSINESS_TYPES[business_type].scans
                 if form[kind].data}
        proposal = submission.Submission(business_type, values, scans=scans, submit=submit,
                                         sms_code=form.sms_code.data if submit else None)
        try:
            item = submission.save(user, proposal, item, form_errors=errors)
        except submission.SubmissionRejected as exc:
            for name, messages in exc.fields.items():
                if name in form:
                    add_error(form[name], *[str(m) for m in messages])
                else:
                    flash(" ".join(str(m) for m in messages), "danger")
            return None
        except workflow.WorkflowError as exc:
            message = str(exc.message)
            if exc.reasons:
                message += " " + " ".join(f"• {r}" for r in exc.reasons)
            flash(message, "danger")
            return None
        if submit:
            flash(_("Application %(number)s is submitted. Its progress is shown below.", number=item.number), "success")
            return redirect(url_for("ProgressView.index", _anchor=f"application-{item.id}"))
        flash(_("Draft %(number)s saved. Submit it when it is complete.", number=item.number), "success")
        return redirect(url_for("ApplyView.form", business_type=business_type))


# --- 进度查询 --------------------------------------------------------------------------------
def qualification_kind(application: Application) -> str:
    """一级建造师 or 一级建造师临时: the registration's kind, else that of the qualifications applied with."""
    if application.registration is not None:
        return "temporary" if application.registration.is_temporary else "regular"
    codes = {s.code for s in application.specialties}
    held = [q for q in application.person.qualifications if not codes or q.specialty_code in codes]
    return "temporary" if held and all(q.is_temporary for q in held) else "regular"


class ProgressView(BaseView):
    route_base = "/progress"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        user, person = signed_in_person()
        kind = request.args.get("kind", "regular")
        if kind not in QUALIFICATION_KINDS:
            kind = "regular"
        items = [a for a in scope.query(Application, user).filter(Application.person_id == person.id)
                 .order_by(Application.id.desc()).all() if qualification_kind(a) == kind]
        logs = {}
        if items:
            rows = (db.session.query(TransitionLog).filter(TransitionLog.application_id.in_([a.id for a in items]))
                    .order_by(TransitionLog.id).all())
            for row in rows:
                logs.setdefault(row.application_id, []).append(row)
        menu = [(code, "ProgressView.index", label, {"kind": code}) for code, label in QUALIFICATION_KINDS.items()]
        return self.render_template(
            "personal/progress.html", menu=menu, active=kind, items=items, logs=logs,
            options={a.id: [o for o in workflow.available(a, user) if o.allowed and o.action == "withdraw"]
                     for a in items},
            owners=workflow.STAGE_OWNER, office=applications.handling_office,
            editable=workflow.EDITABLE_STATES, days_left=_days_left, today=today(),
            reminders={a.id: applications.reminder(a, user) for a in items},
            clocks={a.id: applications.release_clock(a) for a in items},
            expiries={a.id: rules.unconfirmed_expiry(a) for a in items if a.state == workflow.State.ENTERPRISE},
            in_progress=workflow.IN_PROGRESS_STATES, release_state=workflow.State.RELEASE)

    @expose("/remind/<int:pk>", methods=["POST"])
    @has_access
    def remind(self, pk):
        """催办: remind the enterprise holding the applicant's own application (app.applications.remind_employer)."""
        try:
            count = applications.remind_employer(pk, scope.current_user())
        except workflow.NotFound:
            abort(404)
        except workflow.WorkflowError as exc:
            flash(str(exc.message), "danger")
        else:
            item = db.session.get(Application, pk)
            flash(_("%(enterprise)s has been reminded (reminder %(count)s).",
                    enterprise=applications.holder_enterprise(item).name, count=count), "success")
        kind = request.form.get("kind")
        return redirect(url_for("ProgressView.index", kind=kind if kind in QUALIFICATION_KINDS else None,
                                _anchor=f"application-{pk}"))


def _days_left(application: Application):
    if application.stage_deadline is None:
        return None
    return workdays.working_days_between(today(), application.stage_deadline)
