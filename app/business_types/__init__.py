"""The business types (the user manual's eight, then the two started by others, issue 17), one declaration each (base.py says what a declaration holds), in one table.

The table's order is the user manual's menu order (3.1.3.1 - 3.1.3.8). app.workflow runs the pipelines,
app.rules and app.effects call the checks and outcomes, the applicant's form and the API read fields,
reasons, notice and scans. docs/BUSINESS_TYPES.md tells how to add a type.
"""
from app.business_types.add_specialty import ADD_SPECIALTY
from app.business_types.base import BusinessType
from app.business_types.cancel_by_others import CANCEL_BY_AUTHORITY, CANCEL_BY_EMPLOYER
from app.business_types.cancellation import CANCELLATION
from app.business_types.change import CHANGE
from app.business_types.info_change import INFO_CHANGE
from app.business_types.initial import INITIAL
from app.business_types.re_registration import RE_REGISTRATION
from app.business_types.renewal import RENEWAL
from app.business_types.replacement import REPLACEMENT

BUSINESS_TYPES: dict[str, BusinessType] = {
    t.code: t
    for t in (INITIAL, CHANGE, ADD_SPECIALTY, RENEWAL, CANCELLATION, RE_REGISTRATION, REPLACEMENT, INFO_CHANGE,
              CANCEL_BY_EMPLOYER, CANCEL_BY_AUTHORITY)
}
# The types a person applies for themself (the personal edition's menu, the REST API's drafts).
APPLICANT_TYPES: tuple[str, ...] = tuple(code for code, t in BUSINESS_TYPES.items() if not t.started_by_staff)
