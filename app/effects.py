"""Effects of the workflow table: they run inside the transition's transaction and take a workflow Context.

`apply_outcome` is what approval does to the registration: the business type's declared outcome (DOMAIN.md
"outcome on approval"); `issue_certificate` issues (or skips) the certificate at the last stage, as the
type's certificate policy says.
"""
from app.business_types import BUSINESS_TYPES, shared
from app.services import numbering
from ground.clock import now_utc, today
from models import Certificate


def route(ctx):
    """Fix who confirms and which province reviews, at submission."""
    app = ctx.application
    for key, value in BUSINESS_TYPES[app.business_type].route(app).items():
        setattr(app, key, value)


def mark_submitted(ctx):
    ctx.application.submitted_at = now_utc()
    ctx.application.objection = None  # a new round: the previous employer decides again


def record_objection(ctx):
    """The previous employer's objection stays on the application for the province to decide on."""
    ctx.application.objection = (ctx.opinion or "").strip()


def apply_outcome(ctx):
    BUSINESS_TYPES[ctx.application.business_type].outcome(ctx)


def issue_certificate(ctx):
    """A new certificate with a new number; the previous valid one becomes "replaced"."""
    app, session, day = ctx.application, ctx.session, today()
    registration = app.person.registration
    if not BUSINESS_TYPES[app.business_type].prints_certificate(registration) or not shared.is_active(registration):
        return  # a cancellation, or a personal-information change of an unregistered person: nothing to print
    active = registration.active_specialties
    certificate = Certificate(
        number=numbering.certificate_number(session, day), registration=registration, person=app.person,
        application_id=app.id, status="valid", issued_on=day, valid_until=max(s.valid_until for s in active),
        holder_name=app.person.name, registration_number=registration.number,
        enterprise_name=registration.enterprise.name,
        specialties=[{"code": s.specialty_code, "name": s.specialty.name, "valid_until": s.valid_until.isoformat()}
                     for s in active],
    )
    previous = shared.valid_certificates(session, registration)
    session.add(certificate)
    session.flush()
    for old in previous:
        old.status, old.replaced_by_id = "replaced", certificate.id
