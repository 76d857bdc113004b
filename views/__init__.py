"""Views: every page, menu entry and REST resource of views.registry.SITE, registered in its order."""
from flask import current_app

from flask_appbuilder.api.manager import SwaggerView

from views import assets, contract, errors, language, metrics
from views import help as help_pages
from views.base import add_label
from views.notifications import unread_badge
from views.public import favicon
from views.registry import CATEGORIES, SITE


def register(appbuilder):
    assets.install(current_app)  # static files cached a year, addressed by version
    metrics.install(current_app)  # /metrics: request, move and sign-in counters
    language.install(current_app)
    current_app.jinja_env.globals["add_label"] = add_label
    current_app.jinja_env.globals["messages_badge"] = unread_badge  # navbar and 个人信息's menu: 消息中心
    current_app.add_url_rule("/favicon.ico", "favicon", favicon)
    for entry in SITE:
        entry.register(appbuilder, CATEGORIES)
    errors.install_token_errors(appbuilder.sm.jwt_manager)
    appbuilder.add_api(contract.OpenApi)  # the API's description (FAB_ADD_OPENAPI_VIEWS is off)
    if current_app.config.get("FAB_API_SWAGGER_UI"):
        appbuilder.add_view_no_menu(SwaggerView)
    help_pages.install(current_app)  # the public help entry, the support contact in every footer
