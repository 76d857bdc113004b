"""Row scope: which rows of each model a user may see, as one SQL condition per (model, role).

applicant = own records; enterprise = submitted applications naming its enterprise (or leaving it: a change of
employer's previous employer releases), and its staff (not their penalty records); staff also see the drafts they are lodging themselves;
province = its province (submitted applications); industry = applications choosing one of its specialties that reached
the industry opinion stage, and their persons' records (app/industry.py); ministry = everything submitted; admin = accounts' reference data and the audit log.
A user with several roles sees the union. Every list, page, action, export and API call goes
through `clause()` (FAB base filters use FilterInScope, the workflow engine uses `query()`).
"""
from flask import current_app
from flask_appbuilder.models.filters import BaseFilter
from sqlalchemy import and_, false, or_, select, true

from models import (AnnouncementBatch, Application, Attachment, AuditLog, Certificate, Enterprise, InsuranceConflict, Job,
                    PenaltyRecord, Person, Qualification, Registration, RegistrationSpecialty, TransitionLog)
from models.choices import BatchState

from app import industry
from ground import roles as R
from ground.extensions import db


def _enterprise_person_ids(enterprise_id):
    staff = select(Registration.person_id).where(Registration.enterprise_id == enterprise_id)
    applicants = select(Application.person_id).where(Application.enterprise_id == enterprise_id,
                                                     Application.submitted_at.isnot(None))
    return staff.union(applicants)


def _province_person_ids(province_code):
    staff = (select(Registration.person_id).join(Enterprise, Registration.enterprise_id == Enterprise.id)
             .where(Enterprise.province_code == province_code))
    applicants = select(Application.person_id).where(Application.province_code == province_code,
                                                     Application.submitted_at.isnot(None))
    onsite = select(Person.id).where(Person.realname_province_code == province_code)
    return staff.union(applicants, onsite)


def _persons(role, user):
    """Condition on a `person_id`-like column: the persons this role sees."""
    if role == R.APPLICANT:
        return lambda col: col == user.person_id if user.person_id else false()
    if role == R.ENTERPRISE:
        return lambda col: col.in_(_enterprise_person_ids(user.enterprise_id)) if user.enterprise_id else false()
    if role == R.PROVINCE:
        return lambda col: col.in_(_province_person_ids(user.province_code)) if user.province_code else false()
    if role == R.INDUSTRY:
        return lambda col: col.in_(select(Application.person_id).where(industry.application_clause(user)))
    if role == R.MINISTRY:
        return lambda col: true()
    return lambda col: false()


def _applications(role, user):
    """Staff see an application once it has been submitted; a draft is the applicant's own business, or that of the
    officer who is lodging it about someone else (app/cancellations.py)."""
    if role in (R.ENTERPRISE, R.PROVINCE, R.MINISTRY):
        return or_(_submitted_applications(role, user), Application.created_by_id == user.id)
    return _submitted_applications(role, user)


def _submitted_applications(role, user):
    submitted = Application.submitted_at.isnot(None)
    if role == R.APPLICANT:
        return Application.person_id == user.person_id if user.person_id else false()
    if role == R.ENTERPRISE:  # the enterprise it names, and the previous employer of a change (it releases)
        if not user.enterprise_id:
            return false()
        return and_(or_(Application.enterprise_id == user.enterprise_id,
                        Application.previous_enterprise_id == user.enterprise_id), submitted)
    if role == R.PROVINCE:
        return and_(Application.province_code == user.province_code, submitted) if user.province_code else false()
    if role == R.INDUSTRY:
        return and_(industry.application_clause(user), submitted)
    return submitted if role == R.MINISTRY else false()


def _registrations(role, user):
    if role == R.ENTERPRISE:
        return Registration.enterprise_id == user.enterprise_id if user.enterprise_id else false()
    if role == R.PROVINCE:
        if not user.province_code:
            return false()
        in_province = select(Enterprise.id).where(Enterprise.province_code == user.province_code)
        return Registration.enterprise_id.in_(in_province)
    return _persons(role, user)(Registration.person_id)


def _clause_for_role(model, role, user):
    if model is Application:
        return _applications(role, user)
    if model is TransitionLog:
        return TransitionLog.application_id.in_(select(Application.id).where(_applications(role, user)))
    if model is Registration:
        return _registrations(role, user)
    if model is RegistrationSpecialty:
        return RegistrationSpecialty.registration_id.in_(select(Registration.id).where(_registrations(role, user)))
    if model is Certificate:
        if role in (R.ENTERPRISE, R.PROVINCE):
            return Certificate.registration_id.in_(select(Registration.id).where(_registrations(role, user)))
        return _persons(role, user)(Certificate.person_id)
    if model is Person:
        return _persons(role, user)(Person.id)
    if model in (Qualification, Attachment):
        return _persons(role, user)(model.person_id)
    if model is Enterprise:
        if role == R.ENTERPRISE:
            return Enterprise.id == user.enterprise_id if user.enterprise_id else false()
        if role == R.PROVINCE:
            return Enterprise.province_code == user.province_code if user.province_code else false()
        # The enterprise directory is public information applicants choose their employer from.
        return true() if role in (R.APPLICANT, R.INDUSTRY, R.MINISTRY, R.ADMIN) else false()
    if model is AnnouncementBatch:
        if role == R.MINISTRY:
            return true()
        return AnnouncementBatch.state == BatchState.PUBLISHED if role in R.BUSINESS_ROLES else false()
    if model is Job:  # the starter's; the Ministry's officers share the Ministry's jobs
        mine = Job.created_by_fk == user.id
        return or_(mine, Job.shared_role == R.MINISTRY) if role == R.MINISTRY else mine
    if model is AuditLog:  # the audit administrator's and the ministry's; never the system administrator's (MLPS)
        return true() if role in (R.MINISTRY, R.AUDIT_ADMIN) else false()
    if model is InsuranceConflict:  # 挂证: the registered employer's province reviews them, the ministry all
        if role == R.PROVINCE:
            return InsuranceConflict.province_code == user.province_code if user.province_code else false()
        return true() if role == R.MINISTRY else false()
    if model is PenaltyRecord:  # the person's own; a province: its persons' and the ones it decided; the ministry: all
        if role == R.PROVINCE:
            if not user.province_code:
                return false()
            return or_(PenaltyRecord.authority_province_code == user.province_code,
                       _persons(role, user)(PenaltyRecord.person_id))
        return _persons(role, user)(PenaltyRecord.person_id) if role in (R.APPLICANT, R.MINISTRY) else false()
    return true() if role in (R.MINISTRY, R.ADMIN) else false()


def clause(model, user):
    """SQL condition selecting the rows of `model` that `user` may see."""
    roles = [r for r in R.BUSINESS_ROLES if r in R.user_role_names(user)]
    if not roles:
        return false()
    parts = [_clause_for_role(model, role, user) for role in roles]
    return parts[0] if len(parts) == 1 else or_(*parts)


def query(model, user):
    return db.session.query(model).filter(clause(model, user))


def can_see(user, obj) -> bool:
    model = type(obj)
    pk = model.__mapper__.primary_key[0]
    return db.session.query(pk).filter(pk == getattr(obj, pk.key), clause(model, user)).first() is not None


def current_user():
    """The signed-in user on HTML and JWT requests alike (g.user is anonymous under JWT)."""
    return current_app.appbuilder.sm.current_user


class FilterInScope(BaseFilter):
    """FAB base filter applying the row scope of the current user (list, show, edit, delete, REST API)."""

    name = "In scope"
    arg_name = None

    def apply(self, query, value):
        return query.filter(clause(self.model, current_user()))


SCOPE_FILTER = [["id", FilterInScope, None]]
