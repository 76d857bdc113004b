"""Re-registration (重新注册): after a cancelled or lapsed registration; the number keeps its digits."""
from flask_babel import lazy_gettext as _l

from app.business_types import shared
from app.business_types.base import BusinessType
from ground.clock import today
from ground.vocabulary import State


def _registration_reasons(registration) -> list:
    if registration is None:
        return [_l("Re-registration is for cancelled or lapsed registrations; apply for initial registration.")]
    if shared.is_active(registration):
        return [_l("Your registration is still active.")]
    return []


def preconditions(person, limits) -> list:
    reasons = shared.needs_qualification(person) + _registration_reasons(person.registration)
    return reasons or shared.stale_education_blockers(person, limits)


def eligibility(application, at_submission, limits) -> list:
    person = application.person
    reasons = _registration_reasons(person.registration) + shared.qualification_reasons(person, application.specialties)
    day = shared.check_day(application, at_submission)
    return reasons + shared.stale_education_reasons(person, application.specialties, day, limits)


def outcome(ctx):
    app, session = ctx.application, ctx.session
    registration = app.person.registration
    registration.status, registration.cancelled_on, registration.cancel_reason = "active", None, None
    registration.lapsed_on, registration.lapse_reason = None, None
    registration.contract_start, registration.contract_end = app.contract_start, app.contract_end
    shared.follow_employer(session, registration, app.enterprise)
    shared.register_specialties(registration, app.specialties, today())
    app.registration = registration


RE_REGISTRATION = BusinessType(
    code="re_registration",
    refusal_grounds=True,
    stages=(State.ENTERPRISE, State.PROVINCE, State.INDUSTRY, State.MINISTRY, State.ANNOUNCE, State.ISSUE),
    conditions={State.INDUSTRY: shared.needs_industry_opinion},  # flagged specialties (RULES INDUSTRY_OPINION)
    certificate="new",
    fields=("enterprise", "contract_start", "contract_end", "specialties"),
    required=frozenset({"enterprise", "contract_start", "contract_end", "specialties"}),
    eligibility=eligibility,
    preconditions=preconditions,
    eligible_specialties=shared.qualified_specialties,
    outcome=outcome,
    notice=True,
    guide=_l("After a cancelled or lapsed registration: as for initial registration (a qualification older "
             "than %(fresh)s years needs the continuing-education hours of the last %(validity)s years); the "
             "registration number keeps its digits."),
)
