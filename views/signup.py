"""Pages without sign-in: opening an applicant account (step 1 of 4) and resetting a password by SMS.

Both ask for the image captcha before an SMS is sent, and change nothing unless every field is valid.
"""
import logging

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

log = logging.getLogger(__name__)


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
    """Forgotten password or locked account: an SMS code to the mobile on file sets a new password.

    Known and unknown ID numbers get the same pages, messages and redirects (no account enumeration): the code goes
    out only when an applicant account with a mobile has the number, and a failed sending is logged, not shown.
    """

    route_base = "/reset"
    default_view = "start"
    _SESSION_KEY = "reset_account"

    @staticmethod
    def _account(id_number):
        """The applicant account and its mobile, or (None, None)."""
        try:
            user = current_app.appbuilder.sm.find_user(username=clean_id_number(id_number or ""))
        except InvalidIdentifier:
            return None, None
        phone = getattr(getattr(user, "person", None), "phone", None)
        return (user, phone) if user is not None and phone else (None, None)

    @expose("/", methods=["GET", "POST"])
    def start(self):
        form = ResetStartForm()
        if request.method == "POST" and form.validate_on_submit() and form.captcha_passed():
            _user, phone = self._account(form.id_number.data)
            if phone:
                try:
                    sms.send_code(phone, "reset_password")
                except sms.SmsError as exc:  # shown to nobody: the page would tell that the account exists
                    db.session.rollback()
                    log.info("password reset: no SMS sent (%s)", exc.message)
            session[self._SESSION_KEY] = form.id_number.data
            return redirect(url_for("PasswordResetView.finish"))
        form.fresh_captcha()
        return self.render_template("personal/reset.html", form=form, stage="start"), 200, {"Cache-Control": "no-store"}

    @expose("/finish", methods=["GET", "POST"])
    def finish(self):
        id_number = session.get(self._SESSION_KEY)
        if not id_number:
            return redirect(url_for("PasswordResetView.start"))
        user, phone = self._account(id_number)
        form = ResetFinishForm()
        if request.method == "POST" and form.validate_on_submit():
            problems = accounts.password_problems(form.password.data, id_number=id_number, phone=phone or "")
            if problems:
                add_errors(form, {"password": problems})
            else:
                try:
                    if user is None:
                        raise sms.SmsError(_l("No verification code has been sent to this number; ask for one first."))
                    sms.verify_code(phone, "reset_password", form.sms_code.data)
                    accounts.set_password(user, form.password.data)
                except sms.SmsError:
                    db.session.rollback()
                    add_error(form.sms_code, _("The SMS code is wrong, has expired or has had too many attempts. "
                                               "Check it, or start again for a new code."))
                else:
                    record_login_event("password_reset", user)
                    db.session.commit()
                    session.pop(self._SESSION_KEY, None)
                    flash(_("Your password is set and the account is unlocked. Sign in with the new password."),
                          "success")
                    return redirect(current_app.appbuilder.get_url_for_login)
        return self.render_template("personal/reset.html", form=form, stage="finish"), 200, {"Cache-Control": "no-store"}
