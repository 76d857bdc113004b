"""The kinds of entry in the site registry (views/registry.py) beside the model panels (views.base.PanelSpec).

Every entry registers itself with FAB (`register`), says which (view, permission) pairs each role gets
(`grants`) and names its permission views for the roles page (`labels`): views/__init__.py and
views/grants.py only iterate the registry.

- `PageSpec`: a page class of its own (the personal edition, the dashboard, public pages), with or
  without a menu entry, a rate limit and error handlers.
- `LinkSpec`: a menu entry leading to an address or another view's endpoint.
- `BuiltInSpec`: a view FAB (or Flask-Admin) builds itself; only its grants and label are declared here.
"""
from dataclasses import dataclass, field

from flask import current_app

MENU_ACCESS = "menu_access"


def view_permissions(view_class) -> list[str]:
    """FAB's permission names of a page class: "can_<method>" for each @has_access method it defines."""
    return sorted(f"can_{name}" for name, fn in vars(view_class).items() if hasattr(fn, "_permission_name"))


def menu_grants(name: str, category: str | None) -> list[tuple[str, str]]:
    """Seeing a menu entry takes menu_access on the entry and on its category."""
    return [(name, MENU_ACCESS)] + ([(category, MENU_ACCESS)] if category else [])


def _category_args(category, categories) -> dict:
    return {"category": category, "category_label": categories[category]} if category else {}


@dataclass(frozen=True)
class Menu:
    name: str  # the menu entry's name (its menu_access permission view)
    category: str | None  # a key of views.registry.CATEGORIES; None: a top-level entry
    icon: str = ""


@dataclass(frozen=True)
class RateLimit:
    setting: str  # the configuration key holding the limit, e.g. "PUBLIC_RATE_LIMIT"
    methods: tuple | None = None  # None: every method
    with_login_limit: bool = False  # applied only while the login itself is limited (AUTH_RATE_LIMITED)


@dataclass(frozen=True)
class PageSpec:
    view: type  # a FAB BaseView subclass
    label: object = None  # its name on the roles page and in its menu entry
    roles: frozenset = frozenset()  # who may open it (every can_<method> of the class); empty: public pages
    menu: Menu | None = None  # shown to the same roles
    rate_limit: RateLimit | None = None
    error_handlers: dict = field(default_factory=dict)  # exception class → handler

    @property
    def name(self) -> str:
        return self.view.__name__

    def register(self, appbuilder, categories):
        if self.menu:
            registered = appbuilder.add_view(self.view, self.menu.name, label=self.label, icon=self.menu.icon,
                                             **_category_args(self.menu.category, categories))
        else:
            registered = appbuilder.add_view_no_menu(self.view)
        for exception, handler in self.error_handlers.items():
            current_app.register_error_handler(exception, handler)
        limit = self.rate_limit
        if limit and (appbuilder.sm.is_auth_limited or not limit.with_login_limit):
            appbuilder.sm.limiter.limit(current_app.config[limit.setting],
                                        **({"methods": list(limit.methods)} if limit.methods else {}))(
                registered.blueprint)

    def grants(self) -> dict[str, list[tuple[str, str]]]:
        pairs = [(self.name, perm) for perm in view_permissions(self.view)]
        if self.menu:
            pairs += menu_grants(self.menu.name, self.menu.category)
        return {role: list(pairs) for role in self.roles}

    def labels(self) -> dict:
        if self.label is None:
            return {}
        return {self.name: self.label, **({self.menu.name: self.label} if self.menu else {})}


@dataclass(frozen=True)
class LinkSpec:
    name: str  # the menu entry's name (its menu_access permission view)
    label: object
    href: str  # an address or a view's endpoint ("MyAccountView.steps")
    category: str | None  # a key of views.registry.CATEGORIES; None: a top-level entry
    icon: str = ""
    roles: frozenset = frozenset()  # who sees it; empty: everyone (the entry needs no grant)
    permissions: dict = field(default_factory=dict)  # further permission on the link's name → roles

    def register(self, appbuilder, categories):
        appbuilder.add_link(self.name, href=self.href, label=self.label, icon=self.icon,
                            **_category_args(self.category, categories))

    def grants(self) -> dict[str, list[tuple[str, str]]]:
        result = {role: menu_grants(self.name, self.category) for role in self.roles}
        for perm, roles in self.permissions.items():
            for role in roles:
                result.setdefault(role, []).append((self.name, perm))
        return result

    def labels(self) -> dict:
        return {self.name: self.label}


@dataclass(frozen=True)
class BuiltInSpec:
    """A permission view FAB or Flask-Admin registers itself (security pages, API docs, the exports)."""

    name: str
    label: object
    permissions: dict = field(default_factory=dict)  # permission → roles

    def grants(self) -> dict[str, list[tuple[str, str]]]:
        result = {}
        for perm, roles in self.permissions.items():
            for role in roles:
                result.setdefault(role, []).append((self.name, perm))
        return result

    def labels(self) -> dict:
        return {self.name: self.label}
