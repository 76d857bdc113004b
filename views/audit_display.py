"""Audit rows as people read them: every code (action, object, role, state, kind, status, endpoint) shown as a
translated label, in 操作轨迹 and in the audit log alike.

Rows keep codes (they are evidence, written once, read in either language); this module turns them into words
when a page shows them. Summaries written as text by older code ("SQ…: draft → enterprise_review",
"photo of 110…", "simulator pending") are read token by token: a token that is a known code becomes its label.
"""
import re
from collections.abc import Mapping

from app.audit import REDACTED
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app import jobs, machines, workflow
from ground.roles import ROLE_LABELS
from models.calendar import CALENDAR_SOURCES
from models.labels import LABELS as COLUMN_LABELS
from models.choices import (ANNOUNCEMENT_STATES, APPLICATION_REASONS, ATTACHMENT_KINDS, CERTIFICATE_STATUSES, DEGREES,
                            EDUCATION_LEVELS, ETHNICITIES, GENDERS, PENALTY_GROUNDS, PENALTY_KINDS, REALNAME_STATUSES,
                            REFUSAL_REASONS, LAPSE_REASONS, REGISTRATION_STATUSES, REPLACEMENT_REASONS)

ACTION_LABELS = {
    "login": _l("Signed in"), "logout": _l("Signed out"), "login_failed": _l("Failed sign-in"),
    "login_refused": _l("Sign-in refused (account locked)"), "password_reset": _l("Password reset by SMS"),
    "password_change": _l("Password changed"), "unlock": _l("Account unlocked by the administrator"),
    "create": _l("Created"), "update": _l("Changed"), "delete": _l("Deleted"), "print": _l("Printed (PDF)"),
    "view": _l("Viewed personal data"), "read": _l("Opened another person's record"),
    "read_list": _l("Listed people's records"), "export": _l("Exported"), "import": _l("Imported"),
    "grant": _l("Permission granted"), "revoke": _l("Permission withdrawn"),
    "job_start": _l("Job started"), "job_done": _l("Job finished"), "job_failed": _l("Job failed"),
    "job_cancelled": _l("Job cancelled"), "job_cancel": _l("Job cancellation asked"), "download": _l("Downloaded"),
    "application.remind": _l("Reminded the employer"), "penalty.record": _l("Penalty record entered"),
    # The nightly rules (app/lifecycle.py) and the message delivery: one row of figures per run.
    "lifecycle.lapse": _l("Nightly: lapses"), "lifecycle.age_limit": _l("Nightly: age limit"),
    "lifecycle.expire_unconfirmed": _l("Nightly: unconfirmed applications"),
    "lifecycle.objection_clock": _l("Nightly: objection periods"),
    "lifecycle.stage_limits": _l("Nightly: statutory time limits"), "lifecycle.reminders": _l("Nightly: reminders"),
    "lifecycle.employer_status": _l("Nightly: employer status"),
    "lifecycle.conflict_check": _l("Nightly: conflict check"),
    "enterprise.status": _l("Enterprise status changed"),
    "notification.deliver": _l("Messages sent by SMS and e-mail"),
    "signing_key.rotate": _l("Certificate signing key rotated"),
}
FIGURE_ACTIONS = ("lifecycle.", "notification.deliver")  # rows whose detail is a set of counts

OBJECT_LABELS = {
    "Person": _l("Personal information"), "Attachment": _l("Material"), "Application": _l("Application"),
    "AppUser": _l("Account"), "User": _l("Account"), "RealnameRequest": _l("Real-name verification"),
    "Certificate": _l("Certificate"), "Registration": _l("Registration"),
    "RegistrationSpecialty": _l("Registered specialty"), "AnnouncementBatch": _l("Announcement batch"),
    "Enterprise": _l("Enterprise"), "Qualification": _l("Qualification"), "Roster": _l("Qualification roster"),
    "Report": _l("Report"), "TransitionLog": _l("Transition log"), "AuditLog": _l("Audit log"),
    "Job": _l("Background job"), "CalendarDay": _l("Calendar date"), "Calendar": _l("Holiday calendar"),
    "EnterpriseStatusChange": _l("Enterprise status change"), "EnterpriseRegister": _l("National enterprise register"),
    "InsuranceConflict": _l("Social-insurance conflict"), "SocialInsurance": _l("Social-insurance payments"),
    "Lifecycle": _l("Nightly rules"), "Notification": _l("Message"), "SigningKey": _l("Certificate signing key"),
    "PenaltyRecord": _l("Penalty record"),
}

# PDFs by the endpoint that served them ("print" rows).
_PRINT_LABELS = {
    "ApplicationsView.pdf": _l("Application form"), "MyQueueView.pdf": _l("Application form"),
    "CertificatesView.pdf": _l("Electronic certificate"), "CertificatesView.batch": _l("Certificates of a batch"),
    "AnnouncementsView.pdf": _l("Announcement"), "DashboardView.pdf": _l("Statistics report"),
    "DashboardView.roster": _l("Roster of registered constructors"),
    "PenaltyRecordsView.document": _l("Decision document"),
}

_PAGE_KINDS = {"list": _l("list"), "show": _l("record"), "get_list": _l("list (API)"), "get": _l("record (API)")}


class _EndpointLabels(Mapping):
    """The page a row was written on: PDFs by their endpoint; other pages as their view's label and kind
    ("Persons · record"). Iterates over the PDFs only (views register their labels in views.registry)."""

    def __getitem__(self, endpoint):
        if endpoint in _PRINT_LABELS:
            return _PRINT_LABELS[endpoint]
        from views.registry import view_labels  # reason: views.registry imports this module

        view, _dot, kind = str(endpoint).rpartition(".")
        labels = view_labels()  # panels register as their permission name: "Persons" for PersonsView
        label = labels.get(view) or labels.get(view.removesuffix("View"))
        if label is None:
            raise KeyError(endpoint)
        return f"{label} · {_PAGE_KINDS[kind]}" if kind in _PAGE_KINDS else str(label)

    def __iter__(self):
        return iter(_PRINT_LABELS)

    def __len__(self):
        return len(_PRINT_LABELS)


ENDPOINT_LABELS = _EndpointLabels()

SUMMARY_LABELS = {"locked": _l("account locked"), "unknown account": _l("unknown account")}

REALNAME_PROVIDERS = {"simulator": _l("Online verification (simulator)"), "onsite": _l("On-site verification")}
REALNAME_REQUEST_STATUSES = {"pending": _l("waiting"), "verified": _l("verified"), "failed": _l("failed")}

SYSTEM = "system"  # actor of rows written outside a request (command line, jobs)

PERMISSION_LABELS = {"can_export_unmasked": _l("exports with full ID and mobile numbers"),
                     "can_view_unmasked": _l("pages with full ID and mobile numbers")}

# The fields a detail may name that the panel's column labels (views.registry.LABELS) do not: every column of
# every audited model, and the facts written with transitions, prints, views, exports and imports.
AUDIT_FIELD_LABELS = {
    "status_source": _l("Source of the status"), "previous_status": _l("Previous status"),
    "effective_on": _l("Effective from"), "paying_credit_code": _l("Credit code of the paying enterprise"),
    "paying_name": _l("Paying enterprise"), "first_seen": _l("First seen"), "last_seen": _l("Last seen"),
    "resolved_on": _l("Resolved on"), "note": _l("Note"), "month": _l("Month"), "user_id": _l("User (id)"),
    "id": _l("Record id"), "industry_specialties": _l("Industry specialties"), "person_id": _l("Person (id)"), "enterprise_id": _l("Employer (id)"),
    "previous_enterprise_id": _l("Previous employer (id)"), "province_code": _l("Province"),
    "registration_id": _l("Registration (id)"), "application_id": _l("Application (id)"),
    "announcement_id": _l("Announcement (id)"), "created_by_id": _l("Created by (id)"),
    "replaced_by_id": _l("Replaced by (id)"), "specialty_code": _l("Specialty"),
    "hours": _l("Hours"), "completed_on": _l("Course completed on"), "course": _l("Course"),
    "attachment_id": _l("Attachment (id)"), "entered_by_id": _l("Entered by (id)"),
    "initial_province_code": _l("Province of initial registration"),
    "realname_province_code": _l("On-site check province"), "version": _l("Version"), "updated_at": _l("Updated"),
    "provider": _l("Verification service"), "nonce": _l("Request key"), "expires_at": _l("Expires"),
    "completed_at": _l("Completed"), "content_type": _l("File type"), "sha256": _l("Checksum (SHA-256)"),
    "storage_key": _l("Storage location"), "is_current": _l("Current"), "year": _l("Year"),
    "sequence": _l("Batch number in the year"), "number_digits": _l("Number digits"),
    "cancel_reason": _l("Cancellation reason"), "cancel_note": _l("Cancellation note"),
    "realname_method": _l("Verification method"), "realname_note": _l("Verification note"),
    "realname_verified_at": _l("Verified at"), "valid_from": _l("Valid from"), "first_name": _l("First name"),
    "last_name": _l("Last name"), "password": _l("Password"), "active": _l("Active"), "roles": _l("Roles"),
    "from": _l("From"), "to": _l("To"), "endpoint": _l("Page"), "args": _l("Address parameters"),
    "bytes": _l("Size (bytes)"), "shown": _l("Numbers shown"), "count": _l("Count"), "format": _l("Format"),
    "filters": _l("Filters"), "search": _l("Search"), "rows": _l("Rows"), "masked": _l("Masked"),
    "accepted": _l("Accepted"), "refused": _l("Refused"), "unchanged": _l("Unchanged"), "error": _l("Error"),
    "copy_valid_until": _l("Copy valid until"), "batch": _l("Announcement"),
    "added": _l("Added"), "removed": _l("Removed"), "job_kind": _l("Job"), "params": _l("Parameters"),
    "pages": _l("Pages"), "file": _l("File"), "size": _l("Size"), "attachments": _l("Attachments"),
    "certificates": _l("Certificates"), "parts": _l("Parts"),
    # Figures of the nightly rules and the message delivery.
    "as_of": _l("For the day"), "specialties_lapsed": _l("Specialties lapsed"),
    "registrations_lapsed": _l("Registrations lapsed"), "certificates_expired": _l("Certificates no longer valid"),
    "registrations_ended": _l("Registrations ended at the age limit"), "expired": _l("Applications expired"),
    "reminders": _l("Reminders"), "released_by_silence": _l("Changes proceeding without objection"),
    "due": _l("Due soon"), "overdue": _l("Overdue"), "messages": _l("Messages"),
    "specialty_expiring": _l("Specialty expiry reminders"), "age_limit_ahead": _l("Age limit reminders"),
    "copy_expiring": _l("Copy validity reminders"), "returned_waiting": _l("Returned application reminders"),
    "sms_sent": _l("SMS sent"), "sms_throttled": _l("SMS held back (daily cap)"), "sms_failed": _l("SMS failed"),
    "email_sent": _l("E-mails sent"), "email_failed": _l("E-mails failed"), "no_address": _l("No mobile or address"),
    "deleted": _l("Deleted"),
    "created": _l("Added"), "updated": _l("Changed"), "years": _l("Years"),
}

class _JobKindLabels(Mapping):
    """Job kinds register as their modules load (app.jobs.KINDS): looked up when a row is shown."""

    def __getitem__(self, key):
        return jobs.KINDS[key].label

    def __iter__(self):
        return iter(jobs.KINDS)

    def __len__(self):
        return len(jobs.KINDS)


# Coded values by the field that holds them.
_STATUSES = {**REGISTRATION_STATUSES.labels, **CERTIFICATE_STATUSES.labels}
VALUE_LABELS = {
    "gender": GENDERS.labels, "ethnicity": ETHNICITIES.labels, "education": EDUCATION_LEVELS.labels,
    "degree": DEGREES.labels, "realname_status": REALNAME_STATUSES.labels,
    "kind": {**ATTACHMENT_KINDS.labels, **PENALTY_KINDS.labels}, "ground_code": PENALTY_GROUNDS.labels,
    "cancel_reason": APPLICATION_REASONS.labels, "lapse_reason": LAPSE_REASONS.labels,
    "revoke_reason": LAPSE_REASONS.labels,
    "reason": {**REPLACEMENT_REASONS.labels, **REFUSAL_REASONS.labels, **APPLICATION_REASONS.labels},
    "state": {**workflow.STATE_LABELS, **ANNOUNCEMENT_STATES.labels}, "from": workflow.STATE_LABELS,
    "to": workflow.STATE_LABELS, "status": {**_STATUSES, **REALNAME_REQUEST_STATUSES},
    "provider": REALNAME_PROVIDERS, "role": machines.ACTOR_LABELS, "endpoint": ENDPOINT_LABELS,
    "roles": ROLE_LABELS, "added": ROLE_LABELS, "removed": ROLE_LABELS,  # an account's roles (the only relation)
    "realname_method": {"onsite": _l("On-site verification"), "online": _l("Online verification")},
    "business_type": {code: t.label for code, t in workflow.BUSINESS_TYPES.items()},
    "job_kind": _JobKindLabels(), "source": CALENDAR_SOURCES.labels,
}


def code_labels() -> dict:
    """Every code a summary may hold → its label (states, kinds, statuses, providers)."""
    labels = dict(workflow.STATE_LABELS)
    for choices in (ATTACHMENT_KINDS, REALNAME_STATUSES, REGISTRATION_STATUSES, CERTIFICATE_STATUSES,
                    ANNOUNCEMENT_STATES):
        labels.update(choices.labels)
    labels.update(REALNAME_PROVIDERS)
    labels.update(REALNAME_REQUEST_STATUSES)
    labels.update({code: t.label for code, t in workflow.BUSINESS_TYPES.items()})
    return labels


_TOKEN = re.compile(r"[a-z][a-z_]*[a-z]")
_TRANSITION = re.compile(r"^(?P<number>\S+): (?P<source>[a-z_]+) → (?P<target>[a-z_]+)$")
_VIEWED = re.compile(r"^(?P<kind>[a-z_]+) of (?P<whose>.+)$")
_GRANT = re.compile(r"^(?P<perm>can_[a-z_]+) for (?P<who>.+)$")
_ROLE_GRANT = re.compile(r"^(?P<role>[A-Za-z]+) for (?P<who>.+)$")


def translate_codes(text: str) -> str:
    """Known codes in a text replaced by their labels; anything else left as it is."""
    labels = code_labels()
    return _TOKEN.sub(lambda m: str(labels.get(m.group(0), m.group(0))), text or "")


def action_label(row) -> str:
    if row.action.startswith("transition."):
        t = workflow.TRANSITIONS.get(row.action.split(".", 1)[1])
        return str(t.label) if t else row.action
    move = machines.move_of_audit_action(row.action)
    if move is not None:
        return str(move.label)
    return str(ACTION_LABELS.get(row.action, row.action))


def object_label(row) -> str:
    return str(OBJECT_LABELS.get(row.object_type, row.object_type))


def role_label(row) -> str:
    if not row.role:
        return "—"
    return "、".join(str(ROLE_LABELS.get(name, name)) for name in row.role.split(","))


def actor_label(row) -> str:
    if row.username == SYSTEM and row.user_id is None:
        return _("System (automatic)")
    return row.username or "—"



def summary_text(row) -> str:
    summary = row.summary or ""
    detail = row.detail if isinstance(row.detail, dict) else {}
    labels = code_labels()
    if row.action.startswith("transition."):
        source, target = detail.get("from"), detail.get("to")
        match = _TRANSITION.match(summary)
        if match and not (source and target):
            source, target = match.group("source"), match.group("target")
        if source and target:
            number = match.group("number") if match else summary.split(":", 1)[0]
            return f"{number}：{labels.get(source, source)} → {labels.get(target, target)}"
    if row.action == "print" and summary in ENDPOINT_LABELS:
        return str(ENDPOINT_LABELS[summary])
    if row.action == "print" and "." in summary and " " not in summary:
        return _("PDF")
    if row.action == "view" and row.object_type == "Attachment":
        match = _VIEWED.match(summary)
        if match:
            return f"{labels.get(match.group('kind'), match.group('kind'))}：{match.group('whose')}"
    if row.action.startswith(FIGURE_ACTIONS):
        figures = [f"{_field(k)} {v}" for k, v in detail.items() if k != "as_of" and v]
        return "；".join(figures) or _("nothing to do")
    if summary in SUMMARY_LABELS:
        return str(SUMMARY_LABELS[summary])
    match = _GRANT.match(summary)
    if row.action in ("grant", "revoke") and match:
        return f"{PERMISSION_LABELS.get(match.group('perm'), match.group('perm'))}：{match.group('who')}"
    match = _ROLE_GRANT.match(summary)
    if row.action in ("grant", "revoke") and match and match.group("role") in ROLE_LABELS:  # app/duties.py
        return f"{ROLE_LABELS[match.group('role')]}：{match.group('who')}"
    if row.action == "import" and "rows" in detail:
        return _("%(file)s: %(rows)s rows, %(accepted)s accepted, %(refused)s refused, %(unchanged)s unchanged",
                 file=detail.get("filename") or "—", rows=detail.get("rows"), accepted=detail.get("accepted"),
                 refused=detail.get("refused"), unchanged=detail.get("unchanged"))
    return translate_codes(summary) or "—"


def detail_text(row, field_labels: dict) -> str:
    """The detail (changed fields, snapshot, request facts) as "field: before → after" lines; `field_labels` are
    the panel's column labels, AUDIT_FIELD_LABELS the rest."""
    detail = row.detail
    if not isinstance(detail, dict):
        return translate_codes(str(detail)) if detail else "—"
    lines = []
    for key, value in detail.items():
        name = str(field_labels.get(key) or AUDIT_FIELD_LABELS.get(key, key))
        changed = row.action == "update" or machines.move_of_audit_action(row.action) is not None
        if isinstance(value, list) and len(value) == 2 and changed:
            before, after = (_value(v, key) for v in value)
            lines.append(f"{name}：{before} → {after}")
        else:
            lines.append(f"{name}：{_value(value, key)}")
    return "\n".join(lines) or "—"


def _value(value, key) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(_l("Yes") if value else _l("No"))
    if value == REDACTED:
        return _("(changed)")
    if isinstance(value, dict):
        return "；".join(f"{_field(k)} {_value(v, k)}" for k, v in value.items()) or "—"
    if isinstance(value, list):
        return "、".join(_value(v, key) for v in value) or "—"
    labels = VALUE_LABELS.get(key)
    if labels is None and str(key).startswith("_od_"):
        labels = _SORT_ORDERS
    elif labels is None and str(key).startswith("_oc_"):
        labels = COLUMN_LABELS
    if labels is not None and str(value) in labels:
        return str(labels[str(value)])
    verbatim = ("nonce", "sha256", "storage_key", "filename", "document_key", "document_sha256", "document_filename",
                "document_content_type")
    return translate_codes(str(value)) if key not in verbatim else str(value)


# A list page's address parameters (FAB's names carry the view's name): paging, sorting, filters.
_QUERY_KEYS = [(re.compile(r"^psize_\w+$"), _l("Rows per page")), (re.compile(r"^page_\w+$"), _l("Page")),
               (re.compile(r"^_oc_\w+$"), _l("Sorted by")), (re.compile(r"^_od_\w+$"), _l("Sort order")),
               (re.compile(r"^_flt_\d+_\w+$"), _l("Filter"))]


_SORT_ORDERS = {"asc": _l("ascending"), "desc": _l("descending")}


def _field(key) -> str:
    if key in AUDIT_FIELD_LABELS:
        return str(AUDIT_FIELD_LABELS[key])
    return next((str(label) for pattern, label in _QUERY_KEYS if pattern.match(str(key))), str(key))


def detail_markup(text: str):
    """Detail lines for a page: escaped, one per line."""
    from markupsafe import Markup, escape

    return Markup("<br>").join(escape(line) for line in (text or "—").split("\n"))


def action_choices():
    """Search choices: every action code with its label."""
    pairs = [(code, str(label)) for code, label in ACTION_LABELS.items()]
    pairs += [(f"transition.{code}", str(t.label)) for code, t in workflow.TRANSITIONS.items()]
    pairs += [(machine.audit_action(m), str(m.label)) for machine in machines.MACHINES for m in machine.moves]
    return [("", "—")] + pairs


def object_choices():
    return [("", "—")] + [(code, str(label)) for code, label in OBJECT_LABELS.items()]
