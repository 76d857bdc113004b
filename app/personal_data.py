"""Who sees ID and mobile numbers in full.

Every panel list and page, the REST API and the exports show them masked (110101********1234,
138****5678), except
- to the person themselves (their own numbers: an applicant's account name is their ID number);
- to a user holding VIEW_UNMASKED on PERSONAL_DATA (ground.roles; no built-in role holds it, it is given
  through the database role VIEW_UNMASKED_ROLE with `set_unmasked_view`);
- where a page needs the full number by design and says so (`reveal=True`: the on-site real-name check).
Public pages, PDFs and the enterprise's pages always mask. Searches filter on the stored (full) numbers;
only the display is masked.

Each number shown in full to someone other than its owner is noted for the request; app.audit writes
one "view" row for the response that showed them (who, role, IP, page, which numbers, masked).
"""
from flask import current_app, g, has_request_context

from ground.extensions import db
from ground.identifiers import mask_id_number, mask_mobile, mask_text, personal_numbers_in
from ground.roles import PERSONAL_DATA, VIEW_UNMASKED, VIEW_UNMASKED_ROLE
from app import audit, duties


def _viewer():
    return audit.acting_user()


def may_view_unmasked() -> bool:
    """Whether the signed-in user holds VIEW_UNMASKED (asked once per request)."""
    if not has_request_context():
        return False
    if "_may_view_unmasked" not in g:
        user = _viewer()
        g._may_view_unmasked = bool(getattr(user, "is_authenticated", False)
                                    and current_app.appbuilder.sm.has_access(VIEW_UNMASKED, PERSONAL_DATA))
    return g._may_view_unmasked


def _own() -> frozenset:
    """The viewer's own ID number and mobile."""
    if not has_request_context():
        return frozenset()
    if "_own_numbers" not in g:
        person = getattr(_viewer(), "person", None)
        g._own_numbers = frozenset(v for v in (getattr(person, "id_number", None), getattr(person, "phone", None)) if v)
    return g._own_numbers


def _shown(value, masked, reveal=False):
    if value in _own():
        return value
    if reveal or may_view_unmasked():
        audit.note_disclosure(masked)
        return value
    return masked


def id_number(value, reveal=False):
    return _shown(value, mask_id_number(value), reveal) if value else value


def mobile(value):
    return _shown(value, mask_mobile(value)) if value else value


def account_name(value):
    """A user name: applicants sign in with their ID number."""
    return id_number(value) if value and personal_numbers_in(value) == [value] else value


def text(value):
    """Free text (opinions, audit details, file names) with the numbers written in it masked."""
    if not value:
        return value
    found = [n for n in personal_numbers_in(value) if n not in _own()]
    if not found:
        return value
    if may_view_unmasked():
        for number in found:
            audit.note_disclosure(mask_text(number))
        return value
    return mask_text(value, keep=_own())


_BY_KEY = {"id_number": id_number, "new_id_number": id_number, "phone": mobile, "username": account_name,
           "email": text, "opinion": text, "last_opinion": text, "reason_text": text, "filename": text}


def mask_record(data):
    """An API result (dict, list, nested) with its personal numbers masked, by key."""
    if isinstance(data, list):
        return [mask_record(item) for item in data]
    if isinstance(data, dict):
        return {key: _BY_KEY[key](value) if key in _BY_KEY and isinstance(value, str) else mask_record(value)
                for key, value in data.items()}
    return data


def set_unmasked_view(username: str, granted: bool = True):
    """Give a user (or take away) full ID and mobile numbers on pages and in the API, through the
    database role VIEW_UNMASKED_ROLE; the change goes through app.duties (audited). Raises LookupError for an
    unknown user, duties.RolesRefused (nothing changed) when the rules refuse it."""

    sm = current_app.appbuilder.sm
    user = sm.find_user(username=username)
    if user is None:
        raise LookupError(username)
    role = sm.find_role(VIEW_UNMASKED_ROLE) or sm.add_role(VIEW_UNMASKED_ROLE)
    role.permissions = [sm.add_permission_view_menu(VIEW_UNMASKED, PERSONAL_DATA)]
    try:
        (duties.grant if granted else duties.revoke)(user, VIEW_UNMASKED_ROLE)
    except duties.RolesRefused:
        db.session.rollback()
        raise
    db.session.commit()
