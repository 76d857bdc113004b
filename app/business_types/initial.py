"""Initial registration (初始注册): a qualified person never registered, with the employer that confirms."""
from flask_babel import lazy_gettext as _l

from app.business_types import shared
from app.business_types.base import BusinessType
from app.services import numbering
from ground.clock import today
from ground.vocabulary import State
from models import Registration

ALREADY_REGISTERED = _l("You are already registered; use re-registration, change or additional specialty.")


def preconditions(person, limits) -> list:
    reasons = shared.needs_qualification(person)
    if person.registration is not None:
        reasons.append(ALREADY_REGISTERED)
    return reasons or shared.stale_education_blockers(person, limits)


def eligibility(application, at_submission, limits) -> list:
    person = application.person
    reasons = [ALREADY_REGISTERED] if person.registration is not None else []
    reasons += shared.qualification_reasons(person, application.specialties)
    day = shared.check_day(application, at_submission)
    return reasons + shared.stale_education_reasons(person, application.specialties, day, limits)


def outcome(ctx):
    """A new registration, numbered in the enterprise's province, with the chosen specialties."""
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
    shared.register_specialties(registration, app.specialties, day)
    app.registration = registration


INITIAL = BusinessType(
    code="initial",
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
    guide=_l("For a qualified person never registered: employer, labour-contract dates and specialties. A "
             "qualification older than %(fresh)s years needs the continuing-education hours of the last "
             "%(validity)s years on record."),
)
