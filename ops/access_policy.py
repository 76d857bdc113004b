"""The access policy: for every endpoint of the application, what an anonymous visitor and each role get.

One row per endpoint pattern on the Flask endpoint name (`*` any text, `{a,b}` alternatives; the
first matching row wins).
tests/security/test_access_matrix.py walks the URL map and requests every endpoint as every
principal, with a record of its own scope and one of another scope, and compares with this table;
an endpoint without a row fails that test. `flask access-policy` prints the table for the README.

Outcomes:
  ok     the handler runs (page, file, redirect after the action, or its own input check)
  403    signed in but the role lacks the permission
  404    no such thing for this principal (out of scope, disabled, or not offered at all)
  login  redirected to the sign-in page (pages) or 401 (API)

`scoped` rows take a record id: where the outcome is `ok`, a record outside the principal's row
scope (another applicant, enterprise or province) must give 404.
"""
import re
from dataclasses import dataclass
from functools import lru_cache

ALLOW, DENY, NOT_FOUND, LOGIN = "ok", "403", "404", "login"
PRINCIPALS = (None, "Applicant", "Enterprise", "Province", "Ministry", "Admin", "Industry", "SecurityAdmin",
              "AuditAdmin")  # None: anonymous
_SHORT = {"ok": ALLOW, "403": DENY, "404": NOT_FOUND, "login": LOGIN}


@dataclass(frozen=True)
class Row:
    pattern: str
    outcomes: tuple  # one per PRINCIPALS entry
    scoped: bool = False
    note: str = ""

    def matches(self, endpoint: str) -> bool:
        return _compiled(self.pattern).fullmatch(endpoint) is not None

    def outcome(self, principal) -> str:
        return self.outcomes[PRINCIPALS.index(principal)]


@lru_cache(maxsize=None)
def _compiled(pattern: str) -> re.Pattern:
    """`*` is any text, `{a,b}` one of the alternatives; everything else is literal."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(".*")
        elif ch == "{":
            end = pattern.index("}", i)
            out.append("(?:" + "|".join(re.escape(a) for a in pattern[i + 1:end].split(",")) + ")")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out))


def row(pattern, anonymous, applicant, enterprise, province, ministry, admin, scoped=False, note=""):
    outcomes = tuple(_SHORT[o] for o in (anonymous, applicant, enterprise, province, ministry, admin))
    derived = tuple(_derived(overrides, pattern, outcomes) for overrides in (INDUSTRY, SECURITY_ADMIN, AUDIT_ADMIN))
    return Row(pattern, outcomes + derived, scoped, note)


def _derived(overrides, pattern, outcomes) -> str:
    """The outcome of a principal with a column of overrides (the Industry department, the security and the audit
    administrators): its entry for the row, else what every other signed-in principal gets when they all agree
    (public pages, one's own account, doors closed to all), else no access (403)."""
    if pattern in overrides:
        return _SHORT[overrides[pattern]]
    signed_in = set(outcomes[1:])
    return signed_in.pop() if len(signed_in) == 1 else DENY


# URL arguments the matrix uses for an endpoint (record ids come from the test's world).
URL_ARGS = {
    "static": {"filename": "js/apply.js"},
    "appbuilder.static": {"filename": "css/ab.css"},
    "exports.static": {"filename": "admin/js/actions.js"},
    "MyQueueView.action": {"name": "bulk_confirm"},
    "MyQueueView.action_post": {"name": "bulk_confirm"},
    "AppUserDBModelView.action": {"name": "unlock"},
    "AppUserDBModelView.action_post": {"name": "unlock"},
    "RoleModelView.action": {"name": "copyrole"},
    "RoleModelView.action_post": {"name": "copyrole"},
    "ApplicationsApi.transition": {"action": "refuse"},
    "CancellationView.new": {"business_type": "cancel_by_authority"},
}
DEFAULT_ARGS = {"name": "muldelete", "filename": "x.txt", "export_type": "csv", "nonce": "f" * 32, "token": "x",
                "business_type": "initial", "action": "confirm", "locale": "en", "version": "v1",
                "provider_name": "simulator", "job_id": 999_999, "message_id": 999_999}
# Endpoints outside the matrix (none: every endpoint has a row).
SKIPPED_ENDPOINTS = frozenset()

# Views that show rows of the row scope (app/scope.py) and their panel lists.
_SCOPED = "{ApplicationsView,AttachmentsView,CertificatesView,MyQueueView,PersonsView,QualificationsView," \
          "RegistrationsView,TransitionLogView}"
_REFERENCE = "{ProvincesView,SpecialtiesView}"
_FAB_SECURITY = "{PermissionModelView,PermissionViewModelView,UserGroupModelView,ViewMenuModelView}"
_PANEL = "{AnnouncementsView,AppUserDBModelView,ApplicationsView,AttachmentsView,AuditLogView,CertificatesView," \
         "EnterprisesView,MyQueueView,PermissionModelView,PermissionViewModelView,PersonsView,ProvincesView," \
         "PenaltyRecordsView,QualificationsView,RealnameQueueView,RegistrationsView,RoleModelView,SmsOutboxView," \
         "SpecialtiesView,TransitionLogView,UserGroupModelView,ViewMenuModelView}"
_EXPORTS = "exports_{applications,certificates,enterprises,persons,registrations}"

# The Industry department (行业主管部门): where it differs from the default of `_industry`. It reads the applications in
# its specialties that reached its opinion stage and their persons' records (app/industry.py), and gives its opinion.
INDUSTRY = {
    _SCOPED + ".{list,show}": "ok",
    "{ApplicationsView,CertificatesView,MyQueueView}.pdf": "ok",
    "AttachmentsView.file": "ok",
    "{ApplicationsApi,CertificatesApi,PersonsApi}.{get,get_list,info}": "ok",
    "ApplicationsApi.transitions": "ok",
    "ApplicationsApi.send_sms": "404",  # the signing code goes to the applicant
    "UserInfoEditView.*": "ok",  # staff edit their own name
}

# 安全管理员 (SecurityAdmin): grants roles; reads the accounts and the roles' descriptions, no personal data.
SECURITY_ADMIN = {
    "{ApplicationsView,MyQueueView}.transition": "404",  # no application in its scope, like Admin
    "UserInfoEditView.*": "ok",
    "AnnouncementsView.{list,show,pdf}": "403",
    "EnterprisesView.{list,show}": "403",
    "EnterprisesApi.{get,get_list,info}": "403",
    "AppUserDBModelView.roles": "ok",
    "AppUserDBModelView.{list,show}": "ok",
    "RoleModelView.{list,show}": "ok",
}
# 审计管理员 (AuditAdmin): reads the audit log, nothing else.
AUDIT_ADMIN = {
    "{ApplicationsView,MyQueueView}.transition": "404",  # no application in its scope, like Admin
    "UserInfoEditView.*": "ok",
    "AnnouncementsView.{list,show,pdf}": "403",
    "EnterprisesView.{list,show}": "403",
    "EnterprisesApi.{get,get_list,info}": "403",
    "AuditLogView.{list,show}": "ok",
}

POLICY: list[Row] = [
    # pattern                                     anonymous Applicant Enterprise Province Ministry Admin
    # --- public pages: no sign-in ---------------------------------------------------------------------------
    row("IndexView.index",                           "ok",    "ok",   "ok",    "ok",    "ok",    "ok", note="home"),
    row("{AppAuthDBView,AppSecurityApi}.login",      "ok",    "ok",   "ok",    "ok",    "ok",    "ok",
        note="sign-in page and API (captcha, lockout, rate limit; one answer for every refusal)"),
    row("AppAuthDBView.logout",                      "ok",    "ok",   "ok",    "ok",    "ok",    "ok", note="POST"),
    row("{SignUpView,PasswordResetView}.*",          "ok",    "ok",   "ok",    "ok",    "ok",    "ok",
        note="sign-up; password reset by SMS to the verified mobile (same answer for unknown ID numbers)"),
    row("CaptchaView.new",                           "ok",    "ok",   "ok",    "ok",    "ok",    "ok",
        note="rate limit per address; 429 beyond the caps on live challenges"),
    row("CaptchaView.image",                         "404",   "404",  "404",   "404",   "404",   "404",
        note="only a live challenge's image exists"),
    row("{PublicView,RegistryView}.*",               "ok",    "ok",   "ok",    "ok",    "ok",    "ok",
        note="certificate verification, public register (masked IDs)"),
    row("HelpView.index",                            "ok",    "ok",   "ok",    "ok",    "ok",    "ok",
        note="使用帮助: the guide of one's own role, the support contact"),
    row("RealnameSimulatorView.callback",            "ok",    "ok",   "ok",    "ok",    "ok",    "ok",
        note="provider callback: HMAC-signed, refused without a valid signature"),
    row("RealnameSimulatorView.phone",               "404",   "404",  "404",   "404",   "404",   "404",
        note="only a live request's page exists"),
    row("HealthView.healthz",                        "ok",    "ok",   "ok",    "ok",    "ok",    "ok",
        note="liveness for load balancers: no database, no sign-in"),
    row("HealthView.readyz",                         "ok",    "ok",   "ok",    "ok",    "ok",    "ok",
        note="readiness of database, broker, Redis, storage: 404 unless from HEALTH_ALLOW or with HEALTH_TOKEN"),
    row("MetricsView.metrics",                       "ok",    "ok",   "ok",    "ok",    "ok",    "ok",
        note="Prometheus metrics: 404 unless from HEALTH_ALLOW or with HEALTH_TOKEN"),
    row("favicon",                                   "ok",    "ok",   "ok",    "ok",    "ok",    "ok", note="site icon"),
    row("{LocaleView,UtilView}.*",                   "ok",    "ok",   "ok",    "ok",    "ok",    "ok", note="language, back"),
    row("{static,appbuilder.static,exports.static}", "ok",    "ok",   "ok",    "ok",    "ok",    "ok",
        note="scripts, styles, fonts (no personal data)"),
    # --- every signed-in account ---------------------------------------------------------------------------
    row("ChangePasswordView.password",               "login", "ok",   "ok",    "ok",    "ok",    "ok"),
    row("AppUserDBModelView.userinfo",               "login", "ok",   "ok",    "ok",    "ok",    "ok", note="own account"),
    row("UserInfoEditView.*",                        "login", "403",  "ok",    "ok",    "ok",    "ok",
        note="staff edit their own name"),
    row("{OpenApi.get,SwaggerView.show}",            "login", "ok",   "ok",    "ok",    "ok",    "ok", note="API docs"),
    row("AppSecurityApi.refresh",                    "login", "login", "login", "login", "login", "login",
        note="needs a refresh token (used once)"),
    row("AppSecurityApi.logout",                     "login", "login", "login", "login", "login", "login",
        note="needs a token; revokes every token of the account"),
    row("MenuApi.*",                                 "login", "403",  "403",   "403",   "403",   "403"),
    # --- personal edition (applicants) -----------------------------------------------------------------------
    row("ProgressView.remind",                       "login", "ok",   "403",   "403",   "403",   "403", scoped=True,
        note="催办: the applicant reminds the employer holding their application"),
    row("{ApplyView,ProgressView}.*",                "login", "ok",   "403",   "403",   "403",   "403",
        note="注册申报, 进度查询"),
    row("MyAccountView.{verify_online_page,verify_online_status}",
                                                     "login", "404",  "403",   "403",   "403",   "403",
        note="only the person's own live request"),
    row("MyAccountView.*",                           "login", "ok",   "403",   "403",   "403",   "403", note="个人信息"),
    row("ApplicationsView.{add,edit}",               "login", "ok",   "403",   "403",   "403",   "403", scoped=True,
        note="own drafts"),
    row("ApplicationsApi.{post,put}",                "login", "ok",   "403",   "403",   "403",   "403", scoped=True),
    row("ApplicationsApi.send_sms",                  "login", "ok",   "404",   "404",   "404",   "403", scoped=True,
        note="the signing code goes to the applicant"),
    row("PersonsView.edit",                          "login", "ok",   "403",   "403",   "ok",    "403", scoped=True,
        note="own profile; ministry corrections"),
    # --- applications, registrations, certificates in the row scope ------------------------------------------
    row(_SCOPED + ".{list,show}",                    "login", "ok",   "ok",    "ok",    "ok",    "403", scoped=True,
        note="row scope: own / enterprise / province / all"),
    row("{ApplicationsView,CertificatesView,MyQueueView}.pdf",
                                                     "login", "ok",   "ok",    "ok",    "ok",    "403", scoped=True),
    row("AttachmentsView.file",                      "login", "ok",   "ok",    "ok",    "ok",    "403", scoped=True,
        note="photo, ID scans, signature; others' views audited"),
    row("{ApplicationsApi,CertificatesApi,PersonsApi}.{get,get_list,info}",
                                                     "login", "ok",   "ok",    "ok",    "ok",    "403", scoped=True),
    row("ApplicationsApi.transitions",               "login", "ok",   "ok",    "ok",    "ok",    "403", scoped=True),
    row("{ApplicationsView,MyQueueView}.transition", "login", "403",  "ok",    "403",   "403",   "404", scoped=True,
        note="checked with confirm: the enterprise's move"),
    row("ApplicationsApi.transition",                "login", "403",  "403",   "ok",    "ok",    "403", scoped=True,
        note="checked with refuse: province and ministry"),
    row("MyQueueView.{action,action_post,bulk}",     "login", "403",  "ok",    "403",   "403",   "403", scoped=True,
        note="checked with bulk confirm"),
    row("{ApplicationsApi,CertificatesApi,EnterprisesApi,PersonsApi}.{delete,post,put}",
                                                     "403",   "403",  "403",   "403",   "403",   "403",
        note="records change only through the workflow"),
    # --- enterprises, reference data -------------------------------------------------------------------------
    row("EnterprisesView.{list,show}",               "login", "ok",   "ok",    "ok",    "ok",    "ok", scoped=True,
        note="the directory applicants choose from"),
    row("EnterprisesApi.{get,get_list,info}",        "login", "ok",   "ok",    "ok",    "ok",    "ok", scoped=True),
    row("EnterprisesView.{add,edit}",                "login", "403",  "403",   "403",   "ok",    "ok"),
    row("EnterpriseProfileView.*",                   "login", "403",  "ok",    "403",   "403",   "403", note="本单位信息"),
    row(_REFERENCE + ".{list,show}",                 "login", "403",  "ok",    "ok",    "ok",    "ok"),
    row(_REFERENCE + ".edit",                        "login", "403",  "403",   "403",   "403",   "ok"),
    # --- province and ministry work --------------------------------------------------------------------------
    row("RealnameQueueView.{decide,list,show}",      "login", "403",  "403",   "ok",    "403",   "403", scoped=True,
        note="on-site real-name check of the province"),
    row("DashboardView.{index,pdf}",                 "login", "403",  "ok",    "ok",    "ok",    "403",
        note="statistics, forced to own enterprise / province"),
    row("OverdueView.index",                         "login", "403",  "403",   "ok",    "ok",    "403",
        note="超期督办: own province / all"),
    row("CancellationView.new",                      "login", "403",  "404",   "ok",    "ok",    "403",
        note="注销 lodged by others; checked with cancel_by_authority (the employer's own type is cancel_by_employer)"),
    row("DashboardView.roster",                      "login", "403",  "403",   "ok",    "ok",    "403"),
    row("ConflictsView.index",                       "login", "403",  "403",   "ok",    "ok",    "403",
        note="挂证: social-insurance conflicts, own province / all"),
    row("EmployerStatusView.{index,register,sample}", "login", "403", "403",   "403",   "ok",    "403",
        note="企业状态: set a status (confirmed, audited); register import as a job"),
    row("{PersonsView,QualificationsView}.add",      "login", "403",  "403",   "403",   "ok",    "403"),
    row("QualificationsView.edit",                   "login", "403",  "403",   "403",   "ok",    "403"),
    row("AnnouncementsView.{list,show,pdf}",         "login", "ok",   "ok",    "ok",    "ok",    "ok",
        note="published batches are public information"),
    row("AnnouncementsView.{add,edit,gather,publish}", "login", "403", "403",  "403",   "ok",    "403"),
    row("CertificatesView.batch",                    "login", "403",  "403",   "403",   "ok",    "403"),
    row("PenaltyRecordsView.{list,show,document}",   "login", "403",  "403",   "ok",    "ok",    "403", scoped=True,
        note="不良行为记录: a province's persons and its own decisions / all; the document's views audited"),
    row("PenaltyEntryView.record",                   "login", "403",  "403",   "ok",    "ok",    "403",
        note="record a penalty with its decision document (province: persons of its province)"),
    row("RosterImportView.{sample,upload}",          "login", "403",  "403",   "403",   "ok",    "403",
        note="the import runs as a job; its report is the job's download"),
    row("EducationImportView.{sample,upload}",       "login", "403",  "403",   "403",   "ok",    "403",
        note="继续教育 import runs as a job; its report is the job's download"),
    row("EducationRecordsView.index",                "login", "403",  "403",   "ok",    "ok",    "403", scoped=True,
        note="继续教育: persons in the officer's row scope"),
    row("EducationRecordsView.enter",                "login", "403",  "403",   "ok",    "ok",    "403", scoped=True,
        note="a record from the certificate, with its scan"),
    row("exports.index",                             "login", "403",  "403",   "403",   "ok",    "403"),
    row(_EXPORTS + ".{index_view,export}",           "login", "403",  "403",   "403",   "ok",    "403",
        note="can_export; masked unless can_export_unmasked"),
    row(_EXPORTS + ".{create_view,edit_view,details_view,delete_view,action_view,ajax_lookup,ajax_update}",
                                                     "login", "403",  "403",   "403",   "404",   "403",
        note="exports only read"),
    # --- background jobs -------------------------------------------------------------------------------------
    row("JobsView.{index,status}",                   "login", "403",  "ok",    "ok",    "ok",    "ok",
        note="我的任务: own jobs (the Ministry's shared among its officers)"),
    row("JobsView.{download,cancel,retry}",          "login", "403",  "404",   "404",   "404",   "404",
        note="someone else's job is not found"),
    row("JobOperationsView.index",                   "login", "403",  "403",   "403",   "403",   "ok",
        note="workers, queues, failures"),
    # --- message centre --------------------------------------------------------------------------------------
    row("MessagesView.{index,read_all}",             "login", "ok",   "ok",    "ok",    "ok",    "ok",
        note="消息中心: own messages"),
    row("MessagesView.{open,read}",                  "login", "404",  "404",   "404",   "404",   "404",
        note="someone else's message is not found; open leads only to what the reader may see"),
    # --- administration --------------------------------------------------------------------------------------
    row("AuditLogView.{list,show}",                  "login", "403",  "403",   "403",   "ok",    "403",
        note="the audit administrator's (all of it) and the ministry's (business trail); searchable; no add, edit "
             "or delete for anyone"),
    row("AppUserDBModelView.roles",                  "login", "403",  "403",   "403",   "403",   "403",
        note="grant and withdraw roles: the security administrator only, never on its own account (app/duties.py)"),
    row("AppUserDBModelView.{list,show}",            "login", "403",  "403",   "403",   "403",   "ok",
        note="accounts: the system administrator manages them, the security administrator grants their roles"),
    row("AppUserDBModelView.{add,edit,action,action_post}",
                                                     "login", "403",  "403",   "403",   "403",   "ok",
        note="accounts without their roles; checked with unlock"),
    row("ResetPasswordView.*",                       "login", "403",  "403",   "403",   "403",   "ok"),
    row("CalendarDaysView.{action,action_post}",     "login", "404",  "404",   "404",   "404",   "404",
        note="no list actions"),
    row("CalendarDaysView.download",                 "login", "403",  "403",   "403",   "403",   "403", note="no files"),
    row("CalendarDaysView.*",                        "login", "403",  "403",   "403",   "403",   "ok",
        note="节假日与调休: the working-day calendar, its CSV import and the chinese-calendar fill"),
    row("RoleModelView.{list,show}",                 "login", "403",  "403",   "403",   "403",   "ok",
        note="the roles' duties and permissions in words"),
    row("SmsOutboxView.{list,show}",                 "login", "403",  "403",   "403",   "403",   "ok"),
    row("RoleModelView.{action,action_post}",        "login", "403",  "403",   "403",   "403",   "403", note="copy role"),
    row("ResetMyPasswordView.*",                     "login", "403",  "403",   "403",   "403",   "403",
        note="FAB's reset without the old password"),
    row(_FAB_SECURITY + ".{list,show}",              "login", "403",  "403",   "403",   "403",   "403"),
    # --- what nobody does: the panel's generated doors left closed -------------------------------------------
    row(_PANEL + ".{add,edit,delete,download}",      "login", "403",  "403",   "403",   "403",   "403",
        note="no deletes anywhere; changes through the workflow"),
    row(_PANEL + ".{action,action_post}",            "login", "404",  "404",   "404",   "404",   "404",
        note="views without list actions"),
]


def row_for(endpoint: str) -> Row | None:
    return next((r for r in POLICY if r.matches(endpoint)), None)


_SYMBOL = {ALLOW: "✓", DENY: "403", NOT_FOUND: "404", LOGIN: "→ sign-in"}


def markdown() -> str:
    """The policy as a Markdown table for the README (`flask access-policy`)."""
    lines = ["| endpoints | anonymous | Applicant | Enterprise | Province | Ministry | Admin | Industry | SecurityAdmin "
             "| AuditAdmin | scoped | note |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in POLICY:
        cells = [_SYMBOL[o] for o in r.outcomes]
        pattern = r.pattern.replace("|", "\\|").replace(",", ", ")
        lines.append(f"| `{pattern}` | " + " | ".join(cells) + f" | {'row' if r.scoped else ''} | {r.note} |")
    return "\n".join(lines)
