"""Panel views generated from a declarative spec: one class per model, permissions per role, row scope.

A `PanelSpec` says which columns a model shows and searches and which roles may read, add, edit or
delete it; `build_view` turns it into a FAB ModelView whose base filter is the row scope, and
`PanelSpec.grants` turns it into the permissions views.grants hands to each role.

Columns holding personal numbers (ID number, mobile, user name, free text) are displayed through
views.formatting.PERSONAL_FORMATTERS by name in every generated view, and API results through
app.personal_data.mask_record: masked unless app.personal_data allows the full number.
"""
import re
from dataclasses import dataclass, field

from flask import abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_appbuilder import ModelView, expose, has_access
from flask_appbuilder.api import ModelRestApi
from sqlalchemy import Boolean

from ground.extensions import db
from ground.roles import BUSINESS_ROLES
from app import personal_data
from app.scope import SCOPE_FILTER, current_user
from views.formatting import PERSONAL_FORMATTERS, dash_if_empty, yes_no
from views.interface import PanelInterface
from views.shell.access import view_of
from views.errors import ApiErrors


@dataclass
class PanelSpec:
    model: type
    name: str  # permission view name, endpoint and menu entry name
    label: object
    category: str
    icon: str
    list_columns: list
    search_columns: list
    read: set
    show_columns: list | None = None
    add_columns: list | None = None
    edit_columns: list | None = None
    label_columns: dict = field(default_factory=dict)
    description_columns: dict = field(default_factory=dict)
    validators_columns: dict = field(default_factory=dict)
    formatters_columns: dict = field(default_factory=dict)
    order_columns: list | None = None
    base_order: tuple | None = None
    add: set = field(default_factory=set)
    edit: set = field(default_factory=set)
    delete: set = field(default_factory=set)
    search_form_extra_fields: dict = field(default_factory=dict)
    add_form_extra_fields: dict = field(default_factory=dict)
    edit_form_extra_fields: dict = field(default_factory=dict)
    scoped: bool = True  # False only for public reference data (dictionaries)
    base_class: type | None = None  # a ScopedModelView subclass adding behaviour (e.g. workflow)
    add_label: object = None  # the list's add button text (default "Add")
    computed_columns: dict = field(default_factory=dict)  # display column → function of the row (not sortable)
    extra_permissions: dict = field(default_factory=dict)  # permission name → roles
    api: dict | None = None  # REST API: {"resource": name, "list_columns": [...], "show_columns": [...]}
    menu: bool = True
    menu_roles: set | None = None  # who sees the menu entry (default: every role that reads)

    def permissions(self, role) -> list[str]:
        perms = []
        if role in self.read:
            perms += ["can_list", "can_show"]
        perms += [p for p, roles in (("can_add", self.add), ("can_edit", self.edit), ("can_delete", self.delete))
                  if role in roles]
        perms += [p for p, roles in self.extra_permissions.items() if role in roles]
        return perms

    def api_permissions(self, role) -> list[str]:
        if not self.api:
            return []
        perms = ["can_get", "can_info"] if role in self.read else []
        if self.api.get("write"):  # only resources with their own validated write path
            perms += [p for p, roles in (("can_post", self.add), ("can_put", self.edit)) if role in roles]
        return perms

    def grants(self) -> dict[str, list[tuple[str, str]]]:
        result = {}
        for role in BUSINESS_ROLES:
            pairs = [(self.name, p) for p in self.permissions(role)]
            if pairs and self.menu and role in (self.read if self.menu_roles is None else self.menu_roles):
                pairs += [(self.menu_name, "menu_access"), (self.category, "menu_access")]
            pairs += [(self.api_name, p) for p in self.api_permissions(role)]
            if pairs:
                result[role] = pairs
        return result

    def register(self, appbuilder, categories):
        """The generated view (with its menu entry) and its REST resource."""
        view = build_view(self)
        if self.menu:
            appbuilder.add_view(view, self.menu_name, label=self.label, icon=self.icon, category=self.category,
                                category_label=categories[self.category])
        else:
            appbuilder.add_view_no_menu(view)
        if self.api:
            appbuilder.add_api(build_api(self, base=self.api.get("base", ScopedRestApi)))

    def labels(self) -> dict:
        """Its permission views (view, menu entry, API) → their names on the roles page."""
        labels = {self.name: self.label, **({self.menu_name: self.label} if self.menu else {})}
        if self.api:
            labels[self.api_name] = _l("%(view)s (API)", view=self.label)
        return labels

    @property
    def menu_name(self):
        """The menu entry's name: distinct from the view's, so FAB's permission sync keeps both apart."""
        return f"{self.name}Menu"

    @property
    def api_name(self):
        return f"{self.name}Api"

    @property
    def base_permissions(self):
        perms = {"can_list", "can_show"}
        perms |= {p for p, roles in (("can_add", self.add), ("can_edit", self.edit), ("can_delete", self.delete))
                  if roles}
        return sorted(perms | set(self.extra_permissions))


_FAB_FILTER_ARG = re.compile(r"_flt_(\d)_(.*)")  # flask_appbuilder.urltools.get_filter_args reads filters so


class ScopedModelView(ModelView):
    """A ModelView whose every entry point honours the row scope (FAB actions do not by themselves)."""

    base_filters = SCOPE_FILTER
    page_size = 20
    add_label = _l("Add")  # the list's add button (appbuilder/general/widgets/base_list.html)

    @expose("/list/")
    @has_access
    def list(self):
        """FAB's list, after dropping malformed paging and ordering arguments (FAB would fail on them)."""
        cleaned = {k: v for k, v in request.args.items(multi=True) if self._list_arg_ok(k, v)}
        if len(cleaned) != len(list(request.args.items(multi=True))):
            flash(_("Some list settings in the address were not valid and were ignored."), "warning")
            return redirect(url_for(f"{self.__class__.__name__}.list", **cleaned))
        return super().list()

    def _list_arg_ok(self, key, value):
        name = self.__class__.__name__
        if key in (f"psize_{name}", f"page_{name}"):
            # ASCII digits only ("²".isdigit() is True, int("²") fails) and a page number SQL can hold.
            return (value.isascii() and value.isdigit() and len(value) <= 9
                    and (key.startswith("page") or 0 < int(value) <= 500))
        flt = _FAB_FILTER_ARG.search(key)
        if flt:  # FAB indexes the column's filter list with the digit unchecked (IndexError)
            filters = self._filters.get_search_filters().get(flt.group(2))
            return filters is None or int(flt.group(1)) < len(filters)
        if key == f"_oc_{name}":
            return value in self.order_columns
        if key == f"_od_{name}":
            return value in ("asc", "desc")
        return True

    def get_in_scope(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            abort(404)
        return item

    @expose("/action/<string:name>/<pk>", methods=["POST"])
    def action(self, name, pk):  # unknown actions and missing permissions: views.shell.access, before any view
        self.get_in_scope(self._deserialize_pk_if_composite(pk))
        return super().action(name, pk)

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        for pk in request.form.getlist("rowid"):
            self.get_in_scope(self._deserialize_pk_if_composite(pk))
        return super().action_post()

    # After saving, the record just saved: FAB's default returns to a page from its history, often another.
    def post_add(self, item):
        g.saved_pk = self.datamodel.get_pk_value(item)

    def post_add_redirect(self):
        return self._to_saved(g.pop("saved_pk", None))

    def post_edit_redirect(self):
        return self._to_saved((request.view_args or {}).get("pk"))

    def _to_saved(self, pk):
        name = self.__class__.__name__
        if pk is not None and self.appbuilder.sm.has_access("can_show", self.class_permission_name):
            return redirect(url_for(f"{name}.show", pk=pk))
        return redirect(url_for(f"{name}.list"))

    def refuse(self, message):
        """Abandon a half-made change and tell the user why."""
        db.session.rollback()
        raise ValueError(str(message))


def add_label(view_name: str) -> str:
    """The text of a list's add button (a view's `add_label`, else "Add")."""
    return str(getattr(view_of(view_name), "add_label", None) or _("Add"))


def signed_in_person():
    """(user, person) of the signed-in applicant; 403 for an account not linked to a person."""

    user = current_user()
    person = getattr(user, "person", None)
    if person is None:
        abort(403)
    return user, person


def _formatters(spec: PanelSpec) -> dict:
    """Explicit formatters, else masking for personal numbers, Yes/No for booleans and a dash for empty values."""
    result = {}
    columns = spec.model.__mapper__.columns
    for name in set(spec.list_columns) | set(spec.show_columns or []):
        if name in spec.formatters_columns:
            result[name] = spec.formatters_columns[name]
        elif name in PERSONAL_FORMATTERS:
            result[name] = PERSONAL_FORMATTERS[name]
        elif name in columns and isinstance(columns[name].type, Boolean):
            result[name] = yes_no
        else:
            result[name] = dash_if_empty
    return result


def build_view(spec: PanelSpec):
    base = spec.base_class or ScopedModelView
    attrs = {
        "datamodel": PanelInterface(spec.model, computed=spec.computed_columns),
        "class_permission_name": spec.name,
        "route_base": f"/{spec.name.lower()}",
        "base_permissions": spec.base_permissions,
        "list_title": spec.label,
        "show_title": spec.label,
        "add_title": spec.label,
        "edit_title": spec.label,
        "list_columns": spec.list_columns,
        "search_columns": spec.search_columns,
        "show_columns": spec.show_columns or spec.list_columns,
        "label_columns": spec.label_columns,
        "description_columns": spec.description_columns,
        "validators_columns": spec.validators_columns,
        "formatters_columns": _formatters(spec),
        "search_form_extra_fields": spec.search_form_extra_fields,
        "add_form_extra_fields": spec.add_form_extra_fields,
        "edit_form_extra_fields": spec.edit_form_extra_fields,
        "spec": spec,
    }
    if spec.add_label:
        attrs["add_label"] = spec.add_label
    if not spec.scoped:
        attrs["base_filters"] = []
    if spec.add_columns:
        attrs["add_columns"] = spec.add_columns
    if spec.edit_columns:
        attrs["edit_columns"] = spec.edit_columns
    interface = attrs["datamodel"]
    order_columns = spec.order_columns if spec.order_columns is not None else spec.list_columns
    not_sortable = [c for c in order_columns if not interface.sortable(c)]
    if spec.order_columns is not None and not_sortable:
        raise ValueError(f"{spec.name}: cannot sort by {not_sortable} (add them to the model's __sort_by__)")
    attrs["order_columns"] = [c for c in order_columns if c not in not_sortable]
    if spec.base_order:
        attrs["base_order"] = spec.base_order
    return type(f"{spec.name}View", (base,), attrs)


class ScopedRestApi(ApiErrors, ModelRestApi):
    """REST resource with the same row scope as the panel; browser sessions may call it too."""

    base_filters = SCOPE_FILTER
    allow_browser_login = True
    page_size = 20

    def _sanitize_page_args(self, page, page_size):
        """FAB leaves the rison page number unchecked: a negative or huge one is an OFFSET SQL refuses."""
        page, page_size = super()._sanitize_page_args(page, page_size)
        return (min(max(page, 0), 10**6) if isinstance(page, int) else page), page_size

    def pre_get(self, data):
        data["result"] = personal_data.mask_record(data.get("result"))

    def pre_get_list(self, data):
        data["result"] = personal_data.mask_record(data.get("result"))


def build_api(spec: PanelSpec, base=ScopedRestApi):
    api = spec.api
    perms = {"can_get", "can_info"}
    if api.get("write"):
        perms |= {p for p, roles in (("can_post", spec.add), ("can_put", spec.edit)) if roles}
    attrs = {
        "datamodel": PanelInterface(spec.model),
        "resource_name": api["resource"],
        "class_permission_name": spec.api_name,
        "base_permissions": sorted(perms),
        "list_columns": api["list_columns"],
        "show_columns": api.get("show_columns", api["list_columns"]),
        "search_columns": api.get("search_columns", spec.search_columns),
        "order_columns": api.get("order_columns", [c for c in api["list_columns"] if "." not in c]),
        "spec": spec,
    }
    for key in ("add_model_schema", "edit_model_schema", "add_columns", "edit_columns"):
        if key in api:
            attrs[key] = api[key]
    return type(f"{spec.name}Api", (base,), attrs)
