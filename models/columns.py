"""THE column declaration of every model the panel shows: one `ModelColumns` per model.

Each purpose reads a named set of the same declaration: the panel's list and show pages
(views/registry.py), the REST API's list and detail (views/registry.py → views/base.build_api) and the
ministry export (reports/exports.py). Headers are the labels of models/labels.py; where an export's
list is the panel's, `exported()` says so instead of a second list.
"""
from dataclasses import dataclass, field

from models import (AnnouncementBatch, Application, Attachment, AuditLog, CalendarDay, Certificate, Enterprise,
                    PenaltyRecord, Person, Province, Qualification, Registration, SmsOutbox, Specialty, TransitionLog)
from models.labels import LABELS


@dataclass(frozen=True)
class ExportColumn:
    key: str  # the column's name in the export's SELECT and on the exports list page
    width: int = 16  # XLSX column width (characters)
    kind: str = "text"  # text | date | datetime
    header: str | None = None  # the LABELS entry of its header (default: key)

    @property
    def label(self):
        return LABELS[self.header or self.key]


@dataclass(frozen=True)
class ModelColumns:
    list: tuple
    show: tuple = ()  # the panel's show page (empty: the list's columns)
    api_list: tuple = ()  # the REST resource's list (empty: no resource)
    api_show: tuple = ()
    export: tuple = ()  # ExportColumn entries (empty: no export)
    other: dict = field(default_factory=dict)  # further named sets (a second panel on the same model)


def exported(keys, widths: dict, kinds: dict | None = None) -> tuple:
    """An export holding exactly these columns (e.g. the panel's list), with each one's width and kind."""
    return tuple(ExportColumn(key, widths[key], (kinds or {}).get(key, "text")) for key in keys)


_APPLICATION_LIST = ("number", "business_type_label", "person.name", "enterprise.name", "specialty_names",
                     "state_label", "state_changed_at", "stage_deadline")
_PERSON_LIST = ("name", "id_number", "gender_label", "birth_date", "phone", "realname_label")
_CERTIFICATE_LIST = ("number", "holder_name", "registration_number", "enterprise_name", "status_label", "issued_on",
                     "valid_until")
_ENTERPRISE_LIST = ("name", "credit_code", "province", "legal_representative")

COLUMNS = {
    Application: ModelColumns(
        list=_APPLICATION_LIST,
        show=("number", "business_type_label", "state_label", "person", "enterprise", "previous_enterprise",
              "province", "registration", "specialty_names", "contract_start", "contract_end", "leaving_date",
              "pass_certificate_no", "reason_label", "reason_text", "new_name", "new_id_number", "submitted_at",
              "state_changed_at", "stage_deadline", "last_opinion", "announcement"),
        api_list=("id", "number", "business_type", "state", "version", "person.name", "enterprise.name",
                  "province.name", "submitted_at", "state_changed_at", "stage_deadline"),
        api_show=("id", "number", "business_type", "state", "version", "person.name", "person.id_number",
                  "enterprise.name", "enterprise.credit_code", "province.name", "contract_start", "contract_end",
                  "specialties.code", "reason", "reason_text", "new_name", "new_id_number", "pass_certificate_no",
                  "submitted_at", "state_changed_at", "stage_deadline", "last_opinion"),
        # The export names the person and the employer, with the ID numbers and the province the list leaves out.
        export=(ExportColumn("number", 18), ExportColumn("business_type_label", 14, header="business_type"),
                ExportColumn("state_label", 16, header="state"), ExportColumn("person_name", 12, header="name"),
                ExportColumn("id_number", 21), ExportColumn("new_id_number", 21),
                ExportColumn("enterprise_name", 32), ExportColumn("province", 10),
                ExportColumn("submitted_at", 19, "datetime"), ExportColumn("state_changed_at", 19, "datetime"),
                ExportColumn("stage_deadline", 12, "date")),
        # The queue (待办) adds the applicant's reminders (催办) to the enterprise holding each application.
        other={"queue": (*_APPLICATION_LIST, "reminders")},
    ),
    AnnouncementBatch: ModelColumns(
        list=("number", "title", "state_label", "published_on"),
        show=("number", "title", "state_label", "published_on", "created_at"),
    ),
    Person: ModelColumns(
        list=_PERSON_LIST,
        show=("name", "id_number", "gender_label", "birth_date", "ethnicity_label", "phone", "email",
              "education_label", "degree_label", "school", "graduation_date", "major", "realname_label",
              "realname_province", "realname_verified_at"),
        api_list=("id", "name", "id_number", "gender", "birth_date", "realname_status"),
        api_show=("id", "name", "id_number", "gender", "birth_date", "ethnicity", "phone", "email", "education",
                  "degree", "school", "graduation_date", "major", "realname_status"),
        export=exported(_PERSON_LIST, {"name": 12, "id_number": 21, "gender_label": 6, "birth_date": 12,
                                       "phone": 13, "realname_label": 14}, {"birth_date": "date"}),
        # The province's queue of persons waiting for the on-site real-name check.
        other={"onsite_list": ("name", "id_number", "gender_label", "phone", "realname_requested_at"),
               "onsite_show": ("name", "id_number", "gender_label", "birth_date", "phone", "realname_label",
                               "realname_province", "realname_requested_at")},
    ),
    TransitionLog: ModelColumns(
        list=("created_at", "application.number", "action_label", "from_label", "to_label", "username", "role_label",
              "opinion"),
    ),
    Qualification: ModelColumns(
        list=("person.name", "certificate_no", "specialty", "qualified_on", "is_temporary"),
        show=("person", "certificate_no", "specialty", "qualified_on", "is_temporary"),
    ),
    Registration: ModelColumns(
        list=("number", "person.name", "enterprise.name", "status_label", "specialty_summary", "registered_on"),
        show=("number", "person", "enterprise", "status_label", "specialty_summary", "registered_on",
              "contract_start", "contract_end", "is_temporary", "cancelled_on", "cancel_reason_label"),
        # The export adds the ID number and the province; the specialties come last (the widest column).
        export=(ExportColumn("number", 22, header="registration_number"),
                ExportColumn("person_name", 12, header="name"), ExportColumn("id_number", 21),
                ExportColumn("enterprise_name", 32), ExportColumn("province", 10),
                ExportColumn("status_label", 8, header="status"), ExportColumn("registered_on", 12, "date"),
                ExportColumn("specialty_summary", 40)),
    ),
    Certificate: ModelColumns(
        list=_CERTIFICATE_LIST,
        show=("number", "holder_name", "registration_number", "enterprise_name", "specialty_summary", "status_label",
              "issued_on", "valid_until", "revoked_on", "revoke_reason", "replaced_by"),
        api_list=("id", "number", "holder_name", "registration_number", "enterprise_name", "status", "issued_on",
                  "valid_until"),
        api_show=("id", "number", "holder_name", "registration_number", "enterprise_name", "status", "issued_on",
                  "valid_until", "specialties", "revoked_on"),
        export=exported(_CERTIFICATE_LIST, {"number": 16, "holder_name": 12, "registration_number": 22,
                                            "enterprise_name": 32, "status_label": 8, "issued_on": 12,
                                            "valid_until": 12}, {"issued_on": "date", "valid_until": "date"}),
    ),
    Enterprise: ModelColumns(
        list=(*_ENTERPRISE_LIST, "status_label"),
        show=("name", "credit_code", "province", "address", "legal_representative", "contact_phone", "status_label",
              "status_since", "status_history"),
        api_list=("id", "name", "credit_code", "province.code", "province.name"),
        api_show=("id", "name", "credit_code", "province.code", "province.name", "address", "legal_representative"),
        export=exported(_ENTERPRISE_LIST, {"name": 32, "credit_code": 21, "province": 10,
                                           "legal_representative": 12}),
    ),
    Attachment: ModelColumns(
        list=("person.name", "kind_label", "filename", "size", "created_at"),
    ),
    PenaltyRecord: ModelColumns(
        list=("person.name", "kind_label", "ground_label", "decision_number", "decided_on", "period_label",
              "authority_label", "public"),
        show=("person", "kind_label", "ground_label", "ground_text", "decision_number", "decided_on", "period_label",
              "practice_related", "authority_label", "public", "document_filename", "recorded_by", "recorded_at"),
    ),
    AuditLog: ModelColumns(
        list=("created_at", "actor", "role_label", "action_label", "object_label", "object_id", "summary_text", "ip"),
        show=("created_at", "actor", "role_label", "ip", "action_label", "object_label", "object_id", "summary_text",
              "detail_text"),
    ),
    SmsOutbox: ModelColumns(list=("created_at", "phone", "purpose_label", "text", "backend_label")),
    Province: ModelColumns(list=("code", "name", "abbr", "name_en")),
    Specialty: ModelColumns(list=("code", "name", "name_en", "needs_industry_opinion")),
    CalendarDay: ModelColumns(list=("day", "weekday", "kind_label", "name", "source_label"),
                              show=("day", "weekday", "kind_label", "name", "source_label", "created_at")),
}
