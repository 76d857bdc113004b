"""Security manager: our user model, account views that bind users to their scope, ID-number login.

Applicants log in with their 18-character ID number (lower-case x accepted). An account's scope
comes from its binding: an applicant's username is a person's ID number; an Enterprise user names
its enterprise; a Province user its province; an Industry user its specialties (flagged ones; app/industry.py).
"""
import logging
import secrets
from datetime import timedelta

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder._compat import as_unicode
from flask_appbuilder.actions import action
from flask_appbuilder.api import safe
from flask_appbuilder.security.api import SecurityApi
from flask_appbuilder.security.sqla.manager import SecurityManager as SqlaSecurityManager
from flask_appbuilder.const import LOGMSG_WAR_SEC_LOGIN_FAILED
from flask_appbuilder.security.utils import is_null_password
from flask_appbuilder.security.forms import UserInfoEdit
from flask_appbuilder.security.sqla.models import Role
from flask_appbuilder.security.views import AuthDBView, UserDBModelView
from flask_appbuilder.security.views import RoleModelView as FabRoleModelView
from flask_appbuilder.security.views import UserInfoEditView as FabUserInfoEditView
from flask_appbuilder.widgets import ListWidget, ShowWidget
from flask_appbuilder.utils.base import get_safe_redirect
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_jwt_extended import current_user as current_user_jwt
from flask_jwt_extended import get_jwt, jwt_required
from flask_login import login_user
from flask_appbuilder.forms import DynamicForm
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, ListWidget as CheckboxList
from wtforms.validators import DataRequired, Length, Optional

from ground import roles as R
from ground.clock import now_utc
from ground.extensions import db
from ground.identifiers import InvalidIdentifier, clean_id_number, looks_like_id_number
from models import AppUser, Enterprise, Person, Province, Specialty
from models.user import revoke_tokens
from app import duties, notifications
from app.audit import record_login_event
from app.services import captcha
from views import security_display
from views.formatting import PERSONAL_FORMATTERS, china_time, dash_if_empty, yes_no
from views.forms import CaptchaForm, NamePart
from views.errors import ApiErrors
from views.interface import PanelInterface
from views.shell import api_tokens, sessions


log = logging.getLogger(__name__)
_BINDING_COLUMNS = ["enterprise", "province", "industry_specialties"]


def _binding_fields():
    """Scope bindings as searchable selects with a readable blank entry."""
    from flask_appbuilder.fields import QuerySelectField, QuerySelectMultipleField
    from flask_appbuilder.fieldwidgets import Select2ManyWidget, Select2Widget
    from wtforms.validators import Optional


    return {
        "enterprise": QuerySelectField(
            _l("Enterprise"), query_func=lambda: db.session.query(Enterprise).order_by(Enterprise.name),
            get_pk_func=lambda e: e.id, allow_blank=True, blank_text="—", widget=Select2Widget(),
            validators=[Optional()]),
        "province": QuerySelectField(
            _l("Province"), query_func=lambda: db.session.query(Province).order_by(Province.code),
            get_pk_func=lambda p: p.code, allow_blank=True, blank_text="—", widget=Select2Widget(),
            validators=[Optional()]),
        "industry_specialties": QuerySelectMultipleField(
            _l("Industry specialties"), widget=Select2ManyWidget(), get_pk_func=lambda s: s.code,
            query_func=lambda: db.session.query(Specialty).filter(Specialty.needs_industry_opinion.is_(True))
            .order_by(Specialty.sort_order), validators=[Optional()]),
    }


def _password_field():
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget
    from flask_appbuilder.validators import PasswordComplexityValidator

    return PasswordField(_l("Password"), widget=BS3PasswordFieldWidget(),
                         validators=[DataRequired(), PasswordComplexityValidator()],
                         description=_l("At least 8 characters with three of: capital letters, small letters, "
                                        "digits, symbols."))


class _RoleChoices(SelectMultipleField):
    widget = CheckboxList(prefix_label=False)
    option_widget = CheckboxInput()


class RolesForm(DynamicForm):
    """The security administrator's form: an account, then the roles it holds (none withdraws them all)."""

    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    roles = _RoleChoices(_l("Roles"), choices=[], validate_choice=True)


def _role_choices():
    """Every grantable role, in words (FAB's role of visitors is nobody's grant)."""
    public = current_app.config.get("AUTH_ROLE_PUBLIC", "Public")
    return [(r.name, security_display.role_label(r.name))
            for r in db.session.query(Role).filter(Role.name != public).order_by(Role.id)]


class AppUserDBModelView(UserDBModelView):
    """FAB's account admin plus the scope bindings; refuses an account its role cannot work with."""

    add_form_extra_fields = {**UserDBModelView.add_form_extra_fields, **_binding_fields(),
                             "password": _password_field()}
    edit_form_extra_fields = _binding_fields()
    # FAB's user groups are not used: access comes from the roles (views/grants.py). Roles are not on these
    # forms: the security administrator grants them (`roles` below, app/duties.py).
    add_columns = [c for c in UserDBModelView.add_columns if c not in ("groups", "roles")] + _BINDING_COLUMNS
    edit_columns = [c for c in UserDBModelView.edit_columns if c not in ("groups", "roles")] + _BINDING_COLUMNS
    # Staff names follow the legal-name rule (ground.identifiers.clean_person_name), part by part.
    validators_columns = {"first_name": [NamePart()], "last_name": [Optional(), NamePart()]}
    list_columns = ["username", "full_name", "active", "roles", "enterprise", "province", "locked_until"]
    order_columns = ["username", "active", "locked_until"]
    search_columns = ["username", "first_name", "last_name", "email", "active", "roles", "created_on", "last_login"]
    # Chinese names: the family name (姓) is kept in first_name, the given name (名) in last_name, and the full
    # name is written family name first (AppUser.get_full_name); pages show 姓名 as one field.
    label_columns = dict(UserDBModelView.label_columns, enterprise=_l("Enterprise"), province=_l("Province"),
                         locked_until=_l("Locked until"), full_name=_l("Full name"), first_name=_l("Family name"),
                         last_name=_l("Given name"), roles=_l("Roles"), person=_l("Person"),
                         industry_specialties=_l("Industry specialties"))
    description_columns = dict(
        UserDBModelView.description_columns,
        active=_l("Deactivate an account instead of deleting it: audit rows and transition logs keep its name."),
        email=_l("Staff: an e-mail address for notices; sign-in is by user name only."),
        password=_l("At least 8 characters with three of: capital letters, small letters, digits, symbols."),
        roles=_l("What the account may see and do (see Security → Roles); granted by the security administrator."),
        username=_l("Applicants: the 18-character ID number of a person on file."),
        enterprise=_l("Required for the Enterprise role."),
        province=_l("Required for the Province role."),
        industry_specialties=_l("Required for the Industry role: the specialties whose applications it gives its "
                                "opinion on."),
    )
    show_fieldsets = [
        (_l("User info"), {"fields": ["username", "full_name", "active", "roles", "email"]}),
        (_l("Scope"), {"fields": _BINDING_COLUMNS + ["person"]}),
        (_l("Sign-in"), {"fields": ["last_login", "login_count", "fail_login_count", "locked_until", "created_on",
                                    "changed_on"], "expanded": False}),
    ]
    user_show_fieldsets = [
        (_l("User info"), {"fields": ["username", "full_name", "roles", "enterprise", "province", "email"]}),
        (_l("Sign-in"), {"fields": ["last_login", "login_count"]}),
    ]
    userstatschartview = None
    # Applicants' user names are ID numbers, and their placeholder e-mail contains it.
    formatters_columns = {**{name: PERSONAL_FORMATTERS[name] for name in ("username", "email")},
                          "active": yes_no, "enterprise": dash_if_empty, "province": dash_if_empty,
                          "person": dash_if_empty,
                          "industry_specialties": lambda rows: "、".join(str(s) for s in rows or []) or "—",
                          "locked_until": lambda v: dash_if_empty(china_time(v)),
                          "last_login": lambda v: dash_if_empty(china_time(v)),
                          "created_on": lambda v: dash_if_empty(china_time(v)),
                          "changed_on": lambda v: dash_if_empty(china_time(v)),
                          "login_count": lambda v: v or 0, "fail_login_count": lambda v: v or 0,
                          "roles": lambda roles: "、".join(security_display.role_label(r.name) for r in roles or [])}

    @expose("/userinfo/")
    @has_access
    def userinfo(self):
        """Applicants have the personal edition's 个人信息; staff see their own account here."""
        if getattr(g.user, "person_id", None):
            return redirect(url_for("MyAccountView.steps"))
        return super().userinfo()

    def _bind(self, item):
        roles = {r.name for r in item.roles}
        errors = []
        item.person = None
        item.username = normalise_username(item.username)  # an ID number with a capital X, role or not yet
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
        errors += duties.missing_bindings(item, roles)
        if R.INDUSTRY not in roles:
            item.industry_specialties = []
        if errors:
            db.session.rollback()
            raise ValueError(" ".join(str(e) for e in errors))

    def pre_add(self, item):
        self._bind(item)
        super().pre_add(item)

    @expose("/roles/", methods=["GET", "POST"])
    @has_access
    def roles(self):
        """安全管理员: grant and withdraw the roles of an account (app/duties.py checks and audits)."""
        form = RolesForm(request.form if request.method == "POST" else request.args)
        form.roles.choices = _role_choices()
        account = None
        if form.username.data:
            account = self.appbuilder.sm.find_user(username=normalise_username(form.username.data))
            if account is None:
                form.username.errors = [_("No account with this user name.")]
        if account is not None and request.method == "POST" and form.validate():
            try:
                granted, withdrawn = duties.set_roles(account, form.roles.data or [], actor=g.user)
            except duties.RolesRefused as exc:
                db.session.rollback()
                form.roles.errors = [exc.message]
            else:
                db.session.commit()
                flash(_("Roles of %(account)s saved: %(granted)s granted, %(withdrawn)s withdrawn.",
                        account=account.username, granted=len(granted), withdrawn=len(withdrawn)), "success")
                return redirect(url_for("AppUserDBModelView.roles", username=account.username))
        elif account is not None and request.method == "GET":
            form.roles.data = sorted(account.role_names)
        return self.render_template("security/roles.html", form=form, account=account,
                                    title=_("Grant roles")), 200, {"Cache-Control": "no-store"}

    @action("unlock", _l("Unlock"), _l("Lift the sign-in lock of the selected accounts?"), "fa-unlock", single=False)
    def unlock(self, items):
        items = items if isinstance(items, list) else [items]
        for item in items:
            item.locked_until = None
            item.fail_login_count = 0
            record_login_event("unlock", item)
        db.session.commit()
        flash(_("%(count)s account(s) unlocked.", count=len(items)), "success")
        return redirect(self.get_redirect())

    def pre_update(self, item):
        self._bind(item)
        super().pre_update(item)


class AppUserInfoEdit(UserInfoEdit):
    """Staff edit their own name: family name (姓) then given name (名)."""

    first_name = StringField(_l("Family name"), validators=[DataRequired(), Length(max=64), NamePart()])
    last_name = StringField(_l("Given name"), validators=[Optional(), Length(max=64), NamePart()])


class UserInfoEditView(FabUserInfoEditView):  # FAB's class name: its endpoints and permissions keep their names
    form = AppUserInfoEdit
    form_title = _l("Edit my details")
    message = _l("Your details are saved.")


ROLE_COLUMNS = {
    "role": lambda role: security_display.role_label(role.name),
    "duties": lambda role: security_display.ROLE_DUTIES.get(role.name, "—"),
    "grants": security_display.role_grants,
}


class RoleModelView(FabRoleModelView):  # FAB's class name: its endpoints and permissions keep their names
    """Roles in words: the role's name and duties, and what it may do (built-in roles are defined in code)."""

    list_widget = ListWidget
    show_widget = ShowWidget
    list_columns = ["role", "duties"]
    show_columns = ["role", "duties", "grants"]
    order_columns = []
    search_columns = ["name"]  # a handful of roles, defined in code
    label_columns = {"role": _l("Role"), "duties": _l("Duties"), "grants": _l("Permissions"),
                     "name": _l("Role code")}
    base_order = ("id", "asc")


def normalise_username(username: str) -> str:
    """ID numbers are the applicants' accounts: accept lower-case x and surrounding spaces."""
    username = (username or "").strip()
    return username.upper() if looks_like_id_number(username) else username


def login_refusal():
    """The one answer to every refused sign-in (unknown account, wrong password, inactive or locked account)."""
    return _l("Wrong ID number or password. After %(failures)s failed sign-ins in a row an account is locked for "
              "%(minutes)s minutes (its holder is told); resetting the password by SMS unlocks it at once.",
              failures=current_app.config["LOGIN_MAX_FAILURES"], minutes=current_app.config["LOGIN_LOCK_MINUTES"])


def _dummy_hash() -> str:
    """A password hash of the configured method, for refusals that have no real hash to check against."""
    cached = current_app.extensions.get("dummy_password_hash")
    if cached is None:
        cached = current_app.extensions["dummy_password_hash"] = generate_password_hash(
            secrets.token_urlsafe(16), method=current_app.config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"))
    return cached


def _announce_lock(user, failures: int):
    """Tell the holder (message centre; SMS to an applicant's mobile; e-mail when on) that the account is locked."""
    until = china_time(user.locked_until)
    notifications.send("account_locked", f"account_locked:{user.id}:{user.locked_until.isoformat()}", [user],
                       {"failures": failures, "until": until})


class LoginForm(CaptchaForm):
    username = StringField(_l("ID number or user name"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])
    captcha = StringField(_l("Verification code"), validators=[DataRequired(), Length(max=16)])


class AppAuthDBView(AuthDBView):
    """Sign-in with ID number (or staff user name), password and image captcha; sign-out is a POST."""

    login_template = "security/login.html"

    @expose("/login/", methods=["GET", "POST"])
    def login(self):
        if g.user is not None and g.user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_index)
        form = LoginForm()
        if form.validate_on_submit():
            if form.captcha_passed():
                user = self.appbuilder.sm.auth_user_db(form.username.data, form.password.data)
                if user:
                    sessions.start(user)
                    login_user(user, remember=False)
                    next_url = request.args.get("next")
                    return redirect(get_safe_redirect(next_url) if next_url else self.appbuilder.get_url_for_index)
                flash(as_unicode(login_refusal()), "danger")
        form.fresh_captcha()
        form.password.data = ""
        response = self.render_template(self.login_template, title=_("Sign in"), form=form,
                                        appbuilder=self.appbuilder)
        return response, 200, {"Cache-Control": "no-store"}

    @expose("/logout/", methods=["POST"])
    def logout(self):
        if g.user is not None and g.user.is_authenticated:
            revoke_tokens(g.user)  # signing out ends the account's API tokens too
            record_login_event("logout", g.user)
            db.session.commit()
        sessions.end("logout")
        response = super().logout()
        session.clear()
        return response


class AppSecurityApi(ApiErrors, SecurityApi):
    """API sign-in under the same rules as the page: captcha (GET /captcha/new), lockout, rate limit.
    Tokens are revocable and refresh tokens are used once (views/shell/api_tokens.py)."""

    @expose("/login", methods=["POST"])
    @safe
    def login(self):
        """Sign in: an access token (and a refresh token when asked) for the Authorization header.
        ---
        post:
          requestBody:
            required: true
            content:
              application/json:
                schema: {$ref: '#/components/schemas/LoginInput'}
          responses:
            200:
              description: signed in
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/Tokens'}
            400: {$ref: '#/components/responses/400'}
            401: {$ref: '#/components/responses/401'}
            429: {$ref: '#/components/responses/429'}
        """
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return self.response_400(message="Request payload is not JSON")
        fields = {k: payload.get(k) for k in ("username", "password", "captcha_nonce", "captcha")}
        missing = [k for k, v in fields.items() if not isinstance(v, str) or not v]
        if missing:
            return self.response_400(message={k: [_("This field is required.")] for k in missing})
        if not captcha.check(fields["captcha_nonce"], fields["captcha"]):
            return self.response_400(message={"captcha": [_("The verification code is wrong or has expired.")]})
        user = self.appbuilder.sm.auth_user_db(fields["username"], fields["password"])
        if not user:
            return self.response(401, message=str(login_refusal()))
        tokens = api_tokens.issue(user, refresh=payload.get("refresh") is True)
        db.session.commit()
        return self.response(200, **tokens)

    @expose("/refresh", methods=["POST"])
    @jwt_required(refresh=True)
    @safe
    def refresh(self):
        """A new access token and a new refresh token; the refresh token sent works only once.
        ---
        post:
          description: >-
            Use the refresh token once to get a new access token and a new refresh token
          responses:
            200:
              description: New tokens
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      access_token: {type: string}
                      refresh_token: {type: string}
            401:
              $ref: '#/components/responses/401'
          security:
            - jwt_refresh: []
        """
        tokens = api_tokens.rotate(get_jwt(), current_user_jwt)
        if tokens is None:
            return self.response(401, message=_("This refresh token was already used or has expired. Sign in again."))
        return self.response(200, **tokens)

    @expose("/logout", methods=["POST"])
    @jwt_required(verify_type=False)
    @safe
    def logout(self):
        """Sign out: every access and refresh token of the account stops working.
        ---
        post:
          description: >-
            Revoke every token of the account (access or refresh token accepted)
          responses:
            200:
              description: Signed out
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      message: {type: string}
            401:
              $ref: '#/components/responses/401'
          security:
            - jwt: []
        """
        user = current_user_jwt
        revoke_tokens(user)
        record_login_event("logout", user)
        db.session.commit()
        return self.response(200, message=_("Signed out. Every token of this account is revoked."))


def _revoked_token(_jwt_header, _jwt_data):
    """401 for a token whose account is deactivated or whose tokens were revoked."""
    from flask import jsonify

    return jsonify(message=_("This token is no longer valid (new password, sign-out or deactivated account). "
                             "Sign in again.")), 401


class SecurityManager(SqlaSecurityManager):
    user_model = AppUser
    userdbmodelview = AppUserDBModelView
    userinfoeditview = UserInfoEditView
    rolemodelview = RoleModelView
    authdbview = AppAuthDBView
    security_api = AppSecurityApi
    userstatschartview = None  # FAB's chart loads Google Charts from the internet

    def __init__(self, appbuilder):
        super().__init__(appbuilder)
        # FAB gives its account and role views plain interfaces here: ours add computed columns and refuse
        # to sort by what SQL cannot order.
        self.userdbmodelview.datamodel = PanelInterface(self.user_model)
        self.rolemodelview.datamodel = PanelInterface(self.role_model, computed=ROLE_COLUMNS)

    def create_jwt_manager(self, app):
        jwt_manager = super().create_jwt_manager(app)
        jwt_manager.user_lookup_error_loader(_revoked_token)
        return jwt_manager

    def load_user_jwt(self, _jwt_header, jwt_data):
        """The token's account, if it is active and the token was not revoked since (api_tokens.accepted)."""
        user = self.load_user(jwt_data["sub"])
        if user is not None and user.is_active and api_tokens.accepted(jwt_data, user):
            g.user = user  # as FAB does: g.user cannot be set before the request
            return user
        return None

    def register_views(self):
        super().register_views()
        if self.is_auth_limited:  # FAB limits the login page only; the API login gets the same limit
            for view in self.appbuilder.baseviews:
                if isinstance(view, AppSecurityApi):
                    self.limiter.limit(self.auth_rate_limit, methods=["POST"])(view.blueprint)

    def auth_user_db(self, username, password):
        """Password check with lockout: LOGIN_MAX_FAILURES failures in a row lock the account for LOGIN_LOCK_MINUTES.

        Unknown, inactive and locked accounts are refused exactly like a wrong password (same message, status and
        work: the password is hashed against a dummy or the real hash), so a refusal tells nothing about the
        account. The lock itself is announced to the account's holder only (app.notifications, by SMS to an
        applicant's mobile). Writes an audit row for every attempt.
        """
        username = normalise_username(username)
        user = self.find_user(username=username) if username else None
        if user is None or not user.is_active:
            check_password_hash(_dummy_hash(), password or "")  # the same work as a real check
            record_login_event("login_failed", user, username=username,
                               summary="unknown account" if user is None else "inactive")
            db.session.commit()
            log.info(LOGMSG_WAR_SEC_LOGIN_FAILED, username)  # masked by views/shell/logging_filters.py
            return None
        right = check_password_hash(user.password or _dummy_hash(), password or "") and not is_null_password(password)
        if user.locked_until is not None and user.locked_until > now_utc():
            record_login_event("login_refused", user, summary="locked")
            db.session.commit()
            log.info(LOGMSG_WAR_SEC_LOGIN_FAILED, username)
            return None
        self.update_user_auth_stat(user, right)
        if not right:
            log.info(LOGMSG_WAR_SEC_LOGIN_FAILED, username)
        return user if right else None

    def update_user_auth_stat(self, user, success=True):
        limit = current_app.config["LOGIN_MAX_FAILURES"]
        if success:
            user.locked_until = None
        elif (user.fail_login_count or 0) + 1 >= limit:
            minutes = current_app.config["LOGIN_LOCK_MINUTES"]
            user.locked_until = now_utc() + timedelta(minutes=minutes)
            user.fail_login_count = -1  # the base class adds one: the count starts afresh after the lock
            _announce_lock(user, limit)
        record_login_event("login" if success else "login_failed", user)
        super().update_user_auth_stat(user, success)

    @property
    def current_user(self):
        user = super().current_user
        return user if user is not None else g.get("user")
