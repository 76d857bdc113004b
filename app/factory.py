"""create_app(): Flask → config → db, CSRF, migrations → models, audit, log filter → FAB (roles from code) →
views, exports → headers, input guard, sessions, action permissions → CLI."""
from pathlib import Path

from flask import Flask
from flask_appbuilder import AppBuilder
from jinja2 import ChoiceLoader, FileSystemLoader
from sqlalchemy import event

import config

from .extensions import csrf, db, migrate

BASE_DIR = Path(__file__).resolve().parent.parent


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def build_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(config.INSTANCE_DIR), instance_relative_config=False)
    # Page templates first, then the report templates, so pages can import the tables reports share.
    app.jinja_loader = ChoiceLoader([FileSystemLoader(str(BASE_DIR / "app" / "templates")),
                                     FileSystemLoader(str(BASE_DIR / "reports" / "templates"))])
    app.config.from_object(config)
    if overrides:
        app.config.update(overrides)
    with app.app_context():
        db.init_app(app)
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
        csrf.init_app(app)
        migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"))

        import models  # noqa: F401  (every table on Model.metadata before FAB starts)

        from . import audit, logging_filters, roles

        logging_filters.install()  # no ID or mobile number, no SQL parameter values in any log record

        audit.install(app)
        app.config["FAB_ROLES"] = roles.fab_roles()
        appbuilder = AppBuilder()
        appbuilder.init_app(app, db.session)

        import views

        views.register(appbuilder)

        from views.exports import init_exports

        init_exports(app)  # Flask-Admin at /exports, after FAB

        from views.formatting import china_time

        from .identifiers import mask_id_number, mask_text
        from .workflow import OPINION_MAX_LENGTH

        app.jinja_env.filters["china_time"] = china_time
        app.jinja_env.filters["mask_id"] = mask_id_number
        app.jinja_env.filters["mask_text"] = mask_text
        app.jinja_env.globals["opinion_max"] = OPINION_MAX_LENGTH

        from views import errors

        from . import access, cli, headers, input_guard, sessions

        if app.config.get("TRUSTED_PROXIES"):
            from werkzeug.middleware.proxy_fix import ProxyFix

            hops = app.config["TRUSTED_PROXIES"]
            app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
        headers.install(app)
        input_guard.install(app)  # unusable input (NUL, broken rison, ids beyond the keys) is a 400/404
        sessions.install(app)
        access.install(app)
        cli.register(app)
        errors.install(app)  # translated error pages in the layout; JSON for the API; 413 on a form: flash
    return app
