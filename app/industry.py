"""The industry department (行业主管部门): which specialties an Industry account answers for, and what that lets it see.

An application in industry_review is in the queue of every Industry account holding one of its chosen specialties;
any one of them gives the opinion (our rule), and the application goes on to the ministry. An Industry account sees
the applications in its specialties that reached that stage (now or before), and their persons' review data.
The administrator sets an account's specialties (account page, or `flask industry-scope`); the change is audited
with the account (models/user.py `__audit_relations__`).
"""
from flask_babel import lazy_gettext as _l
from sqlalchemy import false, or_, select

from ground.extensions import db
from ground.vocabulary import State
from models import Application, Specialty, TransitionLog, application_specialty, user_industry_specialty


class IndustryScopeError(ValueError):
    """An account or a specialty code that cannot be used for the industry scope (message translated)."""


def specialty_codes(user) -> set[str]:
    return {s.code for s in getattr(user, "industry_specialties", None) or ()}


def _codes_query(user):
    return select(user_industry_specialty.c.specialty_code).where(user_industry_specialty.c.user_id == user.id)


def in_specialties_of(user):
    """SQL: applications that chose one of `user`'s industry specialties."""
    if user is None or getattr(user, "id", None) is None:
        return false()
    chosen = select(application_specialty.c.application_id).where(
        application_specialty.c.specialty_code.in_(_codes_query(user)))
    return Application.id.in_(chosen)


def application_clause(user):
    """SQL: the applications an Industry account sees: its specialties', once they reached industry_review."""
    reached = select(TransitionLog.application_id).where(TransitionLog.to_state == State.INDUSTRY)
    return in_specialties_of(user) & or_(Application.state == State.INDUSTRY, Application.id.in_(reached))


def covers(user, application) -> bool:
    """Whether `application` chose one of `user`'s industry specialties."""
    return bool(specialty_codes(user) & {s.code for s in application.specialties})


def set_specialties(user, codes, *, commit=True) -> list[str]:
    """Give an Industry account exactly these specialties (flagged ones only); returns the codes set."""
    if user is None or "Industry" not in {r.name for r in user.roles}:
        raise IndustryScopeError(_l("Only an account with the Industry role answers for specialties."))
    codes = sorted(set(codes))
    rows = db.session.query(Specialty).filter(Specialty.code.in_(codes)).all() if codes else []
    unknown = sorted(set(codes) - {s.code for s in rows})
    if unknown:
        raise IndustryScopeError(_l("Unknown specialty: %(codes)s", codes=", ".join(unknown)))
    unflagged = sorted(s.code for s in rows if not s.needs_industry_opinion)
    if unflagged:
        raise IndustryScopeError(_l("These specialties need no industry opinion: %(codes)s",
                                    codes=", ".join(unflagged)))
    user.industry_specialties = sorted(rows, key=lambda s: s.sort_order)
    if commit:
        db.session.commit()
    return codes
