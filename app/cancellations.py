"""Lodging a cancellation about someone else (cancel_by_employer, cancel_by_authority; app/business_types/
cancel_by_others.py): the starter picks a registered person in its own scope, enters what the type asks, confirms,
and the application is created and moved (`lodge`) in one transaction.

The employer sees its own registered staff; a province the registrations of enterprises in its province; the
ministry all. Nothing is written when a check refuses: field errors raise `SubmissionRejected`, the engine's
refusals its WorkflowError.
"""
from dataclasses import dataclass
from datetime import date

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_

from app import applications, rules, scope, workflow
from app.business_types import BUSINESS_TYPES, BusinessType
from app.services import images, storage
from app.services.numbering import application_number
from app.submission import SubmissionRejected
from ground import roles as R
from ground.clock import today
from ground.extensions import db
from ground.vocabulary import State
from models import Application, Person, Registration

STATEMENT_MAX_LENGTH = workflow.OPINION_MAX_LENGTH
DOCUMENT_KIND = "decision_document"
PER_PAGE = 20
# Registrations a cancellation may end: an active one, or a lapsed one (it records why it ended).
CANCELLABLE = ("active", "lapsed")


def staff_types() -> list[BusinessType]:
    """The business types started by staff, in the table's order."""
    return [t for t in BUSINESS_TYPES.values() if t.started_by_staff]


def starter_role(user, btype: BusinessType) -> str | None:
    """The role under which `user` may lodge `btype`, if any."""
    roles = R.user_role_names(user)
    return next((r for r in R.BUSINESS_ROLES if r in btype.starters and r in roles), None)


def types_for(user) -> list[BusinessType]:
    return [t for t in staff_types() if starter_role(user, t)]


def lodgeable_type(code: str, user) -> BusinessType:
    """The staff-started type `code` this user may lodge; NotFound otherwise (not offered to them at all)."""
    btype = BUSINESS_TYPES.get(code)
    if btype is None or not btype.started_by_staff or starter_role(user, btype) is None:
        raise workflow.NotFound(_l("No such cancellation for your role."))
    return btype


@dataclass(frozen=True)
class Page:
    items: list
    total: int
    page: int
    pages: int


def candidates(user, search: str = "", page: int = 1, per_page: int = PER_PAGE) -> Page:
    """Registrations in the user's row scope a cancellation may end, by name, ID number or registration number."""
    query = (scope.query(Registration, user).join(Person, Registration.person_id == Person.id)
             .filter(Registration.status.in_(CANCELLABLE)))
    own = getattr(user, "staff_person_id", None)
    if own is not None:
        query = query.filter(Registration.person_id != own)  # nobody acts on their own registration
    search = (search or "").strip()[:50]
    if search:
        query = query.filter(or_(Person.name.contains(search, autoescape=True),
                                 Person.id_number == search.upper(),
                                 Registration.number.startswith(search.upper(), autoescape=True)))
    total = query.with_entities(func.count(Registration.id)).scalar() or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    items = query.order_by(Person.name, Registration.id).offset((page - 1) * per_page).limit(per_page).all()
    return Page(items, total, page, pages)


def registration_in_scope(user, registration_id) -> Registration:
    found = None
    if isinstance(registration_id, int) and 0 < registration_id < 2 ** 31:
        found = scope.query(Registration, user).filter(Registration.id == registration_id).one_or_none()
    if found is None:
        raise workflow.NotFound(_l("Registration not found."))
    return found


@dataclass
class Lodging:
    """What the starter entered: the registration, the type's fields, the document, and the confirmation."""

    business_type: str
    registration_id: int | None
    reason: str | None = None
    reason_text: str | None = None
    leaving_date: date | None = None
    document: bytes | None = None
    document_name: str = ""
    confirmed: bool = False


def _document(lodging: Lodging, errors: dict):
    """(bytes, content type, extension) of an acceptable decision document, or None with the reason in errors."""
    data = lodging.document
    if not data:
        errors.setdefault("document", []).append(_l("Upload the decision document (PDF or JPEG)."))
        return None
    limit = current_app.config["RULES"]["DECISION_DOCUMENT_MAX_MB"]
    if len(data) > limit * 1024 * 1024:
        errors.setdefault("document", []).append(_l("The decision document is larger than %(mb)s MB.", mb=limit))
        return None
    if data.startswith(b"%PDF-"):
        if b"%%EOF" not in data[-2048:]:
            errors.setdefault("document", []).append(_l("The PDF file is incomplete or damaged."))
            return None
        return data, "application/pdf", "pdf"
    if data.startswith(b"\xff\xd8\xff"):
        try:
            image = images.process("other", data)
        except images.UploadRejected as exc:
            errors.setdefault("document", []).append(exc.message)
            return None
        return image.data, image.content_type, image.extension
    errors.setdefault("document", []).append(_l("The decision document must be a PDF or JPEG file."))
    return None


def check(user, lodging: Lodging) -> tuple[BusinessType, Registration, dict, tuple | None]:
    """Everything the starter entered, checked: (type, registration, field values, document) or SubmissionRejected."""
    btype = lodgeable_type(lodging.business_type, user)
    registration = registration_in_scope(user, lodging.registration_id)
    person = registration.person
    reason = lodging.reason
    if btype.reasons is not None and len(btype.reasons.pairs) == 1:
        reason = btype.reasons.pairs[0][0]  # the employer's ground is fixed: the labour contract ended
    values = {"reason": reason, "reason_text": (lodging.reason_text or "").strip() or None,
              "leaving_date": lodging.leaving_date if "leaving_date" in btype.fields else None}
    errors = {name: list(msgs) for name, msgs in rules.check_fields(btype.code, values, person).items()}
    if len(values["reason_text"] or "") > STATEMENT_MAX_LENGTH:
        errors.setdefault("reason_text", []).append(_l("The statement is longer than %(max)s characters.",
                                                       max=STATEMENT_MAX_LENGTH))
    if getattr(user, "staff_person_id", None) == person.id:
        errors.setdefault("registration", []).append(_l("You may not act on your own application."))
    document = _document(lodging, errors) if btype.document else None
    if not lodging.confirmed:
        errors.setdefault("confirmed", []).append(_l("Tick the confirmation to lodge it."))
    if errors:
        raise SubmissionRejected(errors)
    return btype, registration, values, document


def lodge(user, lodging: Lodging, *, session=None) -> Application:
    """Create the application about the registration's person and lodge it (`lodge`), in one transaction."""
    session = session or db.session
    btype, registration, values, document = check(user, lodging)
    person = registration.person
    try:
        item = Application(business_type=btype.code, person=person, created_by_id=user.id, state=State.DRAFT,
                           number=application_number(session, today()), **values)
        applications.tidy(item)
        session.add(item)
        session.flush()
        if document is not None:
            data, content_type, extension = document
            storage.save(session, person, DOCUMENT_KIND, f"{DOCUMENT_KIND}.{extension}", data, content_type,
                         application=item)
        workflow.apply(item, workflow.Move("lodge"), user, session=session, commit=False)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return item


def decision_documents(application: Application) -> list:
    """The decision documents lodged with an application (newest first)."""
    return [a for a in reversed(application.person.attachments)
            if a.kind == DOCUMENT_KIND and a.application_id == application.id]


def document_limit_mb() -> int:
    return current_app.config["RULES"]["DECISION_DOCUMENT_MAX_MB"]
