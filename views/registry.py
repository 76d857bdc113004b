"""THE site registry: every page, menu entry, REST resource and role grant of the web derives from it.

PANEL holds one spec per model panel (views.base.PanelSpec); SITE lists, in menu order, everything
views/__init__.py registers (the panels, the pages of their own, the menu links: views.declarations);
BUILT_IN declares the grants on the views FAB builds itself. views/grants.py reads nothing else.
Columns come from the models' column declarations (models/columns.py), labels from models/labels.py.
"""
from flask_appbuilder.api.manager import OpenApi, SwaggerView
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Optional

from app import personal_data, workflow
from app.jobs import TooManyJobs
from ground.roles import (ADMIN, APPLICANT, AUDIT_ADMIN, BUSINESS_ROLES, ENTERPRISE, EXPORTS, INDUSTRY, MINISTRY,
                          PERSONAL_DATA, PROVINCE, ROLE_LABELS, SECURITY_ADMIN)
from models import (AnnouncementBatch, Application, Attachment, AuditLog, CalendarDay, Certificate, Enterprise,
                    PenaltyRecord, Person, Province, Qualification, Registration, SmsOutbox, Specialty, TransitionLog)
from models.calendar import CALENDAR_SOURCES
from models.choices import (ATTACHMENT_KINDS, CERTIFICATE_STATUSES, DEGREES, EDUCATION_LEVELS, ENTERPRISE_STATUSES,
                            ETHNICITIES, PENALTY_KINDS, REALNAME_STATUSES, REGISTRATION_STATUSES, SMS_BACKENDS,
                            SMS_PURPOSES)
from models.columns import COLUMNS
from models.labels import LABELS

from views import audit_display
from views.account import ChangePasswordView, MyAccountView, RealnameQueueView, RealnameSimulatorView
from views.api import ApplicationInput, ApplicationRestApi, ApplicationUpdate
from views.apply import QUALIFICATION_KINDS, ApplyView, ProgressView
from views.base import PanelSpec
from app.cancellations import staff_types
from views.calendar import COMPUTED as CALENDAR_COMPUTED
from views.cancellations import CancellationView
from views.calendar import CalendarDayView, entry_fields
from views.conflicts import ConflictsView
from views.dashboard import BadFilters, DashboardView, back_to_dashboard
from views.declarations import MENU_ACCESS, BuiltInSpec, LinkSpec, Menu, PageSpec, RateLimit
from views.employer_status import EmployerStatusView
from views.enterprise import EnterpriseProfileView
from views.exports import CAN_EXPORT
from views.formatting import DATETIME_FORMATTERS, ONSITE_ID_NUMBER, deadline_with_days_left, reminders_badge
from views.forms import ContactPhone, CreditCode, IdNumber, Mobile, PersonName
from views.health import HealthView
from views.metrics import MetricsView
from views.help import HELP_MENU, HelpView
from views.panel_views import AttachmentView, CertificateView, QualificationView
from views.penalties import PenaltyEntryView, PenaltyRecordView
from views.public import CaptchaView, PublicView, RegistryView
from views.jobs import JobOperationsView, JobsView, too_many_jobs
from views.notifications import MENU_LABEL as MESSAGES_LABEL
from views.notifications import MessagesView
from views.overdue import OverdueView
from views.roster import RosterImportView
from views.education import EducationImportView, EducationRecordsView
from views.signup import PasswordResetView, SignUpView
from views.workflow_views import AnnouncementView, ApplicationPanelView, QueueView, bulk_permission, bulk_transitions, transition_permission

STAFF = {ENTERPRISE, PROVINCE, MINISTRY}
# The industry department reads the applications in its specialties (and their persons' records) for its opinion.
EVERYONE = {APPLICANT, ENTERPRISE, PROVINCE, MINISTRY, INDUSTRY}
# Applicants read their own rows through the panel's pages (show, files), but their menus are the
# personal edition's (注册申报, 进度查询, 个人信息), as in the user manual.
STAFF_MENU = STAFF | {ADMIN, INDUSTRY}

CATEGORIES = {
    "Apply": _l("Registration applications"),
    "Progress": _l("Progress query"),
    "Personal": _l("Personal information"),
    "Workflow": _l("Applications"),
    "Registry": _l("Registry"),
    "Statistics": _l("Statistics"),
    "System": _l("System"),
}

def _select(label, choices, required=False):
    return SelectField(label, choices=choices, widget=Select2Widget(),
                       validators=[DataRequired()] if required else [Optional()])


def _state_choices():
    return [("", "—")] + [(code, str(label)) for code, label in workflow.STATE_LABELS.items()]


def _action_choices():
    return [("", "—")] + [(code, str(t.label)) for code, t in workflow.TRANSITIONS.items()]


def _type_choices():
    return [("", "—")] + [(code, str(t.label)) for code, t in workflow.BUSINESS_TYPES.items()]


_APPLICATION_SEARCH = {
    "state": _select(_l("State"), _state_choices),
    "business_type": _select(_l("Business type"), _type_choices),
}
_API_INPUT = [name for name in ApplicationInput().fields if name != "version"]
_PERSON_PROFILE = ["phone", "email", "ethnicity", "education", "degree", "school", "graduation_date", "major"]
_PERSON_FIELDS = {
    "ethnicity": _select(_l("Ethnicity"), lambda: ETHNICITIES.choices(blank=True)),
    "education": _select(_l("Education"), lambda: EDUCATION_LEVELS.choices(blank=True)),
    "degree": _select(_l("Degree"), lambda: DEGREES.choices(blank=True)),
}


# FAB adds English labels of its own to a view's label dictionary (LABELS is shared): the audit detail reads a copy.
DETAIL_LABELS = dict(LABELS)

# The audit log shows words, not codes; personal numbers in them masked like every other page.
AUDIT_COLUMNS = {
    "actor": lambda row: personal_data.account_name(audit_display.actor_label(row)),
    "role_label": audit_display.role_label,
    "action_label": audit_display.action_label,
    "object_label": audit_display.object_label,
    "summary_text": lambda row: personal_data.text(audit_display.summary_text(row)),
    "detail_text": lambda row: audit_display.detail_markup(personal_data.text(audit_display.detail_text(row,
                                                                                                        DETAIL_LABELS))),
}


def _pages(model, list_set="list", show_set="show") -> dict:
    """A panel's list and show columns: named sets of the model's column declaration (models.columns)."""
    columns = COLUMNS[model]
    sets = {"list": columns.list, "show": columns.show, **columns.other}
    return {"list_columns": list(sets[list_set]), "show_columns": list(sets[show_set]) or None}


def _api(model) -> dict:
    """A REST resource's list and detail columns, from the model's column declaration."""
    columns = COLUMNS[model]
    return {"list_columns": list(columns.api_list), "show_columns": list(columns.api_show)}


def _transition_grants():
    grants = {}
    for t in workflow.TRANSITIONS.values():
        if not workflow.is_system(t):  # the platform's own moves are nobody's permission
            grants[transition_permission(t.action)] = workflow.roles_of(t)
    return grants


PANEL = [
    PanelSpec(
        Application, "MyQueue", _l("My queue"), "Workflow", "fa-inbox", base_class=QueueView,
        **_pages(Application, "queue"), computed_columns={"reminders": reminders_badge},
        search_columns=["number", "business_type", "state", "submitted_at", "stage_deadline"],
        read=EVERYONE, menu_roles=STAFF_MENU, label_columns=LABELS,
        formatters_columns={**DATETIME_FORMATTERS, "stage_deadline": deadline_with_days_left},
        order_columns=["number", "state_changed_at", "stage_deadline"],
        search_form_extra_fields=_APPLICATION_SEARCH,
        extra_permissions={"can_pdf": EVERYONE, "can_bulk": STAFF,
                           **{bulk_permission(t.action): workflow.roles_of(t) for t in bulk_transitions()}},
    ),
    PanelSpec(
        Application, "Applications", _l("All applications"), "Workflow", "fa-file-alt",
        base_class=ApplicationPanelView, **_pages(Application),
        search_columns=["number", "business_type", "state", "submitted_at", "stage_deadline"],
        # Applicants add and edit through the personal edition's forms; the panel's add and edit lead there.
        read=EVERYONE, menu_roles=STAFF_MENU, add={APPLICANT}, edit={APPLICANT}, label_columns=LABELS,
        formatters_columns={**DATETIME_FORMATTERS, "stage_deadline": deadline_with_days_left},
        order_columns=["number", "state_changed_at", "stage_deadline"], base_order=("id", "desc"),
        extra_permissions={**_transition_grants(), "can_pdf": EVERYONE},
        search_form_extra_fields=_APPLICATION_SEARCH,
        api={"resource": "application", **_api(Application),
             "search_columns": ["number", "business_type", "state", "submitted_at"],
             "write": True, "base": ApplicationRestApi,
             "add_model_schema": ApplicationInput(), "edit_model_schema": ApplicationUpdate(),
             "add_columns": _API_INPUT, "edit_columns": _API_INPUT},
    ),
    PanelSpec(
        AnnouncementBatch, "Announcements", _l("Announcements"), "Workflow", "fa-bullhorn",
        base_class=AnnouncementView, **_pages(AnnouncementBatch), add_label=_l("New announcement batch"),
        search_columns=["title", "state", "published_on"], read=EVERYONE | {ADMIN},
        menu_roles=STAFF_MENU, add={MINISTRY},
        edit={MINISTRY}, add_columns=["title"], edit_columns=["title"], label_columns=LABELS,
        formatters_columns=DATETIME_FORMATTERS, base_order=("id", "desc"),
        extra_permissions={"can_gather": {MINISTRY}, "can_publish": {MINISTRY}, "can_pdf": EVERYONE | {ADMIN}},
    ),
    PanelSpec(
        Person, "RealnameQueue", _l("On-site verification"), "Workflow", "fa-id-badge", base_class=RealnameQueueView,
        **_pages(Person, "onsite_list", "onsite_show"),
        search_columns=["name", "id_number", "realname_requested_at"], read={PROVINCE}, label_columns=LABELS,
        formatters_columns={**DATETIME_FORMATTERS, "id_number": ONSITE_ID_NUMBER},
        order_columns=["realname_requested_at", "name"],
        base_order=("realname_requested_at", "asc"), extra_permissions={"can_decide": {PROVINCE}},
    ),
    PanelSpec(
        TransitionLog, "TransitionLog", _l("Transition log"), "Workflow", "fa-history",
        **_pages(TransitionLog),
        computed_columns={"role_label": lambda row: ROLE_LABELS.get(row.role, row.role)},
        search_columns=["action", "role", "username", "created_at"], read=EVERYONE,
        search_form_extra_fields={"action": _select(_l("Action"), _action_choices),
                                  "role": _select(_l("Role"), lambda: [("", "—")] + [(r, str(label)) for r, label
                                                                                     in ROLE_LABELS.items()])},
        menu_roles=STAFF_MENU, label_columns=LABELS,
        formatters_columns=DATETIME_FORMATTERS,
        base_order=("id", "desc"), order_columns=["created_at"],
    ),
    PanelSpec(
        Person, "Persons", _l("Persons"), "Registry", "fa-user",
        **_pages(Person),
        search_columns=["name", "id_number", "phone", "realname_status"], read=EVERYONE, menu_roles=STAFF_MENU,
        add={MINISTRY}, edit={APPLICANT, MINISTRY},
        # The mobile changes only through 个人信息 → 修改手机号 (SMS code to the new number), never on this form.
        add_columns=["id_number", "name", *_PERSON_PROFILE], edit_columns=[c for c in _PERSON_PROFILE if c != "phone"],
        validators_columns={"id_number": [IdNumber()], "name": [PersonName()], "phone": [Optional(), Mobile()]},
        add_form_extra_fields=_PERSON_FIELDS, edit_form_extra_fields=_PERSON_FIELDS,
        search_form_extra_fields={"realname_status": _select(_l("Real-name status"),
                                                             lambda: REALNAME_STATUSES.choices(blank=True))},
        label_columns=LABELS, formatters_columns=DATETIME_FORMATTERS, order_columns=["name", "birth_date"],
        api={"resource": "person", **_api(Person),
             "order_columns": ["name", "birth_date"],
             "search_columns": ["name", "id_number", "realname_status"]},
    ),
    PanelSpec(
        Qualification, "Qualifications", _l("Qualifications"), "Registry", "fa-graduation-cap",
        base_class=QualificationView,
        **_pages(Qualification),
        search_columns=["certificate_no", "specialty", "qualified_on", "is_temporary"], read=EVERYONE,
        menu_roles=STAFF_MENU,
        add={MINISTRY}, edit={MINISTRY},
        add_columns=["person_id_number", "certificate_no", "specialty", "qualified_on", "is_temporary"],
        edit_columns=["certificate_no", "specialty", "qualified_on", "is_temporary"],
        add_form_extra_fields={"person_id_number": StringField(_l("ID number of the person"),
                                                               validators=[DataRequired(), IdNumber()])},
        label_columns=LABELS, order_columns=["certificate_no", "qualified_on"],
    ),
    PanelSpec(
        Registration, "Registrations", _l("Registrations"), "Registry", "fa-id-card",
        **_pages(Registration),
        search_columns=["number", "status", "registered_on"], read=EVERYONE, menu_roles=STAFF_MENU,
        search_form_extra_fields={"status": _select(_l("Status"), lambda: REGISTRATION_STATUSES.choices(blank=True))},
        label_columns=LABELS, order_columns=["number", "registered_on"],
    ),
    PanelSpec(
        Certificate, "Certificates", _l("Certificates"), "Registry", "fa-certificate", base_class=CertificateView,
        **_pages(Certificate),
        search_columns=["number", "holder_name", "registration_number", "status", "valid_until"], read=EVERYONE,
        menu_roles=STAFF_MENU,
        search_form_extra_fields={"status": _select(_l("Status"), lambda: CERTIFICATE_STATUSES.choices(blank=True))},
        label_columns=LABELS, order_columns=["number", "issued_on", "valid_until"],
        extra_permissions={"can_pdf": EVERYONE, "can_batch": {MINISTRY}},
        api={"resource": "certificate", **_api(Certificate),
             "search_columns": ["number", "holder_name", "registration_number", "status"]},
    ),
    PanelSpec(
        Enterprise, "Enterprises", _l("Enterprises"), "Registry", "fa-building",
        **_pages(Enterprise),
        search_columns=["name", "credit_code", "province", "status"], read=EVERYONE | {ADMIN}, menu_roles=STAFF_MENU,
        search_form_extra_fields={"status": _select(_l("Status"), lambda: ENTERPRISE_STATUSES.choices(blank=True))},
        add={MINISTRY, ADMIN}, edit={MINISTRY, ADMIN},
        add_columns=["credit_code", "name", "province", "address", "legal_representative", "contact_phone"],
        edit_columns=["name", "province", "address", "legal_representative", "contact_phone"],
        validators_columns={"credit_code": [CreditCode()], "contact_phone": [Optional(), ContactPhone()],
                            "legal_representative": [Optional(), PersonName()]},
        label_columns={**LABELS, "name": _l("Enterprise name")}, order_columns=["name", "credit_code"],
        api={"resource": "enterprise", **_api(Enterprise),
             "search_columns": ["name", "credit_code"]},
    ),
    PanelSpec(
        Attachment, "Attachments", _l("Materials"), "Registry", "fa-paperclip", base_class=AttachmentView,
        **_pages(Attachment),
        search_columns=["kind", "created_at"], read=EVERYONE, menu_roles=STAFF_MENU, label_columns=LABELS,
        search_form_extra_fields={"kind": _select(_l("Kind"), lambda: ATTACHMENT_KINDS.choices(blank=True))},
        formatters_columns=DATETIME_FORMATTERS, order_columns=["created_at"], base_order=("id", "desc"),
        extra_permissions={"can_file": EVERYONE},
    ),
    # 不良行为记录: penalty and credit records in the row scope (province: its persons' and its own decisions).
    PanelSpec(
        PenaltyRecord, "PenaltyRecords", _l("Penalty records"), "Registry", "fa-gavel", base_class=PenaltyRecordView,
        **_pages(PenaltyRecord),
        search_columns=["kind", "decision_number", "decided_on", "public"], read={PROVINCE, MINISTRY},
        search_form_extra_fields={"kind": _select(_l("Kind"), lambda: PENALTY_KINDS.choices(blank=True))},
        label_columns=LABELS, formatters_columns=DATETIME_FORMATTERS, order_columns=["decision_number", "decided_on"],
        base_order=("decided_on", "desc"), extra_permissions={"can_document": {PROVINCE, MINISTRY}},
    ),
    PanelSpec(
        AuditLog, "AuditLog", _l("Audit log"), "System", "fa-clipboard-list",
        **_pages(AuditLog),
        computed_columns=AUDIT_COLUMNS,
        search_columns=["username", "action", "object_type", "object_id", "created_at", "ip"],
        search_form_extra_fields={"action": _select(_l("Action"), audit_display.action_choices),
                                  "object_type": _select(_l("Object"), audit_display.object_choices)},
        # 审计管理员 reads all of it; the ministry its business trail; the system administrator not at all (MLPS).
        read={MINISTRY, AUDIT_ADMIN},
        label_columns=LABELS, formatters_columns=DATETIME_FORMATTERS, order_columns=["created_at"],
        base_order=("id", "desc"),
    ),
    PanelSpec(
        SmsOutbox, "SmsOutbox", _l("SMS outbox"), "System", "fa-envelope",
        **_pages(SmsOutbox),
        computed_columns={"purpose_label": lambda row: SMS_PURPOSES.label(row.purpose),
                          "backend_label": lambda row: SMS_BACKENDS.label(row.backend)},
        search_columns=["phone", "purpose", "created_at"], read={ADMIN}, label_columns=LABELS,
        search_form_extra_fields={"purpose": _select(_l("Purpose"), lambda: SMS_PURPOSES.choices(blank=True))},
        formatters_columns=DATETIME_FORMATTERS, order_columns=["created_at"], base_order=("id", "desc"), scoped=False,
    ),
    PanelSpec(
        Province, "Provinces", _l("Provinces"), "System", "fa-map",
        **_pages(Province), search_columns=["code", "name", "abbr"],
        read=STAFF | {ADMIN}, edit={ADMIN}, edit_columns=["name", "name_en", "abbr"],
        label_columns={**LABELS, "name": _l("Province name")},
        order_columns=["code"], base_order=("code", "asc"), scoped=False,
    ),
    PanelSpec(
        Specialty, "Specialties", _l("Specialties"), "System", "fa-list",
        **_pages(Specialty), search_columns=["code", "name"],
        read=STAFF | {ADMIN}, edit={ADMIN}, edit_columns=["name", "name_en", "needs_industry_opinion"],
        label_columns={**LABELS, "name": _l("Specialty name")}, order_columns=["sort_order"], base_order=("sort_order", "asc"), scoped=False,
    ),
    # 节假日与调休: the working-day calendar deadlines count by; its CSV import and the chinese-calendar fill.
    PanelSpec(
        CalendarDay, "CalendarDays", _l("Holidays and make-up days"), "System", "fa-calendar",
        base_class=CalendarDayView, **_pages(CalendarDay), computed_columns=CALENDAR_COMPUTED,
        search_columns=["day", "is_workday", "name", "source"],
        search_form_extra_fields={"source": _select(_l("Source"), lambda: CALENDAR_SOURCES.choices(blank=True))},
        read={ADMIN}, add={ADMIN}, edit={ADMIN}, delete={ADMIN},
        add_columns=["day", "is_workday", "name"], edit_columns=["day", "is_workday", "name"],
        add_form_extra_fields=entry_fields(), edit_form_extra_fields=entry_fields(),
        label_columns={**LABELS, "name": _l("Holiday")}, formatters_columns=DATETIME_FORMATTERS,
        order_columns=["day", "name", "source"], base_order=("day", "desc"), scoped=False,
        extra_permissions={"can_upload": {ADMIN}, "can_sample": {ADMIN}, "can_fill": {ADMIN}},
    ),
]


# --- Pages, links and FAB's own views ----------------------------------------------------------------
APPLICANT_ONLY = frozenset({APPLICANT})
NOT_APPLICANTS = frozenset(BUSINESS_ROLES) - APPLICANT_ONLY
ADMIN_ONLY = frozenset({ADMIN})
SECURITY_ONLY = frozenset({SECURITY_ADMIN})
# The accounts list and the roles' descriptions: the system administrator manages accounts, the security
# administrator grants their roles.
ACCOUNT_READERS = frozenset({ADMIN, SECURITY_ADMIN})
LOGIN_LIMIT = RateLimit("AUTH_RATE_LIMIT", methods=("POST",), with_login_limit=True)  # they send SMS
PUBLIC_LIMIT = RateLimit("PUBLIC_RATE_LIMIT")  # certificate verification and the public register: any method
CAPTCHA_LIMIT = RateLimit("CAPTCHA_RATE_LIMIT")  # new challenges and their images, per address


def _personal_links():
    """The personal edition's menus, as in the user manual: 注册申报 and 进度查询 each open with the 执业资格
    (一级建造师 / 一级建造师临时), then 个人信息."""
    links = [LinkSpec(f"Apply_{code}", label, f"/apply/?kind={code}", "Apply", roles=APPLICANT_ONLY)
             for code, label in QUALIFICATION_KINDS.items()]
    links += [LinkSpec(f"Progress_{code}", label, f"/progress/?kind={code}", "Progress", roles=APPLICANT_ONLY)
              for code, label in QUALIFICATION_KINDS.items()]
    links += [LinkSpec(name, label, href, "Personal", roles=APPLICANT_ONLY) for name, label, href in (
        ("MyAccount", _l("My account"), "MyAccountView.steps"),
        ("MyMaterials", _l("Attachments"), "MyAccountView.materials"),
        ("MyProfile", _l("Profile"), "MyAccountView.profile"),
        ("MyVerification", _l("Real-name verification"), "MyAccountView.verify"),
        ("MyPhone", _l("Change mobile"), "MyAccountView.phone"),
        ("MyPassword", _l("Change password"), "MyAccountView.password"),
        ("MyTrail", _l("Operation trail"), "MyAccountView.trail"),
        ("MyCertificates", _l("My certificates"), "MyAccountView.certificates"),
        ("MyEducation", _l("Continuing education"), "MyAccountView.education"),
        ("MyMessages", MESSAGES_LABEL, "MessagesView.index"),
    )]
    return links


# Everything views/__init__.py registers, in menu order: the personal edition first, then the public pages,
# the panel, the staff pages and the help.
SITE = [
    PageSpec(ApplyView, _l("Registration applications"), APPLICANT_ONLY),
    PageSpec(ProgressView, _l("Progress query"), APPLICANT_ONLY),
    PageSpec(MyAccountView, _l("Personal information"), APPLICANT_ONLY),
    *_personal_links(),
    PageSpec(CaptchaView, rate_limit=CAPTCHA_LIMIT),
    # /healthz (open, for load balancers) and /readyz (HEALTH_ALLOW addresses or HEALTH_TOKEN): no rate limit.
    PageSpec(HealthView),
    PageSpec(MetricsView),
    PageSpec(RealnameSimulatorView),
    # Password change with the current password, for every account (not FAB's reset).
    PageSpec(ChangePasswordView, _l("Change password"), frozenset(BUSINESS_ROLES)),
    PageSpec(SignUpView, rate_limit=LOGIN_LIMIT),
    PageSpec(PasswordResetView, rate_limit=LOGIN_LIMIT),
    PageSpec(PublicView, rate_limit=PUBLIC_LIMIT),
    PageSpec(RegistryView, rate_limit=PUBLIC_LIMIT),
    *PANEL,
    # 超期督办: applications past their stage's time limit, for the offices that supervise them.
    PageSpec(OverdueView, _l("Overdue supervision"), frozenset({PROVINCE, MINISTRY}),
             Menu("Overdue", "Workflow", "fa-clock")),
    # 注销 lodged by others: one menu entry per type, for the roles that start it.
    PageSpec(CancellationView, _l("Cancellations lodged by employers and authorities"),
             frozenset({ENTERPRISE, PROVINCE, MINISTRY})),
    *(LinkSpec(f"Lodge_{t.code}", t.label, f"/cancellations/{t.code}/new", "Workflow", "fa-user-times",
               frozenset(t.starters)) for t in staff_types()),
    PageSpec(RosterImportView, _l("Import qualification roster"), frozenset({MINISTRY}),
             Menu("RosterImport", "Registry", "fa-upload")),
    # 继续教育: the providers' lists imported by the ministry; hours looked up and entered by province and ministry.
    PageSpec(EducationImportView, _l("Import continuing education"), frozenset({MINISTRY}),
             Menu("EducationImport", "Registry", "fa-upload")),
    PageSpec(EducationRecordsView, _l("Continuing education"), frozenset({PROVINCE, MINISTRY}),
             Menu("EducationRecords", "Registry", "fa-graduation-cap")),
    # 企业状态: the ministry's entries and the national enterprise register import (app/employer_status.py).
    PageSpec(EmployerStatusView, _l("Enterprise status"), frozenset({MINISTRY}),
             Menu("EmployerStatus", "Registry", "fa-ban")),
    # 挂证核查: social-insurance conflicts of the province's registrations (the ministry: all).
    PageSpec(ConflictsView, _l("Social-insurance conflicts"), frozenset({PROVINCE, MINISTRY}),
             Menu("Conflicts", "Workflow", "fa-exclamation-triangle")),
    PageSpec(PenaltyEntryView, _l("Record a penalty"), frozenset({PROVINCE, MINISTRY}),
             Menu("PenaltyEntry", "Registry", "fa-gavel")),
    PageSpec(DashboardView, _l("Statistics dashboard"), frozenset({MINISTRY, PROVINCE, ENTERPRISE}),
             Menu("Dashboard", "Statistics", "fa-chart-bar"), error_handlers={BadFilters: back_to_dashboard}),
    PageSpec(EnterpriseProfileView, _l("Enterprise profile"), frozenset({ENTERPRISE}),
             Menu("EnterpriseProfile", "Registry", "fa-building")),
    # The ministry's data exports: Flask-Admin at /exports/ (views/exports.py) checks can_export on EXPORTS.
    # Full ID and mobile numbers in them need EXPORT_UNMASKED: granted to no role here (ops.cli creates it).
    LinkSpec(EXPORTS, _l("Data exports"), "/exports/", "Registry", "fa-download", frozenset({MINISTRY}),
             permissions={CAN_EXPORT: {MINISTRY}}),
    LinkSpec("EnterpriseConstructors", _l("Our registered constructors"), "EnterpriseProfileView.constructors",
             "Registry", "fa-users", frozenset({ENTERPRISE})),
    # 我的任务: every staff role's background jobs (linked from the navbar badge); the workers and queues for the
    # administrator.
    PageSpec(JobsView, _l("My jobs"), frozenset({ENTERPRISE, PROVINCE, MINISTRY, ADMIN}),
             error_handlers={TooManyJobs: too_many_jobs}),
    PageSpec(JobOperationsView, _l("Background jobs"), frozenset({ADMIN}), Menu("JobOperations", "System", "fa-cogs")),
    # 安全管理员: grant and withdraw roles (AppUserDBModelView.roles, app/duties.py).
    LinkSpec("GrantRoles", _l("Grant roles"), "AppUserDBModelView.roles", "System", "fa-user-shield", SECURITY_ONLY),
    # 消息中心: everyone's own messages (the navbar's envelope; applicants also under 个人信息).
    PageSpec(MessagesView, MESSAGES_LABEL, frozenset(BUSINESS_ROLES)),
    # 使用帮助 (/help/): public, its menu entry needs no grant (views.help.install).
    PageSpec(HelpView, _l("Help")),
    LinkSpec(HELP_MENU, _l("Help"), "HelpView.index", None, "fa-question-circle"),
]

# The views FAB builds itself (security, API docs) and the permission view of full numbers on pages.
# FAB names a view's permissions after its class: views.shell.security's classes keep these names.
_USERS = "AppUserDBModelView"
BUILT_IN = [
    BuiltInSpec(_USERS, _l("Accounts"), {
        "can_userinfo": BUSINESS_ROLES,  # every signed-in user sees their account
        # Staff edit their display name and e-mail; an applicant's name is the person's, changed only
        # through a personal-information change application.
        "userinfoedit": NOT_APPLICANTS,
        # The administrator manages accounts; they are deactivated, never deleted (audit rows name them).
        **{perm: ADMIN_ONLY for perm in ("can_add", "can_edit", "resetpasswords", "unlock")},
        "can_list": ACCOUNT_READERS, "can_show": ACCOUNT_READERS,
        "can_roles": SECURITY_ONLY,  # only the security administrator grants roles (app/duties.py)
    }),
    BuiltInSpec("UserInfoEditView", _l("Own details"),
                {"can_this_form_get": NOT_APPLICANTS, "can_this_form_post": NOT_APPLICANTS}),
    BuiltInSpec("ResetPasswordView", _l("Set a password"),
                {"can_this_form_get": ADMIN_ONLY, "can_this_form_post": ADMIN_ONLY}),
    BuiltInSpec("RoleModelView", _l("Roles"), {"can_list": ACCOUNT_READERS, "can_show": ACCOUNT_READERS}),
    BuiltInSpec("List Users", _l("Accounts"), {MENU_ACCESS: ACCOUNT_READERS}),
    BuiltInSpec("List Roles", _l("Roles"), {MENU_ACCESS: ACCOUNT_READERS}),
    BuiltInSpec("Security", _l("Security"), {MENU_ACCESS: ACCOUNT_READERS}),
    # The REST API's description (OpenAPI) and its browsable docs.
    BuiltInSpec(OpenApi.__name__, _l("API description"), {"can_get": BUSINESS_ROLES}),
    BuiltInSpec(SwaggerView.__name__, _l("API documentation"), {"can_show": BUSINESS_ROLES}),
    BuiltInSpec(PERSONAL_DATA, _l("Personal data")),  # VIEW_UNMASKED: no role here (app.personal_data)
]


def declarations() -> list:
    """Every entry that grants permissions or names a permission view."""
    return SITE + BUILT_IN


def view_labels() -> dict:
    """Every permission view name → its label: the entries' views, menus and APIs, and the categories."""
    labels = dict(CATEGORIES)
    for entry in declarations():
        labels.update(entry.labels())
    return labels
