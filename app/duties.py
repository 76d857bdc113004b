"""Separation of administrative duties (MLPS level 3, 三员分立): the one place where an account's roles change.

- the system administrator (Admin) manages accounts but grants no role; the security administrator
  (SecurityAdmin) grants and withdraws roles, never on its own account; the audit administrator (AuditAdmin)
  reads the audit log;
- an account holding an administration role (ground.roles.ADMINISTRATION_ROLES) holds no other role: no business
  role, no data role (ExportUnmasked, PersonalDataUnmasked), no second administration role.

`set_roles` checks and applies a change and writes one "grant" or "revoke" audit row per role (who, to whom,
which role, the roles before and after). Every path goes through it: the security administrator's page, the
`flask` commands. A session hook (`install`) refuses any flush that breaks the combination rule, and, during a
signed-in request, any change of roles that did not come through `set_roles`.
"""
from flask import g, has_request_context
from flask_appbuilder.security.sqla.models import Role
from flask_babel import lazy_gettext as _l
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from app.audit import record
from ground import roles as R
from ground.errors import UserError
from ground.extensions import db
from ground.identifiers import InvalidIdentifier, clean_id_number, mask_text
from models import AppUser, Person

# How a grant row names a role that stands for one permission (views.audit_display labels these codes).
_PERMISSION_OF_ROLE = {R.EXPORT_UNMASKED_ROLE: R.EXPORT_UNMASKED, R.VIEW_UNMASKED_ROLE: R.VIEW_UNMASKED}


class RolesRefused(UserError):
    """A change of roles the rules refuse: `message` says why (translated)."""


def combination_refusals(names) -> list:
    """Why this set of role names cannot be held by one account (empty: it can)."""
    names = set(names)
    administration = names & set(R.ADMINISTRATION_ROLES)
    refusals = []
    if len(administration) > 1:
        refusals.append(_l("An account holds at most one administration role (system, security or audit "
                           "administrator)."))
    if administration and names - administration:
        refusals.append(_l("An administration role is held alone: an account with it holds no business role."))
    return refusals


def _actor_refusals(account, actor) -> list:
    if actor is None:  # the command line: the operator on the server (audited as "system")
        return []
    if R.SECURITY_ADMIN not in R.user_role_names(actor):
        return [_l("Only the security administrator grants and withdraws roles.")]
    if actor.id == account.id:
        return [_l("Nobody grants or withdraws roles on their own account.")]
    return []


def _binding_refusals(account, names) -> list:
    """A business role needs the account's binding (the account form's rules)."""
    refusals = []
    if R.APPLICANT in names and account.person_id is None:
        try:
            number = clean_id_number(account.username)
        except InvalidIdentifier:
            number = None
        person = number and db.session.query(Person).filter(Person.id_number == number).one_or_none()
        if not person:
            refusals.append(_l("No person with this ID number is on file."))
        else:
            account.person = person
    return refusals + missing_bindings(account, names)


# What a staff role binds its account to (its row scope): the attributes that hold it, the refusal without it.
BINDINGS = {
    R.ENTERPRISE: (("enterprise", "enterprise_id"), _l("An Enterprise account must name its enterprise.")),
    R.PROVINCE: (("province", "province_code"), _l("A Province account must name its province.")),
    R.INDUSTRY: (("industry_specialties",), _l("An Industry account must name at least one specialty.")),
}


def missing_bindings(account, names) -> list:
    """The refusals of staff roles in `names` whose binding the account lacks (the account form uses it too)."""
    return [refusal for role, (attributes, refusal) in BINDINGS.items()
            if role in names and not any(getattr(account, a, None) for a in attributes)]


def refusals(account, names, actor=None) -> list:
    """Every reason to refuse giving `account` exactly the roles `names` (by `actor`; None: the command line)."""
    return _actor_refusals(account, actor) or combination_refusals(names) or _binding_refusals(account, set(names))


def set_roles(account, names, actor=None) -> tuple[set, set]:
    """Give `account` exactly the roles `names`; audited; the caller commits. Returns (granted, withdrawn).
    Raises RolesRefused (nothing changed)."""
    names = {str(n) for n in names}
    before = set(account.role_names)
    found = db.session.query(Role).filter(Role.name.in_(names)).all() if names else []
    unknown = names - {r.name for r in found}
    if unknown:
        raise RolesRefused(_l("No such role: %(names)s.", names="、".join(sorted(unknown))))
    reasons = refusals(account, names, actor)
    if reasons:
        raise RolesRefused(" ".join(str(r) for r in reasons))
    granted, withdrawn = names - before, before - names
    if not granted and not withdrawn:
        return granted, withdrawn
    account._roles_approved = frozenset(names)  # the session hook lets exactly this change through
    account.roles = found
    who = mask_text(account.username)
    for action, changed in (("grant", granted), ("revoke", withdrawn)):
        for name in sorted(changed):
            record(action, "User", account.id, summary=f"{_PERMISSION_OF_ROLE.get(name, name)} for {who}",
                   detail={"role": name, "before": sorted(before), "after": sorted(names)}, user=actor)
    return granted, withdrawn


def grant(account, name: str, actor=None) -> bool:
    """Add one role (the others stay); False if the account holds it already."""
    return bool(set_roles(account, account.role_names | {name}, actor)[0])


def revoke(account, name: str, actor=None) -> bool:
    """Take one role away; False if the account did not hold it."""
    return bool(set_roles(account, account.role_names - {name}, actor)[1])


def conflicting_accounts() -> list[tuple[AppUser, list]]:
    """Accounts whose roles break the combination rule (data from before the rule): each with the reasons."""
    found = []
    for user in db.session.query(AppUser).order_by(AppUser.id):
        reasons = combination_refusals(user.role_names)
        if reasons:
            found.append((user, reasons))
    return found


def _signed_in_actor():
    user = g.get("user") if has_request_context() else None
    return user if getattr(user, "is_authenticated", False) else None


def _before_flush(session, flush_context, instances):
    """No flush writes an account whose roles break the rule; a signed-in request changes roles only through
    set_roles (a form that forgot to drop its roles field, a future API)."""
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, AppUser):
            continue
        history = inspect(obj).attrs.roles.history
        if obj not in session.new and not history.has_changes():
            continue
        names = {r.name for r in obj.roles}
        reasons = combination_refusals(names)
        if not reasons and names and _signed_in_actor() is not None \
                and getattr(obj, "_roles_approved", None) != frozenset(names):
            if obj in session.new or history.has_changes():
                reasons = [_l("Only the security administrator grants and withdraws roles.")]
        if reasons:
            raise RolesRefused(" ".join(str(r) for r in reasons))


def install():
    """The session hook, once per process."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
