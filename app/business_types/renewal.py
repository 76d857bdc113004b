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
    due = [s for s in held if shared.renewal_window(today(), s.valid_until, limits)[1]]
    if due:
        return shared.education_blockers(person, [(s.specialty, s.valid_from, s.valid_until) for s in due], limits)
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
        # The hours of the period that ends, at submission and again at approval.
        reasons += shared.education_reasons(application.person, [(held.specialty, held.valid_from, held.valid_until)],
                                            limits)
    return _one_hint(reasons)


def _one_hint(reasons) -> list:
    """The hint on how hours get on record once, at the end, however many specialties fall short."""
    hint = [r for r in reasons if r is shared.EDUCATION_HINT]
    return [r for r in reasons if r is not shared.EDUCATION_HINT] + hint[:1]


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
    fields=("contract_start", "contract_end", "specialties"),
    required=frozenset({"contract_start", "contract_end", "specialties"}),
    eligibility=eligibility,
    preconditions=preconditions,
    eligible_specialties=eligible_specialties,
    outcome=outcome,
    notice=True,
    confirmer="current",
    guide=_l("Extends specialties by %(validity)s years; opens %(window)s days before a specialty expires. "
             "Contract dates and the specialties; each needs the continuing-education hours of its period on record."),
)
