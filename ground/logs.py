"""Log output of every process (web, workers, commands): one line per record on standard error, plain text or,
with LOG_FORMAT=json, one JSON object (python-json-logger) with time (ISO, UTC), level, logger, message and the
context of the record: request_id, user_id, roles (the web request, views/shell/request_log.py) or job_id (a
background job, app/jobs.py), and the access line's endpoint, method, path, status and duration_ms.

Personal data: every record's message is masked when it is made (views/shell/logging_filters.py); the JSON
formatter masks the extra fields too (a path may hold an ID number). `configure()` is idempotent: it replaces
its own handler on the root logger and leaves any other (pytest's capture, gunicorn's) alone.
"""
import contextvars
import logging
import sys
from contextlib import contextmanager
from datetime import datetime, timezone

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from ground.identifiers import mask_text
from ground.outage import database_unreachable

CONTEXT_FIELDS = ("request_id", "user_id", "roles", "job_id")
ACCESS_FIELDS = ("endpoint", "method", "path", "status", "duration_ms")
_NOT_MASKED = frozenset(("time", "level", "logger", "request_id", "status", "duration_ms"))
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(context_ref)s] %(message)s"

_job_id = contextvars.ContextVar("log_job_id", default=None)
_providers = []  # functions giving context fields (the web layer's request id and user), {} outside their scope


def add_context_provider(provider):
    """`provider()` -> dict of context fields for the record being written (must not query the database)."""
    if provider not in _providers:
        _providers.append(provider)


@contextmanager
def job_context(job_id):
    """Every record written inside carries job_id."""
    token = _job_id.set(job_id)
    try:
        yield
    finally:
        _job_id.reset(token)


def context() -> dict:
    fields = {}
    for provider in _providers:
        try:
            fields.update(provider() or {})
        except Exception:  # noqa: BLE001 - a log line is never refused for its context
            pass
    job_id = _job_id.get()
    if job_id is not None:
        fields["job_id"] = job_id
    return fields


class ContextFilter(logging.Filter):
    """Adds the context fields (None when unknown) to each record passing the handler. Drops the traceback a
    library logs for a database outage (FAB's @safe): the 503 handler writes one warning line instead."""

    def filter(self, record):
        if record.exc_info and record.name == "flask_appbuilder.api" and database_unreachable(record.exc_info[1]):
            return False
        for key, value in context().items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        for key in CONTEXT_FIELDS:
            if not hasattr(record, key):
                setattr(record, key, None)
        return True


def _mask(value):
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, (list, tuple)):
        return [_mask(v) for v in value]
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    return value


class JsonFormatter(_JsonFormatter):
    """One JSON object a line: time, level, logger, message, the context fields, then any other extra field."""

    def __init__(self, **kwargs):
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__("%(message)s", **kwargs)

    def format(self, record):
        if record.exc_info and record.exc_text:  # the traceback as masked when the record was made
            exc_info, record.exc_info = record.exc_info, None
            try:
                return super().format(record)
            finally:
                record.exc_info = exc_info
        return super().format(record)

    def add_fields(self, log_data, record, message_dict):
        log_data["time"] = datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        super().add_fields(log_data, record, message_dict)
        for key in CONTEXT_FIELDS:
            log_data.setdefault(key, getattr(record, key, None))

    def process_log_record(self, log_data):
        return {key: value if key in _NOT_MASKED else _mask(value) for key, value in log_data.items()}


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (pytest and gunicorn replace it)."""

    def __init__(self):
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


class _TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__(TEXT_FORMAT)

    def formatTime(self, record, datefmt=None):  # noqa: N802 - logging's name
        return datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")

    def format(self, record):
        job_id = getattr(record, "job_id", None)
        record.context_ref = getattr(record, "request_id", None) or (f"job {job_id}" if job_id else "-")
        return super().format(record)


def make_formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else _TextFormatter()


def configure(log_format: str = "text", level: str = "INFO") -> logging.Handler:
    """The root logger writes every record at `level` and above to standard error in `log_format`."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _StderrHandler):
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(make_formatter(log_format))
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(getattr(logging, str(level).upper(), logging.INFO))
    return handler
