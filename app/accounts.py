"""Applicant accounts: opening one (step 1 of sign-up), password rules, the four sign-up steps, and
changes to the mobile number and password. Views and the API call these; SMS codes are checked by
the caller through app.services.sms before anything here changes.
"""
import string
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l

from models import AppUser, Person

from ground import roles as R
from ground import signals
from ground.extensions import db
from ground.identifiers import InvalidIdentifier, clean_id_number, clean_mobile, clean_person_name


class AccountError(Exception):
    """A refusal with one message per form field (field name → list of messages)."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(str(m) for msgs in errors.values() for m in msgs))
        self.errors = errors


def password_problems(password: str, *, id_number: str = "", phone: str = "") -> list:
    """Translated reasons why a password is too weak (empty = acceptable)."""
    problems = []
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        problems.append(_l("At least %(count)s characters.", count=minimum))
    if len(password) > 64:
        problems.append(_l("At most 64 characters."))
    classes = [any(c in string.ascii_uppercase for c in password), any(c in string.ascii_lowercase for c in password),
               any(c in string.digits for c in password), any(not c.isalnum() for c in password)]
    if sum(classes) < 3:
        problems.append(_l("Use at least three of: capital letters, small letters, digits, symbols."))
    lowered = password.lower()
    if (id_number and id_number[-6:].lower() in lowered) or (phone and phone[-6:] in lowered):
        problems.append(_l("Must not contain your ID number or mobile number."))
    return problems


def open_account(name: str, id_number: str, phone: str, password: str) -> AppUser:
    """Create the applicant's account and person (or bind a person the qualification roster already holds).

    Raises AccountError; the caller has already checked the SMS code and commits.
    """
    id_number, phone = clean_id_number(id_number), clean_mobile(phone)
    errors: dict[str, list] = {}
    try:
        name = clean_person_name(name)
    except InvalidIdentifier as exc:
        errors["name"] = [exc.message]
    sm = current_app.appbuilder.sm
    if sm.find_user(username=id_number) is not None:
        errors.setdefault("id_number", []).append(
            _l("An account with this ID number already exists; sign in, or reset the password by SMS."))
    person = db.session.query(Person).filter(Person.id_number == id_number).one_or_none()
    if person is not None and person.name != name:
        errors.setdefault("name", []).append(
            _l("The name does not match the name on file for this ID number (from the qualification roster)."))
    problems = password_problems(password, id_number=id_number, phone=phone)
    if problems:
        errors["password"] = problems
    if errors:
        raise AccountError(errors)
    if person is None:
        person = Person(id_number=id_number, name=name)
        db.session.add(person)
    person.phone = phone
    db.session.flush()
    role = sm.find_role(R.APPLICANT)
    user = AppUser(username=id_number, first_name=name, last_name="", email=f"{id_number}@applicant.invalid",
                   active=True, roles=[role], person_id=person.id)
    user.password = _hash(password)
    db.session.add(user)
    db.session.flush()
    return user


def _hash(password: str) -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash(password, method=current_app.config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"))


def set_password(user: AppUser, password: str):
    problems = password_problems(password, id_number=user.username, phone=getattr(user.person, "phone", "") or "")
    if problems:
        raise AccountError({"password": problems})
    user.password = _hash(password)
    user.fail_login_count = 0
    user.locked_until = None
    signals.password_changed.send(user)


def change_password(user: AppUser, old: str, new: str):
    from werkzeug.security import check_password_hash

    if not check_password_hash(user.password, old or ""):
        raise AccountError({"old_password": [_l("The current password is wrong.")]})
    if old == new:
        raise AccountError({"password": [_l("The new password must differ from the current one.")]})
    set_password(user, new)


def change_phone(person: Person, phone: str):
    person.phone = clean_mobile(phone)


# --- The four sign-up steps -------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    number: int
    key: str
    label: object
    endpoint: str
    done: bool


REQUIRED_MATERIALS = ("photo", "id_front", "id_back", "id_handheld", "signature")
PROFILE_FIELDS = ("ethnicity", "email", "education", "degree", "school", "graduation_date", "major")


def missing_materials(person: Person) -> list[str]:
    return [kind for kind in REQUIRED_MATERIALS if person.latest_attachment(kind) is None]


def profile_complete(person: Person) -> bool:
    return all(getattr(person, name) for name in PROFILE_FIELDS)


def steps(person: Person | None) -> list[Step]:
    """The four sign-up steps and which are done (none before the account exists)."""
    return [
        Step(1, "basic", _l("Basic information"), "SignUpView.basic", person is not None),
        Step(2, "materials", _l("Attachments"), "MyAccountView.materials",
             person is not None and not missing_materials(person)),
        Step(3, "profile", _l("Profile"), "MyAccountView.profile", person is not None and profile_complete(person)),
        Step(4, "verify", _l("Real-name verification"), "MyAccountView.verify", person is not None and person.is_verified),
    ]


def next_step(person: Person) -> Step | None:
    return next((s for s in steps(person) if not s.done), None)
