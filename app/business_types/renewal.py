"""Renewal (延续注册): extends registered specialties, in the window before they expire."""

from flask_babel import lazy_gettext as _l

from app.business_types import shared
from app.business_types.base import BusinessType
from ground.clock import today
from ground.vocabulary import State


def eligible_specialties(person) -> list:
    registration = person.registration
    return shared.active_specialties(registration) if shared.is_active(registration) else []


def preconditions(person, limits) -> list:
    registration = person.registration
    if registration is not None and registration.status == "lapsed":
        return [_l("Your registration lapsed on %(day)s; renewal is closed. Apply for re-registration: your "
                   "registration number keeps its digits.", day=registration.lapsed_on.isoformat()
                   if registration.lapsed_on else "—")]
    if not shared.is_active(registration):
        return shared.needs_active(registration)
    held = registration.active_specialties
    if any(shared.renewal_window(today(), s.valid_until, limits)[1] for s in held):
        return []
    first = min((s.valid_until for s in held), default=None)
    if first is None:
        return []
    return [_l("Renewal opens %(days)s days before a specialty expires; your first expiry is %(day)s.",
               days=limits["RENEWAL_WINDOW_DAYS"], day=first.isoformat())]


def eligibility(application, at_submission, limits) -> list:
    registration = application.person.registration
    if not shared.is_active(registration):
        return shared.needs_active(registration)
    reasons = []
    for code in [s.code for s in application.specialties]:
        held = registration.specialty(code)
        if held is not None and held.status == "lapsed":
            reasons.append(_l("%(specialty)s lapsed on %(day)s; apply for an additional specialty to register it again.",
                              specialty=held.specialty, day=held.lapsed_on.isoformat() if held.lapsed_on else "—"))
            continue
        if held is None or held.status != "active":
            reasons.append(_l("You are not registered in %(specialty)s.", specialty=code))
            continue
        if at_submission:
            opens, _open_now = shared.renewal_window(today(), held.valid_until, limits)
            if today() < opens:
                reasons.append(_l("Renewal of %(specialty)s opens on %(day)s (%(days)s days before it expires).",
                                  specialty=held.specialty, day=opens.isoformat(),
                                  days=limits["RENEWAL_WINDOW_DAYS"]))
            elif today() > held.valid_until:
                reasons.append(_l("%(specialty)s expired on %(day)s; apply for re-registration instead.",
                                  specialty=held.specialty, day=held.valid_until.isoformat()))
    return reasons


def outcome(ctx):
    """Each renewed specialty runs on from the day after it would have expired."""
    app = ctx.application
    registration = app.person.registration
    for specialty in app.specialties:
        held = registration.specialty(specialty.code)
        held.valid_from, held.valid_until = shared.renewed_period(held.valid_until)
    registration.contract_start, registration.contract_end = app.contract_start, app.contract_end


RENEWAL = BusinessType(
    code="renewal",
    refusal_grounds=True,
    stages=(State.ENTERPRISE, State.PROVINCE, State.MINISTRY, State.ISSUE),
    certificate="new",
    fields=("contract_start", "contract_end", "specialties", "continuing_education"),
    required=frozenset({"contract_start", "contract_end", "specialties", "continuing_education"}),
    eligibility=eligibility,
    preconditions=preconditions,
    eligible_specialties=eligible_specialties,
    outcome=outcome,
    notice=True,
    confirmer="current",
    guide=_l("Extends specialties by %(validity)s years; opens %(window)s days before a specialty expires. "
             "Contract dates, the specialties and the continuing-education commitment."),
)
