"""Messages to people (消息中心): what is said on which event, to whom, and by which channels.

`NOTICES` declares every kind of message once: its text (zh and en through the catalogues, filled from the
message's params when it is read), whether it goes out by SMS (for what the person must act on) and by e-mail
(when NOTIFY_EMAIL is on). Everyone gets it in the message centre.

- `send(kind, event, users, params, subject)` writes one row per recipient in the caller's transaction. The
  (user, event) pair is unique, so a job that runs twice, or two that race, send nothing twice. `send_many` does
  the same for the many events of a nightly job, most of them already sent.
- `after_move(ctx)` is the workflow engine's hook: the messages a move gives rise to (`ON_MOVE`).
- `deliver()` (the scheduler, every minute) hands pending SMS and e-mail to their gateways, at most
  NOTIFY_SMS_DAILY_CAP text messages per person a day (the rest stay in the message centre, marked throttled).
- `purge()` deletes messages older than NOTIFICATION_KEEP_DAYS.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from flask import current_app
from flask_appbuilder.security.sqla.models import Role
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from app.audit import record
from ground import roles as R
from ground.clock import CHINA_TZ, now_utc
from ground.extensions import db
from ground.vocabulary import STATE_LABELS, State, TYPE_LABELS
from models import AppUser, Notification, Person, Specialty, TransitionLog, user_industry_specialty
from models.base import localized
from models.choices import APPLICATION_REASONS, ENTERPRISE_STATUSES, LAPSE_REASONS, PENALTY_KINDS

log = logging.getLogger(__name__)
_CHUNK = 500  # rows per statement when writing or looking up many


@dataclass(frozen=True)
class Notice:
    kind: str
    text: object  # lazy msgid with %(name)s params
    sms: bool = False  # the person must act on it: also by text message (applicants with a mobile on file)
    email: bool = True  # also by e-mail when NOTIFY_EMAIL is on and the account has an address


_NOTICES = (
    # The applicant, about their application.
    Notice("application_returned", _l("Your application %(number)s (%(type)s) was returned for amendment; amend and "
                                      "submit it again, or withdraw it. Opinion: %(opinion)s"), sms=True),
    Notice("application_refused", _l("Your application %(number)s (%(type)s) was refused: %(opinion)s")),
    Notice("application_approved", _l("Your application %(number)s (%(type)s) is approved.")),
    Notice("application_completed", _l("Your application %(number)s (%(type)s) is complete.")),
    Notice("application_expired", _l("Your application %(number)s (%(type)s) expired: %(enterprise)s did not confirm "
                                     "it within %(days)s days. You may apply again."), sms=True),
    Notice("objection_raised", _l("%(enterprise)s objected to the change of employer in application %(number)s; "
                                  "the provincial authority decides. Reason: %(opinion)s")),
    # The person, about a cancellation someone else lodged (cancel_by_employer, cancel_by_authority).
    Notice("cancellation_lodged", _l("%(starter)s lodged “%(type)s” %(number)s about your registration. Ground: "
                                     "%(ground)s. Statement: %(statement)s. You can follow it under Progress query."),
           sms=True),
    Notice("cancellation_approved", _l("“%(type)s” %(number)s lodged by %(starter)s is approved: your registration "
                                       "is cancelled and its certificate revoked.")),
    Notice("cancellation_refused", _l("“%(type)s” %(number)s lodged by %(starter)s was refused: %(opinion)s. Your "
                                      "registration is unchanged.")),
    Notice("returned_waiting", _l("Your application %(number)s (%(type)s) has been waiting for your amendment since "
                                  "%(day)s. Amend and submit it again, or withdraw it."), sms=True),
    # The applicant, about their registration and certificate.
    Notice("specialty_expiring", _l("Your registration in %(specialty)s is valid until %(day)s. The renewal window "
                                    "opens on %(opens)s."), sms=True),
    Notice("specialty_lapsed", _l("Your registration in %(specialty)s lapsed on %(day)s (valid until %(until)s).")),
    Notice("registration_lapsed", _l("Your registration %(registration)s lapsed on %(day)s. Reason: %(reason)s. "
                                     "Its certificate is no longer valid. Apply for re-registration to register "
                                     "again."),
           sms=True),
    Notice("age_limit_ahead", _l("You reach the age limit of %(limit)s on %(day)s; your registration ends on that "
                                 "day.")),
    Notice("copy_expiring", _l("The copy of certificate %(certificate)s you downloaded is valid until %(day)s. "
                               "Download a new copy under My certificates.")),
    Notice("employer_not_qualified", _l("Your employer %(enterprise)s is “%(enterprise_status)s” since %(day)s and no "
                                        "longer qualified to employ registered constructors. Apply for a change of "
                                        "employer to keep your registration in use."), sms=True),
    Notice("penalty_recorded", _l("A record has been entered against you: %(penalty_kind)s, decision %(decision)s of "
                                  "%(day)s. It is shown under Personal information → My account."), sms=True),
    # Every account holder: the sign-in lock is told to them only, never on the sign-in page (no enumeration).
    Notice("account_locked", _l("Your account was locked after %(failures)s failed sign-ins in a row; it unlocks by "
                                "itself at %(until)s, or at once when you reset the password by SMS. If that was "
                                "not you, change your password."), sms=True),
    # Enterprises.
    Notice("confirmation_requested", _l("%(person)s submitted application %(number)s (%(type)s) for your "
                                        "confirmation; the time limit is %(deadline)s.")),
    Notice("release_requested", _l("%(person)s applies to change employer to %(enterprise)s (application "
                                   "%(number)s). Release or object by %(deadline)s; without an objection the change "
                                   "proceeds.")),
    Notice("unconfirmed_expiring", _l("Application %(number)s of %(person)s (%(type)s) waits for your "
                                      "confirmation; it expires on %(day)s.")),
    Notice("employer_reminded", _l("%(person)s reminds you to act on application %(number)s (%(type)s), waiting "
                                   "since %(since)s.")),
    Notice("application_expired_employer", _l("Application %(number)s of %(person)s (%(type)s) expired: it was not "
                                              "confirmed within %(days)s days.")),
    # The industry department (行业主管部门).
    Notice("industry_opinion_requested", _l("Application %(number)s of %(person)s (%(type)s) chose a specialty of "
                                            "your department and awaits your opinion; the time limit is "
                                            "%(deadline)s.")),
    # Whoever holds a stage.
    Notice("stage_due", _l("Application %(number)s (%(type)s, %(state)s) must be handled by %(deadline)s.")),
    Notice("stage_overdue", _l("Application %(number)s (%(type)s, %(state)s) passed its time limit on "
                               "%(deadline)s.")),
    Notice("overdue_digest", _l("Applications held by your office: %(overdue)s past their time limit, %(due)s due "
                                "within %(days)s working days. The overdue list shows them.")),
    Notice("objection_to_decide", _l("%(enterprise)s objected to the change of employer in application %(number)s "
                                     "of %(person)s: %(opinion)s")),
)
NOTICES: dict[str, Notice] = {n.kind: n for n in _NOTICES}


# --- Recipients -------------------------------------------------------------------------------
def _users_with_role(role: str, *conditions) -> list[AppUser]:
    query = (select(AppUser).join(AppUser.roles).where(Role.name == role, AppUser.active.is_(True), *conditions)
             .order_by(AppUser.id))
    return list(db.session.scalars(query).unique())


def applicant_users(person_id) -> list[AppUser]:
    return list(db.session.scalars(select(AppUser).where(AppUser.person_id == person_id, AppUser.active.is_(True))))


def applicant_users_of(person_ids) -> dict[int, list[AppUser]]:
    """applicant_users for many people at once: person id → accounts (one query per 500 people)."""
    ids, found = sorted(set(person_ids)), {}
    for i in range(0, len(ids), _CHUNK):
        for user in db.session.scalars(select(AppUser).where(AppUser.person_id.in_(ids[i:i + _CHUNK]),
                                                             AppUser.active.is_(True)).order_by(AppUser.id)):
            found.setdefault(user.person_id, []).append(user)
    return found


def enterprise_users(enterprise_id) -> list[AppUser]:
    return _users_with_role(R.ENTERPRISE, AppUser.enterprise_id == enterprise_id) if enterprise_id else []


def enterprise_users_of(enterprise_ids) -> dict[int, list[AppUser]]:
    """enterprise_users for many enterprises at once: enterprise id → accounts (one query per 500)."""
    ids, found = sorted({i for i in enterprise_ids if i}), {}
    for i in range(0, len(ids), _CHUNK):
        for user in _users_with_role(R.ENTERPRISE, AppUser.enterprise_id.in_(ids[i:i + _CHUNK])):
            found.setdefault(user.enterprise_id, []).append(user)
    return found


def province_users(province_code) -> list[AppUser]:
    return _users_with_role(R.PROVINCE, AppUser.province_code == province_code) if province_code else []


def ministry_users() -> list[AppUser]:
    return _users_with_role(R.MINISTRY)


def industry_users(application) -> list[AppUser]:
    """The Industry accounts answering for one of the application's chosen specialties."""
    codes = [s.code for s in application.specialties]
    if not codes:
        return []
    chosen = select(user_industry_specialty.c.user_id).where(user_industry_specialty.c.specialty_code.in_(codes))
    return _users_with_role(R.INDUSTRY, AppUser.id.in_(chosen))


def stage_holders(application, state: str | None = None, enterprise_id=None) -> list[AppUser]:
    """The accounts whose turn it is in `state` (default: the application's): the enterprise named for it
    (`enterprise_id`, default the application's), the province, the industry department, or the ministry."""
    state = state or application.state
    if state in (State.ENTERPRISE, State.RELEASE):
        return enterprise_users(enterprise_id or application.enterprise_id)
    if state == State.PROVINCE:
        return province_users(application.province_code)
    if state == State.INDUSTRY:
        return industry_users(application)
    if state in (State.MINISTRY, State.ANNOUNCE, State.ISSUE):
        return ministry_users()
    return applicant_users(application.person_id)


# --- Writing messages -------------------------------------------------------------------------
def _plain(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()[:10]
    return value if isinstance(value, (int, float, bool)) or value is None else str(value)


def _row(notice: Notice, user, event: str, params, subject, now, email_on) -> dict:
    return {
        "user_id": user.id, "event": event[:160], "kind": notice.kind,
        "params": {k: _plain(v) for k, v in (params or {}).items()}, "subject": subject, "created_at": now,
        "sms_state": "pending" if notice.sms and user.person_id else None,
        "email_state": "pending" if notice.email and email_on else None,
    }


def _insert(rows: list[dict]) -> int:
    """Insert the rows whose (user, event) is not there yet; returns how many were new (counted by RETURNING: on
    PostgreSQL the session's INSERT of many rows reports rowcount -1)."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    new = 0
    for i in range(0, len(rows), _CHUNK):
        result = db.session.execute(insert(Notification).values(rows[i:i + _CHUNK])
                                    .on_conflict_do_nothing(index_elements=["user_id", "event"])
                                    .returning(Notification.id))
        new += len(result.all())
    return new


def send(kind: str, event: str, users, params: dict | None = None, subject: str | None = None) -> int:
    """One message of `kind` per user for `event`, unless that user already has it. Returns how many are new.

    Runs in the caller's transaction (the caller commits)."""
    notice = NOTICES[kind]
    email_on = bool(current_app.config.get("NOTIFY_EMAIL"))
    rows, seen = [], set()
    now = now_utc()
    for user in users:
        if user is None or user.id in seen:
            continue
        seen.add(user.id)
        rows.append(_row(notice, user, event, params, subject, now, email_on))
    return _insert(rows) if rows else 0


def send_many(kind: str, messages) -> int:
    """`send` for many events of one kind at once (the nightly jobs, where most are already sent): `messages` are
    (event, users, params, subject). One query per 500 recipients finds what they already have; only the rest is
    written. Returns how many are new."""
    notice = NOTICES[kind]
    email_on = bool(current_app.config.get("NOTIFY_EMAIL"))
    wanted: dict[tuple[int, str], tuple] = {}
    for event, users, params, subject in messages:
        for user in users:
            if user is not None:
                wanted.setdefault((user.id, event[:160]), (user, event, params, subject))
    user_ids = sorted({user_id for user_id, _ in wanted})
    held: set = set()
    for i in range(0, len(user_ids), _CHUNK):
        held.update(db.session.execute(select(Notification.user_id, Notification.event).where(
            Notification.user_id.in_(user_ids[i:i + _CHUNK]), Notification.kind == kind)).tuples())
    now = now_utc()
    rows = [_row(notice, user, event, params, subject, now, email_on)
            for key, (user, event, params, subject) in wanted.items() if key not in held]
    return _insert(rows) if rows else 0


def application_params(app, **extra) -> dict:
    return {"number": app.number, "type": app.business_type, "person": app.person.name,
            "enterprise": app.enterprise.name if app.enterprise else "", **extra}


def after_move(ctx) -> None:
    """The messages of one workflow move (called by the engine inside the move's transaction)."""
    app, action = ctx.application, ctx.transition.action
    event = f"{action}:{app.id}:{app.version}"
    subject = f"application:{app.id}"
    applicant = applicant_users(app.person_id)
    opinion = (ctx.opinion or "").strip()
    params = application_params(app, opinion=opinion, deadline=app.stage_deadline or "")
    if _lodged_by_others(app):  # the person did not apply: told when it is lodged and decided, nothing else
        _about_lodged(ctx, event, applicant, params, subject)
        return
    if action in ("return", "employer_closed"):
        send("application_returned", event, applicant, params, subject)
    elif action == "refuse":
        send("application_refused", event, applicant, params, subject)
    elif action == "approve":
        send("application_approved", event, applicant, params, subject)
    elif action == "expire":
        days = current_app.config["RULES"]["APPLICATION_EXPIRY_DAYS"]
        send("application_expired", event, applicant, {**params, "days": days}, subject)
        send("application_expired_employer", event, enterprise_users(app.enterprise_id), {**params, "days": days},
             subject)
    elif action == "object":
        previous = app.previous_enterprise.name if app.previous_enterprise else ""
        send("objection_raised", event, applicant, {**params, "enterprise": previous}, subject)
        send("objection_to_decide", event, province_users(app.province_code), {**params, "enterprise": previous},
             subject)
    if ctx.to_state == State.COMPLETED and action != "approve":
        send("application_completed", event, applicant, params, subject)
    if ctx.to_state == State.ENTERPRISE:
        send("confirmation_requested", event, enterprise_users(app.enterprise_id), params, subject)
    elif ctx.to_state == State.RELEASE:
        send("release_requested", event, enterprise_users(app.previous_enterprise_id), params, subject)
    elif ctx.to_state == State.INDUSTRY:
        send("industry_opinion_requested", event, industry_users(app), params, subject)


def _lodged_by_others(app) -> bool:
    from app.business_types import BUSINESS_TYPES  # reason: a declaration (info_change) imports this module

    btype = BUSINESS_TYPES.get(app.business_type)
    return btype is not None and btype.started_by_staff


def starter_role(app) -> str | None:
    """The role that lodged an application about someone else (its `lodge` move), or None."""
    return db.session.scalar(select(TransitionLog.role).where(TransitionLog.application_id == app.id,
                                                              TransitionLog.action == "lodge")
                             .order_by(TransitionLog.id.desc()).limit(1))


def _about_lodged(ctx, event, applicant, params, subject) -> None:
    """The person hears when someone else lodges a cancellation of their registration, and how it was decided."""
    app, action = ctx.application, ctx.transition.action
    role = ctx.role if action == "lodge" else starter_role(app)
    params = {**params, "starter": role or "", "ground": app.reason or "", "statement": app.reason_text or ""}
    if action == "lodge":
        send("cancellation_lodged", event, applicant, params, subject)
    elif action == "approve":
        send("cancellation_approved", event, applicant, params, subject)
    elif action == "refuse":
        send("cancellation_refused", event, applicant, params, subject)


# --- Reading them ------------------------------------------------------------------------------
_SPECIALTY_NAMES: dict[str, tuple[str, str]] = {}


def _specialty_name(code: str) -> str:
    if code not in _SPECIALTY_NAMES:
        row = db.session.get(Specialty, code)
        if row is None:
            return code
        _SPECIALTY_NAMES[code] = (row.name, row.name_en or row.name)
    zh, en = _SPECIALTY_NAMES[code]
    return localized(zh, en)


def text(notification: Notification) -> str:
    """The message in the current language."""
    notice = NOTICES.get(notification.kind)
    if notice is None:
        return notification.kind
    params = dict(notification.params or {})
    if "type" in params:
        params["type"] = str(TYPE_LABELS.get(params["type"], params["type"]))
    if "state" in params:
        params["state"] = str(STATE_LABELS.get(params["state"], params["state"]))
    if "specialty" in params:
        params["specialty"] = _specialty_name(params["specialty"])
    if "reason" in params:
        params["reason"] = str(LAPSE_REASONS.label(params["reason"]))
    if "ground" in params:
        params["ground"] = str(APPLICATION_REASONS.label(params["ground"]))
    if "starter" in params:  # who lodged it: the enterprise by name, else the authority's role
        starter = params["starter"]
        params["starter"] = params.get("enterprise") if starter == R.ENTERPRISE else str(R.ROLE_LABELS.get(starter,
                                                                                                          starter))
    if "enterprise_status" in params:
        params["enterprise_status"] = str(ENTERPRISE_STATUSES.label(params["enterprise_status"]))
    if "penalty_kind" in params:
        params["penalty_kind"] = str(PENALTY_KINDS.label(params["penalty_kind"]))
    try:
        return str(notice.text) % params  # the template in the current language, then its params
    except (KeyError, ValueError, TypeError):
        log.warning("notification %s: params do not fit its text", notification.id)
        return str(notice.text)


def unread_count(user) -> int:
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    return db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.user_id == user.id, Notification.read_at.is_(None))) or 0


def mark_read(user, ids=None) -> int:
    """Mark the user's messages read (`ids`, or all). Returns how many changed."""
    query = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if ids is not None:
        query = query.where(Notification.id.in_(list(ids)))
    result = db.session.execute(query.values(read_at=now_utc()).execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount


# --- Delivering them (jobs) ---------------------------------------------------------------------
def _china_midnight(now: datetime) -> datetime:
    day = now.replace(tzinfo=timezone.utc).astimezone(CHINA_TZ).date()
    return datetime.combine(day, time.min, tzinfo=CHINA_TZ).astimezone(timezone.utc).replace(tzinfo=None)


def _claim(notification_id: int, column, state: str) -> bool:
    """Move one channel from pending to `state`; False when another run got there first."""
    result = db.session.execute(update(Notification)
                                .where(Notification.id == notification_id, column == "pending")
                                .values({column: state, "delivered_at": now_utc()})
                                .execution_options(synchronize_session=False))
    return result.rowcount == 1


def deliver(limit: int = 500) -> dict:
    """Hand pending SMS and e-mail to their gateways; idempotent (each channel of a message leaves `pending`
    once). Returns the counts; writes one audit row when anything was delivered."""
    from app.services import mail, sms  # reason: gateways load their configured backend class on first use
    config = current_app.config
    cap = config["NOTIFY_SMS_DAILY_CAP"]
    counts = {"sms_sent": 0, "sms_throttled": 0, "sms_failed": 0, "email_sent": 0, "email_failed": 0,
              "no_address": 0}
    midnight = _china_midnight(now_utc())
    pending = db.session.execute(
        select(Notification, AppUser).join(AppUser, AppUser.id == Notification.user_id)
        .where((Notification.sms_state == "pending") | (Notification.email_state == "pending"))
        .order_by(Notification.id).limit(limit)).all()
    for notification, user in pending:
        with force_locale("zh"):
            body = text(notification)
        if notification.sms_state == "pending":
            person = db.session.get(Person, user.person_id) if user.person_id else None
            sent_today = db.session.scalar(select(func.count()).select_from(Notification).where(
                Notification.user_id == user.id, Notification.sms_state == "sent",
                Notification.delivered_at >= midnight))
            if person is None or not person.phone:
                if _claim(notification.id, Notification.sms_state, "no_address"):
                    counts["no_address"] += 1
            elif sent_today >= cap:
                if _claim(notification.id, Notification.sms_state, "throttled"):
                    counts["sms_throttled"] += 1
            elif _claim(notification.id, Notification.sms_state, "sent"):
                try:
                    sms.gateway().send(person.phone, body, "notice")
                    counts["sms_sent"] += 1
                except Exception:  # a gateway's failure: recorded on the message, the others go on
                    log.exception("SMS notice %s failed", notification.id)
                    db.session.execute(update(Notification).where(Notification.id == notification.id)
                                       .values(sms_state="failed"))
                    counts["sms_failed"] += 1
        if notification.email_state == "pending":
            if not user.email:
                if _claim(notification.id, Notification.email_state, "no_address"):
                    counts["no_address"] += 1
            elif _claim(notification.id, Notification.email_state, "sent"):
                try:
                    mail.mailer().send(user.email, body[:60], body)
                    counts["email_sent"] += 1
                except Exception:
                    log.exception("e-mail notice %s failed", notification.id)
                    db.session.execute(update(Notification).where(Notification.id == notification.id)
                                       .values(email_state="failed"))
                    counts["email_failed"] += 1
        db.session.commit()
    if any(counts.values()):
        record("notification.deliver", "Notification", None,
               summary=", ".join(f"{k} {v}" for k, v in counts.items() if v), detail=counts)
        db.session.commit()
    return counts


def purge(as_of: date) -> dict:
    """Delete messages older than NOTIFICATION_KEEP_DAYS (idempotent)."""
    keep = current_app.config["NOTIFICATION_KEEP_DAYS"]
    cutoff = datetime.combine(as_of - timedelta(days=keep), time.min)
    result = db.session.execute(delete(Notification).where(Notification.created_at < cutoff))
    db.session.commit()
    return {"deleted": result.rowcount}
