"""Cancellations started by someone other than the person (DOMAIN: "Cancellation may be started by the person, by
the enterprise (employment ended) or by the authority (revoked by law, with the legal ground)").

- cancel_by_employer (注销注册，聘用企业申报): the employer reports that one of its registered staff left, with the
  leaving date and a statement; the province reviews, the ministry decides, the cancellation is announced.
- cancel_by_authority (依法注销/撤销注册): a province (registrations in its province) or the ministry cancels or
  revokes a registration on a legal ground, with its statement and the decision document; the ministry decides
  (not the officer who started it: RULES STARTER_MAY_DECIDE), the cancellation is announced.

Both end like a cancellation: the registration is cancelled (cancel_reason = the ground, cancelled_on = the day of
approval) and its certificates are revoked. The service that starts them is app/cancellations.py.
"""
from flask_babel import lazy_gettext as _l

from app.business_types.base import BusinessType
from app.business_types.cancellation import eligibility, outcome, preconditions
from ground import roles as R
from ground.clock import today
from ground.vocabulary import State
from models.choices import AUTHORITY_GROUNDS, EMPLOYER_CANCELLATION_REASONS


# Eligibility, preconditions and outcome are the person's own cancellation's (app/business_types/cancellation.py).


def employer_input(values, person) -> dict:
    """The leaving date: not in the future, not before the registration began."""
    day = values.get("leaving_date")
    if day is None or not hasattr(day, "toordinal"):
        return {}
    if day > today():
        return {"leaving_date": [_l("The leaving date must not be in the future.")]}
    registration = getattr(person, "registration", None)
    if registration is not None and registration.registered_on and day < registration.registered_on:
        return {"leaving_date": [_l("The leaving date must not be before the registration began (%(day)s).",
                                    day=registration.registered_on.isoformat())]}
    return {}


CANCEL_BY_EMPLOYER = BusinessType(
    code="cancel_by_employer",
    stages=(State.PROVINCE, State.MINISTRY, State.ANNOUNCE),
    certificate="revoke",
    fields=("reason", "reason_text", "leaving_date"),
    required=frozenset({"reason", "reason_text", "leaving_date"}),
    eligibility=eligibility,
    preconditions=preconditions,
    check_input=employer_input,
    outcome=outcome,
    reasons=EMPLOYER_CANCELLATION_REASONS,
    age_limited=False,
    confirmer="current",
    needs_qualified_employer=False,  # the employer's own status does not keep its former staff registered
    starters=frozenset({R.ENTERPRISE}),
    guide=_l("The employer reports that a registered constructor has left: it chooses the person among its "
             "registered staff, enters the leaving date and a statement, and lodges it. The provincial authority "
             "reviews it, the ministry decides, and the cancellation is announced. The person is told when it is "
             "lodged and when it is decided, and follows it under Progress query."),
)

CANCEL_BY_AUTHORITY = BusinessType(
    code="cancel_by_authority",
    stages=(State.MINISTRY, State.ANNOUNCE),
    certificate="revoke",
    fields=("reason", "reason_text"),
    required=frozenset({"reason", "reason_text"}),
    eligibility=eligibility,
    preconditions=preconditions,
    outcome=outcome,
    reasons=AUTHORITY_GROUNDS,
    age_limited=False,
    confirmer="current",
    needs_qualified_employer=False,  # possible whatever the employer's status (app/employer_rules.py)
    starters=frozenset({R.PROVINCE, R.MINISTRY}),
    document=True,
    guide=_l("A provincial authority (for registrations in its province) or the ministry cancels or revokes a "
             "registration by law: it chooses the legal ground, writes the statement and uploads the decision "
             "document (PDF or JPEG). The ministry decides; the officer who lodged it may not decide it. The "
             "cancellation is announced and the person is told when it is lodged and when it is decided."),
)
