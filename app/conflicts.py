"""Conflict checks (挂证): registrations held at one enterprise while another pays the person's social insurance.

`nightly(as_of)` ("conflict-check" in ops/schedule.py) asks the social-insurance source
(app/services/social_insurance.py) who paid each active registration's holder in the month
RULES["SOCIAL_INSURANCE_MONTH_LAG"] months before `as_of`. A payer other than the registered employer is a conflict:
a new InsuranceConflict row (first seen = last seen = as_of), or the open one's last seen moves on. An open conflict
is resolved when the source shows the registered employer paying (and nobody else), when the registration is no
longer active or has moved to another employer. A person the source has no data for changes nothing. Running it
twice for a day changes nothing the second time. Nothing is decided automatically: reviewers see the conflicts on
the application page and the province's list (/conflicts/).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from app import scope, workflow
from app.audit import record
from app.business_types.shared import configured_limits
from app.services import social_insurance
from ground import roles as R
from ground.extensions import db
from models import Enterprise, InsuranceConflict, Person, Registration

BATCH = 500
PAGE_SIZE = 50
REVIEWERS = frozenset({R.PROVINCE, R.MINISTRY})


def month_for(as_of: date, lag: int) -> str:
    index = as_of.year * 12 + as_of.month - 1 - lag
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def nightly(as_of: date) -> dict:
    month = month_for(as_of, configured_limits()["SOCIAL_INSURANCE_MONTH_LAG"])
    source = social_insurance.source()
    figures = {"as_of": as_of.isoformat(), "month": month, "checked": 0, "new": 0, "still_open": 0, "resolved": 0}
    last = 0
    while True:
        rows = db.session.execute(
            select(Registration.id, Registration.person_id, Registration.enterprise_id, Person.id_number,
                   Enterprise.credit_code, Enterprise.province_code)
            .join(Person, Person.id == Registration.person_id).join(Enterprise, Enterprise.id == Registration.enterprise_id)
            .where(Registration.status == "active", Registration.id > last).order_by(Registration.id).limit(BATCH)).all()
        if not rows:
            break
        last = rows[-1].id
        payers = source.payers([r.id_number for r in rows], month)
        open_rows = {}
        for conflict in db.session.scalars(select(InsuranceConflict).where(
                InsuranceConflict.registration_id.in_([r.id for r in rows]), InsuranceConflict.resolved_on.is_(None))):
            open_rows.setdefault(conflict.registration_id, []).append(conflict)
        names = dict(db.session.execute(select(Enterprise.credit_code, Enterprise.name).where(
            Enterprise.credit_code.in_({c for codes in payers.values() for c in codes}))).tuples().all())
        for r in rows:
            figures["checked"] += 1
            known = open_rows.get(r.id, [])
            for conflict in known:
                if conflict.enterprise_id != r.enterprise_id:  # moved to another employer since
                    conflict.resolved_on = as_of
                    figures["resolved"] += 1
            if r.id_number not in payers:
                continue  # no data: nothing found, nothing resolved
            others = sorted(payers[r.id_number] - {r.credit_code})
            for conflict in known:
                if conflict.enterprise_id != r.enterprise_id or conflict.paying_credit_code not in others:
                    if conflict.resolved_on is None:
                        conflict.resolved_on = as_of
                        figures["resolved"] += 1
            held = {c.paying_credit_code: c for c in known if c.resolved_on is None}
            for code in others:
                conflict = held.get(code)
                if conflict is None:
                    db.session.add(InsuranceConflict(
                        person_id=r.person_id, registration_id=r.id, enterprise_id=r.enterprise_id,
                        province_code=r.province_code, paying_credit_code=code, paying_name=names.get(code),
                        month=month, first_seen=as_of, last_seen=as_of))
                    figures["new"] += 1
                else:
                    if conflict.last_seen < as_of:
                        conflict.last_seen, conflict.month = as_of, month
                    figures["still_open"] += 1
        db.session.commit()
    # Registrations no longer active (cancelled, lapsed) end their conflicts.
    for conflict in db.session.scalars(select(InsuranceConflict).join(Registration).where(
            InsuranceConflict.resolved_on.is_(None), Registration.status != "active")):
        conflict.resolved_on = as_of
        figures["resolved"] += 1
    record("lifecycle.conflict_check", "Lifecycle", None,
           summary=", ".join(f"{k} {v}" for k, v in figures.items() if k not in ("as_of",)), detail=figures)
    db.session.commit()
    return figures


# --- What reviewers see ------------------------------------------------------------------------------------
def may_review(user) -> bool:
    return bool(REVIEWERS & R.user_role_names(user))


def open_for_person(person_id: int) -> list[InsuranceConflict]:
    """The person's open conflicts (the warning on an application's page)."""
    return list(db.session.scalars(select(InsuranceConflict).where(
        InsuranceConflict.person_id == person_id, InsuranceConflict.resolved_on.is_(None))
        .order_by(InsuranceConflict.first_seen)))


OPEN, RESOLVED = "open", "resolved"


@dataclass(frozen=True)
class Filters:
    show: str = OPEN
    q: str = ""
    page: int = 0

    @classmethod
    def read(cls, args) -> "Filters":
        """From a query string: unknown values are dropped, not refused."""
        show = args.get("show") if args.get("show") in (OPEN, RESOLVED) else OPEN
        q = (args.get("q") or "").strip()[:50]
        page = args.get("page", "")
        page = int(page) if page.isascii() and page.isdigit() and len(page) <= 6 else 0
        return cls(show, q, page)


@dataclass(frozen=True)
class Page:
    rows: list
    total: int
    page: int
    pages: int
    filters: Filters


def query(user, today: date, filters: Filters | None = None) -> Page:
    """The conflicts in the reviewer's scope (province: its own enterprises'; ministry: all), oldest first."""
    if not may_review(user):
        raise workflow.Forbidden(_l("Only the provincial authorities and the ministry review conflicts."))
    filters = filters or Filters()
    conditions = [scope.clause(InsuranceConflict, user),
                  InsuranceConflict.resolved_on.is_(None) if filters.show == OPEN
                  else InsuranceConflict.resolved_on.isnot(None)]
    if filters.q:
        like = filters.q.replace("\\", "").replace("%", "").replace("_", "") + "%"
        conditions.append(or_(Person.name.like(like), Person.id_number.like(like), Enterprise.name.like(like),
                              InsuranceConflict.paying_credit_code.like(like)))
    base = (select(InsuranceConflict).join(Person, Person.id == InsuranceConflict.person_id)
            .join(Enterprise, Enterprise.id == InsuranceConflict.enterprise_id).where(*conditions))
    total = db.session.scalar(select(func.count()).select_from(base.subquery())) or 0
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(max(filters.page, 0), pages - 1)
    items = db.session.scalars(base.order_by(InsuranceConflict.first_seen, InsuranceConflict.id)
                               .limit(PAGE_SIZE).offset(page * PAGE_SIZE)).unique().all()
    rows = [(c, ((c.resolved_on or today) - c.first_seen).days) for c in items]
    return Page(rows, total, page, pages, filters)
