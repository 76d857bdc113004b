"""WSGI entry point for gunicorn: `gunicorn -w 4 wsgi:app` (schema and permissions come from `flask setup`)."""
from app import create_app

app = create_app()
