"""Cancellation (注销注册): ends the registration; its certificates are revoked at approval."""
from flask_babel import lazy_gettext as _l

from app.business_types import shared
from app.business_types.base import BusinessType
from ground.clock import today
from ground.vocabulary import State
from models.choices import CANCELLATION_REASONS


def _registration_reasons(registration) -> list:
    """An active registration, or a lapsed one (注销 of a lapsed registration records why it ended)."""
    if registration is not None and registration.status == "lapsed":
        return []
    return shared.needs_active(registration)


def preconditions(person, limits) -> list:
    return _registration_reasons(person.registration)


def eligibility(application, at_submission, limits) -> list:
    return _registration_reasons(application.person.registration)


def outcome(ctx):
    app, day = ctx.application, today()
    registration = app.person.registration
    registration.status, registration.cancelled_on = "cancelled", day
    registration.cancel_reason, registration.cancel_note = app.reason, app.reason_text
    for held in registration.specialties:
        held.status = "cancelled"
    for certificate in shared.valid_certificates(ctx.session, registration):
        certificate.status, certificate.revoked_on = "revoked", day
        certificate.revoke_reason = app.reason_text or str(app.reason_label)


CANCELLATION = BusinessType(
    code="cancellation",
    stages=(State.ENTERPRISE, State.PROVINCE, State.MINISTRY, State.ANNOUNCE),
    certificate="revoke",
    fields=("reason", "reason_text"),
    required=frozenset({"reason"}),
    eligibility=eligibility,
    preconditions=preconditions,
    outcome=outcome,
    reasons=CANCELLATION_REASONS,
    age_limited=False,
    notice=True,
    confirmer="current",
    needs_qualified_employer=False,  # possible at a closed employer (app/employer_rules.py)
    guide=_l("Ends the registration: choose the reason. The certificate is revoked on approval."),
)
