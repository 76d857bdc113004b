"""Starting and editing drafts (shared by the panel form and the REST API), who holds an application, and the
applicant's reminder to the employer holding it (催办).

Field validation is app.rules.check_fields; state changes are app.workflow's. This module decides who owns a
new draft, numbers it, and drops the fields its business type (app/business_types/) does not use; it names the
office an application waits for, and lets the applicant remind an employer at most once per
EMPLOYER_REMINDER_HOURS.
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update

from models import Application

from app import notifications, workflow
from app.audit import record
from app.business_types import BUSINESS_TYPES
from ground.clock import CHINA_TZ, china_day, now_utc, today
from ground.roles import APPLICANT, ENTERPRISE, INDUSTRY, MINISTRY, PROVINCE, ROLE_LABELS, SYSTEM, user_role_names
from ground.extensions import db
from ground.vocabulary import State
from app.services.numbering import application_number

_OPTIONAL_FIELDS = ("enterprise", "contract_start", "contract_end", "reason", "reason_text", "new_name",
                    "new_id_number", "pass_certificate_no", "leaving_date")


def open_application(person_id, exclude_id=None):
    query = db.session.query(Application).filter(Application.person_id == person_id,
                                                 Application.state.in_(workflow.OPEN_STATES))
    if exclude_id is not None:
        query = query.filter(Application.id != exclude_id)
    return query.order_by(Application.id).first()


def start_draft(item: Application, user):
    """Make `item` the signed-in applicant's new draft, or raise a WorkflowError saying why not."""
    person = getattr(user, "person", None)
    if person is None:
        raise workflow.Forbidden(_l("Only an applicant account linked to a person can apply."))
    btype = BUSINESS_TYPES.get(item.business_type)
    if btype is not None and btype.started_by_staff:
        raise workflow.Forbidden(_l("A “%(type)s” is lodged by an employer or an authority, not by the person.",
                                    type=btype.label))
    existing = open_application(person.id)
    if existing is not None:
        raise workflow.Conflict(_l("Application %(number)s is already open; continue it instead of starting another.",
                                   number=existing.number))
    item.person = person
    item.created_by_id = user.id
    item.state = workflow.State.DRAFT
    item.number = application_number(db.session, today())
    tidy(item)


def check_editable(item: Application):
    if item.state not in workflow.EDITABLE_STATES:
        raise workflow.InvalidState(_l("Only drafts and returned applications can be edited."))


def tidy(item: Application):
    """Drop fields the business type does not use, and show the routing the submission will fix."""
    btype = BUSINESS_TYPES.get(item.business_type)
    used = btype.fields if btype is not None else ()
    for name in _OPTIONAL_FIELDS:
        if name not in used:
            setattr(item, name, None)
    if "specialties" not in used:
        item.specialties = []
    if item.new_id_number:
        item.new_id_number = item.new_id_number.strip().upper()
    if btype is not None:
        for key, value in btype.route(item).items():
            setattr(item, key, value)


def handling_office(item: Application, role: str | None, state: str | None = None) -> str:
    """The office behind a role on this application in `state` (default: its own), as applicants read it: the
    enterprise by name (the previous employer while it may release), the province's construction authority, the
    ministry's registration centre; the applicant themself."""
    if role == ENTERPRISE:
        enterprise = holder_enterprise(item, state)
        if enterprise is not None:
            return enterprise.name
    if role == SYSTEM:
        return str(_l("The platform (by rule)"))
    if role == PROVINCE and item.province is not None:
        return str(_l("%(province)s construction authority", province=item.province))
    if role == MINISTRY:
        return str(_l("Registration Centre of the Ministry of Housing and Urban-Rural Development"))
    if role == INDUSTRY:
        flagged = "、".join(str(s) for s in item.specialties if s.needs_industry_opinion)
        return str(_l("Industry department for %(specialties)s", specialties=flagged)) if flagged else \
            str(ROLE_LABELS[INDUSTRY])
    if role == APPLICANT:
        return str(_l("You (the applicant)"))
    return str(ROLE_LABELS.get(role, role or ""))


def holder_enterprise(item: Application, state: str | None = None):
    """The enterprise whose turn it is in `state` (default: the application's): the previous employer in
    State.RELEASE, the one the application names otherwise."""
    state = state or item.state
    return item.previous_enterprise if workflow.STAGE_PARTY.get(state) == "previous_enterprise_id" else item.enterprise


# --- 催办: the applicant reminds the employer ------------------------------------------------------------
REMINDABLE_STATES = frozenset({State.ENTERPRISE, State.RELEASE})  # waiting for an enterprise


def _china_time(moment: datetime) -> str:
    return moment.replace(tzinfo=timezone.utc).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def _interval() -> timedelta:
    return timedelta(hours=current_app.config["EMPLOYER_REMINDER_HOURS"])


@dataclass(frozen=True)
class Reminder:
    """Where the applicant's reminder stands on one application (the progress page shows it)."""

    allowed: bool  # the button is shown
    enterprise: str  # the enterprise it goes to
    count: int
    last: datetime | None  # naive UTC
    next_at: datetime | None  # naive UTC: a reminder is possible again from then (None: now, or never)


def reminder(item: Application, user, now: datetime | None = None) -> Reminder | None:
    """The reminder state of the user's own application waiting for an enterprise, else None."""
    if not _is_owner(item, user) or item.state not in REMINDABLE_STATES:
        return None
    now = now or now_utc()
    enterprise = holder_enterprise(item)
    next_at = item.last_reminded_at + _interval() if item.last_reminded_at else None
    too_soon = next_at is not None and next_at > now
    return Reminder(allowed=enterprise is not None and not too_soon, enterprise=enterprise.name if enterprise else "",
                    count=item.reminder_count or 0, last=item.last_reminded_at, next_at=next_at if too_soon else None)


def _is_owner(item: Application, user) -> bool:
    person_id = getattr(user, "person_id", None)
    return bool(person_id) and item.person_id == person_id and APPLICANT in user_role_names(user)


def remind_employer(application, user) -> int:
    """The applicant reminds the enterprise holding their application (催办): one message to its accounts and an
    audit row, at most once per EMPLOYER_REMINDER_HOURS; one transaction. Returns the reminder's count.

    Raises NotFound (not the user's own application), InvalidState (not waiting for an enterprise) or Conflict
    (reminded too recently: the message says from when it is possible again). Two clicks at once send one."""
    app_id = application if isinstance(application, int) else getattr(application, "id", None)
    try:
        item = db.session.get(Application, app_id) if app_id else None
        if item is None or not _is_owner(item, user):
            raise workflow.NotFound(_l("Application not found."))
        if item.state not in REMINDABLE_STATES:
            raise workflow.InvalidState(_l("Only an application waiting for an employer's confirmation or release "
                                           "can be reminded; it is now “%(state)s”.", state=item.state_label))
        holder_id = workflow.holder_enterprise_id(item)
        if holder_id is None:
            raise workflow.InvalidState(_l("No employer is named on this application."))
        now = now_utc()
        result = db.session.execute(
            update(Application)
            .where(Application.id == item.id, Application.state == item.state,
                   or_(Application.last_reminded_at.is_(None), Application.last_reminded_at <= now - _interval()))
            .values(reminder_count=Application.reminder_count + 1, last_reminded_at=now)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:
            raise _not_now(item.id, item.state)
        db.session.refresh(item)
        count = item.reminder_count
        notifications.send("employer_reminded", f"employer_reminded:{item.id}:{count}",
                           notifications.enterprise_users(holder_id),
                           notifications.application_params(item, since=china_day(item.state_changed_at)),
                           f"application:{item.id}")
        record("application.remind", "Application", item.id, summary=f"{item.number}: {item.state}",
               detail={"state": item.state, "enterprise_id": holder_id, "count": count}, user=user)
        db.session.commit()
        return count
    except Exception:
        db.session.rollback()
        raise


def _not_now(app_id: int, seen_state: str) -> workflow.WorkflowError:
    """Why the guarded UPDATE changed nothing, read afresh: the state moved, or a reminder was sent meanwhile."""
    state, last = db.session.execute(select(Application.state, Application.last_reminded_at)
                                     .where(Application.id == app_id)).one()
    if state != seen_state or last is None:
        return workflow.InvalidState(_l("The application has moved on; reload to see its state."))
    return workflow.Conflict(_l("You reminded the employer at %(last)s; you may remind it again from %(next)s.",
                                last=_china_time(last), next=_china_time(last + _interval())))


def release_clock(item: Application, on: date | None = None) -> dict | None:
    """The previous employer's objection period of a change waiting in State.RELEASE: who, until when, days left."""
    if item.state != State.RELEASE or item.stage_deadline is None:
        return None
    on = on or today()
    enterprise = item.previous_enterprise
    return {"enterprise": enterprise.name if enterprise else "", "day": item.stage_deadline,
            "days_left": max((item.stage_deadline - on).days, 0)}
