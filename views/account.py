"""Personal information (个人信息) of the signed-in applicant: sign-up steps 2-4 (materials, profile,
real-name verification), mobile and password changes, the operation trail (操作轨迹) and certificates.

Also the pages an online identity provider talks to (its phone page in the simulator, its callback),
and the provincial queue of on-site real-name checks.
"""
import segno
from flask import abort, current_app, flash, jsonify, redirect, request, session, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import and_, or_
from wtforms import DateField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from ground.clock import today
from ground.extensions import csrf, db
from models import Attachment, AuditLog, Certificate, Province
from models.choices import (ATTACHMENT_KINDS, DEGREES, EDUCATION_LEVELS, ETHNICITIES, RealnameMethod,
                            RealnameStatus)
from models.realname import RequestStatus
from app import accounts, education, penalties, personal_data, scope
from app.business_types import shared
from app.audit import record_login_event
from app.scope import SCOPE_FILTER
from app.services import images, realname, sms, storage
from views import audit_display
from views.base import ScopedModelView, signed_in_person
from views.forms import Mobile, add_error


UPLOAD_KINDS = ("photo", "id_front", "id_back", "id_handheld", "signature", "education_proof", "other")
_PENDING_PHOTO = "pending_photo"


def menu_entries():
    """The left-hand menu of 个人信息, in the order of the user manual."""
    return [
        ("steps", "MyAccountView.steps", _l("My account"), {}),
        ("materials", "MyAccountView.materials", _l("Attachments"), {}),
        ("profile", "MyAccountView.profile", _l("Profile"), {}),
        ("verify", "MyAccountView.verify", _l("Real-name verification"), {}),
        ("phone", "MyAccountView.phone", _l("Change mobile"), {}),
        ("password", "MyAccountView.password", _l("Change password"), {}),
        ("trail", "MyAccountView.trail", _l("Operation trail"), {}),
        ("certificates", "MyAccountView.certificates", _l("My certificates"), {}),
        ("education", "MyAccountView.education", _l("Continuing education"), {}),
        ("messages", "MessagesView.index", _l("Message centre"), {}),  # views/notifications.py
    ]


def next_material(person, after: str | None = None) -> str:
    """The material to offer next: the first still missing after the one just uploaded (in the list's order,
    wrapping round), else the next kind in the list."""
    order = list(UPLOAD_KINDS)
    start = order.index(after) + 1 if after in order else 0
    rotated = order[start:] + order[:start]
    missing = set(accounts.missing_materials(person))
    return next((kind for kind in rotated if kind in missing), rotated[0])


class MaterialForm(DynamicForm):
    kind = SelectField(_l("Material"), choices=lambda: [(k, str(ATTACHMENT_KINDS.label(k))) for k in UPLOAD_KINDS],
                       validators=[DataRequired()])
    file = FileField(_l("File (JPEG or PNG)"), validators=[FileRequired(_l("Choose a file to upload."))])


class ProfileForm(DynamicForm):
    ethnicity = SelectField(_l("Ethnicity"), choices=lambda: ETHNICITIES.choices(blank=True),
                            validators=[DataRequired()])
    email = StringField(_l("Email"), validators=[DataRequired(), Email(_l("Enter a valid email address.")),
                                                 Length(max=120)])
    education = SelectField(_l("Education"), choices=lambda: EDUCATION_LEVELS.choices(blank=True),
                            validators=[DataRequired()])
    degree = SelectField(_l("Degree"), choices=lambda: DEGREES.choices(blank=True), validators=[DataRequired()])
    school = StringField(_l("School"), validators=[DataRequired(), Length(max=100)])
    graduation_date = DateField(_l("Graduation date"), validators=[DataRequired()],
                                render_kw={"type": "date"})
    major = StringField(_l("Major"), validators=[DataRequired(), Length(max=100)])

    def validate_graduation_date(self, field):
        from wtforms.validators import ValidationError

        if field.data and field.data > today():
            raise ValidationError(_("The graduation date cannot be in the future."))


class OnsiteForm(DynamicForm):
    province = SelectField(_l("Province of the on-site check"), validators=[DataRequired()],
                           choices=lambda: [(p.code, str(p))
                                            for p in db.session.query(Province).order_by(Province.code)])


class PhoneForm(DynamicForm):
    phone = StringField(_l("New mobile number"), validators=[DataRequired(), Mobile()])
    sms_code = StringField(_l("SMS code"), validators=[Length(max=6)])


class PasswordForm(DynamicForm):
    old_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=64)],
                             description=_l("At least 8 characters with three of: capital letters, small letters, "
                                            "digits, symbols."))
    confirm = PasswordField(_l("Repeat new password"), validators=[EqualTo("password", _l("The passwords differ."))])


class MyAccountView(BaseView):
    route_base = "/me"
    default_view = "steps"

    def _render(self, template, active, **kwargs):
        user, person = signed_in_person()
        return self.render_template(template, active=active, menu=menu_entries(), person=person, user=user,
                                    steps=accounts.steps(person), realname_status=RealnameStatus, **kwargs)

    @expose("/")
    @has_access
    def steps(self):
        user, person = signed_in_person()
        return self._render("personal/account.html", "steps", next_step=accounts.next_step(person),
                            missing=[ATTACHMENT_KINDS.label(k) for k in accounts.missing_materials(person)],
                            penalty_records=penalties.own_records(person.id),
                            refusal_bars=penalties.person_bars(person))

    # --- Step 2: materials ----------------------------------------------------------------------
    @expose("/materials", methods=["GET", "POST"])
    @has_access
    def materials(self):
        user, person = signed_in_person()
        form = MaterialForm()
        if request.method == "GET":
            asked = request.args.get("kind")
            form.kind.data = asked if asked in UPLOAD_KINDS else next_material(person, request.args.get("after"))
        if request.method == "POST" and form.validate_on_submit():
            upload = form.file.data
            try:
                processed = images.process(form.kind.data, upload.read())
            except images.UploadRejected as exc:
                add_error(form.file, exc.message)
            else:
                name = f"{form.kind.data}.{processed.extension}"
                if form.kind.data == "photo":
                    pending = storage.save(db.session, person, "photo", name, processed.data, processed.content_type,
                                           current=False)
                    db.session.commit()
                    session[_PENDING_PHOTO] = pending.id
                    return redirect(url_for("MyAccountView.photo_preview"))
                storage.save(db.session, person, form.kind.data, name, processed.data, processed.content_type)
                db.session.commit()
                flash(_("%(kind)s saved.", kind=ATTACHMENT_KINDS.label(form.kind.data)), "success")
                return redirect(url_for("MyAccountView.materials", after=form.kind.data))
        current = {k: person.latest_attachment(k) for k in UPLOAD_KINDS}
        return self._render("personal/materials.html", "materials", form=form, current=current,
                            kinds=UPLOAD_KINDS, required=accounts.REQUIRED_MATERIALS, kind_label=ATTACHMENT_KINDS.label)

    def _pending_photo(self, person):
        pending_id = session.get(_PENDING_PHOTO)
        item = db.session.get(Attachment, pending_id) if pending_id else None
        if item is None or item.person_id != person.id or item.kind != "photo" or item.is_current:
            return None
        return item

    @expose("/materials/photo", methods=["GET", "POST"])
    @has_access
    def photo_preview(self):
        """The processed 1-inch photo is shown before it replaces the one on file."""
        user, person = signed_in_person()
        pending = self._pending_photo(person)
        if pending is None:
            return redirect(url_for("MyAccountView.materials"))
        if request.method == "POST":
            session.pop(_PENDING_PHOTO, None)
            if request.form.get("decision") == "keep":
                storage.make_current(pending)
                db.session.commit()
                flash(_("Your 1-inch photo is saved."), "success")
                return redirect(url_for("MyAccountView.materials", after="photo"))
            flash(_("The photo was discarded; upload another one."), "info")
            return redirect(url_for("MyAccountView.materials", kind="photo"))
        return self._render("personal/photo_preview.html", "materials", pending=pending,
                            current=person.latest_attachment("photo"))

    # --- Step 3: profile ------------------------------------------------------------------------
    @expose("/profile", methods=["GET", "POST"])
    @has_access
    def profile(self):
        user, person = signed_in_person()
        form = ProfileForm(obj=person) if request.method == "GET" else ProfileForm()
        if request.method == "POST" and form.validate_on_submit():
            for name in accounts.PROFILE_FIELDS:
                setattr(person, name, getattr(form, name).data)
            db.session.commit()
            flash(_("Your profile is saved."), "success")
            step = accounts.next_step(person)
            return redirect(url_for(step.endpoint) if step else url_for("MyAccountView.steps"))
        return self._render("personal/profile.html", "profile", form=form)

    # --- Step 4: real-name verification ---------------------------------------------------------
    @expose("/verify", methods=["GET"])
    @has_access
    def verify(self):
        user, person = signed_in_person()
        form = OnsiteForm()
        form.province.data = person.realname_province_code or realname.default_province(person)
        return self._render("personal/verify.html", "verify", form=form, provider=realname.provider())

    @expose("/verify/onsite", methods=["POST"])
    @has_access
    def verify_onsite(self):
        user, person = signed_in_person()
        form = OnsiteForm()
        if form.validate_on_submit():
            try:
                realname.request_onsite(person, form.province.data, user)
            except realname.RealnameError as exc:
                db.session.rollback()
                flash(str(exc.message), "danger")
            else:
                db.session.commit()
                flash(_("You are queued for an on-site check. Bring your ID card and a copy of it to the provincial "
                        "authority."), "success")
        else:
            flash(_("Choose a province."), "danger")
        return redirect(url_for("MyAccountView.verify"))

    @expose("/verify/online", methods=["POST"])
    @has_access
    def verify_online(self):
        user, person = signed_in_person()
        try:
            req, url = realname.start_online(person, user)
        except realname.RealnameError as exc:
            db.session.rollback()
            flash(str(exc.message), "danger")
            return redirect(url_for("MyAccountView.verify"))
        db.session.commit()
        return redirect(url_for("MyAccountView.verify_online_page", nonce=req.nonce))

    def _own_request(self, person, nonce):
        req = realname.pending_request(nonce)
        if req is None or req.person_id != person.id:
            abort(404)
        return req

    @expose("/verify/online/<nonce>")
    @has_access
    def verify_online_page(self, nonce):
        user, person = signed_in_person()
        req = self._own_request(person, nonce)
        url = realname.provider().start(req)
        qr_svg = segno.make(url, error="m").svg_inline(scale=4, dark="#1f2d3d")
        return self._render("personal/verify_online.html", "verify", req=req, url=url, qr_svg=qr_svg)

    @expose("/verify/online/<nonce>/status")
    @has_access
    def verify_online_status(self, nonce):
        user, person = signed_in_person()
        req = self._own_request(person, nonce)
        return jsonify({"status": req.status, "verified": person.is_verified})

    # --- Mobile, password -----------------------------------------------------------------------
    @expose("/phone", methods=["GET", "POST"])
    @has_access
    def phone(self):
        user, person = signed_in_person()
        form = PhoneForm()
        sms_wait = 0
        if request.method == "POST" and form.validate_on_submit():
            if form.phone.data == person.phone:
                add_error(form.phone, _("This is already your mobile number."))
            elif request.form.get("action") == "send_sms":
                try:
                    sms.send_code(form.phone.data, "change_phone")
                except sms.SmsError as exc:
                    add_error(form.sms_code, exc.message)
                else:
                    sms_wait = current_app.config["SMS_RESEND_SECONDS"]
                    flash(_("An SMS code was sent to %(phone)s.", phone=sms.mask_phone(form.phone.data)), "info")
            elif not form.sms_code.data:
                add_error(form.sms_code, _("Enter the SMS code sent to the new number."))
            else:
                try:
                    sms.verify_code(form.phone.data, "change_phone", form.sms_code.data)
                except sms.SmsError as exc:
                    add_error(form.sms_code, exc.message)
                else:
                    accounts.change_phone(person, form.phone.data)
                    db.session.commit()
                    flash(_("Your mobile number is now %(phone)s.", phone=sms.mask_phone(person.phone)), "success")
                    return redirect(url_for("MyAccountView.phone"))
        return self._render("personal/phone.html", "phone", form=form, sms_wait=sms_wait,
                            current_phone=sms.mask_phone(person.phone) if person.phone else None)

    @expose("/password", methods=["GET", "POST"])
    @has_access
    def password(self):
        user, person = signed_in_person()
        form = PasswordForm()
        if request.method == "POST" and form.validate_on_submit() and change_password_form(user, form):
            return redirect(url_for("MyAccountView.password"))
        return self._render("personal/password.html", "password", form=form)

    # --- Trail and certificates -----------------------------------------------------------------
    @expose("/trail")
    @has_access
    def trail(self):
        user, person = signed_in_person()
        page = min(max(request.args.get("page", 1, type=int) or 1, 1), 10**6)  # an offset SQL can hold
        per_page = 20
        mine = or_(AuditLog.user_id == user.id,
                   and_(AuditLog.object_type == "AppUser", AuditLog.object_id == str(user.id)))
        query = db.session.query(AuditLog).filter(mine)
        total = query.count()
        rows = query.order_by(AuditLog.id.desc()).offset((page - 1) * per_page).limit(per_page).all()
        return self._render("personal/trail.html", "trail", rows=rows, page=page, per_page=per_page, total=total,
                            display=audit_display, masked=personal_data.text)

    @expose("/certificates")
    @has_access
    def certificates(self):
        user, person = signed_in_person()
        items = (scope.query(Certificate, user).filter(Certificate.person_id == person.id)
                 .order_by(Certificate.id.desc()).all())
        return self._render("personal/certificates.html", "certificates", items=items)

    @expose("/education")
    @has_access
    def education(self):
        """继续教育: the hours per specialty and period, required and done, and the records."""
        user, person = signed_in_person()
        limits = shared.configured_limits()
        return self._render("personal/education.html", "education", limits=limits,
                            standing=education.standing(person, limits), records=education.records_of(person.id))


def change_password_form(user, form) -> bool:
    """Apply a valid PasswordForm to `user` (old password, rules, audit); False with field errors otherwise."""
    try:
        accounts.change_password(user, form.old_password.data, form.password.data)
    except accounts.AccountError as exc:
        db.session.rollback()
        for name, messages in exc.errors.items():
            for message in messages:
                add_error(getattr(form, name), message)
        return False

    record_login_event("password_change", user)
    db.session.commit()
    flash(_("Your password is changed."), "success")
    return True


class ChangePasswordView(BaseView):
    """Change password for every signed-in account (old, new, repeat; the same rules as applicants').

    Replaces FAB's "reset my password", which asks for no current password."""

    route_base = "/account"
    default_view = "password"

    @expose("/password", methods=["GET", "POST"])
    @has_access
    def password(self):
        user = scope.current_user()
        if getattr(user, "person", None) is not None:
            return redirect(url_for("MyAccountView.password"))
        form = PasswordForm()
        if request.method == "POST" and form.validate_on_submit() and change_password_form(user, form):
            return redirect(url_for("ChangePasswordView.password"))
        return self.render_template("account/password.html", form=form)


class RealnameSimulatorView(BaseView):
    """The built-in provider's phone page and the providers' callback (no sign-in: the phone is elsewhere).

    The phone page stands in for the provider's app; it posts the provider-signed answer to the callback.
    """

    route_base = "/realname"

    @expose("/simulator/<nonce>")
    def phone(self, nonce):
        provider = realname.provider()
        req = realname.pending_request(nonce)
        if not isinstance(provider, realname.SimulatorProvider) or req is None:
            abort(404)
        person = req.person
        answers = {}
        for result in ("verified", "declined"):
            answers[result] = provider.sign({"nonce": nonce, "result": result, "name": person.name,
                                             "id_number": person.id_number})
        return self.render_template("personal/simulator.html", req=req, answers=answers,
                                    masked_name=person.name[0] + "*" * (len(person.name) - 1),
                                    masked_id=person.masked_id_number, provider_name=provider.name)

    @expose("/callback/<provider_name>", methods=["POST"])
    @csrf.exempt
    def callback(self, provider_name):
        provider = realname.provider()
        if provider_name != provider.name:
            abort(404)
        try:
            verdict = provider.parse_callback(request.form)
            req = realname.complete(verdict)
        except realname.RealnameError as exc:
            db.session.rollback()
            return self.render_template("personal/simulator_done.html", ok=False, message=exc.message), 400
        db.session.commit()
        return self.render_template("personal/simulator_done.html", ok=req.status == RequestStatus.VERIFIED,
                                    message=None)


class RealnameQueueView(ScopedModelView):
    """Province: persons waiting for an on-site real-name check in its province, oldest first."""

    base_filters = SCOPE_FILTER + [["realname_status", FilterEqual, RealnameStatus.PENDING],
                                   ["realname_method", FilterEqual, RealnameMethod.ONSITE]]
    show_template = "personal/onsite_show.html"

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        item = self.get_in_scope(pk)
        widgets = self._show(pk)
        kinds = ("photo", "id_front", "id_back", "id_handheld", "signature")
        return self.render_template(self.show_template, pk=pk, title=self.show_title, widgets=widgets,
                                    related_views=self._related_views, item=item,
                                    materials=[(ATTACHMENT_KINDS.label(k), item.latest_attachment(k)) for k in kinds])

    @expose("/decide/<int:pk>", methods=["POST"])
    @has_access
    def decide(self, pk):
        item = self.get_in_scope(pk)
        verified = request.form.get("decision") == "verify"
        try:
            realname.decide_onsite(item, scope.current_user(), verified, request.form.get("note", ""))
        except realname.RealnameError as exc:
            db.session.rollback()
            flash(str(exc.message), "danger")
            return redirect(url_for(f"{self.__class__.__name__}.show", pk=pk))
        db.session.commit()
        flash(_("%(name)s: identity verified.", name=item.name) if verified
              else _("%(name)s: on-site check rejected.", name=item.name), "success" if verified else "warning")
        return redirect(url_for(f"{self.__class__.__name__}.list"))

