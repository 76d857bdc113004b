"""Starting and editing drafts: shared by the panel form and the REST API.

Field validation is app.rules.check_fields; state changes are app.workflow's. This module only
decides who owns a new draft, numbers it, and drops the fields its business type (app/business_types/)
does not use.
"""
from flask_babel import lazy_gettext as _l

from models import Application

from app import workflow
from app.business_types import BUSINESS_TYPES
from ground.clock import today
from ground.roles import APPLICANT, ENTERPRISE, MINISTRY, PROVINCE, ROLE_LABELS, SYSTEM
from ground.extensions import db
from app.services.numbering import application_number

_OPTIONAL_FIELDS = ("enterprise", "contract_start", "contract_end", "reason", "reason_text", "new_name",
                    "new_id_number", "pass_certificate_no")


def open_application(person_id, exclude_id=None):
    query = db.session.query(Application).filter(Application.person_id == person_id,
                                                 Application.state.in_(workflow.OPEN_STATES))
    if exclude_id is not None:
        query = query.filter(Application.id != exclude_id)
    return query.order_by(Application.id).first()


def start_draft(item: Application, user):
    """Make `item` the signed-in applicant's new draft, or raise a WorkflowError saying why not."""
    person = getattr(user, "person", None)
    if person is None:
        raise workflow.Forbidden(_l("Only an applicant account linked to a person can apply."))
    existing = open_application(person.id)
    if existing is not None:
        raise workflow.Conflict(_l("Application %(number)s is already open; continue it instead of starting another.",
                                   number=existing.number))
    item.person = person
    item.created_by_id = user.id
    item.state = workflow.State.DRAFT
    item.number = application_number(db.session, today())
    tidy(item)


def check_editable(item: Application):
    if item.state not in workflow.EDITABLE_STATES:
        raise workflow.InvalidState(_l("Only drafts and returned applications can be edited."))


def tidy(item: Application):
    """Drop fields the business type does not use, and show the routing the submission will fix."""
    btype = BUSINESS_TYPES.get(item.business_type)
    used = btype.fields if btype is not None else ()
    for name in _OPTIONAL_FIELDS:
        if name not in used:
            setattr(item, name, None)
    if "specialties" not in used:
        item.specialties = []
    if "continuing_education" not in used:
        item.continuing_education = False
    if item.new_id_number:
        item.new_id_number = item.new_id_number.strip().upper()
    if btype is not None:
        for key, value in btype.route(item).items():
            setattr(item, key, value)


def handling_office(item: Application, role: str | None, state: str | None = None) -> str:
    """The office behind a role on this application in `state` (default: its current one), as applicants read
    it: the enterprise by name (the previous employer while it may release), the province's construction
    authority, the ministry's registration centre; the applicant themself; the platform for its own moves."""
    if role == ENTERPRISE and (state or item.state) == workflow.State.RELEASE and item.previous_enterprise is not None:
        return item.previous_enterprise.name
    if role == ENTERPRISE and item.enterprise is not None:
        return item.enterprise.name
    if role == SYSTEM:
        return str(_l("The platform (by rule)"))
    if role == PROVINCE and item.province is not None:
        return str(_l("%(province)s construction authority", province=item.province))
    if role == MINISTRY:
        return str(_l("Registration Centre of the Ministry of Housing and Urban-Rural Development"))
    if role == APPLICANT:
        return str(_l("You (the applicant)"))
    return str(ROLE_LABELS.get(role, role or ""))
