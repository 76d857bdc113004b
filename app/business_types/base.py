"""What a business type is: one declaration that the engine, the rules, the form, the API and the menus read.

A declaration holds data (pipeline, fields, reason list, certificate policy, routing) and the type's own
checks and outcome as plain functions. `limits` is the RULES setting of config.py (AGE_LIMIT,
RENEWAL_WINDOW_DAYS, ...), passed in so the checks run without an application context.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ground import roles as R
from app.business_types.shared import configured_limits
from ground.vocabulary import EDITABLE_STATES, STAGE_ORDER, State, TYPE_LABELS
from models.base import Choices
from models.choices import APPLICATION_REASONS
from models.dictionary import PROVINCE_CODES

# What the last stage does: a new certificate, none (the registration's certificates are revoked at
# approval), or a new certificate only when the person holds an active registration.
CERTIFICATE_POLICIES = ("new", "revoke", "new_if_registered")
# Which enterprise confirms: the one the application names, or the person's current employer.
CONFIRMERS = ("named", "current")
# Who may start (submit or lodge) an application: the person, or staff about someone else (issue 17).
STARTER_ROLES = frozenset({R.APPLICANT, R.ENTERPRISE, R.PROVINCE, R.MINISTRY})


def no_reasons(*_args) -> list:
    """A check that finds nothing (the default precondition and eligibility)."""
    return []


def no_field_errors(_values, _person) -> dict:
    return {}


def no_outcome(_ctx) -> None:
    """Approval changes nothing."""


@dataclass(frozen=True)
class BusinessType:
    code: str
    stages: tuple[str, ...]  # the pipeline; a skipped stage is simply absent
    certificate: str  # one of CERTIFICATE_POLICIES
    fields: tuple[str, ...]  # Application fields the form, the API and the show page use
    required: frozenset[str]  # the ones an applicant must fill in
    # (application, at_submission, limits) → reasons: checked at submission and again at approval.
    eligibility: Callable = no_reasons
    # (person, limits) → reasons known before any field is filled in (the form's blockers).
    preconditions: Callable = no_reasons
    # (person) → the Specialty rows the person may choose.
    eligible_specialties: Callable = no_reasons
    # (values, person) → {field: [messages]}: checks of typed input beyond required fields and shared ones.
    check_input: Callable = no_field_errors
    outcome: Callable = no_outcome  # (workflow Context) → None: what approval does to the registration
    reasons: Choices | None = None  # the list the applicant picks `reason` from
    # The age limit stops it (DOMAIN: people over the limit may still cancel, replace a certificate, correct data).
    age_limited: bool = True
    # The refusal grounds of MOC Order No. 153 art. 15 in app/penalties.py (certificate revoked, criminal sentence,
    # two units) stop it: before the form, at submission and at approval. Types that create, restore or extend a
    # registration set it; cancellation, replacement and personal-information change do not.
    refusal_grounds: bool = False
    notice: bool = False  # the applicant ticks the registration notice (注册须知) to submit
    scans: tuple[str, ...] = ()  # attachment kinds uploaded with the form (new ID card scans)
    confirmer: str = "named"  # one of CONFIRMERS
    records_previous_employer: bool = False  # a change of employer keeps the one it leaves
    # The employer it names must be qualified (not suspended, revoked, deregistered: app/employer_rules.py). Off
    # for what a person at a closed employer must still be able to do (cancel, correct data, replace a certificate).
    needs_qualified_employer: bool = True
    guide: object = None  # what the type is for and what its form asks (help page); may use %(fresh)s etc.
    # Notes the help page adds to the guide while a switch of the RULES setting is on: {rule name: text}.
    guide_notes: tuple[tuple[str, object], ...] = ()
    # The roles that may start it: the applicant (submit), or staff about a registered person (lodge). A type
    # started by staff is never returned to anyone, nor withdrawn by the person (app/workflow.py).
    starters: frozenset = frozenset({R.APPLICANT})
    document: bool = False  # the starter uploads the decision document (PDF or JPEG) with it

    @property
    def started_by_staff(self) -> bool:
        return R.APPLICANT not in self.starters
    # Conditional stages: {stage: predicate(application, limits) → bool}. An application passes through such a
    # stage only when its predicate holds (e.g. the industry opinion for flagged specialties); else it is skipped.
    conditions: dict = field(default_factory=dict)

    @property
    def label(self):
        return TYPE_LABELS[self.code]

    @property
    def uses_contract(self) -> bool:
        """The labour contract is entered and checked (at submission and at the employer's confirmation)."""
        return "contract_end" in self.fields

    def next_stage(self, state: str, application=None, limits=None) -> str | None:
        """The state after `state` in `application`'s pipeline (the first stage after a draft), skipping the
        conditional stages whose predicate fails for it. Without an application every condition counts as holding
        (the full pipeline); `limits` default to the running application's RULES."""
        if state in EDITABLE_STATES:
            candidates = self.stages
        elif state in self.stages:
            candidates = self.stages[self.stages.index(state) + 1:]
        else:
            return None
        for stage in candidates:
            if application is None or stage not in self.conditions or self.takes(stage, application, limits):
                return stage
        return State.COMPLETED

    def takes(self, stage: str, application, limits=None) -> bool:
        """Whether `application` passes through `stage` (always, unless the stage is conditional)."""
        if stage not in self.conditions:
            return stage in self.stages
        if limits is None:
            limits = configured_limits()
        return bool(self.conditions[stage](application, limits))

    def onward(self, state: str) -> tuple[str, ...]:
        """Every state that may follow `state` for some application: each conditional stage up to and including
        the first unconditional one (the diagram, the table check)."""
        if state in EDITABLE_STATES:
            candidates = self.stages
        elif state in self.stages:
            candidates = self.stages[self.stages.index(state) + 1:]
        else:
            return ()
        found = []
        for stage in candidates:
            found.append(stage)
            if stage not in self.conditions:
                return tuple(found)
        return (*found, State.COMPLETED)

    def route(self, application) -> dict:
        """Enterprise that confirms, previous enterprise, registration and reviewing province.

        The province is the confirming enterprise's; without one (a personal-information change of an
        unregistered person), the province of the ID number's region code (our rule).
        """
        person = application.person
        registration = person.registration
        enterprise, previous = application.enterprise, None
        if self.confirmer == "current":
            enterprise = registration.enterprise if registration is not None else None
        if self.records_previous_employer and registration is not None:
            previous = registration.enterprise
        if enterprise is not None:
            province_code = enterprise.province_code
        else:
            province_code = person.id_number[:2] if person.id_number[:2] in PROVINCE_CODES else None
        return {"enterprise": enterprise, "previous_enterprise": previous, "registration": registration,
                "province_code": province_code}

    def prints_certificate(self, registration) -> bool:
        """Whether the last stage prints a certificate for this registration (None: the person holds none)."""
        if self.certificate == "revoke":
            return False
        active = registration is not None and registration.status == "active"
        return active or self.certificate != "new_if_registered"

    def problems(self) -> list[str]:
        """What the engine needs and this declaration lacks (empty: complete)."""
        found = []
        if self.code not in TYPE_LABELS:
            found.append(f"{self.code}: no label in ground.vocabulary.TYPE_LABELS")
        if not self.stages or any(s not in STAGE_ORDER for s in self.stages):
            found.append(f"{self.code}: stages must be a non-empty subset of STAGE_ORDER")
        elif list(self.stages) != sorted(set(self.stages), key=STAGE_ORDER.index):
            found.append(f"{self.code}: stages out of STAGE_ORDER's order or repeated")
        if self.certificate not in CERTIFICATE_POLICIES:
            found.append(f"{self.code}: certificate policy {self.certificate!r} is not one of {CERTIFICATE_POLICIES}")
        if self.confirmer not in CONFIRMERS:
            found.append(f"{self.code}: confirmer {self.confirmer!r} is not one of {CONFIRMERS}")
        if not set(self.required) <= set(self.fields):
            found.append(f"{self.code}: required fields {sorted(set(self.required) - set(self.fields))} not in fields")
        if ("reason" in self.fields) != (self.reasons is not None):
            found.append(f"{self.code}: a `reason` field needs a reason list, and a reason list a `reason` field")
        elif self.reasons is not None and any(APPLICATION_REASONS.labels.get(code) is not label
                                              for code, label in self.reasons.pairs):
            found.append(f"{self.code}: its reasons must be part of models.choices.APPLICATION_REASONS")
        if not self.starters or not set(self.starters) <= STARTER_ROLES:
            found.append(f"{self.code}: starters must be a non-empty subset of {sorted(STARTER_ROLES)}")
        elif R.APPLICANT in self.starters and len(self.starters) > 1:
            found.append(f"{self.code}: started either by the applicant or by staff, not both")
        if self.started_by_staff and State.ENTERPRISE in self.stages:
            found.append(f"{self.code}: a type started by staff has no employer confirmation stage")
        for stage, predicate in self.conditions.items():
            if stage not in self.stages or not callable(predicate):
                found.append(f"{self.code}: condition on {stage!r} must be a callable for one of its stages")
        if self.guide is None:
            found.append(f"{self.code}: no guide text for the help page")
        for name in ("eligibility", "preconditions", "eligible_specialties", "check_input", "outcome"):
            if not callable(getattr(self, name)):
                found.append(f"{self.code}: {name} is not callable")
        return found
