"""The composition root: `create_app()` builds the Flask app from every floor, lowest first.

config → database handle, CSRF, migrations → models → audit (domain) → FAB with roles derived from the
panel registry (web) → views, exports, the web shell → the command line and the schedule (operations) → the
Celery app of the workers and beat. Nothing imports this module but the entry points (wsgi.py, worker.py,
`flask --app server:create_app`, tests, benchmarks).
"""
from pathlib import Path

from flask import Flask
from flask_appbuilder import AppBuilder
from jinja2 import ChoiceLoader, FileSystemLoader
from sqlalchemy import event

import config
import models  # noqa: F401  (every table on Model.metadata before FAB starts)
import views
from app import audit, jobs
from app.services import signing
from ground import cache, logs, replica
from ground.extensions import csrf, db, migrate
from ops import cli, db_roles, schedule
from views import grants, shell
from views.exports import init_exports

BASE_DIR = Path(__file__).resolve().parent
WEB_DIR = BASE_DIR / "views"


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer: web, worker and beat share the file
    cursor.close()


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__, static_folder=str(WEB_DIR / "static"), instance_path=str(config.INSTANCE_DIR),
                instance_relative_config=False)
    # Page templates first, then the report templates, so pages can import the tables reports share.
    app.jinja_loader = ChoiceLoader([FileSystemLoader(str(WEB_DIR / "templates")),
                                     FileSystemLoader(str(BASE_DIR / "reports" / "templates"))])
    app.config.from_object(config)
    if overrides:
        app.config.update(overrides)
    with app.app_context():
        db.init_app(app)
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
        replica.init_app(app)  # DATABASE_REPLICA_URL: exports, statistics and the public register read there
        csrf.init_app(app)
        cache.init_app(app)  # shared cache: Redis when configured, else this process's memory
        migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"))
        shell.install_log_filters()  # no ID or mobile number, no SQL parameter values in any log record
        logs.configure(app.config.get("LOG_FORMAT", "text"), app.config.get("LOG_LEVEL", "INFO"))  # text or JSON
        audit.install()
        app.config["FAB_ROLES"] = grants.fab_roles()
        appbuilder = AppBuilder()
        appbuilder.init_app(app, db.session)
        views.register(appbuilder)
        init_exports(app)  # Flask-Admin at /exports, after FAB
        shell.install(app)
        cli.register(app)
        jobs.init_celery(app, schedule.beat_schedule(app.config))  # workers and beat: worker.py
    return app


def refuse_unsafe_production(app: Flask) -> Flask:
    """The serving entry points (wsgi.py, worker.py) stop here, with one line, when REGISTRY_ENV=production lacks
    a secret that would otherwise differ per host, or connects to PostgreSQL as the owner of the audit log. The
    command line still runs (it makes the first signing key; setup and restore run as the owner)."""
    if app.config.get("PRODUCTION"):
        problem = signing.production_problem(app.config, app.instance_path)
        if problem is None:
            with app.app_context():
                problem = db_roles.owner_problem()
        if problem:
            raise SystemExit(f"refusing to start: {problem}")
    return app
