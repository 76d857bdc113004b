"""Views: the panel generated from views.registry, the REST API, the index page."""


def register(appbuilder):
    from .base import ScopedRestApi, build_api, build_view
    from .registry import CATEGORIES, PANEL

    for spec in PANEL:
        view = build_view(spec)
        if spec.menu:
            appbuilder.add_view(view, spec.menu_name, label=spec.label, icon=spec.icon, category=spec.category,
                                category_label=CATEGORIES[spec.category])
        else:
            appbuilder.add_view_no_menu(view)
        if spec.api:
            appbuilder.add_api(build_api(spec, base=spec.api.get("base", ScopedRestApi)))
