"""WTForms validators for identifiers and the application form (validated by app.rules.check_fields)."""
from flask_appbuilder.fields import QuerySelectField, QuerySelectMultipleField
from flask_appbuilder.fieldwidgets import (BS3TextAreaFieldWidget, BS3TextFieldWidget, DatePickerWidget,
                                          Select2ManyWidget, Select2Widget)
from flask_appbuilder.forms import DynamicForm
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional, ValidationError

from app import rules
from app.extensions import db
from app.scope import current_user
from app.identifiers import InvalidIdentifier, clean_credit_code, clean_id_number, clean_mobile
from app.workflow import BUSINESS_TYPES
from models import Enterprise, Specialty
from models.choices import CANCELLATION_REASONS, REPLACEMENT_REASONS


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


def _specialties():
    return db.session.query(Specialty).order_by(Specialty.sort_order)


def _business_type_choices():
    return [("", "—")] + [(code, str(t.label)) for code, t in BUSINESS_TYPES.items()]


def _reason_choices():
    return ([("", "—")] + [(c, f"{_l('Cancellation')}: {label}") for c, label in CANCELLATION_REASONS.choices()]
            + [(c, f"{_l('Replacement')}: {label}") for c, label in REPLACEMENT_REASONS.choices()
               if c not in CANCELLATION_REASONS])


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
        from app.services import captcha

        if captcha.check(self.captcha_nonce.data or "", self.captcha.data or ""):
            return True
        add_error(self.captcha, _("The verification code is wrong or has expired; type the new one."))
        return False

    def fresh_captcha(self):
        from app.services import captcha

        self.captcha_nonce.data = captcha.new_challenge()
        self.captcha.data = ""


class EnterpriseAutocompleteWidget:
    """A select holding only the chosen enterprise; static/js/enterprise_select.js turns it into a Select2
    search against ApplyView.enterprises, so no page ever lists every enterprise (tens of thousands)."""

    def __call__(self, field, **kwargs):
        from flask import url_for
        from markupsafe import Markup, escape

        chosen = field.data
        placeholder = escape(_("Type two or more characters of the name or credit code"))
        option = (f'<option value="{chosen.id}" selected>{escape(f"{chosen.name} [{chosen.credit_code}]")}</option>'
                  if chosen else "")
        return Markup(f'<select id="{field.id}" name="{field.name}" class="form-control enterprise-autocomplete" '
                      f'data-url="{url_for("ApplyView.enterprises")}" '
                      f'data-placeholder="{placeholder}">'
                      f'<option value="__None"></option>{option}</select>')


class EnterpriseField(QuerySelectField):
    """An enterprise picked by keyword: validates the submitted id against the database, loads no list."""

    def __init__(self, label=None, **kwargs):
        super().__init__(label, query_func=self._candidates, get_pk_func=lambda e: e.id, allow_blank=True,
                         blank_text="—", widget=EnterpriseAutocompleteWidget(), **kwargs)

    def _candidates(self):
        wanted = row_id(self._formdata if self._formdata is not None else getattr(self._data, "id", None))
        if wanted is None:
            return []
        return db.session.query(Enterprise).filter(Enterprise.id == wanted).all()


class KnownOnlyMultipleField(QuerySelectMultipleField):
    """FAB's multiple select notices unknown submitted keys only after validating; check them first."""

    def pre_validate(self, form):
        _ = self.data  # resolves the submitted keys and flags any that are not offered
        if self._invalid_formdata:
            raise ValidationError(str(_l("Unknown value; choose from the list.")))
        super().pre_validate(form)


class ApplicationForm(DynamicForm):
    """One form for all eight business types; which fields a type uses is app.rules.FIELDS_BY_TYPE."""

    business_type = SelectField(_l("Business type"), choices=_business_type_choices, default="",
                                widget=Select2Widget())
    enterprise = EnterpriseField(_l("Employer"),
                                 description=_l("Initial, re-registration: your employer. Change: the new employer."))
    contract_start = DateField(_l("Labour contract from"), validators=[Optional()], widget=DatePickerWidget())
    contract_end = DateField(_l("Labour contract until"), validators=[Optional()], widget=DatePickerWidget())
    specialties = KnownOnlyMultipleField(_l("Specialties"), query_func=_specialties, get_pk_func=lambda s: s.code,
                                           widget=Select2ManyWidget())
    continuing_education = BooleanField(_l("I have completed (or commit to) the required continuing education"))
    pass_certificate_no = StringField(_l("Pass certificate number"), validators=[Optional(), Length(max=32)],
                                      widget=BS3TextFieldWidget())
    reason = SelectField(_l("Reason"), choices=_reason_choices, default="", widget=Select2Widget(),
                         description=_l("Cancellation or certificate replacement only."))
    reason_text = TextAreaField(_l("Explanation"), validators=[Optional(), Length(max=2000)],
                                widget=BS3TextAreaFieldWidget())
    new_name = StringField(_l("New name"), validators=[Optional(), Length(max=50)], widget=BS3TextFieldWidget())
    new_id_number = StringField(_l("New ID number"), validators=[Optional(), IdNumber()], widget=BS3TextFieldWidget())

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        values = {name: field.data for name, field in self._fields.items()}
        person = getattr(current_user(), "person", None)  # only applicants fill this form in
        errors = rules.check_fields(values.get("business_type") or "", values, person=person)
        for name, messages in errors.items():
            target = self._fields.get(name, self._fields["business_type"])
            add_error(target, *messages)
        return ok and not errors
