"""Checks and steps several business types share: age limit, qualifications, materials, contract, registration,
and what approvals do to a registration's specialties and number.

Checks return translated reasons (empty = passes). The few that must ask the database say so in their name
or docstring; the rest read only the objects they are given.
"""
from datetime import date

from flask import current_app
from flask_babel import lazy_gettext as _l

from ground.clock import add_years, age_on, today
from ground.extensions import db
from models import Certificate, Person, RegistrationSpecialty
from app.services import numbering, validity


def configured_limits() -> dict:
    """The RULES setting of the running application (what the checks receive as `limits`)."""
    return current_app.config["RULES"]


def needs_industry_opinion(application, limits) -> bool:
    """The industry department's opinion stage applies: the switch is on and a chosen specialty is flagged."""
    return bool(limits.get("INDUSTRY_OPINION")) and any(getattr(s, "needs_industry_opinion", False)
                                                       for s in application.specialties)


def is_active(registration) -> bool:
    return registration is not None and registration.status == "active"


# --- Checks -----------------------------------------------------------------------------------
def age_reasons(person, limits) -> list:
    limit = limits["AGE_LIMIT"]
    if age_on(person.birth_date, today()) >= limit:
        return [_l("Registration is not possible at %(limit)s years of age or older.", limit=limit)]
    return []


def completeness(person) -> list:
    """Materials the certificate needs: checked before any submission (DOMAIN: discovered late otherwise)."""
    reasons = []
    if person.latest_attachment("photo") is None:
        reasons.append(_l("No 1-inch ID photo on file; upload it under My materials."))
    if person.latest_attachment("signature") is None:
        reasons.append(_l("No signature image on file; upload it under My materials."))
    return reasons


def contract_reasons(application) -> list:
    """The labour contract must be entered and still running."""
    if application.contract_start is None or application.contract_end is None:
        return [_l("The labour-contract period has not been entered.")]
    if application.contract_end < application.contract_start:
        return [_l("The contract end date must not be before its start date.")]
    if application.contract_end < today():
        return [_l("The labour contract ended on %(day)s; enter the current contract.",
                   day=application.contract_end.isoformat())]
    return []


def needs_active(registration) -> list:
    return [] if is_active(registration) else [_l("This needs an active registration.")]


def needs_qualification(person) -> list:
    return [] if person.qualifications else [_l("No qualification certificate of yours is on the roster.")]


def qualification_reasons(person, specialties) -> list:
    """Each chosen specialty (Specialty rows) needs a qualification of the person on the roster."""
    held = {q.specialty_code for q in person.qualifications}
    return [_l("No qualification certificate in %(specialty)s is on the roster.", specialty=s)
            for s in specialties if s.code not in held]


def fresh_qualification_reasons(person, codes, limits) -> list:
    years = limits["QUALIFICATION_FRESH_YEARS"]
    cutoff = add_years(today(), -years)
    stale = [q for q in person.qualifications if q.specialty_code in codes and q.qualified_on < cutoff]
    if stale:
        return [_l("Your qualification is more than %(years)s years old: tick the continuing-education box and "
                   "upload the proof.", years=years)]
    return []


def change_allowed(registration, limits) -> list:
    if limits["CHANGE_TEMPORARY_ONLY"] and not registration.is_temporary:
        return [_l("Change registration online is for holders of a temporary practising certificate; "
                   "ask your provincial authority how to change your employer.")]
    return []


def qualified_specialties(person) -> list:
    """The specialties of the person's qualifications, in the dictionary's order."""
    return sorted({q.specialty for q in person.qualifications}, key=lambda s: s.sort_order)


def active_specialties(registration) -> list:
    """The specialties the registration holds, in the dictionary's order."""
    return sorted((s.specialty for s in registration.active_specialties), key=lambda s: s.sort_order)


def renewal_window(day: date, valid_until: date, limits) -> tuple[date, bool]:
    """(the day renewal opens, whether `day` lies in the window) for a specialty valid until `valid_until`."""
    opens = date.fromordinal(valid_until.toordinal() - limits["RENEWAL_WINDOW_DAYS"])
    return opens, opens <= day <= valid_until


# --- Database questions -------------------------------------------------------------------------
def valid_certificates(session, registration) -> list:
    return session.query(Certificate).filter(Certificate.registration_id == registration.id,
                                             Certificate.status == "valid").all()


def has_valid_certificate(registration) -> bool:
    return db.session.query(Certificate.id).filter(Certificate.registration_id == registration.id,
                                                   Certificate.status == "valid").first() is not None


def id_number_taken(id_number: str, person_id) -> bool:
    """Another person's account already uses this ID number."""
    return db.session.query(Person.id).filter(Person.id_number == id_number, Person.id != person_id).first() is not None


# --- Steps of approval --------------------------------------------------------------------------
def validity_end(start: date) -> date:
    return validity.validity_end(start, configured_limits()["VALIDITY_YEARS"])


def renewed_period(valid_until: date) -> tuple[date, date]:
    return validity.renewed_period(valid_until, configured_limits()["VALIDITY_YEARS"])


def set_specialty(registration, code, valid_from, valid_until):
    held = registration.specialty(code)
    if held is None:
        held = RegistrationSpecialty(specialty_code=code)
        registration.specialties.append(held)
    held.valid_from, held.valid_until, held.status = valid_from, valid_until, "active"
    held.lapsed_on = None  # registered again (re-registration, an added specialty): no longer lapsed


def follow_employer(session, registration, enterprise):
    """Employer changes carry the number's leading character along; the digits stay."""
    registration.enterprise = enterprise
    registration.number = numbering.registration_number(session, registration.number_digits, enterprise.province_code)


def lapse_registration(session, registration, day: date, reason: str) -> int:
    """The registration lapses (注册失效) on `day` for `reason` (models.choices.LAPSE_REASONS): its specialties
    lapse and its valid certificates expire. Returns how many certificates expired; the row audit records it."""
    registration.status, registration.lapsed_on, registration.lapse_reason = "lapsed", day, reason
    for held in registration.specialties:
        if held.status == "active":
            held.status, held.lapsed_on = "lapsed", day
    certificates = valid_certificates(session, registration)
    for certificate in certificates:
        certificate.status, certificate.revoked_on = "expired", day
        certificate.revoke_reason = reason
    return len(certificates)


def over_age_limit(person, day: date, limits) -> bool:
    return age_on(person.birth_date, day) >= limits["AGE_LIMIT"]


def age_limit_day(person, limits) -> date:
    """The day the person reaches the age limit (for a 29 February birthday: 1 March, as `age_on` counts)."""
    birth, limit = person.birth_date, limits["AGE_LIMIT"]
    try:
        return birth.replace(year=birth.year + limit)
    except ValueError:
        return date(birth.year + limit, 3, 1)


def register_specialties(registration, specialties, day: date):
    """Each of `specialties` (Specialty rows) is registered from `day` for the validity period."""
    for specialty in specialties:
        set_specialty(registration, specialty.code, day, validity_end(day))
