"""Security manager: our user model, account views that bind users to their scope, ID-number login.

Applicants log in with their 18-character ID number (lower-case x accepted). An account's scope
comes from its binding: an applicant's username is a person's ID number; an Enterprise user names
its enterprise; a Province user its province.
"""
from flask import g
from flask_appbuilder.security.sqla.manager import SecurityManager as SqlaSecurityManager
from flask_appbuilder import expose
from flask_appbuilder.security.views import AuthDBView, UserDBModelView
from flask_babel import lazy_gettext as _l

from models import AppUser, Person

from . import roles as R
from .extensions import db
from .identifiers import InvalidIdentifier, clean_id_number

_BINDING_COLUMNS = ["enterprise", "province"]


def _binding_fields():
    """Scope bindings as searchable selects with a readable blank entry."""
    from flask_appbuilder.fields import QuerySelectField
    from flask_appbuilder.fieldwidgets import Select2Widget
    from wtforms.validators import Optional

    from models import Enterprise, Province

    return {
        "enterprise": QuerySelectField(
            _l("Enterprise"), query_func=lambda: db.session.query(Enterprise).order_by(Enterprise.name),
            get_pk_func=lambda e: e.id, allow_blank=True, blank_text="—", widget=Select2Widget(),
            validators=[Optional()]),
        "province": QuerySelectField(
            _l("Province"), query_func=lambda: db.session.query(Province).order_by(Province.code),
            get_pk_func=lambda p: p.code, allow_blank=True, blank_text="—", widget=Select2Widget(),
            validators=[Optional()]),
    }


class AppUserDBModelView(UserDBModelView):
    """FAB's account admin plus the scope bindings; refuses an account its role cannot work with."""

    add_form_extra_fields = {**UserDBModelView.add_form_extra_fields, **_binding_fields()}
    edit_form_extra_fields = _binding_fields()
    add_columns = UserDBModelView.add_columns + _BINDING_COLUMNS
    edit_columns = UserDBModelView.edit_columns + _BINDING_COLUMNS
    list_columns = ["username", "first_name", "last_name", "active", "roles", "enterprise", "province"]
    search_columns = ["username", "first_name", "last_name", "email", "active", "roles", "created_on", "last_login"]
    label_columns = dict(UserDBModelView.label_columns, enterprise=_l("Enterprise"), province=_l("Province"))
    description_columns = dict(
        UserDBModelView.description_columns,
        username=_l("Applicants: the 18-character ID number of a person on file."),
        enterprise=_l("Required for the Enterprise role."),
        province=_l("Required for the Province role."),
    )
    show_fieldsets = UserDBModelView.show_fieldsets + [(_l("Scope"), {"fields": _BINDING_COLUMNS + ["person"]})]
    userstatschartview = None

    def _bind(self, item):
        roles = {r.name for r in item.roles}
        errors = []
        item.person = None
        if R.APPLICANT in roles:
            try:
                item.username = clean_id_number(item.username)
            except InvalidIdentifier as exc:
                errors.append(exc.message)
            else:
                with db.session.no_autoflush:  # the new account is not in the session yet
                    item.person = db.session.query(Person).filter(Person.id_number == item.username).one_or_none()
                if item.person is None:
                    errors.append(_l("No person with this ID number is on file."))
        if R.ENTERPRISE in roles and item.enterprise is None:
            errors.append(_l("An Enterprise account must name its enterprise."))
        if R.PROVINCE in roles and item.province is None:
            errors.append(_l("A Province account must name its province."))
        if errors:
            db.session.rollback()
            raise ValueError(" ".join(str(e) for e in errors))

    def pre_add(self, item):
        self._bind(item)
        super().pre_add(item)

    def pre_update(self, item):
        self._bind(item)
        super().pre_update(item)


class AppAuthDBView(AuthDBView):
    """Sign-out is a POST with a CSRF token: no GET changes anything, not even the session."""

    @expose("/logout/", methods=["POST"])
    def logout(self):
        return super().logout()


class SecurityManager(SqlaSecurityManager):
    user_model = AppUser
    userdbmodelview = AppUserDBModelView
    authdbview = AppAuthDBView
    userstatschartview = None  # FAB's chart loads Google Charts from the internet

    def auth_user_db(self, username, password):
        """ID numbers are the applicants' accounts: accept lower-case x and surrounding spaces."""
        username = (username or "").strip()
        if len(username) == 18 and username[:17].isdigit():
            username = username.upper()
        return super().auth_user_db(username, password)

    @property
    def current_user(self):
        user = super().current_user
        return user if user is not None else g.get("user")
