"""FAB_ROLES computed from the site registry (views/registry.py): its panels (with the workflow table), pages,
menu links and the grants declared on FAB's own views. No view is named here.

FAB checks these built-in roles in memory (no permission queries per page). `flask sync-roles`
writes the same roles and permission rows to the database so accounts can be given a role.
"""
import re

from ground.roles import BUSINESS_ROLES
from views.registry import declarations


def role_permissions() -> dict[str, list[tuple[str, str]]]:
    """(view, permission) pairs of every business role, from every registry entry."""
    grants = {role: [] for role in BUSINESS_ROLES}
    for entry in declarations():
        for role, pairs in entry.grants().items():
            grants[role] += pairs
    return {role: sorted(set(pairs)) for role, pairs in grants.items()}


def fab_roles() -> dict[str, list[list[str]]]:
    """The FAB_ROLES setting: exact-match regexes for each (view, permission) pair."""
    return {
        role: [[re.escape(view) + "$", re.escape(perm) + "$"] for view, perm in pairs]
        for role, pairs in role_permissions().items()
    }
