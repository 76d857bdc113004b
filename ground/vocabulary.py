"""The words of the workflow: states, business-type codes and action names, with their labels.

The ground floor holds them so models can label a row without importing the domain. What a business type or
an action *does* is declared in app/ (app/business_types/, app/workflow.py); this module only names them.
"""
from flask_babel import lazy_gettext as _l


# --- States -----------------------------------------------------------------------------------
class State:
    DRAFT = "draft"
    ENTERPRISE = "enterprise_review"
    RELEASE = "release_pending"  # a change of employer: the previous employer may release or object
    PROVINCE = "province_review"
    INDUSTRY = "industry_review"  # the industry department's opinion (conditional: flagged specialties)
    MINISTRY = "ministry_review"
    ANNOUNCE = "announce_pending"
    ISSUE = "issue_pending"
    COMPLETED = "completed"
    RETURNED = "returned"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"  # the employer never confirmed it in time (lifecycle rule)


STATE_LABELS = {
    State.DRAFT: _l("Draft"),
    State.ENTERPRISE: _l("Awaiting employer confirmation"),
    State.RELEASE: _l("Awaiting release by the previous employer"),
    State.PROVINCE: _l("Awaiting provincial review"),
    State.INDUSTRY: _l("Awaiting industry department opinion"),
    State.MINISTRY: _l("Awaiting ministry approval"),
    State.ANNOUNCE: _l("Approved, awaiting announcement"),
    State.ISSUE: _l("Awaiting certificate issue"),
    State.COMPLETED: _l("Completed"),
    State.RETURNED: _l("Returned for amendment"),
    State.REFUSED: _l("Refused"),
    State.WITHDRAWN: _l("Withdrawn"),
    State.EXPIRED: _l("Expired unconfirmed"),
}

# The pipeline stages a business type may go through, in this order.
STAGE_ORDER = (State.ENTERPRISE, State.RELEASE, State.PROVINCE, State.INDUSTRY, State.MINISTRY, State.ANNOUNCE, State.ISSUE)
EDITABLE_STATES = frozenset({State.DRAFT, State.RETURNED})
IN_PROGRESS_STATES = frozenset(STAGE_ORDER)
OPEN_STATES = EDITABLE_STATES | IN_PROGRESS_STATES  # "an application in progress" (one at a time)
FINAL_STATES = frozenset({State.COMPLETED, State.REFUSED, State.WITHDRAWN, State.EXPIRED})


# --- Business types (codes and names; their rules are in app/business_types/) ----------------------
TYPE_LABELS = {
    "initial": _l("Initial registration"),
    "change": _l("Change of employer"),
    "add_specialty": _l("Additional specialty"),
    "renewal": _l("Renewal"),
    "cancellation": _l("Cancellation"),
    "re_registration": _l("Re-registration"),
    "replacement": _l("Certificate replacement"),
    "info_change": _l("Personal information change"),
    # Started by others than the person (issue 17): the employer when employment ended, the authority by law.
    "cancel_by_employer": _l("Cancellation reported by the employer"),
    "cancel_by_authority": _l("Cancellation or revocation by the authority"),
}

# --- Actions (names of the transitions in app/workflow.py) ----------------------------------------
ACTION_LABELS = {
    "submit": _l("Submit"),
    "lodge": _l("Lodge"),  # an employer or authority starts an application about someone else
    "withdraw": _l("Withdraw"),
    "confirm": _l("Confirm and submit"),
    "pass": _l("Pass review"),
    "opine": _l("Give industry opinion"),
    "approve": _l("Approve"),
    "publish": _l("Publish in announcement"),
    "issue": _l("Issue certificate"),
    "return": _l("Return for amendment"),
    "refuse": _l("Refuse registration"),
    "release": _l("Release"),
    "object": _l("Object to the change"),
    "release_by_silence": _l("No objection in time"),
    "expire": _l("Expire unconfirmed"),
    "employer_closed": _l("Returned: employer not qualified"),
}
