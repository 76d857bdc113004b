"""FAB_ROLES computed from the panel registry and the workflow table, plus the fixed self-service grants.

FAB checks these built-in roles in memory (no permission queries per page). `flask sync-roles`
writes the same roles and permission rows to the database so accounts can be given a role.
"""
import re

from ground.roles import ADMIN, APPLICANT, BUSINESS_ROLES, EXPORTS, MINISTRY
from views.registry import PANEL, self_service_grants

_USERS = "AppUserDBModelView"  # views.shell.security's account view (FAB names permissions after the class)

# Every signed-in user sees their account and changes their password.
_SELF_SERVICE = [
    (_USERS, "can_userinfo"),
    # Password change with the current password (views.account.ChangePasswordView), not FAB's reset.
    ("ChangePasswordView", "can_password"),
    # The REST API's description (OpenAPI) and its browsable docs.
    ("OpenApi", "can_get"),
    ("SwaggerView", "can_show"),
]

# Staff edit their account's display name and e-mail (FAB's user-info form). An applicant's name is the
# person's, changed only through a personal-information change application.
_STAFF_INFO_EDIT = [
    ("UserInfoEditView", "can_this_form_get"),
    ("UserInfoEditView", "can_this_form_post"),
    (_USERS, "userinfoedit"),
]

# The administrator manages accounts and roles through FAB's security views. Accounts are deactivated,
# never deleted: audit rows and transition logs name them.
_ADMIN_SECURITY = [
    (_USERS, "can_list"), (_USERS, "can_show"), (_USERS, "can_add"), (_USERS, "can_edit"),
    (_USERS, "resetpasswords"), (_USERS, "unlock"), ("ResetPasswordView", "can_this_form_get"), ("ResetPasswordView", "can_this_form_post"),
    ("RoleModelView", "can_list"), ("RoleModelView", "can_show"),
    ("List Users", "menu_access"), ("List Roles", "menu_access"), ("Security", "menu_access"),
]

# Ministry data exports (views/exports.py, Flask-Admin at /exports/) and their menu link. Full ID and
# mobile numbers in them need EXPORT_UNMASKED on EXPORTS: granted to no role here (ops.cli creates it).
_MINISTRY_EXPORTS = [(EXPORTS, "can_export"), (EXPORTS, "menu_access")]

def role_permissions() -> dict[str, list[tuple[str, str]]]:
    """(view, permission) pairs of every role, from the panel registry (which includes the workflow table)."""
    grants = {role: list(_SELF_SERVICE) + ([] if role == APPLICANT else _STAFF_INFO_EDIT) for role in BUSINESS_ROLES}
    grants[ADMIN] += _ADMIN_SECURITY
    grants[MINISTRY] += _MINISTRY_EXPORTS
    for spec in PANEL:
        for role, perms in spec.grants().items():
            grants[role] += perms
    for role, perms in self_service_grants().items():
        grants[role] += perms
    return {role: sorted(set(pairs)) for role, pairs in grants.items()}


def fab_roles() -> dict[str, list[list[str]]]:
    """The FAB_ROLES setting: exact-match regexes for each (view, permission) pair."""
    return {
        role: [[re.escape(view) + "$", re.escape(perm) + "$"] for view, perm in pairs]
        for role, pairs in role_permissions().items()
    }


