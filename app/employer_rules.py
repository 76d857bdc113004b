"""The employer's status in the rules: one declaration of "employer not qualified" (单位不具备资格, DOMAIN's refusal
ground) that the form, the submission, the employer's confirmation, the provincial review and the approval ask.

An enterprise whose status is one of RULES["EMPLOYER_BLOCKING_STATUSES"] (default: suspended, licence revoked,
deregistered) may not be named by an application. Open applications naming it are returned by the nightly job
(app/employer_status.py) through the System move `employer_closed`, whose guard is `employer_closed` below.
Checks return translated reasons (empty = passes).
"""
from flask_babel import lazy_gettext as _l

from app.business_types import BUSINESS_TYPES
from app.business_types.shared import configured_limits
from ground.extensions import db
from models import Enterprise


def blocks(enterprise, limits=None) -> bool:
    """The enterprise's status keeps it from being named by an application."""
    limits = limits if limits is not None else configured_limits()
    return enterprise is not None and (enterprise.status or "active") in set(limits["EMPLOYER_BLOCKING_STATUSES"])


def employer_reasons(enterprise, limits=None) -> list:
    """Why `enterprise` cannot be named by an application now (empty: it can)."""
    if not blocks(enterprise, limits):
        return []
    return [_l("The employer %(name)s is “%(status)s” since %(day)s (employer not qualified); no application may "
               "name it. Change your employer first.", name=enterprise.name, status=enterprise.status_label,
               day=enterprise.status_since.isoformat() if enterprise.status_since else "—")]


def named_employer(application):
    """The enterprise the application names: the one chosen in the form, or the person's current employer for the
    types its current employer confirms (renewal, additional specialty); None for the types a person at a closed
    employer may still apply for (`needs_qualified_employer` off: cancellation, information change, replacement)."""
    btype = BUSINESS_TYPES.get(application.business_type)
    if btype is not None and not btype.needs_qualified_employer:
        return None
    if btype is not None and btype.confirmer == "current":
        registration = application.registration or application.person.registration
        return registration.enterprise if registration is not None else None
    return application.enterprise


def chosen_employer_reasons(value, limits=None) -> list:
    """The form's enterprise field (an Enterprise or its id)."""
    enterprise = value if isinstance(value, Enterprise) else (db.session.get(Enterprise, int(value))
                                                              if str(value or "").isdigit() else None)
    return employer_reasons(enterprise, limits)


def current_employer_reasons(person, business_type: str, limits=None) -> list:
    """Before the form: the types the current employer confirms cannot start while it is not qualified."""
    btype = BUSINESS_TYPES.get(business_type)
    registration = person.registration
    if btype is None or btype.confirmer != "current" or not btype.needs_qualified_employer or registration is None:
        return []
    return employer_reasons(registration.enterprise, limits)


def application_reasons(application) -> list:
    """The guard of the confirmation, the provincial review and the approval: the named employer is qualified."""
    return employer_reasons(named_employer(application))


def employer_closed(application) -> list:
    """The guard of the System's `employer_closed`: it passes only while the named employer is not qualified."""
    if blocks(named_employer(application)):
        return []
    return [_l("The employer named by the application is active.")]


def checked_types() -> list[str]:
    """The business types whose named employer must be qualified."""
    return sorted(code for code, btype in BUSINESS_TYPES.items() if btype.needs_qualified_employer)
