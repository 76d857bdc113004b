"""Roles and permissions as the administrator reads them: role names, duties and grants in words, not FAB's
codes ("can_list on PersonsView", regex pairs of the built-in roles)."""
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from ground import roles as R
from app import workflow
from views.registry import view_labels

PUBLIC_ROLE = "Public"  # FAB's role of visitors who have not signed in (AUTH_ROLE_PUBLIC)

ROLE_DUTIES = {
    R.APPLICANT: _l("Opens an account, proves who they are, applies for registration, follows the progress and "
                    "prints their electronic certificate."),
    R.ENTERPRISE: _l("Confirms and submits (上报) the applications naming its enterprise, or returns them; keeps "
                     "the enterprise's details."),
    R.PROVINCE: _l("Reviews the applications of its province and checks identities on site."),
    R.MINISTRY: _l("Approves or refuses, publishes announcement batches, issues certificates, imports the "
                   "qualification roster, reads statistics and exports."),
    R.ADMIN: _l("Creates, deactivates and unlocks accounts, sets passwords, keeps the dictionaries, the "
                "calendar and the background jobs; grants no role, reads no audit log, takes no business decisions."),
    R.SECURITY_ADMIN: _l("Grants and withdraws the roles of accounts (never on its own account); reads no "
                         "personal data."),
    R.AUDIT_ADMIN: _l("Reads the whole audit log (sign-ins, grants, every change); nothing else."),
    R.EXPORT_UNMASKED_ROLE: _l("Exports with full ID and mobile numbers (given beside Ministry)."),
    R.VIEW_UNMASKED_ROLE: _l("Pages with full ID and mobile numbers (given beside a business role)."),
    PUBLIC_ROLE: _l("Visitors who have not signed in: the public pages only."),
}

_PERMISSIONS = {
    "can_list": _l("list"), "can_show": _l("details"), "can_add": _l("add"), "can_edit": _l("edit"),
    "can_delete": _l("delete"), "menu_access": _l("menu entry"), "can_get": _l("read"), "can_info": _l("read"),
    "can_post": _l("add"), "can_put": _l("edit"), "can_pdf": _l("print (PDF)"), "can_file": _l("open files"),
    "can_gather": _l("gather applications"), "can_publish": _l("publish"), "can_batch": _l("print a batch"),
    "can_bulk": _l("decide on several"), "can_decide": _l("decide"), "can_export": _l("export"),
    R.EXPORT_UNMASKED: _l("export full numbers"), R.VIEW_UNMASKED: _l("see full numbers"),
    "can_userinfo": _l("own account"), "can_password": _l("change password"), "resetpasswords": _l("set passwords"),
    "unlock": _l("unlock"), "userinfoedit": _l("edit own details"), "can_this_form_get": _l("open the form"),
    "can_this_form_post": _l("send the form"),
}

def permission_label(permission: str) -> str:
    if permission in _PERMISSIONS:
        return str(_PERMISSIONS[permission])
    for prefix, template in (("bulk_", _l("%(action)s (several)")), ("can_", "%(action)s")):
        action = permission[len(prefix):] if permission.startswith(prefix) else None
        if action in workflow.TRANSITIONS:
            return str(template) % {"action": workflow.TRANSITIONS[action].label}
    return str(_l("open its pages"))  # a page of the personal edition or a staff page: can_<method>


def role_label(name: str) -> str:
    return str(R.ROLE_LABELS.get(name) or {R.EXPORT_UNMASKED_ROLE: _l("Unmasked exports"),
                                           R.VIEW_UNMASKED_ROLE: _l("Unmasked personal data"),
                                           PUBLIC_ROLE: _l("Public (not signed in)")}.get(name, name))


def describe(pairs) -> Markup:
    """(view, permission) pairs as one line per view: "Persons: list, details, edit"."""
    labels = view_labels()
    grouped: dict[str, list[str]] = {}
    for view, permission in sorted(pairs):
        words = grouped.setdefault(str(labels.get(view, view)), [])
        label = permission_label(permission)
        if label not in words:
            words.append(label)
    return Markup("<br>").join(escape(f"{view}：{'、'.join(words)}") for view, words in sorted(grouped.items()))


def role_grants(role) -> Markup:
    return describe((pv.view_menu.name, pv.permission.name) for pv in role.permissions)
