"""Eligibility rules of DOMAIN.md as functions that return translated reasons (empty = allowed).

`check_fields` validates what an applicant typed (forms and the API both use it); the guards of the
workflow table (`ready_to_submit`, `contract_complete`, `outcome_possible`, `certificate_ready`,
`in_announcement_batch`) decide whether a move may happen. What differs per business type is in its
declaration (app/business_types/); this module adds what every type shares and asks the database.
"""
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l

from ground.clock import china_day, today
from ground.extensions import db
from ground.vocabulary import IN_PROGRESS_STATES
from models import Application, Person, Specialty
from app import employer_rules, penalties
from app.business_types import BUSINESS_TYPES, shared

def is_empty(value):
    return value is None or value == "" or value == [] or value is False


def check_fields(business_type: str, values: dict, person: Person | None = None) -> dict:
    """Field → list of translated errors for what the applicant entered. Empty dict = valid input.

    `values` holds enterprise (object or id), contract_start/contract_end (dates), specialties
    (codes or Specialty objects), reason, reason_text, new_name, new_id_number, pass_certificate_no.
    """
    errors: dict[str, list] = {}

    def add(fieldname, message):
        errors.setdefault(fieldname, []).append(message)

    btype = BUSINESS_TYPES.get(business_type)
    if btype is None:
        add("business_type", _l("Choose a business type."))
        return errors
    for fieldname in sorted(btype.required):
        if is_empty(values.get(fieldname)):
            add(fieldname, _l("This field is required for %(type)s.", type=btype.label))
    start, end = values.get("contract_start"), values.get("contract_end")
    if btype.uses_contract and isinstance(start, date) and isinstance(end, date) and end < start:
        add("contract_end", _l("The contract end date must not be before its start date."))
    if "specialties" in btype.fields:
        codes = [getattr(s, "code", s) for s in values.get("specialties") or []]
        if codes:
            known = {code for (code,) in db.session.query(Specialty.code).filter(Specialty.code.in_(codes))}
            for code in codes:
                if code not in known:
                    add("specialties", _l("Unknown specialty: %(code)s.", code=code))
            if len(set(codes)) != len(codes):
                add("specialties", _l("A specialty is listed twice."))
    if "enterprise" in btype.fields and not is_empty(values.get("enterprise")):
        for message in employer_rules.chosen_employer_reasons(values["enterprise"]):
            add("enterprise", message)
    if btype.reasons is not None and values.get("reason") and values["reason"] not in btype.reasons:
        add("reason", _l("Choose a reason from the list."))
    for fieldname, messages in btype.check_input(values, person).items():
        errors.setdefault(fieldname, []).extend(messages)
    return errors


def field_values(application: Application) -> dict:
    return {
        "enterprise": application.enterprise,
        "contract_start": application.contract_start,
        "contract_end": application.contract_end,
        "specialties": list(application.specialties),
        "reason": application.reason,
        "reason_text": application.reason_text,
        "new_name": application.new_name,
        "new_id_number": application.new_id_number,
        "pass_certificate_no": application.pass_certificate_no,
        "leaving_date": application.leaving_date,
    }


def _other_open_number(person: Person, exclude: Application | None):
    """The number of another application of the person in progress (one at a time), or None."""
    query = db.session.query(Application.number).filter(Application.person_id == person.id,
                                                        Application.state.in_(sorted(IN_PROGRESS_STATES)))
    if exclude is not None:
        query = query.filter(Application.id != exclude.id)
    other = query.first()
    return other.number if other else None


def _one_at_a_time(person: Person, exclude: Application | None) -> list:
    number = _other_open_number(person, exclude)
    if number:
        return [_l("Application %(number)s is already in progress; only one may be open at a time.", number=number)]
    return []


def _age_reasons(business_type: str, person: Person, limits) -> list:
    return shared.age_reasons(person, limits) if BUSINESS_TYPES[business_type].age_limited else []


def _identity_verified(person: Person) -> list:
    if person.is_verified:
        return []
    return [_l("Your identity has not been verified yet (real-name verification).")]


# --- Guards -----------------------------------------------------------------------------------
def ready_to_submit(application: Application) -> list:
    """Everything DOMAIN.md requires before an application may leave the applicant."""
    person, limits = application.person, shared.configured_limits()
    reasons = [msg for msgs in check_fields(application.business_type, field_values(application), person).values()
               for msg in msgs]
    reasons += _identity_verified(person)
    reasons += shared.completeness(person)
    bars = _refusal_bars(application)
    # Another open application naming another unit is said once, as the legal ground (applying in two units).
    if not any(bar.other for bar in bars):
        reasons += _one_at_a_time(person, application)
    reasons += _contract(application, at_submission=True)
    reasons += _age_reasons(application.business_type, person, limits)
    reasons += employer_rules.current_employer_reasons(person, application.business_type, limits)
    reasons += BUSINESS_TYPES[application.business_type].eligibility(application, True, limits)
    return reasons + [bar.reason for bar in bars]


def _refusal_bars(application: Application) -> list:
    """The refusal grounds of app/penalties.py met, for the business types that declare them."""
    if not BUSINESS_TYPES[application.business_type].refusal_grounds:
        return []
    return penalties.refusal_bars(application.person, application)


def ready_to_lodge(application: Application) -> list:
    """What an application an employer or authority starts about someone else needs (cancel_by_employer,
    cancel_by_authority): its fields, no other application of the person in progress, the type's eligibility.
    The person's own real-name check, materials and age limit do not stop it."""
    person, limits = application.person, shared.configured_limits()
    reasons = [msg for msgs in check_fields(application.business_type, field_values(application), person).values()
               for msg in msgs]
    reasons += _one_at_a_time(person, application)
    reasons += BUSINESS_TYPES[application.business_type].eligibility(application, True, limits)
    return reasons


def _contract(application: Application, at_submission: bool) -> list:
    if not BUSINESS_TYPES[application.business_type].uses_contract:
        return []
    return shared.contract_reasons(application, at_submission)


def contract_complete(application: Application) -> list:
    """The labour contract must be entered, still running and long enough (CONTRACT_MIN_MONTHS after the
    submission day): checked at submission, at the enterprise's confirmation and again at approval."""
    return _contract(application, at_submission=False)


def outcome_possible(application: Application) -> list:
    """Re-checked at approval: the contract still runs and the registration can still change as the business
    type says (its eligibility: qualifications, continuing education, ...)."""
    limits = shared.configured_limits()
    return (contract_complete(application)
            + _age_reasons(application.business_type, application.person, limits)
            + BUSINESS_TYPES[application.business_type].eligibility(application, False, limits)
            + [bar.reason for bar in _refusal_bars(application)])


def employer_qualified(application: Application) -> list:
    """The employer the application names is not suspended, revoked or deregistered (checked at the employer's
    confirmation, the provincial review and the approval; app/employer_rules.py)."""
    return employer_rules.application_reasons(application)


def employer_not_qualified(application: Application) -> list:
    """The System returns an application whose named employer is no longer qualified (app/employer_status.py)."""
    return employer_rules.employer_closed(application)


def certificate_ready(application: Application) -> list:
    """The last stage can print the certificate: materials on file and an active registration."""
    registration = application.person.registration
    if not BUSINESS_TYPES[application.business_type].prints_certificate(registration):
        return []
    reasons = shared.completeness(application.person)
    if not shared.is_active(registration):
        reasons.append(_l("The person holds no active registration to print on a certificate."))
    return reasons


def objection_period_over(application: Application) -> list:
    """The previous employer's time to release or object has passed (the change proceeds on silence)."""
    if application.stage_deadline is not None and application.stage_deadline < today():
        return []
    return [_l("The previous employer may release or object until %(day)s.",
               day=application.stage_deadline.isoformat() if application.stage_deadline else "—")]


def unconfirmed_expiry(application: Application) -> date:
    """The day an application still waiting for the employer expires: after APPLICATION_EXPIRY_DAYS days."""
    days = shared.configured_limits()["APPLICATION_EXPIRY_DAYS"]
    return china_day(application.state_changed_at) + timedelta(days=days + 1)


def unconfirmed_too_long(application: Application) -> list:
    if today() >= unconfirmed_expiry(application):
        return []
    return [_l("Unconfirmed applications expire on %(day)s.", day=unconfirmed_expiry(application).isoformat())]


def in_announcement_batch(application: Application) -> list:
    if application.announcement_id is None:
        return [_l("Not yet gathered into an announcement batch.")]
    return []


def routing(application: Application) -> dict:
    """Enterprise, previous enterprise, registration and reviewing province of an application
    (BusinessType.route says how)."""
    return BUSINESS_TYPES[application.business_type].route(application)


# --- Before the form: what stops a person from applying at all ---------------------------------
def eligible_specialties(person: Person, business_type: str) -> list:
    """Specialties the person may choose for this business type (qualified for, and not excluded)."""
    return BUSINESS_TYPES[business_type].eligible_specialties(person)


def preconditions(person: Person, business_type: str, editing: Application | None = None) -> list:
    """Every reason, known before any field is filled in, why this person cannot submit this type now."""
    limits = shared.configured_limits()
    reasons = _identity_verified(person) + shared.completeness(person) + _age_reasons(business_type, person, limits)
    reasons += _one_at_a_time(person, editing)
    reasons += employer_rules.current_employer_reasons(person, business_type, limits)
    if BUSINESS_TYPES[business_type].refusal_grounds:
        reasons += penalties.refusal_reasons(person)
    return reasons + BUSINESS_TYPES[business_type].preconditions(person, limits)
