"""Checks and steps several business types share: age limit, qualifications, materials, contract, registration,
and what approvals do to a registration's specialties and number.

Checks return translated reasons (empty = passes). The few that must ask the database say so in their name
or docstring; the rest read only the objects they are given.
"""
from datetime import date, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l

from sqlalchemy import func

from ground.clock import add_years, age_on, china_day, today
from ground.extensions import db
from models import Certificate, ContinuingEducation, Person, RegistrationSpecialty
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


def check_day(application, at_submission: bool) -> date:
    """The day the contract and continuing-education rules count from: today at submission, the submission
    day afterwards (confirmation, approval), so that the time a review takes is not held against the applicant."""
    submitted_at = getattr(application, "submitted_at", None)
    if at_submission or submitted_at is None:
        return today()
    return china_day(submitted_at)


def add_months(day: date, months: int) -> date:
    """Same day `months` later (the month's last day when it has no such day)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def contract_reasons(application, at_submission: bool = True, limits=None) -> list:
    """The labour contract must be entered, still running today and run at least CONTRACT_MIN_MONTHS months
    after the submission day (our rule: a registration lasts years, a 30-day contract does not cover it)."""
    if application.contract_start is None or application.contract_end is None:
        return [_l("The labour-contract period has not been entered.")]
    if application.contract_end < application.contract_start:
        return [_l("The contract end date must not be before its start date.")]
    if application.contract_end < today():
        return [_l("The labour contract ended on %(day)s; enter the current contract.",
                   day=application.contract_end.isoformat())]
    months = (limits if limits is not None else configured_limits()).get("CONTRACT_MIN_MONTHS", 0)
    needed = add_months(check_day(application, at_submission), months)
    if months and application.contract_end < needed:
        return [_l("The labour contract must run at least %(months)s months after submission, until %(day)s or "
                   "later; it ends on %(end)s.", months=months, day=needed.isoformat(),
                   end=application.contract_end.isoformat())]
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


def stale_qualification_codes(person, codes, limits, day=None) -> list:
    """Of `codes`, the specialties whose qualification is older than QUALIFICATION_FRESH_YEARS on `day`."""
    cutoff = add_years(day or today(), -limits["QUALIFICATION_FRESH_YEARS"])
    return [q.specialty_code for q in person.qualifications if q.specialty_code in codes and q.qualified_on < cutoff]


# --- Continuing education (继续教育): hours per validity period, compulsory and elective ------------------
def education_required(limits) -> dict:
    return {"compulsory": limits.get("EDUCATION_COMPULSORY_HOURS", 0),
            "elective": limits.get("EDUCATION_ELECTIVE_HOURS", 0)}


def recent_period(day: date, limits) -> tuple[date, date]:
    """The validity period that ends on `day` (initial registration and re-registration count back from it)."""
    return add_years(day, -limits["VALIDITY_YEARS"]) + timedelta(days=1), day


def education_hours(person_id, start: date, end: date) -> dict:
    """Database: {(specialty code or None, kind): hours} of the person's records completed in [start, end]."""
    rows = (db.session.query(ContinuingEducation.specialty_code, ContinuingEducation.kind,
                             func.sum(ContinuingEducation.hours))
            .filter(ContinuingEducation.person_id == person_id, ContinuingEducation.completed_on >= start,
                    ContinuingEducation.completed_on <= end)
            .group_by(ContinuingEducation.specialty_code, ContinuingEducation.kind))
    return {(code, kind): int(hours or 0) for code, kind, hours in rows}


def education_status(hours: dict, code: str, limits) -> dict:
    """Required, done and missing hours per kind for one specialty: its own courses plus general ones."""
    status = {}
    for kind, required in education_required(limits).items():
        done = hours.get((code, kind), 0) + hours.get((None, kind), 0)
        status[kind] = {"required": required, "done": done, "missing": max(required - done, 0)}
    return status


def education_shortfall(person_id, code, start, end, limits) -> dict | None:
    """{"compulsory": n, "elective": m} hours missing in that period, or None when the requirement is met."""
    status = education_status(education_hours(person_id, start, end), code, limits)
    missing = {kind: s["missing"] for kind, s in status.items()}
    return missing if any(missing.values()) else None


def education_message(specialty, start: date, end: date, missing: dict):
    """"还差必修 12 学时、选修 30 学时" for one specialty and period."""
    params = {"specialty": specialty, "start": start.isoformat(), "end": end.isoformat(),
              "compulsory": missing["compulsory"], "elective": missing["elective"]}
    if missing["compulsory"] and missing["elective"]:
        return _l("Continuing education in %(specialty)s for %(start)s to %(end)s: %(compulsory)s compulsory and "
                  "%(elective)s elective hours are still missing.", **params)
    if missing["compulsory"]:
        return _l("Continuing education in %(specialty)s for %(start)s to %(end)s: %(compulsory)s compulsory hours "
                  "are still missing.", **params)
    return _l("Continuing education in %(specialty)s for %(start)s to %(end)s: %(elective)s elective hours are "
              "still missing.", **params)


EDUCATION_HINT = _l("Hours are recorded from the training providers' lists; a certificate not yet on record can be "
                    "shown to your provincial authority, which enters it.")


def education_reasons(person, periods, limits) -> list:
    """Reasons for each (specialty, start, end) in `periods` whose hours fall short; the hint once at the end."""
    reasons = []
    for specialty, start, end in periods:
        missing = education_shortfall(person.id, specialty.code, start, end, limits)
        if missing:
            reasons.append(education_message(specialty, start, end, missing))
    return reasons + [EDUCATION_HINT] if reasons else []


def education_blockers(person, periods, limits) -> list:
    """Before the form: the reasons only when no candidate (specialty, start, end) meets the requirement
    (the person may still apply for one that does)."""
    if not periods:
        return []
    reasons = []
    for specialty, start, end in periods:
        missing = education_shortfall(person.id, specialty.code, start, end, limits)
        if not missing:
            return []
        reasons.append(education_message(specialty, start, end, missing))
    return reasons + [EDUCATION_HINT]


def stale_education_blockers(person, limits) -> list:
    """Initial registration and re-registration, before the form: blocked only when every qualification is
    stale and none of its specialties has the hours."""
    specialties = qualified_specialties(person)
    stale = set(stale_qualification_codes(person, [s.code for s in specialties], limits))
    if not specialties or len(stale) < len(specialties):
        return []
    start, end = recent_period(today(), limits)
    return education_blockers(person, [(s, start, end) for s in specialties], limits)


def stale_education_reasons(person, specialties, day: date, limits) -> list:
    """Initial registration and re-registration: a specialty whose qualification is older than
    QUALIFICATION_FRESH_YEARS needs the hours of the validity period that ends on `day`."""
    stale = set(stale_qualification_codes(person, [s.code for s in specialties], limits, day))
    start, end = recent_period(day, limits)
    return education_reasons(person, [(s, start, end) for s in specialties if s.code in stale], limits)


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
