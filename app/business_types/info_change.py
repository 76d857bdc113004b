"""Personal information change (个人信息变更): a new name or ID number, with new ID card scans."""
from flask_babel import lazy_gettext as _l

from app import notifications
from app.business_types import shared
from app.business_types.base import BusinessType
from ground.clock import today
from ground.identifiers import InvalidIdentifier, clean_id_number, clean_person_name
from ground.vocabulary import State
from models import AppUser


def check_input(values, person) -> dict:
    errors: dict[str, list] = {}
    new_name, new_id = (values.get("new_name") or "").strip(), (values.get("new_id_number") or "").strip()
    if not new_name and not new_id:
        errors.setdefault("new_name", []).append(_l("Enter the new name or the new ID number (or both)."))
    if new_id:
        try:
            cleaned = clean_id_number(new_id)
        except InvalidIdentifier as exc:
            errors.setdefault("new_id_number", []).append(exc.message)
        else:
            if person is not None and cleaned == person.id_number:
                errors.setdefault("new_id_number", []).append(_l("The new ID number is the same as the current one."))
    if new_name:
        try:
            new_name = clean_person_name(new_name)
        except InvalidIdentifier as exc:
            errors.setdefault("new_name", []).append(exc.message)
    if person is not None and new_name and new_name == person.name and not new_id:
        errors.setdefault("new_name", []).append(_l("The new name is the same as the current one."))
    return errors


def eligibility(application, at_submission, limits) -> list:
    if not application.new_id_number:
        return []
    try:
        new_id = clean_id_number(application.new_id_number)
    except InvalidIdentifier:
        return []
    if shared.id_number_taken(new_id, application.person.id):
        return [_l("The new ID number already belongs to another account.")]
    return []


def outcome(ctx):
    app = ctx.application
    person = app.person
    old_id = person.id_number
    if app.new_name:
        person.name = clean_person_name(app.new_name)
    if app.new_id_number:
        person.id_number = app.new_id_number
        for user in ctx.session.query(AppUser).filter(AppUser.person_id == person.id, AppUser.username == old_id):
            user.username = person.id_number  # the ID number is the applicant's login account
    # At or past the age limit the registration ends and no certificate is printed. A new ID number is a new birth
    # date: it ends on approval. Otherwise the nightly job has not run yet: it ends on the day the holder reached the
    # limit, as the job dates it (app/lifecycle.py).
    registration, limits = person.registration, shared.configured_limits()
    if shared.is_active(registration) and shared.over_age_limit(person, today(), limits):
        day = today() if app.new_id_number else shared.age_limit_day(person, limits)
        shared.lapse_registration(ctx.session, registration, day, "over_age")
        notifications.send("registration_lapsed", f"registration_lapsed:{registration.id}:{day}",
                           notifications.applicant_users(person.id),
                           {"registration": registration.number, "day": day, "reason": "over_age"},
                           f"registration:{registration.id}")


INFO_CHANGE = BusinessType(
    code="info_change",
    stages=(State.PROVINCE, State.MINISTRY, State.ISSUE),
    certificate="new_if_registered",
    fields=("new_name", "new_id_number", "reason_text"),
    required=frozenset(),
    eligibility=eligibility,
    check_input=check_input,
    outcome=outcome,
    scans=("id_front", "id_back"),
    age_limited=False,
    confirmer="current",
    needs_qualified_employer=False,  # possible at a closed employer (app/employer_rules.py)
    guide=_l("A changed name or ID number: enter the new value and upload new ID scans."),
)
