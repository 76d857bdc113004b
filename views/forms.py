"""WTForms helpers shared by the pages: identifier validators, field errors, the captcha form, row ids."""
from flask_appbuilder.forms import DynamicForm
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, StringField
from wtforms.validators import Length, ValidationError

from ground.identifiers import (InvalidIdentifier, clean_contact_phone, clean_credit_code, clean_id_number, clean_mobile,
                                clean_person_name)
from app.services import captcha


def row_id(value) -> int | None:
    """A row id sent by a browser: ASCII digits within the integer columns' range, else None
    ("²".isdigit() is True but int() refuses it; SQLite cannot bind integers beyond 64 bits)."""
    text = str(value) if value is not None else ""
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if number < 2**31 else None


class _Identifier:
    """Validate and normalise an identifier field in place (e.g. lower-case x → X)."""

    clean = None

    def __call__(self, form, field):
        if not field.data:
            return
        try:
            field.data = type(self).clean(field.data)
        except InvalidIdentifier as exc:
            raise ValidationError(str(exc.message)) from None


class IdNumber(_Identifier):
    clean = staticmethod(clean_id_number)


class CreditCode(_Identifier):
    clean = staticmethod(clean_credit_code)


class Mobile(_Identifier):
    clean = staticmethod(clean_mobile)


class ContactPhone(_Identifier):
    """A mobile or a landline with area code and optional extension (ground.identifiers.clean_contact_phone)."""

    clean = staticmethod(clean_contact_phone)


class PersonName(_Identifier):
    """A legal name (ground.identifiers.clean_person_name): sign-up, name changes, persons, legal representatives."""

    clean = staticmethod(clean_person_name)


class NamePart(_Identifier):
    """A family or given name alone (staff accounts keep the two apart)."""

    clean = staticmethod(lambda value: clean_person_name(value, part=True))


def add_error(field, *messages):
    """Show translated messages under a form field (after validation, e.g. from a service's refusal)."""
    field.errors = list(field.errors) + [str(m) for m in messages]


def add_errors(form, errors: dict):
    """Field name → messages, as app.accounts.AccountError and app.rules.check_fields give them."""
    for name, messages in errors.items():
        add_error(form[name], *messages)


class CaptchaForm(DynamicForm):
    """A form with the image captcha (security/_captcha.html renders the two fields)."""

    captcha_nonce = HiddenField()
    captcha = StringField(_l("Verification code"), validators=[Length(max=16)])

    def captcha_passed(self) -> bool:
        """Checks (and uses up) the captcha; on failure the field carries the message."""

        if captcha.check(self.captcha_nonce.data or "", self.captcha.data or ""):
            return True
        add_error(self.captcha, _("The verification code is wrong or has expired; type the new one."))
        return False

    def fresh_captcha(self):
        """A new challenge for the page; at the caps the field says why there is none (the form cannot pass)."""
        self.captcha.data = ""
        try:
            self.captcha_nonce.data = captcha.new_challenge()
        except captcha.CaptchaRefused as exc:
            self.captcha_nonce.data = ""
            add_error(self.captcha, exc.message)
