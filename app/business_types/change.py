"""Change of employer (变更注册): the new employer confirms; the registration follows it."""
from flask_babel import lazy_gettext as _l

from app.business_types import shared
from app.business_types.base import BusinessType
from ground.vocabulary import State


def preconditions(person, limits) -> list:
    registration = person.registration
    if not shared.is_active(registration):
        return shared.needs_active(registration)
    return shared.change_allowed(registration, limits)


def eligibility(application, at_submission, limits) -> list:
    registration = application.person.registration
    if not shared.is_active(registration):
        return shared.needs_active(registration)
    reasons = []
    if application.enterprise_id == registration.enterprise_id:
        reasons.append(_l("The new employer is the same as the current one."))
    if at_submission:
        reasons += shared.change_allowed(registration, limits)
    return reasons


def outcome(ctx):
    app = ctx.application
    registration = app.person.registration
    shared.follow_employer(ctx.session, registration, app.enterprise)
    registration.contract_start, registration.contract_end = app.contract_start, app.contract_end


CHANGE = BusinessType(
    code="change",
    refusal_grounds=True,
    # The new employer confirms, then the previous one may release or object (OBJECTION_DAYS; silence releases).
    stages=(State.ENTERPRISE, State.RELEASE, State.PROVINCE, State.MINISTRY, State.ISSUE),
    certificate="new",
    fields=("enterprise", "contract_start", "contract_end"),
    required=frozenset({"enterprise", "contract_start", "contract_end"}),
    eligibility=eligibility,
    preconditions=preconditions,
    outcome=outcome,
    notice=True,
    records_previous_employer=True,
    guide=_l("A new employer: find it by name or credit code, then the contract dates."),
    guide_notes=(("CHANGE_TEMPORARY_ONLY", _l("Online only for holders of a temporary practising certificate.")),),
)
