"""Penalty and credit records (不良行为记录) and the refusal grounds of MOC Order No. 153 art. 15 they feed.

- `record(user, person, values, filename, data)` enters a record (Province for persons in its row scope, Ministry
  for anyone) with its decision document kept in the object store (`penalties/<random>`), in the caller's
  transaction, and tells the person in the message centre.
- `refusal_reasons(person, application=None)` lists every refusal ground the person meets today, each with the
  day from which registration may be applied for again: a certificate revoked less than REVOCATION_BAR_YEARS ago
  (a "revoked" record, or a registration cancelled "revoked by law"), a criminal sentence being served or served
  less than CRIMINAL_BAR_YEARS_PRACTICE / CRIMINAL_BAR_YEARS_OTHER years ago, and applying in two units.
  app/rules.py checks them before the form, at submission and at approval for the business types whose
  declaration sets `refusal_grounds`. The ground "employer not qualified" is the employer status's (not here).
- `public_records(person)` is what the public register shows: public records within PENALTY_PUBLIC_YEARS.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app import notifications, scope
from app.business_types import BUSINESS_TYPES
from app.audit import record as audit
from app.services import storage
from ground import roles as R
from ground.clock import add_years, today
from ground.errors import UserError
from ground.extensions import db
from ground.vocabulary import IN_PROGRESS_STATES
from models import Application, PenaltyRecord, Person
from models.choices import PENALTY_GROUNDS, PENALTY_KINDS

AREA = "penalties"
DOCUMENT_TYPES = {b"%PDF": ("application/pdf", ".pdf"), b"\xff\xd8\xff": ("image/jpeg", ".jpg"),
                  b"\x89PNG": ("image/png", ".png")}
REVOKED_BY_LAW = "revoked_by_law"  # models.choices.CANCELLATION_REASONS


class PenaltyError(UserError):
    """A record that cannot be entered: `message` says why (translated)."""


def _limits() -> dict:
    return current_app.config["RULES"]


# --- Refusal grounds ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Bar:
    """One refusal ground met: its REFUSAL_REASONS code, the translated reason, the first day it no longer holds."""

    code: str
    reason: object
    until: date | None  # None: no end known yet (a sentence without an end date)
    other: str | None = None  # two units: the number of the other application


def _records(person_id, kind) -> list[PenaltyRecord]:
    return list(db.session.scalars(select(PenaltyRecord).where(PenaltyRecord.person_id == person_id,
                                                                PenaltyRecord.kind == kind)
                                   .order_by(PenaltyRecord.decided_on.desc(), PenaltyRecord.id.desc())))


def revocation_bars(person, day: date, limits) -> list[Bar]:
    """Certificate revoked less than REVOCATION_BAR_YEARS ago: from a penalty record of kind "revoked" (its decision
    date) and from the person's registration cancelled "revoked by law" (its cancellation date)."""
    years, bars = limits["REVOCATION_BAR_YEARS"], []
    for rec in _records(person.id, "revoked"):
        again = add_years(rec.decided_on, years)
        if day < again:
            bars.append(Bar("revoked_recently", _l(
                "The registration certificate was revoked on %(day)s (decision %(decision)s); registration may be "
                "applied for again from %(again)s.", day=rec.decided_on.isoformat(), decision=rec.decision_number,
                again=again.isoformat()), again))
    registration = person.registration
    if registration is not None and registration.revoked_by_law and registration.cancelled_on is not None:
        again = add_years(registration.cancelled_on, years)
        if day < again:
            bars.append(Bar("revoked_recently", _l(
                "The registration was cancelled on %(day)s: revoked by law; registration may be applied for again "
                "from %(again)s.", day=registration.cancelled_on.isoformat(), again=again.isoformat()), again))
    return bars


def criminal_bars(person, day: date, limits) -> list[Bar]:
    """A criminal sentence being served, or served less than the barred years ago (5 for a crime in construction
    practice, 3 for another)."""
    bars = []
    for rec in _records(person.id, "criminal_sentence"):
        years = limits["CRIMINAL_BAR_YEARS_PRACTICE" if rec.practice_related else "CRIMINAL_BAR_YEARS_OTHER"]
        if rec.period_to is None:
            bars.append(Bar("criminal_sentence", _l(
                "A criminal sentence (decision %(decision)s) is being served; registration may be applied for "
                "%(years)s years after it has been served.", decision=rec.decision_number, years=years), None))
            continue
        again = add_years(rec.period_to, years)
        if day <= rec.period_to:
            bars.append(Bar("criminal_sentence", _l(
                "A criminal sentence (decision %(decision)s) is being served until %(end)s; registration may be "
                "applied for again from %(again)s.", decision=rec.decision_number, end=rec.period_to.isoformat(),
                again=again.isoformat()), again))
        elif day < again:
            bars.append(Bar("criminal_sentence", _l(
                "A criminal sentence (decision %(decision)s) was served on %(end)s, less than %(years)s years ago; "
                "registration may be applied for again from %(again)s.", decision=rec.decision_number,
                end=rec.period_to.isoformat(), years=years, again=again.isoformat()), again))
    return bars


def _applying_types() -> list[str]:
    """Business types that apply for registration at a unit they name (initial, change, re-registration)."""
    return sorted(code for code, btype in BUSINESS_TYPES.items() if "enterprise" in btype.fields)


def _enterprise_of(application):
    return application.enterprise_id or getattr(application.enterprise, "id", None)


def two_unit_bars(application) -> list[Bar]:
    """Applying in two units (在两个及以上单位申请注册): another application of the person in progress names another
    enterprise, or the person is registered at another enterprise than the one this application (initial or
    re-registration) names."""
    enterprise_id = _enterprise_of(application)
    if enterprise_id is None:
        return []
    bars = []
    query = (select(Application).where(Application.person_id == application.person.id,
                                       Application.state.in_(sorted(IN_PROGRESS_STATES)),
                                       Application.business_type.in_(_applying_types()),
                                       Application.enterprise_id.isnot(None),
                                       Application.enterprise_id != enterprise_id)
             .order_by(Application.id))
    if application.id is not None:
        query = query.where(Application.id != application.id)
    for other in db.session.scalars(query):
        bars.append(Bar("two_units", _l(
            "Applying for registration in two units: application %(number)s names %(enterprise)s.",
            number=other.number, enterprise=other.enterprise.name), None, other.number))
    registration = application.person.registration
    if (application.business_type != "change" and registration is not None and registration.status == "active"
            and registration.enterprise_id != enterprise_id):
        bars.append(Bar("two_units", _l(
            "Applying for registration in two units: the person is registered at %(enterprise)s.",
            enterprise=registration.enterprise.name), None))
    return bars


def person_bars(person, day: date | None = None, limits=None) -> list[Bar]:
    """The grounds that bar this person from any registration today (revocation, criminal sentence)."""
    day, limits = day or today(), limits or _limits()
    return revocation_bars(person, day, limits) + criminal_bars(person, day, limits)


def refusal_bars(person, application=None) -> list[Bar]:
    """Every refusal ground met today (the application adds the two-units check)."""
    bars = person_bars(person)
    if application is not None:
        bars += two_unit_bars(application)
    return bars


def refusal_reasons(person, application=None) -> list:
    """The translated reasons of every refusal ground met."""
    return [bar.reason for bar in refusal_bars(person, application)]


# --- Recording ---------------------------------------------------------------------------------
def authority_of(user) -> str | None:
    """The province code of a provincial officer's authority; None for the ministry."""
    names = R.user_role_names(user)
    if R.MINISTRY in names:
        return None
    if R.PROVINCE in names and user.province_code:
        return user.province_code
    raise PenaltyError(_l("Only a provincial authority or the ministry records penalties."))


def find_person(user, id_number: str):
    """The person with this ID number, if the user's row scope holds them (a province: persons of its province)."""
    person = db.session.scalar(select(Person).where(Person.id_number == id_number))
    if person is None or not scope.can_see(user, person):
        raise PenaltyError(_l("No person with this ID number is in your area of responsibility."))
    return person


def document_type(data: bytes) -> tuple[str, str]:
    """(content type, suffix) of a decision document: PDF, JPEG or PNG by its content."""
    for magic, kind in DOCUMENT_TYPES.items():
        if data.startswith(magic):
            return kind
    raise PenaltyError(_l("The decision document must be a PDF, JPEG or PNG file."))


def _check(values: dict) -> list:
    errors = []
    if values.get("kind") not in PENALTY_KINDS:
        errors.append(_l("Choose the kind of record."))
    if values.get("ground_code") not in PENALTY_GROUNDS:
        errors.append(_l("Choose the legal ground."))
    elif values["ground_code"] == "other" and not (values.get("ground_text") or "").strip():
        errors.append(_l("Name the law or regulation and its article."))
    if not (values.get("decision_number") or "").strip():
        errors.append(_l("Enter the decision number."))
    decided = values.get("decided_on")
    if not isinstance(decided, date):
        errors.append(_l("Enter the decision date."))
    elif decided > today():
        errors.append(_l("The decision date cannot be in the future."))
    start, end = values.get("period_from"), values.get("period_to")
    if isinstance(start, date) and isinstance(end, date) and end < start:
        errors.append(_l("The period cannot end before it starts."))
    if values.get("kind") == "criminal_sentence" and not isinstance(start, date):
        errors.append(_l("A criminal sentence needs the day its execution began."))
    return errors


def record(user, person, values: dict, filename: str, data: bytes) -> PenaltyRecord:
    """Enter a record against `person` with its decision document; the caller commits. Raises PenaltyError."""
    authority = authority_of(user)
    if not scope.can_see(user, person):
        raise PenaltyError(_l("No person with this ID number is in your area of responsibility."))
    errors = _check(values)
    if not data:
        errors.append(_l("Attach the decision document."))
    if errors:
        raise PenaltyError("；".join(str(e) for e in errors))
    content_type, suffix = document_type(data)
    key = f"{person.id}/{secrets.token_hex(16)}"
    storage.backend().put(storage.check_key(f"{AREA}/{key}"), data)
    rec = PenaltyRecord(
        person=person, kind=values["kind"], ground_code=values["ground_code"],
        ground_text=(values.get("ground_text") or "").strip() or None,
        decision_number=values["decision_number"].strip()[:60], decided_on=values["decided_on"],
        period_from=values.get("period_from"), period_to=values.get("period_to"),
        practice_related=bool(values.get("practice_related")), authority_province_code=authority,
        public=bool(values.get("public")), document_key=key,
        document_filename=(Path(filename or "document").name or "document")[:200] or f"document{suffix}",
        document_content_type=content_type, document_size=len(data),
        document_sha256=hashlib.sha256(data).hexdigest(), recorded_by_fk=user.id)
    db.session.add(rec)
    db.session.flush()
    audit("penalty.record", "PenaltyRecord", rec.id, rec.decision_number, detail={"kind": rec.kind}, user=user)
    notifications.send("penalty_recorded", f"penalty:{rec.id}", notifications.applicant_users(person.id),
                       {"penalty_kind": rec.kind, "decision": rec.decision_number, "day": rec.decided_on},
                       subject=f"penalty:{rec.id}")
    return rec


def open_document(rec: PenaltyRecord):
    """The decision document's file object (streaming)."""
    return storage.backend().open(storage.check_key(f"{AREA}/{rec.document_key}"))


# --- What others see ---------------------------------------------------------------------------
def own_records(person_id) -> list[PenaltyRecord]:
    return list(db.session.scalars(select(PenaltyRecord).where(PenaltyRecord.person_id == person_id)
                                   .order_by(PenaltyRecord.decided_on.desc(), PenaltyRecord.id.desc())))


def public_since(day: date | None = None) -> date:
    """Public records decided on or after this day are still published."""
    return add_years(day or today(), -_limits()["PENALTY_PUBLIC_YEARS"])


def public_records(person_id) -> list[PenaltyRecord]:
    """What the public register shows of a person: public records decided within PENALTY_PUBLIC_YEARS."""
    return list(db.session.scalars(select(PenaltyRecord).where(PenaltyRecord.person_id == person_id,
                                                                PenaltyRecord.public.is_(True),
                                                                PenaltyRecord.decided_on >= public_since(),
                                                                PenaltyRecord.decided_on <= today())
                                   .order_by(PenaltyRecord.decided_on.desc(), PenaltyRecord.id.desc())))
