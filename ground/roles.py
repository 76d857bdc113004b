"""The built-in roles (five business roles, three administration roles), their labels, and the names of the
permissions the domain checks.

What each role is granted is derived in views/grants.py from the panel registry and the workflow table.
"""

from flask_babel import lazy_gettext as _l

APPLICANT = "Applicant"
ENTERPRISE = "Enterprise"
PROVINCE = "Province"
MINISTRY = "Ministry"
# An industry ministry department (行业主管部门): gives its opinion on applications in its specialties.
INDUSTRY = "Industry"
# Separation of administrative duties (MLPS level 3, 三员分立; app/duties.py enforces it):
ADMIN = "Admin"  # 系统管理员: accounts (create, deactivate, unlock, passwords), dictionaries, calendar, jobs
SECURITY_ADMIN = "SecurityAdmin"  # 安全管理员: grants and withdraws roles, never on its own account
AUDIT_ADMIN = "AuditAdmin"  # 审计管理员: reads the audit log, nothing else
# An account holding one of these holds nothing else: no business role, no second administration role.
ADMINISTRATION_ROLES = (ADMIN, SECURITY_ADMIN, AUDIT_ADMIN)

# Every built-in role (views/grants.py writes one FAB role each): the business roles and the administration roles.
BUSINESS_ROLES = (APPLICANT, ENTERPRISE, PROVINCE, MINISTRY, INDUSTRY, *ADMINISTRATION_ROLES)
# The platform itself, acting on a rule's date (the nightly lifecycle jobs): never a signed-in user's role.
SYSTEM = "System"
ROLE_LABELS = {
    APPLICANT: _l("Applicant"),
    ENTERPRISE: _l("Enterprise"),
    PROVINCE: _l("Provincial authority"),
    MINISTRY: _l("Ministry"),
    INDUSTRY: _l("Industry department"),
    ADMIN: _l("Administrator"),
    SECURITY_ADMIN: _l("Security administrator"),
    AUDIT_ADMIN: _l("Audit administrator"),
    SYSTEM: _l("The platform (by rule)"),
}

# Permission names the domain checks (granted by views/grants.py and the database roles).
EXPORTS = "Exports"
EXPORT_UNMASKED = "can_export_unmasked"
EXPORT_UNMASKED_ROLE = "ExportUnmasked"  # the database role holding it (`flask grant-unmasked-export`)
# Pages and the API show ID and mobile numbers masked (app/personal_data.py). Full numbers need VIEW_UNMASKED
# on PERSONAL_DATA: granted to no role here; given through the database role VIEW_UNMASKED_ROLE
# (app.personal_data.set_unmasked_view). Independent of EXPORT_UNMASKED.
PERSONAL_DATA = "PersonalData"
VIEW_UNMASKED = "can_view_unmasked"
VIEW_UNMASKED_ROLE = "PersonalDataUnmasked"


def user_role_names(user) -> set[str]:
    if user is None or not getattr(user, "is_authenticated", False):
        return set()
    return {role.name for role in user.roles}
