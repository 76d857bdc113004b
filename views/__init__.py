"""Views: the panel generated from views.registry, the REST API, the index page."""


def register(appbuilder):
    from flask import current_app

    from views.account import ChangePasswordView, MyAccountView, RealnameSimulatorView
    from views.apply import ApplyView, ProgressView
    from views.base import ScopedRestApi, add_label, build_api, build_view
    from views.public import CaptchaView, PublicView, RegistryView, favicon
    from views.registry import CATEGORIES, MENU_LINKS, PANEL
    from views.signup import PasswordResetView, SignUpView

    from views import assets, language

    assets.install(current_app)  # static files cached a year, addressed by version
    language.install(current_app)
    current_app.jinja_env.globals["add_label"] = add_label
    current_app.add_url_rule("/favicon.ico", "favicon", favicon)

    # The personal edition's menus come first, as in the user manual: 注册申报, 进度查询, 个人信息.
    for view in (ApplyView, ProgressView, MyAccountView):
        appbuilder.add_view_no_menu(view)
    for name, label, href, category in MENU_LINKS:
        appbuilder.add_link(name, href=href, label=label, category=category, category_label=CATEGORIES[category])
    for view in (CaptchaView, RealnameSimulatorView, ChangePasswordView):
        appbuilder.add_view_no_menu(view)
    sm = appbuilder.sm
    for view in (SignUpView, PasswordResetView):
        registered = appbuilder.add_view_no_menu(view)
        if sm.is_auth_limited:  # sign-up and reset send SMS: the same per-address limit as the login
            sm.limiter.limit(current_app.config["AUTH_RATE_LIMIT"], methods=["POST"])(registered.blueprint)
    for view in (PublicView, RegistryView):  # certificate verification and the public register: anyone, any method
        registered = appbuilder.add_view_no_menu(view)
        sm.limiter.limit(current_app.config["PUBLIC_RATE_LIMIT"])(registered.blueprint)

    for spec in PANEL:
        view = build_view(spec)
        if spec.menu:
            appbuilder.add_view(view, spec.menu_name, label=spec.label, icon=spec.icon, category=spec.category,
                                category_label=CATEGORIES[spec.category])
        else:
            appbuilder.add_view_no_menu(view)
        if spec.api:
            appbuilder.add_api(build_api(spec, base=spec.api.get("base", ScopedRestApi)))

    from flask_babel import lazy_gettext as _l

    from views.roster import RosterImportView

    appbuilder.add_view(RosterImportView, "RosterImport", label=_l("Import qualification roster"), icon="fa-upload",
                        category="Registry", category_label=CATEGORIES["Registry"])


    from views.dashboard import BadFilters, DashboardView, back_to_dashboard

    current_app.register_error_handler(BadFilters, back_to_dashboard)

    appbuilder.add_view(DashboardView, "Dashboard", label=_l("Statistics dashboard"), icon="fa-chart-bar",
                        category="Statistics", category_label=CATEGORIES["Statistics"])

    from views.enterprise import EnterpriseProfileView

    appbuilder.add_view(EnterpriseProfileView, "EnterpriseProfile", label=_l("Enterprise profile"), icon="fa-building",
                        category="Registry", category_label=CATEGORIES["Registry"])
    appbuilder.add_link("Exports", href="/exports/", label=_l("Data exports"), icon="fa-download", category="Registry",
                        category_label=CATEGORIES["Registry"])  # Flask-Admin (views/exports.py)
    appbuilder.add_link("EnterpriseConstructors", href="EnterpriseProfileView.constructors",
                        label=_l("Our registered constructors"), icon="fa-users", category="Registry",
                        category_label=CATEGORIES["Registry"])

    from views import help as help_pages

    help_pages.register(appbuilder)  # 使用帮助 (/help/), the support contact in every footer
