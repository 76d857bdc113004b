"""WSGI entry point for gunicorn: `gunicorn -w 4 wsgi:app` (schema and permissions come from `flask setup`)."""
import gc

from server import create_app, refuse_unsafe_production

app = refuse_unsafe_production(create_app())
# The app's own objects live as long as the worker: keep them out of the garbage collector's full
# passes, which otherwise pause a request now and then (about 0.1 s with this many objects).
gc.collect()
gc.freeze()
