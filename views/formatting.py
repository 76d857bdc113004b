"""Display formatting for panel columns: timestamps in China time, booleans as words."""
from datetime import datetime, timezone

from flask_babel import lazy_gettext as _l

from app.clock import CHINA_TZ


def china_time(value):
    if not isinstance(value, datetime):
        return value or ""
    return value.replace(tzinfo=timezone.utc).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def yes_no(value):
    return _l("Yes") if value else _l("No")


def dash_if_empty(value):
    return "—" if value is None or value == "" else value


DATETIME_FORMATTERS = {
    name: china_time
    for name in ("created_at", "updated_at", "submitted_at", "state_changed_at", "realname_verified_at",
                 "realname_requested_at")
}
