"""The site registry (views/registry.py) is the only declaration of the web's pages, menu entries and grants:
every view and menu entry the app registers beyond FAB's own has an entry, every entry is registered, and
every role grant names something the app serves. The panel's, the API's and the exports' columns are
named sets of one declaration per model (models/columns.py)."""
import pytest
from flask_appbuilder import BaseView, expose

import views
from ground.roles import PERSONAL_DATA
from models.columns import COLUMNS
from models.labels import LABELS
from ops.access_policy import PRINCIPALS
from reports.exports import SPECS
from tests.conftest import another_app
from views.declarations import MENU_ACCESS, LinkSpec
from views.grants import role_permissions
from views.registry import BUILT_IN, PANEL, SITE, declarations, view_labels


class PlantedView(BaseView):
    route_base = "/planted"

    @expose("/")
    def index(self):
        return "planted"


def _menu_names(appbuilder) -> set[str]:
    names, items = set(), list(appbuilder.menu.get_list())
    while items:
        item = items.pop()
        names.add(item.name)
        items += item.childs or []
    return names


def _served(app):
    """(permission view names of the registered views, menu entry names)."""
    return ({v.class_permission_name for v in app.appbuilder.baseviews}, _menu_names(app.appbuilder))


@pytest.fixture(scope="module")
def fab_only(database, tmp_path_factory):
    """What FAB registers by itself (security, index, API docs): the app without views.register."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(views, "register", lambda appbuilder: None)
        with another_app(database, tmp_path_factory) as application:
            return _served(application)


def undeclared(app, fab_only) -> list[str]:
    """Views and menu entries the app registers that neither FAB nor the registry declares."""
    declared = set(view_labels()) | {entry.name for entry in declarations()}
    fab_views, fab_menus = fab_only
    registered_views, menus = _served(app)
    return sorted((registered_views - fab_views - declared) | (menus - fab_menus - declared))


def test_every_registered_view_and_menu_entry_is_declared(app, fab_only):
    assert undeclared(app, fab_only) == []


def test_every_entry_of_the_registry_is_registered(app, fab_only):
    registered_views, menus = _served(app)
    for entry in SITE:
        names = set(entry.labels()) or {entry.name}
        assert names <= registered_views | menus, entry
    # Full numbers on pages: a permission app.personal_data checks, on no view.
    assert {entry.name for entry in BUILT_IN} - registered_views - menus == {PERSONAL_DATA}


def test_a_planted_view_and_link_are_found(database, tmp_path_factory, fab_only):
    original = views.register

    def register_and_plant(appbuilder):
        original(appbuilder)
        appbuilder.add_view_no_menu(PlantedView)
        appbuilder.add_link("PlantedLink", href="/planted/", label="Planted", category="Registry")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(views, "register", register_and_plant)
        with another_app(database, tmp_path_factory) as application:
            assert undeclared(application, fab_only) == ["PlantedLink", "PlantedView"]


def test_every_grant_names_a_served_view_and_permission(app):
    by_name = {v.class_permission_name: v for v in app.appbuilder.baseviews}
    menus = _menu_names(app.appbuilder)
    link_targets = {entry.name: entry.href for entry in SITE if isinstance(entry, LinkSpec)}
    adapter = app.url_map.bind("localhost")
    assert set(role_permissions()) == set(PRINCIPALS) - {None}
    for role, pairs in role_permissions().items():
        for view, permission in pairs:
            if view in by_name:
                assert permission in by_name[view].base_permissions, (role, view, permission)
            elif permission == MENU_ACCESS:
                assert view in menus, (role, view)
            else:  # a permission another application checks behind a link (Flask-Admin's exports)
                assert view in link_targets and adapter.match(link_targets[view]), (role, view, permission)


def test_no_two_entries_share_a_name():
    names = [name for entry in declarations() for name in entry.labels()]
    assert len(names) == len(set(names))


def _named_sets(columns) -> dict:
    return {"list": columns.list, "show": columns.show, **columns.other}


def test_panel_and_api_columns_are_sets_of_the_model_declaration():
    for spec in PANEL:
        sets = _named_sets(COLUMNS[spec.model]).values()
        assert tuple(spec.list_columns) in sets, spec.name
        assert spec.show_columns is None or tuple(spec.show_columns) in sets, spec.name
        if spec.api:
            assert tuple(spec.api["list_columns"]) == COLUMNS[spec.model].api_list, spec.name
            assert tuple(spec.api["show_columns"]) == COLUMNS[spec.model].api_show, spec.name


def test_declared_columns_have_labels_and_exist_on_the_model():
    for model, columns in COLUMNS.items():
        for keys in _named_sets(columns).values():
            assert set(keys) <= set(LABELS), (model.__name__, set(keys) - set(LABELS))
        for key in (*columns.api_list, *columns.api_show):
            assert hasattr(model, key.split(".")[0]), (model.__name__, key)
        assert all((column.header or column.key) in LABELS for column in columns.export), model.__name__


def test_exports_read_the_declaration():
    for spec in SPECS.values():
        assert [(c.key, c.label, c.kind, c.width) for c in spec.columns] == [
            (c.key, LABELS[c.header or c.key], c.kind, c.width) for c in COLUMNS[spec.model].export]
