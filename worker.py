"""Celery entry point for the background workers and the scheduler:

    celery -A worker worker -Q default,exports,documents     (one or more per host)
    celery -A worker beat                                     (exactly one per deployment)

The Celery app comes from the Flask app (server.create_app → app.jobs.init_celery), so every task runs inside
the app context with the same configuration as the web server.
"""
from server import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
