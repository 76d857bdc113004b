"""Eligibility rules of DOMAIN.md as pure functions that return translated reasons (empty = allowed).

`check_fields` validates what an applicant typed (forms and the API both use it); the guards named
in the workflow table (`ready_to_submit`, `contract_complete`, `outcome_possible`,
`certificate_ready`, `in_announcement_batch`) decide whether a move may happen.
"""
from datetime import date

from flask import current_app
from flask_babel import lazy_gettext as _l

from models import Application, Certificate, Person, Specialty
from models.choices import CANCELLATION_REASONS, REPLACEMENT_REASONS
from models.dictionary import PROVINCES

from ground.clock import add_years, age_on, today
from ground.extensions import db
from ground.identifiers import InvalidIdentifier, clean_id_number

# Which fields each business type uses, and which of them it requires.
FIELDS_BY_TYPE = {
    "initial": ("enterprise", "contract_start", "contract_end", "specialties", "continuing_education"),
    "re_registration": ("enterprise", "contract_start", "contract_end", "specialties", "continuing_education"),
    "add_specialty": ("contract_start", "contract_end", "specialties", "pass_certificate_no"),
    "change": ("enterprise", "contract_start", "contract_end"),
    "renewal": ("contract_start", "contract_end", "specialties", "continuing_education"),
    "cancellation": ("reason", "reason_text"),
    "replacement": ("reason", "reason_text"),
    "info_change": ("new_name", "new_id_number", "reason_text"),
}
REQUIRED_BY_TYPE = {
    "initial": {"enterprise", "contract_start", "contract_end", "specialties"},
    "re_registration": {"enterprise", "contract_start", "contract_end", "specialties"},
    "add_specialty": {"contract_start", "contract_end", "specialties"},
    "change": {"enterprise", "contract_start", "contract_end"},
    "renewal": {"contract_start", "contract_end", "specialties", "continuing_education"},
    "cancellation": {"reason"},
    "replacement": {"reason"},
    "info_change": set(),
}
PROVINCE_CODES = {code for code, *_ in PROVINCES}
USES_CONTRACT = {t for t, fields in FIELDS_BY_TYPE.items() if "contract_end" in fields}

# Cancellation is the only type whose reason comes from the cancellation list.
_REASONS = {"cancellation": CANCELLATION_REASONS, "replacement": REPLACEMENT_REASONS}


def rule(name):
    return current_app.config["RULES"][name]


def is_empty(value):
    return value is None or value == "" or value == [] or value is False


def check_fields(business_type: str, values: dict, person: Person | None = None) -> dict:
    """Field → list of translated errors for what the applicant entered. Empty dict = valid input.

    `values` holds enterprise (object or id), contract_start/contract_end (dates), specialties
    (codes or Specialty objects), reason, reason_text, new_name, new_id_number, pass_certificate_no,
    continuing_education.
    """
    from app.workflow import BUSINESS_TYPES

    errors: dict[str, list] = {}

    def add(fieldname, message):
        errors.setdefault(fieldname, []).append(message)

    if business_type not in BUSINESS_TYPES:
        add("business_type", _l("Choose a business type."))
        return errors
    used, required = FIELDS_BY_TYPE[business_type], REQUIRED_BY_TYPE[business_type]
    for fieldname in sorted(required):
        if is_empty(values.get(fieldname)):
            if fieldname == "continuing_education":
                add(fieldname, _l("Renewal requires the continuing-education commitment."))
            else:
                add(fieldname, _l("This field is required for %(type)s.", type=BUSINESS_TYPES[business_type].label))
    start, end = values.get("contract_start"), values.get("contract_end")
    if "contract_end" in used and isinstance(start, date) and isinstance(end, date) and end < start:
        add("contract_end", _l("The contract end date must not be before its start date."))
    if "specialties" in used:
        codes = [getattr(s, "code", s) for s in values.get("specialties") or []]
        if codes:
            known = {code for (code,) in db.session.query(Specialty.code).filter(Specialty.code.in_(codes))}
            for code in codes:
                if code not in known:
                    add("specialties", _l("Unknown specialty: %(code)s.", code=code))
            if len(set(codes)) != len(codes):
                add("specialties", _l("A specialty is listed twice."))
    if business_type in _REASONS and values.get("reason") and values["reason"] not in _REASONS[business_type]:
        add("reason", _l("Choose a reason from the list."))
    if business_type == "info_change":
        new_name, new_id = (values.get("new_name") or "").strip(), (values.get("new_id_number") or "").strip()
        if not new_name and not new_id:
            add("new_name", _l("Enter the new name or the new ID number (or both)."))
        if new_id:
            try:
                cleaned = clean_id_number(new_id)
            except InvalidIdentifier as exc:
                add("new_id_number", exc.message)
            else:
                if person is not None and cleaned == person.id_number:
                    add("new_id_number", _l("The new ID number is the same as the current one."))
        if person is not None and new_name and new_name == person.name and not new_id:
            add("new_name", _l("The new name is the same as the current one."))
    return errors


def field_values(application: Application) -> dict:
    return {
        "enterprise": application.enterprise,
        "contract_start": application.contract_start,
        "contract_end": application.contract_end,
        "specialties": list(application.specialties),
        "reason": application.reason,
        "reason_text": application.reason_text,
        "new_name": application.new_name,
        "new_id_number": application.new_id_number,
        "pass_certificate_no": application.pass_certificate_no,
        "continuing_education": application.continuing_education,
    }


# --- Guards -----------------------------------------------------------------------------------
def ready_to_submit(application: Application) -> list:
    """Everything DOMAIN.md requires before an application may leave the applicant."""
    person = application.person
    reasons = [msg for msgs in check_fields(application.business_type, field_values(application), person).values()
               for msg in msgs]
    if not person.is_verified:
        reasons.append(_l("Your identity has not been verified yet (real-name verification)."))
    reasons += completeness(person)
    other = (db.session.query(Application.number)
             .filter(Application.person_id == person.id, Application.id != application.id,
                     Application.state.in_(_in_progress_states()))
             .first())
    if other:
        reasons.append(_l("Application %(number)s is already in progress; only one may be open at a time.",
                          number=other.number))
    reasons += contract_complete(application)
    reasons += _age_reasons(person)
    reasons += _eligibility(application, at_submission=True)
    return reasons


def _in_progress_states():
    from app.workflow import IN_PROGRESS_STATES

    return sorted(IN_PROGRESS_STATES)


def completeness(person: Person) -> list:
    """Materials the certificate needs: checked before any submission (DOMAIN: discovered late otherwise)."""
    reasons = []
    if person.latest_attachment("photo") is None:
        reasons.append(_l("No 1-inch ID photo on file; upload it under My materials."))
    if person.latest_attachment("signature") is None:
        reasons.append(_l("No signature image on file; upload it under My materials."))
    return reasons


def contract_complete(application: Application) -> list:
    """The labour contract must be entered and still running (checked at submission and confirmation)."""
    if application.business_type not in USES_CONTRACT:
        return []
    if application.contract_start is None or application.contract_end is None:
        return [_l("The labour-contract period has not been entered.")]
    if application.contract_end < application.contract_start:
        return [_l("The contract end date must not be before its start date.")]
    if application.contract_end < today():
        return [_l("The labour contract ended on %(day)s; enter the current contract.",
                   day=application.contract_end.isoformat())]
    return []


def outcome_possible(application: Application) -> list:
    """Re-checked at approval: the registration can still change as the business type says."""
    return _age_reasons(application.person) + _eligibility(application, at_submission=False)


def certificate_ready(application: Application) -> list:
    from app.workflow import BUSINESS_TYPES

    btype = BUSINESS_TYPES[application.business_type]
    if btype.certificate == "revoke":
        return []
    registration = application.person.registration
    if btype.certificate == "new_if_registered" and (registration is None or registration.status != "active"):
        return []
    reasons = completeness(application.person)
    if registration is None or registration.status != "active":
        reasons.append(_l("The person holds no active registration to print on a certificate."))
    return reasons


def in_announcement_batch(application: Application) -> list:
    if application.announcement_id is None:
        return [_l("Not yet gathered into an announcement batch.")]
    return []


# --- Eligibility per business type -------------------------------------------------------------
def _age_reasons(person: Person) -> list:
    limit = rule("AGE_LIMIT")
    if age_on(person.birth_date, today()) >= limit:
        return [_l("Registration is not possible at %(limit)s years of age or older.", limit=limit)]
    return []


def _eligibility(application: Application, at_submission: bool) -> list:
    person, btype = application.person, application.business_type
    registration = person.registration
    active = registration is not None and registration.status == "active"
    codes = [s.code for s in application.specialties]
    reasons = []
    if btype == "initial":
        if registration is not None:
            reasons.append(_l("You are already registered; use re-registration, change or additional specialty."))
        reasons += _qualified(person, codes)
        if at_submission and not application.continuing_education:
            reasons += _fresh_qualification(person, codes)
    elif btype == "re_registration":
        if registration is None:
            reasons.append(_l("Re-registration is for cancelled or lapsed registrations; apply for initial registration."))
        elif active:
            reasons.append(_l("Your registration is still active."))
        reasons += _qualified(person, codes)
    elif btype in ("add_specialty", "renewal", "change", "cancellation", "replacement"):
        if not active:
            reasons.append(_l("This needs an active registration."))
    if btype == "add_specialty" and active:
        reasons += _qualified(person, codes)
        for code in codes:
            held = registration.specialty(code)
            if held is not None and held.status == "active":
                reasons.append(_l("You are already registered in %(specialty)s.", specialty=held.specialty))
    if btype == "renewal" and active:
        reasons += _renewable(registration, codes, at_submission)
    if btype == "change" and active and application.enterprise_id == registration.enterprise_id:
        reasons.append(_l("The new employer is the same as the current one."))
    if btype == "change" and active and at_submission:
        reasons += _change_allowed(registration)
    if btype == "replacement" and active:
        if not db.session.query(Certificate.id).filter(Certificate.registration_id == registration.id,
                                                        Certificate.status == "valid").first():
            reasons.append(_l("There is no valid certificate to replace."))
    if btype == "info_change" and application.new_id_number:
        try:
            new_id = clean_id_number(application.new_id_number)
        except InvalidIdentifier:
            new_id = None
        if new_id and db.session.query(Person.id).filter(Person.id_number == new_id, Person.id != person.id).first():
            reasons.append(_l("The new ID number already belongs to another account."))
    return reasons


def _change_allowed(registration) -> list:
    if rule("CHANGE_TEMPORARY_ONLY") and not registration.is_temporary:
        return [_l("Change registration online is for holders of a temporary practising certificate; "
                   "ask your provincial authority how to change your employer.")]
    return []


def _qualified(person: Person, codes) -> list:
    held = {q.specialty_code for q in person.qualifications}
    names = {s.code: s for s in db.session.query(Specialty).filter(Specialty.code.in_(codes))} if codes else {}
    return [_l("No qualification certificate in %(specialty)s is on the roster.", specialty=names.get(c, c))
            for c in codes if c not in held]


def _fresh_qualification(person: Person, codes) -> list:
    years = rule("QUALIFICATION_FRESH_YEARS")
    cutoff = add_years(today(), -years)
    stale = [q for q in person.qualifications if q.specialty_code in codes and q.qualified_on < cutoff]
    if stale:
        return [_l("Your qualification is more than %(years)s years old: tick the continuing-education box and "
                   "upload the proof.", years=years)]
    return []


def _renewable(registration, codes, at_submission) -> list:
    reasons = []
    window = rule("RENEWAL_WINDOW_DAYS")
    for code in codes:
        held = registration.specialty(code)
        if held is None or held.status != "active":
            reasons.append(_l("You are not registered in %(specialty)s.", specialty=code))
            continue
        if at_submission:
            opens = held.valid_until.toordinal() - window
            if today().toordinal() < opens:
                reasons.append(_l("Renewal of %(specialty)s opens on %(day)s (%(days)s days before it expires).",
                                  specialty=held.specialty, day=date.fromordinal(opens).isoformat(), days=window))
            elif today() > held.valid_until:
                reasons.append(_l("%(specialty)s expired on %(day)s; apply for re-registration instead.",
                                  specialty=held.specialty, day=held.valid_until.isoformat()))
    return reasons


def routing(application: Application) -> dict:
    """Enterprise, previous enterprise, registration and reviewing province of an application.

    The enterprise that confirms is the one named (new employer for a change) or, for types that name
    none, the current employer. The province is that enterprise's; for a personal-information change
    of an unregistered person, the province of the ID number's region code (our rule).
    """
    person = application.person
    registration = person.registration
    enterprise = application.enterprise
    previous = None
    if application.business_type == "change" and registration is not None:
        previous = registration.enterprise
    elif application.business_type in ("add_specialty", "renewal", "cancellation", "replacement", "info_change"):
        enterprise = registration.enterprise if registration is not None else None
    if enterprise is not None:
        province_code = enterprise.province_code
    else:
        province_code = person.id_number[:2] if person.id_number[:2] in PROVINCE_CODES else None
    return {"enterprise": enterprise, "previous_enterprise": previous, "registration": registration,
            "province_code": province_code}


# --- Before the form: what stops a person from applying at all ---------------------------------
def eligible_specialties(person: Person, business_type: str) -> list:
    """Specialties the person may choose for this business type (qualified for, and not excluded)."""
    registration = person.registration
    active = registration is not None and registration.status == "active"
    qualified = sorted({q.specialty for q in person.qualifications}, key=lambda s: s.sort_order)
    if business_type in ("initial", "re_registration"):
        return qualified
    if business_type == "add_specialty":
        held = {s.specialty_code for s in registration.active_specialties} if active else set()
        return [s for s in qualified if s.code not in held]
    if business_type == "renewal" and active:
        return sorted((s.specialty for s in registration.active_specialties), key=lambda s: s.sort_order)
    return []


def preconditions(person: Person, business_type: str, editing: Application | None = None) -> list:
    """Every reason, known before any field is filled in, why this person cannot submit this type now."""
    reasons = []
    if not person.is_verified:
        reasons.append(_l("Your identity has not been verified yet (real-name verification)."))
    reasons += completeness(person)
    reasons += _age_reasons(person)
    query = db.session.query(Application.number).filter(Application.person_id == person.id,
                                                        Application.state.in_(_in_progress_states()))
    if editing is not None:
        query = query.filter(Application.id != editing.id)
    other = query.first()
    if other:
        reasons.append(_l("Application %(number)s is already in progress; only one may be open at a time.",
                          number=other.number))
    registration = person.registration
    active = registration is not None and registration.status == "active"
    if business_type in ("initial", "re_registration", "add_specialty") and not person.qualifications:
        reasons.append(_l("No qualification certificate of yours is on the roster."))
    if business_type == "initial" and registration is not None:
        reasons.append(_l("You are already registered; use re-registration, change or additional specialty."))
    elif business_type == "re_registration":
        if registration is None:
            reasons.append(_l("Re-registration is for cancelled or lapsed registrations; apply for initial registration."))
        elif active:
            reasons.append(_l("Your registration is still active."))
    elif business_type in ("add_specialty", "renewal", "change", "cancellation", "replacement") and not active:
        reasons.append(_l("This needs an active registration."))
    elif business_type == "add_specialty" and person.qualifications and not eligible_specialties(person, business_type):
        reasons.append(_l("You are already registered in every specialty you are qualified for."))
    elif business_type == "renewal":
        window = rule("RENEWAL_WINDOW_DAYS")
        if not any(today().toordinal() >= s.valid_until.toordinal() - window and today() <= s.valid_until
                   for s in registration.active_specialties):
            first = min((s.valid_until for s in registration.active_specialties), default=None)
            if first is not None:
                reasons.append(_l("Renewal opens %(days)s days before a specialty expires; your first expiry is %(day)s.",
                                  days=window, day=first.isoformat()))
    elif business_type == "change":
        reasons += _change_allowed(registration)
    elif business_type == "replacement":
        if not db.session.query(Certificate.id).filter(Certificate.registration_id == registration.id,
                                                        Certificate.status == "valid").first():
            reasons.append(_l("There is no valid certificate to replace."))
    return reasons


# Scans an applicant uploads with a business type's form (kind → required at submission).
SCANS_BY_TYPE = {"info_change": ("id_front", "id_back")}


def scans_required(business_type: str) -> tuple:
    return SCANS_BY_TYPE.get(business_type, ())
