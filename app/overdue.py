"""超期督办 (overdue supervision): applications in progress past, or near, their stage's statutory time limit.

A province supervises the applications of its province, the ministry all of them (the row scope, app/scope.py);
nobody else. The objection period of a change of employer (State.RELEASE) is not a time limit of an office: it
runs out by itself (app/lifecycle.py objection_clock) and is left out. "Due" means within
LIFECYCLE["STAGE_REMIND_WORKING_DAYS"] working days, as the nightly reminder (app/lifecycle.py stage_limits) counts.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app import scope, workflow
from app.applications import handling_office
from app.services.workdays import add_working_days, working_days_between
from ground import roles as R
from ground.clock import china_day
from ground.extensions import db
from ground.vocabulary import IN_PROGRESS_STATES, STAGE_ORDER, State
from models import Application

OVERDUE, DUE = "overdue", "due"
TABS = (OVERDUE, DUE)
PAGE_SIZE = 50
SUPERVISORS = frozenset({R.PROVINCE, R.MINISTRY})
# The stages with an office's time limit, in pipeline order.
STATES = tuple(s for s in STAGE_ORDER if s in IN_PROGRESS_STATES and s != State.RELEASE)


@dataclass(frozen=True)
class Filters:
    tab: str = OVERDUE
    state: str | None = None  # one of STATES
    business_type: str | None = None  # a code of workflow.BUSINESS_TYPES
    page: int = 0

    @classmethod
    def read(cls, args) -> "Filters":
        """From a query string: unknown values are dropped, not refused."""
        tab = args.get("tab") if args.get("tab") in TABS else OVERDUE
        state = args.get("state") if args.get("state") in STATES else None
        btype = args.get("business_type") if args.get("business_type") in workflow.BUSINESS_TYPES else None
        page = args.get("page", "")
        page = int(page) if page.isascii() and page.isdigit() and len(page) <= 6 else 0
        return cls(tab, state, btype, page)


@dataclass(frozen=True)
class Row:
    application: Application
    holder: str  # the office whose turn it is
    since: date  # in this stage since (China date)
    deadline: date
    days_over: int  # working days past the deadline (0 or negative: not yet; -n = n working days left)


@dataclass(frozen=True)
class Page:
    rows: list
    total: int
    page: int
    pages: int
    filters: Filters
    due_days: int  # the "due within" window in working days
    today: date


def may_supervise(user) -> bool:
    return bool(SUPERVISORS & R.user_role_names(user))


def due_days() -> int:
    return current_app.config["LIFECYCLE"]["STAGE_REMIND_WORKING_DAYS"]


def _tab(tab: str, today: date) -> list:
    if tab == OVERDUE:
        return [Application.stage_deadline < today]
    # Due: at most `due_days` working days left, i.e. before the day the next working day after them passes.
    return [Application.stage_deadline >= today, Application.stage_deadline < add_working_days(today, due_days() + 1)]


def query(user, today: date, filters: Filters | None = None) -> Page:
    """The page of supervised applications `filters` asks for, deadline first; Forbidden for other roles."""
    if not may_supervise(user):
        raise workflow.Forbidden(_l("Only the provincial authorities and the ministry supervise time limits."))
    filters = filters or Filters()
    conditions = [scope.clause(Application, user), Application.state.in_(STATES),
                  Application.stage_deadline.isnot(None), *_tab(filters.tab, today)]
    if filters.state in STATES:
        conditions.append(Application.state == filters.state)
    if filters.business_type in workflow.BUSINESS_TYPES:
        conditions.append(Application.business_type == filters.business_type)
    total = db.session.scalar(select(func.count()).select_from(Application).where(*conditions)) or 0
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(max(filters.page, 0), pages - 1)
    items = db.session.scalars(
        select(Application).where(*conditions)
        .options(joinedload(Application.previous_enterprise), joinedload(Application.province))
        .order_by(Application.stage_deadline, Application.id).limit(PAGE_SIZE).offset(page * PAGE_SIZE)).unique().all()
    rows = [Row(a, holder(a), china_day(a.state_changed_at), a.stage_deadline,
                working_days_between(a.stage_deadline, today)) for a in items]
    return Page(rows, total, page, pages, filters, due_days(), today)


def holder(item: Application) -> str:
    """Who holds the application now: the enterprise by name, the province's authority, the ministry."""
    return handling_office(item, workflow.STAGE_OWNER.get(item.state))
