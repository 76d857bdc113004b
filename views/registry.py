"""THE panel registry: one spec per model; views, API resources, menus and role grants derive from it."""
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Optional

from app import personal_data, workflow
from ground.roles import ADMIN, APPLICANT, ENTERPRISE, MINISTRY, PROVINCE, ROLE_LABELS
from models.labels import LABELS
from models import (AnnouncementBatch, Application, Attachment, AuditLog, Certificate, Enterprise, Person, Province,
                    Qualification, Registration, SmsOutbox, Specialty, TransitionLog)
from models.choices import (ATTACHMENT_KINDS, CERTIFICATE_STATUSES, DEGREES, EDUCATION_LEVELS, ETHNICITIES, REALNAME_STATUSES,
                            REGISTRATION_STATUSES, SMS_BACKENDS, SMS_PURPOSES)

from views import audit_display
from views.base import PanelSpec
from views.formatting import DATETIME_FORMATTERS, ONSITE_ID_NUMBER, deadline_with_days_left
from views.api import ApplicationInput, ApplicationRestApi, ApplicationUpdate
from views.forms import CreditCode, IdNumber, Mobile
from views.panel_views import AttachmentView, CertificateView, QualificationView
from views.workflow_views import AnnouncementView, ApplicationPanelView, QueueView, bulk_permission, bulk_transitions, transition_permission
from views.account import MyAccountView, RealnameQueueView
from views.apply import QUALIFICATION_KINDS, ApplyView, ProgressView
from views.dashboard import DashboardView
from views.enterprise import EnterpriseProfileView
from views.roster import RosterImportView

STAFF = {ENTERPRISE, PROVINCE, MINISTRY}
EVERYONE = {APPLICANT, ENTERPRISE, PROVINCE, MINISTRY}
# Applicants read their own rows through the panel's pages (show, files), but their menus are the
# personal edition's (注册申报, 进度查询, 个人信息), as in the user manual.
STAFF_MENU = STAFF | {ADMIN}

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
_APPLICATION_LIST = ["number", "business_type_label", "person.name", "enterprise.name", "specialty_names",
                     "state_label", "state_changed_at", "stage_deadline"]
_APPLICATION_SHOW = ["number", "business_type_label", "state_label", "person", "enterprise", "previous_enterprise",
                     "province", "registration", "specialty_names", "contract_start", "contract_end",
                     "continuing_education", "pass_certificate_no", "reason_label", "reason_text", "new_name",
                     "new_id_number", "submitted_at", "state_changed_at", "stage_deadline", "last_opinion",
                     "announcement"]
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


def _transition_grants():
    grants = {}
    for t in workflow.TRANSITIONS.values():
        grants[transition_permission(t.action)] = workflow.roles_of(t)
    return grants


PANEL = [
    PanelSpec(
        Application, "MyQueue", _l("My queue"), "Workflow", "fa-inbox", base_class=QueueView,
        list_columns=_APPLICATION_LIST, show_columns=_APPLICATION_SHOW,
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
        base_class=ApplicationPanelView, list_columns=_APPLICATION_LIST, show_columns=_APPLICATION_SHOW,
        search_columns=["number", "business_type", "state", "submitted_at", "stage_deadline"],
        # Applicants add and edit through the personal edition's forms; the panel's add and edit lead there.
        read=EVERYONE, menu_roles=STAFF_MENU, add={APPLICANT}, edit={APPLICANT}, label_columns=LABELS,
        formatters_columns={**DATETIME_FORMATTERS, "stage_deadline": deadline_with_days_left},
        order_columns=["number", "state_changed_at", "stage_deadline"], base_order=("id", "desc"),
        extra_permissions={**_transition_grants(), "can_pdf": EVERYONE},
        search_form_extra_fields=_APPLICATION_SEARCH,
        api={"resource": "application",
             "list_columns": ["id", "number", "business_type", "state", "version", "person.name",
                              "enterprise.name", "province.name", "submitted_at", "state_changed_at",
                              "stage_deadline"],
             "show_columns": ["id", "number", "business_type", "state", "version", "person.name",
                              "person.id_number", "enterprise.name", "enterprise.credit_code", "province.name",
                              "contract_start", "contract_end", "specialties.code", "reason", "reason_text",
                              "new_name", "new_id_number", "pass_certificate_no", "continuing_education",
                              "submitted_at", "state_changed_at", "stage_deadline", "last_opinion"],
             "search_columns": ["number", "business_type", "state", "submitted_at"],
             "write": True, "base": ApplicationRestApi,
             "add_model_schema": ApplicationInput(), "edit_model_schema": ApplicationUpdate(),
             "add_columns": _API_INPUT, "edit_columns": _API_INPUT},
    ),
    PanelSpec(
        AnnouncementBatch, "Announcements", _l("Announcements"), "Workflow", "fa-bullhorn",
        base_class=AnnouncementView, list_columns=["number", "title", "state_label", "published_on"],
        add_label=_l("New announcement batch"),
        show_columns=["number", "title", "state_label", "published_on", "created_at"],
        search_columns=["title", "state", "published_on"], read=EVERYONE | {ADMIN},
        menu_roles=STAFF_MENU, add={MINISTRY},
        edit={MINISTRY}, add_columns=["title"], edit_columns=["title"], label_columns=LABELS,
        formatters_columns=DATETIME_FORMATTERS, base_order=("id", "desc"),
        extra_permissions={"can_gather": {MINISTRY}, "can_publish": {MINISTRY}, "can_pdf": EVERYONE | {ADMIN}},
    ),
    PanelSpec(
        Person, "RealnameQueue", _l("On-site verification"), "Workflow", "fa-id-badge", base_class=RealnameQueueView,
        list_columns=["name", "id_number", "gender_label", "phone", "realname_requested_at"],
        show_columns=["name", "id_number", "gender_label", "birth_date", "phone", "realname_label",
                      "realname_province", "realname_requested_at"],
        search_columns=["name", "id_number", "realname_requested_at"], read={PROVINCE}, label_columns=LABELS,
        formatters_columns={**DATETIME_FORMATTERS, "id_number": ONSITE_ID_NUMBER},
        order_columns=["realname_requested_at", "name"],
        base_order=("realname_requested_at", "asc"), extra_permissions={"can_decide": {PROVINCE}},
    ),
    PanelSpec(
        TransitionLog, "TransitionLog", _l("Transition log"), "Workflow", "fa-history",
        list_columns=["created_at", "application.number", "action_label", "from_label", "to_label", "username",
                      "role_label", "opinion"],
        computed_columns={"role_label": lambda row: ROLE_LABELS.get(row.role, row.role)},
        search_columns=["action", "role", "username", "created_at"], read=EVERYONE,
        search_form_extra_fields={"action": _select(_l("Action"), _action_choices),
                                  "role": _select(_l("Role"), lambda: [("", "—")] + [(r, str(label)) for r, label
                                                                                     in ROLE_LABELS.items()])},
        menu_roles=STAFF_MENU, label_columns=LABELS,
        formatters_columns=DATETIME_FORMATTERS, base_order=("id", "desc"), order_columns=["created_at"],
    ),
    PanelSpec(
        Person, "Persons", _l("Persons"), "Registry", "fa-user",
        list_columns=["name", "id_number", "gender_label", "birth_date", "phone", "realname_label"],
        show_columns=["name", "id_number", "gender_label", "birth_date", "ethnicity_label", "phone", "email",
                      "education_label", "degree_label", "school", "graduation_date", "major", "realname_label",
                      "realname_province", "realname_verified_at"],
        search_columns=["name", "id_number", "phone", "realname_status"], read=EVERYONE, menu_roles=STAFF_MENU,
        add={MINISTRY}, edit={APPLICANT, MINISTRY},
        # The mobile changes only through 个人信息 → 修改手机号 (SMS code to the new number), never on this form.
        add_columns=["id_number", "name", *_PERSON_PROFILE], edit_columns=[c for c in _PERSON_PROFILE if c != "phone"],
        validators_columns={"id_number": [IdNumber()], "phone": [Optional(), Mobile()]},
        add_form_extra_fields=_PERSON_FIELDS, edit_form_extra_fields=_PERSON_FIELDS,
        search_form_extra_fields={"realname_status": _select(_l("Real-name status"),
                                                             lambda: REALNAME_STATUSES.choices(blank=True))},
        label_columns=LABELS, formatters_columns=DATETIME_FORMATTERS, order_columns=["name", "birth_date"],
        api={"resource": "person",
             "list_columns": ["id", "name", "id_number", "gender", "birth_date", "realname_status"],
             "show_columns": ["id", "name", "id_number", "gender", "birth_date", "ethnicity", "phone", "email",
                              "education", "degree", "school", "graduation_date", "major", "realname_status"],
             "order_columns": ["name", "birth_date"],
             "search_columns": ["name", "id_number", "realname_status"]},
    ),
    PanelSpec(
        Qualification, "Qualifications", _l("Qualifications"), "Registry", "fa-graduation-cap",
        base_class=QualificationView,
        list_columns=["person.name", "certificate_no", "specialty", "qualified_on", "is_temporary"],
        show_columns=["person", "certificate_no", "specialty", "qualified_on", "is_temporary"],
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
        list_columns=["number", "person.name", "enterprise.name", "status_label", "specialty_summary",
                      "registered_on"],
        show_columns=["number", "person", "enterprise", "status_label", "specialty_summary", "registered_on",
                      "contract_start", "contract_end", "is_temporary", "cancelled_on", "cancel_reason_label"],
        search_columns=["number", "status", "registered_on"], read=EVERYONE, menu_roles=STAFF_MENU,
        search_form_extra_fields={"status": _select(_l("Status"), lambda: REGISTRATION_STATUSES.choices(blank=True))},
        label_columns=LABELS, order_columns=["number", "registered_on"],
    ),
    PanelSpec(
        Certificate, "Certificates", _l("Certificates"), "Registry", "fa-certificate", base_class=CertificateView,
        list_columns=["number", "holder_name", "registration_number", "enterprise_name", "status_label",
                      "issued_on", "valid_until"],
        show_columns=["number", "holder_name", "registration_number", "enterprise_name", "specialty_summary",
                      "status_label", "issued_on", "valid_until", "revoked_on", "revoke_reason", "replaced_by"],
        search_columns=["number", "holder_name", "registration_number", "status", "valid_until"], read=EVERYONE,
        menu_roles=STAFF_MENU,
        search_form_extra_fields={"status": _select(_l("Status"), lambda: CERTIFICATE_STATUSES.choices(blank=True))},
        label_columns=LABELS, order_columns=["number", "issued_on", "valid_until"],
        extra_permissions={"can_pdf": EVERYONE, "can_batch": {MINISTRY}},
        api={"resource": "certificate",
             "list_columns": ["id", "number", "holder_name", "registration_number", "enterprise_name", "status",
                              "issued_on", "valid_until"],
             "show_columns": ["id", "number", "holder_name", "registration_number", "enterprise_name", "status",
                              "issued_on", "valid_until", "specialties", "revoked_on"],
             "search_columns": ["number", "holder_name", "registration_number", "status"]},
    ),
    PanelSpec(
        Enterprise, "Enterprises", _l("Enterprises"), "Registry", "fa-building",
        list_columns=["name", "credit_code", "province", "legal_representative"],
        show_columns=["name", "credit_code", "province", "address", "legal_representative", "contact_phone"],
        search_columns=["name", "credit_code", "province"], read=EVERYONE | {ADMIN}, menu_roles=STAFF_MENU,
        add={MINISTRY, ADMIN}, edit={MINISTRY, ADMIN},
        add_columns=["credit_code", "name", "province", "address", "legal_representative", "contact_phone"],
        edit_columns=["name", "province", "address", "legal_representative", "contact_phone"],
        validators_columns={"credit_code": [CreditCode()], "contact_phone": [Optional(), Mobile()]},
        label_columns={**LABELS, "name": _l("Enterprise name")}, order_columns=["name", "credit_code"],
        api={"resource": "enterprise",
             "list_columns": ["id", "name", "credit_code", "province.code", "province.name"],
             "show_columns": ["id", "name", "credit_code", "province.code", "province.name", "address",
                              "legal_representative"],
             "search_columns": ["name", "credit_code"]},
    ),
    PanelSpec(
        Attachment, "Attachments", _l("Materials"), "Registry", "fa-paperclip", base_class=AttachmentView,
        list_columns=["person.name", "kind_label", "filename", "size", "created_at"],
        search_columns=["kind", "created_at"], read=EVERYONE, menu_roles=STAFF_MENU, label_columns=LABELS,
        search_form_extra_fields={"kind": _select(_l("Kind"), lambda: ATTACHMENT_KINDS.choices(blank=True))},
        formatters_columns=DATETIME_FORMATTERS, order_columns=["created_at"], base_order=("id", "desc"),
        extra_permissions={"can_file": EVERYONE},
    ),
    PanelSpec(
        AuditLog, "AuditLog", _l("Audit log"), "System", "fa-clipboard-list",
        list_columns=["created_at", "actor", "role_label", "action_label", "object_label", "object_id", "summary_text",
                      "ip"],
        show_columns=["created_at", "actor", "role_label", "ip", "action_label", "object_label", "object_id",
                      "summary_text", "detail_text"],
        computed_columns=AUDIT_COLUMNS,
        search_columns=["username", "action", "object_type", "object_id", "created_at", "ip"],
        search_form_extra_fields={"action": _select(_l("Action"), audit_display.action_choices),
                                  "object_type": _select(_l("Object"), audit_display.object_choices)},
        read={MINISTRY, ADMIN},
        label_columns=LABELS, formatters_columns=DATETIME_FORMATTERS, order_columns=["created_at"],
        base_order=("id", "desc"),
    ),
    PanelSpec(
        SmsOutbox, "SmsOutbox", _l("SMS outbox"), "System", "fa-envelope",
        list_columns=["created_at", "phone", "purpose_label", "text", "backend_label"],
        computed_columns={"purpose_label": lambda row: SMS_PURPOSES.label(row.purpose),
                          "backend_label": lambda row: SMS_BACKENDS.label(row.backend)},
        search_columns=["phone", "purpose", "created_at"], read={ADMIN}, label_columns=LABELS,
        search_form_extra_fields={"purpose": _select(_l("Purpose"), lambda: SMS_PURPOSES.choices(blank=True))},
        formatters_columns=DATETIME_FORMATTERS, order_columns=["created_at"], base_order=("id", "desc"), scoped=False,
    ),
    PanelSpec(
        Province, "Provinces", _l("Provinces"), "System", "fa-map",
        list_columns=["code", "name", "abbr", "name_en"], search_columns=["code", "name", "abbr"],
        read=STAFF | {ADMIN}, edit={ADMIN}, edit_columns=["name", "name_en", "abbr"],
        label_columns={**LABELS, "name": _l("Province name")},
        order_columns=["code"], base_order=("code", "asc"), scoped=False,
    ),
    PanelSpec(
        Specialty, "Specialties", _l("Specialties"), "System", "fa-list",
        list_columns=["code", "name", "name_en", "needs_industry_opinion"], search_columns=["code", "name"],
        read=STAFF | {ADMIN}, edit={ADMIN}, edit_columns=["name", "name_en", "needs_industry_opinion"],
        label_columns={**LABELS, "name": _l("Specialty name")}, order_columns=["sort_order"], base_order=("sort_order", "asc"), scoped=False,
    ),
]


# --- The personal edition's own pages (not generated from a model) -------------------------------
# Which roles open them; FAB names a page's permission "can_<method>" on the view class.
SELF_SERVICE_VIEWS = {APPLICANT: (MyAccountView, ApplyView, ProgressView), MINISTRY: (RosterImportView, DashboardView),
                      PROVINCE: (DashboardView,), ENTERPRISE: (EnterpriseProfileView, DashboardView)}


def _personal_links():
    # 注册申报 and 进度查询 each open with the 执业资格 (一级建造师 / 一级建造师临时), as in the user manual.
    links = [(f"Apply_{code}", label, f"/apply/?kind={code}", "Apply") for code, label in QUALIFICATION_KINDS.items()]
    links += [(f"Progress_{code}", label, f"/progress/?kind={code}", "Progress")
              for code, label in QUALIFICATION_KINDS.items()]
    links += [
        ("MyAccount", _l("My account"), "MyAccountView.steps", "Personal"),
        ("MyMaterials", _l("Attachments"), "MyAccountView.materials", "Personal"),
        ("MyProfile", _l("Profile"), "MyAccountView.profile", "Personal"),
        ("MyVerification", _l("Real-name verification"), "MyAccountView.verify", "Personal"),
        ("MyPhone", _l("Change mobile"), "MyAccountView.phone", "Personal"),
        ("MyPassword", _l("Change password"), "MyAccountView.password", "Personal"),
        ("MyTrail", _l("Operation trail"), "MyAccountView.trail", "Personal"),
        ("MyCertificates", _l("My certificates"), "MyAccountView.certificates", "Personal"),
    ]
    return links


# (menu name, label, URL or endpoint, category) → shown to applicants (SELF_SERVICE_MENUS).
MENU_LINKS = _personal_links()


def view_permissions(view_class) -> list[str]:
    return sorted(f"can_{name}" for name, fn in vars(view_class).items() if hasattr(fn, "_permission_name"))


# (menu name, category) of each role's self-service menu entries: the personal links are the applicant's.
SELF_SERVICE_MENUS = {
    APPLICANT: [(name, category) for name, _label, _href, category in MENU_LINKS],
    MINISTRY: [("RosterImport", "Registry"), ("Dashboard", "Statistics")],
    PROVINCE: [("Dashboard", "Statistics")],
    ENTERPRISE: [("EnterpriseProfile", "Registry"), ("EnterpriseConstructors", "Registry"),
                 ("Dashboard", "Statistics")],
}


def self_service_grants() -> dict[str, list[tuple[str, str]]]:
    grants = {}
    for role, classes in SELF_SERVICE_VIEWS.items():
        pairs = [(cls.__name__, perm) for cls in classes for perm in view_permissions(cls)]
        for name, category in SELF_SERVICE_MENUS.get(role, ()):
            pairs += [(name, "menu_access"), (category, "menu_access")]
        grants[role] = pairs
    return grants
