"""Celery entry point for the background workers and the scheduler:

    celery -A worker worker -Q default,exports,documents     (one or more per host)
    celery -A worker beat                                     (exactly one per deployment)

The Celery app comes from the Flask app (server.create_app → app.jobs.init_celery), so every task runs inside
the app context with the same configuration as the web server.

REGISTRY_EXTRA_MODULES (comma-separated module names, normally unset) are imported after the app is made: a hook
for tests and operators to register extra job kinds in a worker (tests/jobs/ registers a slow one to kill workers
in the middle of a job).
"""
import importlib
import os

from server import create_app, refuse_unsafe_production

flask_app = refuse_unsafe_production(create_app())
celery = flask_app.extensions["celery"]

for _module in filter(None, (m.strip() for m in os.environ.get("REGISTRY_EXTRA_MODULES", "").split(","))):
    importlib.import_module(_module)
