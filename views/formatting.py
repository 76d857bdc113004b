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


def deadline_with_days_left(value):
    """A stage deadline with the working days left, overdue ones in red (queues: oldest first)."""
    from markupsafe import Markup, escape

    from app.clock import today
    from app.services.workdays import working_days_between

    if value is None:
        return "—"
    left = working_days_between(today(), value)
    if left < 0:
        badge = _l("overdue by %(days)s working days", days=-left)
        return Markup('{} <span class="label label-danger overdue">{}</span>').format(value, escape(str(badge)))
    css = "label-warning" if left <= 2 else "label-default"
    badge = _l("%(days)s working days left", days=left)
    return Markup('{} <span class="label {}">{}</span>').format(value, css, escape(str(badge)))


def dash_if_empty(value):
    return "—" if value is None or value == "" else value


DATETIME_FORMATTERS = {
    name: china_time
    for name in ("created_at", "updated_at", "submitted_at", "state_changed_at", "realname_verified_at",
                 "realname_requested_at")
}
