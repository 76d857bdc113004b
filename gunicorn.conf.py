"""gunicorn settings: read by gunicorn from the working directory by default (README's production command run in
the project folder) and named by scripts/serve with `-c gunicorn.conf.py`. Command-line options win over these.

- Metrics: with PROMETHEUS_MULTIPROC_DIR set, a worker that exits has its prometheus-client files marked dead
  (`child_exit`), so /metrics stops counting its live gauges (views/metrics.py, multiprocess mode).
- Access log: gunicorn's own is off; the app writes one access line per request instead (views/shell/request_log.py:
  request id, user, endpoint, status, duration; JSON with LOG_FORMAT=json). GUNICORN_ACCESS_LOG=- turns gunicorn's
  on again (its text format) for whoever wants both.
- gunicorn's own messages (worker start, timeout, exit) are JSON lines too when LOG_FORMAT=json (the same default
  as config.py: json when REGISTRY_ENV=production).
"""
import os

LOG_FORMAT = (os.environ.get("LOG_FORMAT") or
              ("json" if os.environ.get("REGISTRY_ENV") == "production" else "text")).lower()
LOG_LEVEL = (os.environ.get("LOG_LEVEL") or "INFO").upper()

accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = LOG_LEVEL.lower()

if LOG_FORMAT == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": LOG_LEVEL, "handlers": []},  # the app adds its own (ground/logs.py) in each worker
        "loggers": {
            "gunicorn.error": {"level": LOG_LEVEL, "handlers": ["json"], "propagate": False,
                               "qualname": "gunicorn.error"},
            "gunicorn.access": {"level": LOG_LEVEL, "handlers": ["json" if accesslog else "null"],
                                "propagate": False, "qualname": "gunicorn.access"},
        },
        "handlers": {
            "json": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
            "null": {"class": "logging.NullHandler"},
        },
        "formatters": {"json": {"()": "ground.logs.JsonFormatter"}},
    }


def child_exit(server, worker):
    """A worker ended (exit, crash, timeout, restart): its metric files stop counting as live."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
