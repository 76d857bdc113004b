"""Effects named in the workflow table: they run inside the transition's transaction.

`apply_outcome` is what approval does to the registration, per business type (DOMAIN.md
"outcome on approval"); `issue_certificate` issues (or skips) the certificate at the last stage.
"""
from datetime import timedelta

from models import Certificate, Registration, RegistrationSpecialty

from app import rules
from ground.clock import add_years, now_utc, today
from app.services import numbering


def route(ctx):
    """Fix who confirms and which province reviews, at submission."""
    app = ctx.application
    for key, value in rules.routing(app).items():
        setattr(app, key, value)


def mark_submitted(ctx):
    ctx.application.submitted_at = now_utc()


def apply_outcome(ctx):
    OUTCOMES[ctx.application.business_type](ctx)


def _validity_end(start):
    return add_years(start, rules.rule("VALIDITY_YEARS")) - timedelta(days=1)


def _set_specialty(registration, code, valid_from, valid_until):
    held = registration.specialty(code)
    if held is None:
        held = RegistrationSpecialty(specialty_code=code)
        registration.specialties.append(held)
    held.valid_from, held.valid_until, held.status = valid_from, valid_until, "active"


def _follow_employer(session, registration, enterprise):
    """Employer changes carry the number's leading character along; the digits stay."""
    registration.enterprise = enterprise
    registration.number = numbering.registration_number(session, registration.number_digits, enterprise.province_code)


def _initial(ctx):
    app, session, day = ctx.application, ctx.session, today()
    person = app.person
    quals = [q for q in person.qualifications if q.specialty_code in {s.code for s in app.specialties}]
    qualification_year = min(q.qualified_on.year for q in quals)
    digits = numbering.registration_digits(session, app.enterprise.province_code, qualification_year, day.year)
    registration = Registration(
        person=person, enterprise=app.enterprise, status="active", initial_province_code=app.enterprise.province_code,
        registered_on=day, contract_start=app.contract_start, contract_end=app.contract_end,
        is_temporary=any(q.is_temporary for q in quals), number_digits=digits,
        number=numbering.registration_number(session, digits, app.enterprise.province_code),
    )
    session.add(registration)
    for specialty in app.specialties:
        _set_specialty(registration, specialty.code, day, _validity_end(day))
    app.registration = registration


def _re_registration(ctx):
    app, session, day = ctx.application, ctx.session, today()
    registration = app.person.registration
    registration.status, registration.cancelled_on, registration.cancel_reason = "active", None, None
    registration.contract_start, registration.contract_end = app.contract_start, app.contract_end
    _follow_employer(session, registration, app.enterprise)
    for specialty in app.specialties:
        _set_specialty(registration, specialty.code, day, _validity_end(day))
    app.registration = registration


def _add_specialty(ctx):
    app, day = ctx.application, today()
    registration = app.person.registration
    for specialty in app.specialties:
        _set_specialty(registration, specialty.code, day, _validity_end(day))
    registration.contract_start, registration.contract_end = app.contract_start, app.contract_end


def _renewal(ctx):
    app = ctx.application
    registration = app.person.registration
    for specialty in app.specialties:
        held = registration.specialty(specialty.code)
        start = held.valid_until + timedelta(days=1)
        held.valid_from, held.valid_until = start, _validity_end(start)
    registration.contract_start, registration.contract_end = app.contract_start, app.contract_end


def _change(ctx):
    app = ctx.application
    registration = app.person.registration
    _follow_employer(ctx.session, registration, app.enterprise)
    registration.contract_start, registration.contract_end = app.contract_start, app.contract_end


def _cancellation(ctx):
    app, day = ctx.application, today()
    registration = app.person.registration
    registration.status, registration.cancelled_on = "cancelled", day
    registration.cancel_reason, registration.cancel_note = app.reason, app.reason_text
    for held in registration.specialties:
        held.status = "cancelled"
    for certificate in _valid_certificates(ctx.session, registration):
        certificate.status, certificate.revoked_on = "revoked", day
        certificate.revoke_reason = app.reason_text or str(app.reason_label)


def _replacement(ctx):
    """Nothing changes on approval; the certificate is replaced when it is issued."""


def _info_change(ctx):
    app = ctx.application
    person = app.person
    old_id = person.id_number
    if app.new_name:
        person.name = app.new_name.strip()
    if app.new_id_number:
        person.id_number = app.new_id_number
        from models import AppUser

        for user in ctx.session.query(AppUser).filter(AppUser.person_id == person.id, AppUser.username == old_id):
            user.username = person.id_number  # the ID number is the applicant's login account


OUTCOMES = {
    "initial": _initial,
    "re_registration": _re_registration,
    "add_specialty": _add_specialty,
    "renewal": _renewal,
    "change": _change,
    "cancellation": _cancellation,
    "replacement": _replacement,
    "info_change": _info_change,
}


def _valid_certificates(session, registration):
    return session.query(Certificate).filter(Certificate.registration_id == registration.id,
                                             Certificate.status == "valid").all()


def issue_certificate(ctx):
    """A new certificate with a new number; the previous valid one becomes "replaced"."""
    from app.workflow import BUSINESS_TYPES

    app, session, day = ctx.application, ctx.session, today()
    if BUSINESS_TYPES[app.business_type].certificate == "revoke":
        return
    registration = app.person.registration
    if registration is None or registration.status != "active":
        return  # personal-information change of an unregistered person: nothing to print
    active = registration.active_specialties
    certificate = Certificate(
        number=numbering.certificate_number(session, day), registration=registration, person=app.person,
        application_id=app.id, status="valid", issued_on=day, valid_until=max(s.valid_until for s in active),
        holder_name=app.person.name, registration_number=registration.number,
        enterprise_name=registration.enterprise.name,
        specialties=[{"code": s.specialty_code, "name": s.specialty.name, "valid_until": s.valid_until.isoformat()}
                     for s in active],
    )
    previous = _valid_certificates(session, registration)
    session.add(certificate)
    session.flush()
    for old in previous:
        old.status, old.replaced_by_id = "replaced", certificate.id
