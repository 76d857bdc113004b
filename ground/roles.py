"""The six business roles, their labels, and the names of the permissions the domain checks.

What each role is granted is derived in views/grants.py from the panel registry and the workflow table.
"""

from flask_babel import lazy_gettext as _l

APPLICANT = "Applicant"
ENTERPRISE = "Enterprise"
PROVINCE = "Province"
MINISTRY = "Ministry"
# An industry ministry department (行业主管部门): gives its opinion on applications in its specialties.
INDUSTRY = "Industry"
ADMIN = "Admin"

BUSINESS_ROLES = (APPLICANT, ENTERPRISE, PROVINCE, MINISTRY, INDUSTRY, ADMIN)
# The platform itself, acting on a rule's date (the nightly lifecycle jobs): never a signed-in user's role.
SYSTEM = "System"
ROLE_LABELS = {
    APPLICANT: _l("Applicant"),
    ENTERPRISE: _l("Enterprise"),
    PROVINCE: _l("Provincial authority"),
    MINISTRY: _l("Ministry"),
    INDUSTRY: _l("Industry department"),
    ADMIN: _l("Administrator"),
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
