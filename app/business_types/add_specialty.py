"""Additional specialty (增项注册): a registered person adds a specialty they are qualified in."""
from flask_babel import lazy_gettext as _l

from app.business_types import shared
from app.business_types.base import BusinessType
from ground.clock import today
from ground.vocabulary import State


def eligible_specialties(person) -> list:
    """Qualified for, and not yet registered in."""
    registration = person.registration
    held = {s.specialty_code for s in registration.active_specialties} if shared.is_active(registration) else set()
    return [s for s in shared.qualified_specialties(person) if s.code not in held]


def preconditions(person, limits) -> list:
    reasons = shared.needs_qualification(person)
    if not shared.is_active(person.registration):
        reasons += shared.needs_active(person.registration)
    elif person.qualifications and not eligible_specialties(person):
        reasons.append(_l("You are already registered in every specialty you are qualified for."))
    return reasons


def eligibility(application, at_submission, limits) -> list:
    person = application.person
    registration = person.registration
    if not shared.is_active(registration):
        return shared.needs_active(registration)
    reasons = shared.qualification_reasons(person, application.specialties)
    for specialty in application.specialties:
        held = registration.specialty(specialty.code)
        if held is not None and held.status == "active":
            reasons.append(_l("You are already registered in %(specialty)s.", specialty=held.specialty))
    return reasons


def outcome(ctx):
    app = ctx.application
    registration = app.person.registration
    shared.register_specialties(registration, app.specialties, today())
    registration.contract_start, registration.contract_end = app.contract_start, app.contract_end


ADD_SPECIALTY = BusinessType(
    code="add_specialty",
    refusal_grounds=True,
    stages=(State.ENTERPRISE, State.PROVINCE, State.INDUSTRY, State.MINISTRY, State.ANNOUNCE, State.ISSUE),
    conditions={State.INDUSTRY: shared.needs_industry_opinion},  # flagged specialties (RULES INDUSTRY_OPINION)
    certificate="new",
    fields=("contract_start", "contract_end", "specialties", "pass_certificate_no"),
    required=frozenset({"contract_start", "contract_end", "specialties"}),
    eligibility=eligibility,
    preconditions=preconditions,
    eligible_specialties=eligible_specialties,
    outcome=outcome,
    notice=True,
    confirmer="current",
    guide=_l("A specialty you hold a qualification in: contract dates, the specialty and the "
             "pass-certificate number."),
)
