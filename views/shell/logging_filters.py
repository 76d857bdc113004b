"""No personal data in logs: ID numbers and mobiles masked in every record, SQLAlchemy's echoed values and
rows left out, database rows given as arguments written as <Type #id>.

FAB logs user names ("Login Failed for user: …", "Added user …"; an applicant's is their ID number) and
users ("Updated user …" prints the person's name); SQLAlchemy echoes statement values at INFO and puts
them in its error messages. Our own code logs masked numbers only; libraries do not know, so each record
is cleaned when it is made. `install()` wraps the log record factory: every logger, every handler (console,
gunicorn, pytest's capture). `PersonalDataFilter` does the same as a handler filter.
"""
import logging
import re

from ground.identifiers import mask_text

_HIDDEN = "[hidden]"
# SQLAlchemy's errors end with the statement's values ("[parameters: (...)]"), names included.
_PARAMETERS = re.compile(r"^\[parameters: .*$", re.MULTILINE)


def _mask(text: str) -> str:
    return mask_text(_PARAMETERS.sub("[parameters: hidden]", text))


def _sqlalchemy_values():
    """The classes SQLAlchemy wraps echoed parameters and result rows in (logged with "%r")."""
    try:
        from sqlalchemy.sql.util import _repr_base
    except ImportError:  # pragma: no cover - a future SQLAlchemy: hide every argument of its engine log
        return None
    return _repr_base


def _row(value):
    """A database row (its str() may hold a name) as its type and key."""
    state = getattr(value, "_sa_instance_state", None)
    if state is None:
        return value
    key = ",".join(str(k) for k in (state.identity or ())) or "new"
    return f"<{type(value).__name__} #{key}>"


def clean(record: logging.LogRecord) -> logging.LogRecord:
    """Mask the record in place: its message (arguments merged in), exception and stack text."""
    if getattr(record, "_personal_data_cleaned", False):
        return record
    if isinstance(record.args, tuple):
        record.args = tuple(_row(a) for a in record.args)
    record.msg = _row(record.msg)
    args = record.args
    if args and record.name.startswith("sqlalchemy.engine"):
        values = _sqlalchemy_values()
        hide = (lambda a: isinstance(a, values)) if values else (lambda a: True)
        args = tuple(_HIDDEN if hide(a) else a for a in (args if isinstance(args, tuple) else (args,)))
        record.args = args
    try:
        message = record.getMessage()
    except Exception:  # a malformed call: keep the bare format string
        message = str(record.msg)
    record.msg, record.args = _mask(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = _mask(record.exc_text)
    if record.stack_info:
        record.stack_info = _mask(record.stack_info)
    record._personal_data_cleaned = True
    return record


class PersonalDataFilter(logging.Filter):
    def filter(self, record):
        clean(record)
        return True


_installed = None


def install():
    """Clean every record as it is made (idempotent; process-wide, like logging itself)."""
    global _installed
    if _installed is not None and logging.getLogRecordFactory() is _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        return clean(previous(*args, **kwargs))

    _installed = factory
    logging.setLogRecordFactory(factory)


def installed() -> bool:
    return _installed is not None and logging.getLogRecordFactory() is _installed
