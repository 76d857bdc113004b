"""A staff account's own person (AppUser.staff_person_id): the administrator links it by ID number, verified, so the
workflow engine can refuse the officer any move on their own applications (app/workflow.py `actor_reasons`).

"Verified" means (our rule): the ID number is a valid citizen ID number (python-stdnum), it belongs to a person on
the register, and that person passed real-name verification; the account is a staff account (Enterprise, Province,
Ministry or another non-applicant business role). Linking and unlinking are audited (the masked ID number).
"""
from flask_babel import lazy_gettext as _l

from app.audit import record
from ground import roles as R
from ground.errors import UserError
from ground.extensions import db
from ground.identifiers import InvalidIdentifier, clean_id_number, mask_id_number
from models import AppUser, Person


class LinkRefused(UserError):
    """The link cannot be made: `message` says why (translated)."""


def _staff_account(username: str) -> AppUser:
    user = db.session.query(AppUser).filter(AppUser.username == (username or "").strip()).one_or_none()
    if user is None:
        raise LinkRefused(_l("No account with this user name."))
    roles = {role.name for role in user.roles}
    if not roles - {R.APPLICANT, *R.ADMINISTRATION_ROLES}:
        raise LinkRefused(_l("Only a staff account (employer, provincial or ministry officer) is linked to a person."))
    return user


def link(username: str, id_number: str, admin=None) -> AppUser:
    """Link the staff account `username` to the verified person holding `id_number`; audited; commits."""
    try:
        user = _staff_account(username)
        try:
            number = clean_id_number(id_number)
        except InvalidIdentifier as exc:
            raise LinkRefused(exc.message) from None
        person = db.session.query(Person).filter(Person.id_number == number).one_or_none()
        if person is None:
            raise LinkRefused(_l("No person with this ID number is on the register."))
        if not person.is_verified:
            raise LinkRefused(_l("This person has not passed real-name verification; link the account once they have."))
        user.staff_person_id = person.id
        record("account.link_person", "AppUser", user.id, summary=f"{user.username}: {mask_id_number(number)}",
               detail={"person_id": person.id}, user=admin)
        db.session.commit()
        return user
    except Exception:
        db.session.rollback()
        raise


def unlink(username: str, admin=None) -> AppUser:
    try:
        user = _staff_account(username)
        previous, user.staff_person_id = user.staff_person_id, None
        record("account.unlink_person", "AppUser", user.id, summary=user.username, detail={"person_id": previous},
               user=admin)
        db.session.commit()
        return user
    except Exception:
        db.session.rollback()
        raise
