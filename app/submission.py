"""The applicant's submission as one domain service, called by the personal edition's form and the REST API alike:
check what was typed → store the draft and its scans → verify the SMS code and move through the engine → commit.

Nothing is written when a step refuses: field errors raise `SubmissionRejected` (field → messages), the engine's
refusals raise its WorkflowError, and the transaction is rolled back either way.
"""
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from ground.extensions import db
from models import Application, Specialty
from app import applications, rules, workflow
from app.business_types import BUSINESS_TYPES
from app.services import images, sms, storage


class SubmissionRejected(workflow.WorkflowError):
    """What the applicant typed cannot be used: `fields` maps each field to its translated messages."""

    status = 422

    def __init__(self, fields: dict):
        super().__init__(_l("Some fields are invalid."))
        self.fields = fields


@dataclass
class Submission:
    """One save of an applicant's form: the values typed, the scans uploaded, and whether to submit now."""

    business_type: str
    values: dict  # as rules.check_fields reads them: dates, specialty codes, an Enterprise or None, …
    scans: dict = field(default_factory=dict)  # kind → uploaded bytes (the new ID card of an information change)
    submit: bool = False
    sms_code: str | None = None
    version: int | None = None  # the version the applicant saw (API); stale → Conflict
    # The form keeps a draft with what is typed so far; the API takes whole drafts only.
    incomplete_draft_allowed: bool = True


def save(user, submission: Submission, application: Application | None = None, *, form_errors: dict | None = None,
         session=None) -> Application:
    """Store `submission` as a new draft (application None) or into `application`, and submit it if asked.

    `form_errors`: what the interface found wrong itself (its consent boxes, input it could not read), refused
    together with the service's own findings so the applicant sees every correction at once.
    """
    session = session or db.session
    person = getattr(user, "person", None)
    errors = {name: list(messages) for name, messages in (form_errors or {}).items()}
    for name, messages in _field_errors(submission, person).items():
        errors.setdefault(name, []).extend(messages)
    processed = _processed_scans(submission, errors)
    if errors:
        raise SubmissionRejected(errors)
    if submission.submit:
        _verify_sms(person, submission.sms_code)
    try:
        item = _store(session, user, application, submission)
        for kind, image in processed.items():
            storage.save(session, person, kind, f"{kind}.{image.extension}", image.data, image.content_type,
                         application=item)
        if submission.submit:
            workflow.apply(item, workflow.Move("submit", sms_confirmed=True), user, session=session, commit=False)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return item


def submit(user, application, sms_code: str | None, version: int | None = None, *, session=None) -> Application:
    """Submit a stored draft or returned application, signed with the SMS code (the API's submit)."""
    person = getattr(user, "person", None)
    _verify_sms(person, sms_code)
    return workflow.apply(application, workflow.Move("submit", version=version, sms_confirmed=True), user,
                          session=session)


def _field_errors(submission: Submission, person) -> dict:
    errors: dict[str, list] = {}
    lenient = submission.incomplete_draft_allowed and not submission.submit
    for name, messages in rules.check_fields(submission.business_type, submission.values, person=person).items():
        if lenient and rules.is_empty(submission.values.get(name)):
            continue  # a draft may be incomplete; only what was typed must be right
        errors.setdefault(name, []).extend(messages)
    if submission.submit:
        for kind in BUSINESS_TYPES[submission.business_type].scans:
            if not submission.scans.get(kind):
                errors.setdefault(kind, []).append(_l("Upload the new ID card scans."))
        if not submission.sms_code:
            errors.setdefault("sms_code", []).append(_l("Enter the SMS code sent to your mobile."))
    return errors


def _processed_scans(submission: Submission, errors: dict) -> dict:
    processed = {}
    for kind in BUSINESS_TYPES[submission.business_type].scans:
        data = submission.scans.get(kind)
        if data:
            try:
                processed[kind] = images.process(kind, data)
            except images.UploadRejected as exc:
                errors.setdefault(kind, []).append(exc.message)
    return processed


def _verify_sms(person, code: str | None):
    try:
        sms.verify_code(getattr(person, "phone", None) or "", "apply", code or "")
    except sms.SmsError as exc:
        raise SubmissionRejected({"sms_code": [exc.message]}) from None


def _store(session, user, item: Application | None, submission: Submission) -> Application:
    values = submission.values
    if item is None:
        item = Application(business_type=submission.business_type)
        applications.start_draft(item, user)
        session.add(item)
    else:
        applications.check_editable(item)
        if submission.version is not None and submission.version != item.version:
            raise workflow.Conflict(_l("This application was changed by someone else since you opened it; "
                                       "reload and try again."))
        item.business_type = submission.business_type
    for name in BUSINESS_TYPES[submission.business_type].fields:
        if name == "specialties":
            codes = [getattr(s, "code", s) for s in values.get("specialties") or []]
            item.specialties = session.query(Specialty).filter(Specialty.code.in_(codes)).all() if codes else []
        else:
            setattr(item, name, values.get(name))
    applications.tidy(item)
    session.flush()
    return item
