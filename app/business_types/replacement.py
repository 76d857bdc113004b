"""Certificate replacement (遗失/污损补办): the ministry alone decides; a new certificate number is issued."""
from flask_babel import lazy_gettext as _l

from app.business_types import shared
from app.business_types.base import BusinessType, no_outcome
from ground.vocabulary import State
from models.choices import REPLACEMENT_REASONS


def _certificate_reasons(registration) -> list:
    if not shared.is_active(registration):
        return shared.needs_active(registration)
    if not shared.has_valid_certificate(registration):
        return [_l("There is no valid certificate to replace.")]
    return []


def preconditions(person, limits) -> list:
    return _certificate_reasons(person.registration)


def eligibility(application, at_submission, limits) -> list:
    return _certificate_reasons(application.person.registration)


REPLACEMENT = BusinessType(
    code="replacement",
    stages=(State.MINISTRY, State.ISSUE),
    certificate="new",
    fields=("reason", "reason_text"),
    required=frozenset({"reason"}),
    eligibility=eligibility,
    preconditions=preconditions,
    outcome=no_outcome,  # nothing changes on approval; the certificate is replaced when it is issued
    reasons=REPLACEMENT_REASONS,
    age_limited=False,
    confirmer="current",
    needs_qualified_employer=False,  # possible at a closed employer (app/employer_rules.py)
    guide=_l("A lost or damaged certificate: choose the reason. The ministry decides alone; a new "
             "certificate number is issued."),
)
