"""Pages without sign-in: opening an applicant account (step 1 of 4) and resetting a password by SMS.

Both ask for the image captcha before an SMS is sent, and change nothing unless every field is valid.
"""
from flask import current_app, flash, redirect, request, session, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.forms import DynamicForm
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_user
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length
from wtforms.widgets import PasswordInput

from ground.extensions import db
from ground.identifiers import InvalidIdentifier, clean_id_number
from app import accounts
from app.services import sms
from views.forms import CaptchaForm, IdNumber, Mobile, PersonName, add_error, add_errors
from views.shell import sessions
from app.audit import record_login_event


class SignUpForm(CaptchaForm):
    name = StringField(_l("Real name"), validators=[DataRequired(), Length(max=50), PersonName()],
                       description=_l("As printed on your ID card."))
    id_number = StringField(_l("ID number"), validators=[DataRequired(), IdNumber()],
                            description=_l("18 characters; this is your sign-in account."))
    phone = StringField(_l("Mobile number"), validators=[DataRequired(), Mobile()])
    sms_code = StringField(_l("SMS code"), validators=[Length(max=6)])
    # Typed passwords survive "Get SMS code" (the page is never cached).
    password = PasswordField(_l("Password"), validators=[Length(max=64)], widget=PasswordInput(hide_value=False),
                             description=_l("At least 8 characters with three of: capital letters, small letters, "
                                            "digits, symbols."))
    confirm = PasswordField(_l("Repeat password"), validators=[EqualTo("password", _l("The passwords differ."))],
                            widget=PasswordInput(hide_value=False))


class ResetStartForm(CaptchaForm):
    id_number = StringField(_l("ID number"), validators=[DataRequired(), IdNumber()])


class ResetFinishForm(DynamicForm):
    sms_code = StringField(_l("SMS code"), validators=[DataRequired(), Length(max=6)])
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=64)])
    confirm = PasswordField(_l("Repeat new password"), validators=[EqualTo("password", _l("The passwords differ."))])


class SignUpView(BaseView):
    """Step 1: name, ID number, mobile confirmed by SMS, password; then the account exists and is signed in."""

    route_base = "/signup"
    default_view = "basic"

    @expose("/", methods=["GET", "POST"])
    def basic(self):
        user = current_app.appbuilder.sm.current_user
        if user is not None and getattr(user, "person", None) is not None:
            return redirect(url_for("MyAccountView.steps"))
        form = SignUpForm()
        sms_sent = False
        if request.method == "POST" and form.validate_on_submit():
            if request.form.get("action") == "send_sms":
                sms_sent = self._send_code(form)
            else:
                done = self._open_account(form)
                if done:
                    return done
        if request.form.get("action") != "send_sms":
            form.password.data = form.confirm.data = ""  # kept only across "Get SMS code"
        form.fresh_captcha()
        return (self.render_template("personal/signup.html", form=form, steps=accounts.steps(None),
                                     sms_wait=current_app.config["SMS_RESEND_SECONDS"] if sms_sent else 0), 200,
                {"Cache-Control": "no-store"})

    def _taken(self, form) -> bool:
        if current_app.appbuilder.sm.find_user(username=form.id_number.data) is not None:
            add_error(form.id_number,
                      _("An account with this ID number already exists; sign in, or reset the password by SMS."))
            return True
        return False

    def _send_code(self, form) -> bool:
        if self._taken(form) or not form.captcha_passed():
            return False
        try:
            sms.send_code(form.phone.data, "register")
        except sms.SmsError as exc:
            add_error(form.sms_code, exc.message)
            return False
        flash(_("An SMS code was sent to %(phone)s; it is valid for %(minutes)s minutes.",
                phone=sms.mask_phone(form.phone.data), minutes=current_app.config["SMS_CODE_TTL_SECONDS"] // 60),
              "info")
        return True

    def _open_account(self, form):
        if not form.sms_code.data:
            add_error(form.sms_code, _("Enter the SMS code sent to your mobile."))
            return None
        if self._taken(form):
            return None
        problems = accounts.password_problems(form.password.data or "", id_number=form.id_number.data,
                                              phone=form.phone.data)
        if problems:
            add_errors(form, {"password": problems})
            return None
        try:
            sms.verify_code(form.phone.data, "register", form.sms_code.data)
            user = accounts.open_account(form.name.data, form.id_number.data, form.phone.data, form.password.data)
        except sms.SmsError as exc:
            db.session.rollback()
            add_error(form.sms_code, exc.message)
            return None
        except accounts.AccountError as exc:
            db.session.rollback()
            add_errors(form, exc.errors)
            return None
        db.session.commit()
        sessions.start(user)
        login_user(user, remember=False)
        flash(_("Your account is open. Step 2: upload your photo and documents."), "success")
        return redirect(url_for("MyAccountView.materials"))


class PasswordResetView(BaseView):
    """Forgotten password or locked account: an SMS code to the mobile on file sets a new password."""

    route_base = "/reset"
    default_view = "start"
    _SESSION_KEY = "reset_account"

    @expose("/", methods=["GET", "POST"])
    def start(self):
        form = ResetStartForm()
        if request.method == "POST" and form.validate_on_submit() and form.captcha_passed():
            user = current_app.appbuilder.sm.find_user(username=form.id_number.data)
            phone = getattr(getattr(user, "person", None), "phone", None)
            if user is None or not phone:
                add_error(form.id_number, _("No applicant account with a mobile number has this ID number. "
                                            "Staff accounts are reset by the administrator."))
            else:
                try:
                    sms.send_code(phone, "reset_password")
                except sms.SmsError as exc:
                    add_error(form.id_number, str(exc.message))
                else:
                    session[self._SESSION_KEY] = user.username
                    return redirect(url_for("PasswordResetView.finish"))
        form.fresh_captcha()
        return self.render_template("personal/reset.html", form=form, stage="start"), 200, {"Cache-Control": "no-store"}

    @expose("/finish", methods=["GET", "POST"])
    def finish(self):
        username = session.get(self._SESSION_KEY)
        try:
            user = current_app.appbuilder.sm.find_user(username=clean_id_number(username or ""))
        except InvalidIdentifier:
            user = None
        if user is None or user.person is None or not user.person.phone:
            return redirect(url_for("PasswordResetView.start"))
        form = ResetFinishForm()
        if request.method == "POST" and form.validate_on_submit():
            problems = accounts.password_problems(form.password.data, id_number=user.username, phone=user.person.phone)
            if problems:
                add_errors(form, {"password": problems})
            else:
                try:
                    sms.verify_code(user.person.phone, "reset_password", form.sms_code.data)
                    accounts.set_password(user, form.password.data)
                except sms.SmsError as exc:
                    db.session.rollback()
                    add_error(form.sms_code, exc.message)
                else:

                    record_login_event("password_reset", user)
                    db.session.commit()
                    session.pop(self._SESSION_KEY, None)
                    flash(_("Your password is set and the account is unlocked. Sign in with the new password."),
                          "success")
                    return redirect(current_app.appbuilder.get_url_for_login)
        return self.render_template("personal/reset.html", form=form, stage="finish",
                                    masked_phone=sms.mask_phone(user.person.phone)), 200, {"Cache-Control": "no-store"}
