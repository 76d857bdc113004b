"""Display formatting for panel columns: timestamps in China time, booleans as words, personal numbers masked."""
import json
from datetime import datetime, timezone

from flask_babel import lazy_gettext as _l

from ground.clock import CHINA_TZ, today
from app import personal_data
from app.applications import REMINDABLE_STATES
from app.services.workdays import working_days_between


def china_time(value):
    if not isinstance(value, datetime):
        return value or ""
    return value.replace(tzinfo=timezone.utc).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def yes_no(value):
    return _l("Yes") if value else _l("No")


def deadline_with_days_left(value):
    """A stage deadline with the working days left, overdue ones in red (queues: oldest first)."""
    from markupsafe import Markup, escape


    if value is None:
        return "—"
    left = working_days_between(today(), value)
    if left < 0:
        badge = _l("overdue by %(days)s working days", days=-left)
        return Markup('{} <span class="label label-danger overdue">{}</span>').format(value, escape(str(badge)))
    css = "label-warning" if left <= 2 else "label-default"
    badge = _l("%(days)s working days left", days=left)
    return Markup('{} <span class="label {}">{}</span>').format(value, css, escape(str(badge)))


def reminders_badge(item):
    """The applicant's reminders (催办) to the enterprise holding an application, as a badge; empty when none."""
    from markupsafe import Markup, escape

    if not item.reminder_count or item.state not in REMINDABLE_STATES:  # reminders to the enterprise holding it
        return ""
    text = _l("Reminders: %(count)s, the last at %(time)s", count=item.reminder_count,
              time=china_time(item.last_reminded_at))
    return Markup('<span class="label label-warning employer-reminders">{}</span>').format(escape(str(text)))


def dash_if_empty(value):
    return "—" if value is None or value == "" else value


DATETIME_FORMATTERS = {
    name: china_time
    for name in ("created_at", "updated_at", "submitted_at", "state_changed_at", "realname_verified_at",
                 "realname_requested_at", "recorded_at")
}


def _or_dash(fn):
    def formatter(value):
        return dash_if_empty(fn(value))

    return formatter


def _text(value):
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return personal_data.text(value)


def _onsite_id_number(value):
    """The on-site real-name check compares the number on the card with the one on file: shown in full
    (and audited) on the person's page, masked in the queue."""
    from flask import request

    return personal_data.id_number(value, reveal=(request.endpoint or "").endswith(".show"))


def _account(value):
    """An account name, masked when it is an ID number; "system" (the platform's own moves) in words."""
    return str(_l("System (automatic)")) if value == "system" else personal_data.account_name(value)


# Columns holding personal numbers, by name: every generated view formats them so (views/base.py).
PERSONAL_FORMATTERS = {
    "id_number": _or_dash(personal_data.id_number), "new_id_number": _or_dash(personal_data.id_number),
    "phone": _or_dash(personal_data.mobile), "username": _or_dash(_account),
    **{name: _or_dash(_text) for name in ("email", "summary", "detail", "opinion", "last_opinion", "reason_text",
                                          "filename")},
}
ONSITE_ID_NUMBER = _or_dash(_onsite_id_number)
