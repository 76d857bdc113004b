"""THE workflow: one declarative table of business types and transitions, and the engine that runs it.

Nothing else writes an application's state. Panel buttons, permissions, role queues, the REST
transition endpoint, the README diagram and the role × action matrix are all derived from the
tables below.

Per role, what each may do (the class docstring of the rules, as the Odoo pattern asks):
- Applicant: submit own drafts and returned applications; withdraw own open applications.
- Starters of a type started by staff (BusinessType.starters): lodge it about a registered person (the employer
  reports that someone left; a province or the ministry cancels by law). It is never returned nor withdrawn.
- Enterprise: confirm and submit (上报) or return applications naming its enterprise.
- Province: pass, return or refuse (不予注册) applications of its province.
- Industry (行业主管部门): give its opinion (agree / disagree, with the reasons) on applications in industry_review
  that chose one of its specialties; the application goes on to the ministry, which decides. No return, no refusal.
- Ministry: approve, return or refuse; publish announcement batches; issue certificates.
- Admin: no business decisions.
- System (the platform, by rule): expires applications the employer never confirmed; lets a change of
  employer proceed when the previous employer neither released nor objected in time (app/lifecycle.py);
  returns open applications whose named employer is no longer qualified (app/employer_status.py).

Whatever the role, nobody acts on their own application: a staff account linked to a person
(AppUser.staff_person_id) has no move on that person's applications, and the officer who lodged an application
about someone else does not decide it unless RULES STARTER_MAY_DECIDE (`actor_reasons`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, false, or_, select, update

from app import effects, industry, notifications, rules, scope
from app.audit import actor_fields
from app.business_types import BUSINESS_TYPES, BusinessType
from app.services.workdays import stage_deadline, stage_working_days
from ground import roles as R
from ground.clock import china_minute, now_utc
from ground.identifiers import looks_like_id_number, mask_id_number
from flask import current_app

from ground.extensions import db
from ground.vocabulary import (ACTION_LABELS, EDITABLE_STATES, FINAL_STATES, IN_PROGRESS_STATES, OPEN_STATES,  # noqa: F401
                               STAGE_ORDER, STATE_LABELS, TYPE_LABELS, State)
from models import Application, AppUser, AuditLog, TransitionLog
from models.base import Choices
from models.choices import INDUSTRY_OPINIONS, REFUSAL_REASONS

# Who owns each state: the role whose move it is (transitions with roles=OWNER use this).
STAGE_OWNER = {
    State.DRAFT: R.APPLICANT,
    State.RETURNED: R.APPLICANT,
    State.ENTERPRISE: R.ENTERPRISE,
    State.RELEASE: R.ENTERPRISE,
    State.PROVINCE: R.PROVINCE,
    State.INDUSTRY: R.INDUSTRY,
    State.MINISTRY: R.MINISTRY,
    State.ANNOUNCE: R.MINISTRY,
    State.ISSUE: R.MINISTRY,
}
# Which enterprise holds a stage the Enterprise role owns: the application's column naming it. The one the
# application names (the new employer, for a change) confirms; the previous employer releases.
STAGE_PARTY = {State.RELEASE: "previous_enterprise_id"}


def holder_enterprise_id(application, state: str | None = None):
    """The id of the enterprise whose turn it is in `state` (default: the application's state)."""
    return getattr(application, STAGE_PARTY.get(state or application.state, "enterprise_id"))


# --- Business types -----------------------------------------------------------------------------
# BUSINESS_TYPES (code → BusinessType: .code .label .stages .certificate .next_stage(state)) is declared in
# app/business_types/, one module per type, and re-exported here.


# --- Transitions --------------------------------------------------------------------------------
NEXT = "<next stage>"  # target: the next stage of the application's own pipeline
OWNER = "<stage owner>"  # roles: the role that owns the source state (STAGE_OWNER)

# Guards and effects are the functions themselves (app/rules.py, app/effects.py). A guard takes the
# application and returns a list of reasons (empty = passes); an effect takes a Context.


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str
    roles: object  # frozenset of role names, or OWNER
    guards: tuple[Callable, ...] = ()
    effects: tuple[Callable, ...] = ()
    needs_opinion: bool = False
    auto: bool = False  # fires by itself on entering a source state when its guards pass
    batch_only: bool = False  # only through an announcement batch, never one by one
    confirm: object = None  # question asked before an irreversible move
    style: str = "primary"
    # The applicant signs the move with an SMS code (DOMAIN: on every submission). The interface that
    # checked the code says so with `sms_confirmed=True`; the engine refuses the move otherwise.
    needs_sms: bool = False
    # A statement the actor ticks before the move, about facts of the application (e.g. the labour
    # contract period); `attestation_text()` fills it in, the engine refuses without `attested=True`.
    attestation: object = None
    # A coded reason the actor picks (a Choices list of models.choices), counted in the statistics.
    reason_choices: Choices | None = None
    # Starts the application: only a role the business type names among its `starters` takes it (and a
    # withdrawal, which only the starter of the person's own application may take).
    by_starter: bool = False

    @property
    def label(self):
        return ACTION_LABELS[self.action]

    def reasons(self):
        """The Choices the actor picks the reason from, or None."""
        return self.reason_choices

    def target_in(self, business_type: "BusinessType", state: str, application=None) -> str | None:
        """Where this transition leads from `state` for that business type (None: not from there); for
        `application` when given (its conditional stages), else along the full pipeline."""
        if not self.leads_for(business_type):
            return None
        return business_type.next_stage(state, application) if self.target == NEXT else self.target

    def targets_in(self, business_type: "BusinessType", state: str) -> tuple[str, ...]:
        """Every state this transition may lead to from `state`, for some application of that type."""
        if not self.leads_for(business_type):
            return ()
        if self.target != NEXT:
            return (self.target,) if self.target_in(business_type, state) else ()
        return business_type.onward(state)

    def leads_for(self, business_type: "BusinessType") -> bool:
        """False for a move that starts the type when none of its roles starts it, and for a return of an
        application lodged by others (it would go back to nobody: it is refused instead)."""
        if self.by_starter and self.roles != OWNER and not set(self.roles) & set(business_type.starters):
            return False
        return not (self.target == State.RETURNED and business_type.started_by_staff)

    def target_for(self, application) -> str | None:
        return self.target_in(BUSINESS_TYPES[application.business_type], application.state, application)


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("submit", (State.DRAFT, State.RETURNED), NEXT, frozenset({R.APPLICANT}),
                   guards=(rules.ready_to_submit,), effects=(effects.route, effects.mark_submitted),
                   needs_sms=True, by_starter=True,
                   confirm=_l("Submit this application? It goes to the next reviewer and cannot be edited "
                              "unless it is returned.")),
        Transition("lodge", (State.DRAFT,), NEXT, frozenset({R.ENTERPRISE, R.PROVINCE, R.MINISTRY}),
                   guards=(rules.ready_to_lodge,), effects=(effects.route, effects.mark_submitted),
                   by_starter=True,
                   confirm=_l("Lodge this cancellation? The person is notified and it goes to the reviewing "
                              "authority; it cannot be withdrawn, and once approved the registration is cancelled.")),
        Transition("withdraw", (State.DRAFT, State.RETURNED, State.ENTERPRISE, State.RELEASE, State.PROVINCE),
                   State.WITHDRAWN, frozenset({R.APPLICANT}), style="warning", by_starter=True,
                   confirm=_l("Withdraw this application? This cannot be undone; you may apply again later.")),
        Transition("confirm", (State.ENTERPRISE,), NEXT, OWNER,
                   guards=(rules.contract_complete, rules.employer_qualified),
                   attestation=_l("%(name)s is employed by our enterprise with a labour contract from %(start)s "
                                  "to %(end)s."),
                   confirm=_l("Confirm that this person is employed by your enterprise for the stated contract "
                              "period and submit the application to the provincial authority?")),
        Transition("release", (State.RELEASE,), NEXT, OWNER,
                   confirm=_l("Release this person to the new employer? The change goes on to the provincial "
                              "authority.")),
        Transition("object", (State.RELEASE,), NEXT, OWNER, needs_opinion=True, style="warning",
                   effects=(effects.record_objection,),
                   confirm=_l("Object to this change of employer? Your reason goes to the provincial authority, "
                              "which decides.")),
        Transition("release_by_silence", (State.RELEASE,), NEXT, frozenset({R.SYSTEM}),
                   guards=(rules.objection_period_over,)),
        Transition("expire", (State.ENTERPRISE,), State.EXPIRED, frozenset({R.SYSTEM}),
                   guards=(rules.unconfirmed_too_long,)),
        Transition("pass", (State.PROVINCE,), NEXT, OWNER, guards=(rules.employer_qualified,),
                   confirm=_l("Pass this application on to the ministry?")),
        Transition("opine", (State.INDUSTRY,), NEXT, OWNER, needs_opinion=True, reason_choices=INDUSTRY_OPINIONS,
                   confirm=_l("Send your department's opinion to the ministry? It cannot be changed afterwards.")),
        Transition("approve", (State.MINISTRY,), NEXT, OWNER,
                   guards=(rules.outcome_possible, rules.employer_qualified), effects=(effects.apply_outcome,),
                   confirm=_l("Approve this application? The registration is changed at once.")),
        Transition("publish", (State.ANNOUNCE,), NEXT, OWNER,
                   guards=(rules.in_announcement_batch,), batch_only=True),
        Transition("issue", (State.ISSUE,), State.COMPLETED, OWNER,
                   guards=(rules.certificate_ready,), effects=(effects.issue_certificate,), auto=True),
        # The named employer was suspended, lost its licence or was deregistered: back to the applicant, who
        # names another employer or withdraws (the nightly job of app/employer_status.py).
        Transition("employer_closed", (State.ENTERPRISE, State.RELEASE, State.PROVINCE, State.INDUSTRY, State.MINISTRY),
                   State.RETURNED, frozenset({R.SYSTEM}), guards=(rules.employer_not_qualified,), style="warning"),
        Transition("return", (State.ENTERPRISE, State.PROVINCE, State.MINISTRY),
                   State.RETURNED, OWNER, needs_opinion=True, style="warning",
                   confirm=_l("Return this application to the applicant for amendment?")),
        Transition("refuse", (State.PROVINCE, State.MINISTRY), State.REFUSED, OWNER,
                   needs_opinion=True, style="danger", reason_choices=REFUSAL_REASONS,
                   confirm=_l("Refuse this application (不予注册)? This is final.")),
    )
}


def attestation_text(transition: Transition, application) -> str | None:
    """The statement the actor must tick for this move on this application (None: nothing to attest)."""
    if transition.attestation is None or application.contract_start is None or application.contract_end is None:
        return None
    return str(transition.attestation) % {"name": application.person.name,
                                          "start": application.contract_start.isoformat(),
                                          "end": application.contract_end.isoformat()}


def is_system(transition: Transition) -> bool:
    """Taken by the platform on a rule's date, never by a person (app/lifecycle.py)."""
    return transition.roles != OWNER and R.SYSTEM in transition.roles


def roles_of(transition: Transition) -> set[str]:
    """Every role that may take this transition from some state."""
    if transition.roles == OWNER:
        return {STAGE_OWNER[s] for s in transition.sources}
    return set(transition.roles)


def acting_role(transition: Transition, state: str, user_roles: Iterable[str],
                business_type: BusinessType | None = None) -> str | None:
    """The role under which a user with `user_roles` may take `transition` from `state`, if any. With the
    application's `business_type`, a move that starts it (`by_starter`) is for the type's starters only."""
    allowed = {STAGE_OWNER[state]} if transition.roles == OWNER else set(transition.roles)
    if transition.by_starter and business_type is not None:
        allowed &= set(business_type.starters)
    return next((r for r in R.BUSINESS_ROLES if r in allowed and r in set(user_roles)), None)


def states_of(business_type: BusinessType) -> tuple[str, ...]:
    """The states an application of this type can rest in. One lodged by others is lodged the moment it is
    created (no draft stays), and is never returned nor withdrawn."""
    if business_type.started_by_staff:
        return (*business_type.stages, State.COMPLETED, State.REFUSED)
    expires = (State.EXPIRED,) if State.ENTERPRISE in business_type.stages else ()
    return (State.DRAFT, *business_type.stages, State.COMPLETED, State.RETURNED, State.REFUSED, State.WITHDRAWN,
            *expires)


def actionable_pairs(user_roles: Iterable[str]) -> list[tuple[str, str]]:
    """(business_type, state) pairs in which a user with these roles has a move. An automatic move
    counts too: an application rests in its source state only while a guard blocks it."""
    pairs = []
    for btype in BUSINESS_TYPES.values():
        for state in states_of(btype):
            if any(state in t.sources and _queued_role(acting_role(t, state, user_roles, btype), state)
                   and t.target_in(btype, state) for t in TRANSITIONS.values()):
                pairs.append((btype.code, state))
    return pairs


def _queued_role(role: str | None, state: str) -> bool:
    """A draft waits in its applicant's queue only: staff lodge theirs the moment they create them."""
    return role is not None and (state not in EDITABLE_STATES or role == R.APPLICANT)


def actionable_clause(user_roles: Iterable[str], user=None):
    """SQL condition for the queue (待办): applications in a state where these roles have a move. With `user`,
    an enterprise's queue holds only the stages its enterprise holds (STAGE_PARTY)."""
    user_roles = set(user_roles)
    by_state: dict[str, list[str]] = {}
    for btype, state in actionable_pairs(user_roles):
        by_state.setdefault(state, []).append(btype)
    if not by_state:
        return false()
    parts = []
    for state, types in sorted(by_state.items()):
        part = and_(Application.state == state, Application.business_type.in_(types))
        enterprise_only = STAGE_OWNER.get(state) == R.ENTERPRISE and not (user_roles & {R.PROVINCE, R.MINISTRY})
        if user is not None and enterprise_only:
            part = and_(part, getattr(Application, STAGE_PARTY.get(state, "enterprise_id")) == user.enterprise_id)
        if user is not None and STAGE_OWNER.get(state) == R.INDUSTRY:  # only its own specialties' applications
            part = and_(part, industry.in_specialties_of(user))
        parts.append(part)
    return or_(*parts)


# --- The table's own check (run at import: a broken table stops the application from starting) ---
class WorkflowTableError(Exception):
    """The workflow table or a business-type declaration lacks what the engine needs."""


def table_problems(transitions: dict | None = None, business_types: dict | None = None) -> list[str]:
    """Everything wrong with the tables (default: this module's TRANSITIONS and BUSINESS_TYPES); empty = sound."""
    transitions = TRANSITIONS if transitions is None else transitions
    business_types = BUSINESS_TYPES if business_types is None else business_types
    problems = []
    for action, t in transitions.items():
        where = f"transition {action!r}"
        if action != t.action or action not in ACTION_LABELS:
            problems.append(f"{where}: keyed by its action, with a label in ground.vocabulary.ACTION_LABELS")
        problems += [f"{where}: guard {g!r} is not callable" for g in t.guards if not callable(g)]
        problems += [f"{where}: effect {e!r} is not callable" for e in t.effects if not callable(e)]
        problems += [f"{where}: unknown source state {s!r}" for s in t.sources if s not in STATE_LABELS]
        if t.target != NEXT and t.target not in STATE_LABELS:
            problems.append(f"{where}: unknown target {t.target!r}")
        if t.roles == OWNER:
            problems += [f"{where}: source {s!r} has no STAGE_OWNER" for s in t.sources if s not in STAGE_OWNER]
        elif not (isinstance(t.roles, frozenset) and t.roles and t.roles <= {*R.BUSINESS_ROLES, R.SYSTEM}):
            problems.append(f"{where}: roles must be OWNER or a non-empty frozenset of business roles (or System)")
        if t.reason_choices is not None and not isinstance(t.reason_choices, Choices):
            problems.append(f"{where}: reason_choices must be a models.choices list")
    for code, btype in business_types.items():
        if not isinstance(btype, BusinessType) or code != btype.code:
            problems.append(f"business type {code!r}: not a BusinessType keyed by its code")
            continue
        problems += btype.problems()
        for stage in btype.stages:
            for onward in btype.onward(stage):
                if stage in STAGE_ORDER and not any(stage in t.sources and onward in t.targets_in(btype, stage)
                                                    for t in transitions.values()):
                    problems.append(f"business type {code!r}: no transition moves on from {stage!r} to {onward!r}")
    return problems


def check_table(transitions: dict | None = None, business_types: dict | None = None) -> None:
    """Raise WorkflowTableError listing every problem of the tables (see `table_problems`)."""
    problems = table_problems(transitions, business_types)
    if problems:
        raise WorkflowTableError("The workflow table is broken:\n" + "\n".join(problems))


# --- Errors -------------------------------------------------------------------------------------
OPINION_MAX_LENGTH = 2000  # the pages' text areas and the API schema say the same


class WorkflowError(Exception):
    status = 400

    def __init__(self, message, reasons=()):
        super().__init__(str(message))
        self.message = message
        self.reasons = list(reasons)


class NotFound(WorkflowError):
    status = 404


class Forbidden(WorkflowError):
    status = 403


class InvalidState(WorkflowError):
    status = 409


class Conflict(WorkflowError):
    status = 409


class GuardFailed(WorkflowError):
    status = 422


class OpinionRequired(WorkflowError):
    status = 422


# --- The engine ---------------------------------------------------------------------------------
@dataclass
class Option:
    """One move shown to a user: allowed, or disabled with the reasons."""

    transition: Transition
    allowed: bool
    reasons: list = field(default_factory=list)

    @property
    def action(self):
        return self.transition.action


@dataclass
class Context:
    """What an effect receives."""

    application: object
    transition: Transition
    user: object
    role: str
    from_state: str
    to_state: str
    opinion: str | None
    session: object


def available(application, user) -> list[Option]:
    """The moves `user` may see on `application`: allowed ones, and guard-blocked ones with reasons."""
    if application is None or not scope.can_see(user, application):
        return []
    roles = R.user_role_names(user)
    btype = BUSINESS_TYPES[application.business_type]
    options = []
    for t in TRANSITIONS.values():
        if application.state not in t.sources:
            continue
        role = acting_role(t, application.state, roles, btype)
        if not role:
            continue
        if t.target_for(application) is None or not _holds_stage(application, user, roles):
            continue
        reasons = actor_reasons(t, application, user, role) + _guard_reasons(t, application)
        if t.batch_only:
            reasons.append(_l("Published with its announcement batch (Announcements menu)."))
        options.append(Option(t, not reasons, reasons))
    return options


def _holds_stage(application, user, roles) -> bool:
    """An enterprise acts only on the stages its own enterprise holds (STAGE_PARTY); other roles always."""
    if STAGE_OWNER.get(application.state) != R.ENTERPRISE or R.ENTERPRISE not in roles:
        return True
    return holder_enterprise_id(application) == getattr(user, "enterprise_id", None)


def actor_reasons(t: Transition, application, user, role: str) -> list:
    """Why this user may not take `t` on this application whatever its guards say: nobody reviews their own
    application (a staff account linked to the application's person), and the officer who lodged an application
    about someone else does not decide it (unless RULES STARTER_MAY_DECIDE)."""
    if role in (R.APPLICANT, R.SYSTEM):
        return []
    own = getattr(user, "staff_person_id", None)
    if own is not None and own == application.person_id:
        return [_l("You may not act on your own application.")]
    if (not t.by_starter and not t.batch_only and BUSINESS_TYPES[application.business_type].started_by_staff
            and application.created_by_id == getattr(user, "id", None)
            and not current_app.config["RULES"]["STARTER_MAY_DECIDE"]):
        return [_l("You lodged this application; another officer must decide it.")]
    return []


def _guard_reasons(t: Transition, application) -> list:
    reasons = []
    for guard in t.guards:
        reasons.extend(guard(application))
    return reasons


@dataclass(frozen=True)
class Move:
    """One move as its actor asks for it: the action and what the actor supplied with it.

    `sms_confirmed`: the interface verified the applicant's SMS code for a move that needs one; `attested`:
    the actor ticked the move's attestation; `reason`: the code picked for a move with `reason_choices`;
    `version`: the version the actor saw (stale: 409); `via_batch`: the move comes with its announcement batch.
    """

    action: str
    opinion: str | None = None
    version: int | None = None
    reason: str | None = None
    attested: bool = False
    sms_confirmed: bool = False
    via_batch: bool = False


def apply(application, move: Move, user, *, session=None, commit: bool = True, as_system: bool = False):
    """Take `move` on `application` as `user`: re-check everything, move, run effects, log; one transaction.

    `application` may be an id. Raises a WorkflowError (with a translated message) and changes nothing when
    the move is not possible. `session` is the unit of work (the app's by default); `commit=False` leaves
    the commit to a caller that does more in the same transaction. `as_system`: the platform takes one of
    the System's moves (no user, no row scope: app/lifecycle.py).
    """
    session = session or db.session
    action, opinion, reason = move.action, move.opinion, move.reason
    try:
        app_obj = _load(application) if as_system else _load_in_scope(application, user)
        transition = TRANSITIONS.get(action)
        if transition is None:
            raise NotFound(_l("Unknown action."))
        try:
            if as_system:
                role = _check_system(app_obj, transition)
            else:
                role = _check(app_obj, transition, user, opinion, move.version, move.via_batch, session)
        except GuardFailed:
            if _changed_meanwhile(session, app_obj):  # the guards saw the winner's effects, not the cause
                raise already_handled(app_obj.id, transition, session) or _acted_at_the_same_moment() from None
            raise
        if transition.needs_sms and not move.sms_confirmed:
            raise GuardFailed(_l("Confirm the submission with the SMS code sent to your mobile."))
        if not move.attested and attestation_text(transition, app_obj):
            raise GuardFailed(_l("Tick the confirmation: %(statement)s",
                                 statement=attestation_text(transition, app_obj)))
        choices = transition.reasons()
        if choices is not None and reason not in choices:
            raise GuardFailed(_l("Choose the reason for this decision."))
        _move(session, app_obj, transition, user, role, opinion, reason if choices is not None else None)
        if commit:
            session.commit()
        return app_obj
    except Exception:
        session.rollback()
        raise


def _acted_at_the_same_moment() -> "Conflict":
    return Conflict(_l("Someone else acted on this application at the same moment; reload to see its state."))


def _changed_meanwhile(session, app_obj) -> bool:
    """Another transaction moved the application after it was loaded (a fresh read, not the identity map)."""
    return session.execute(select(Application.version).where(Application.id == app_obj.id)).scalar() != app_obj.version


def _load(application):
    app_id = application if isinstance(application, int) else getattr(application, "id", None)
    found = db.session.get(Application, app_id) if app_id else None
    if found is None:
        raise NotFound(_l("Application not found."))
    return found


def _check_system(app_obj, t: Transition) -> str:
    if not is_system(t):
        raise Forbidden(_l("Your role may not take this action."))
    if app_obj.state not in t.sources or t.target_for(app_obj) is None:
        raise InvalidState(_l("This application is “%(state)s”; it cannot be %(action)s now.",
                              state=STATE_LABELS.get(app_obj.state, app_obj.state), action=t.label))
    reasons = _guard_reasons(t, app_obj)
    if reasons:
        raise GuardFailed(_l("The application cannot be %(action)s yet.", action=t.label), reasons)
    return R.SYSTEM


def _load_in_scope(application, user):
    app_id = application if isinstance(application, int) else getattr(application, "id", None)
    found = scope.query(Application, user).filter(Application.id == app_id).one_or_none() if app_id else None
    if found is None:
        raise NotFound(_l("Application not found."))
    return found


def already_handled(app_id: int, t: Transition, session=None, error=None) -> "WorkflowError | None":
    """Who moved the application on from the stage where `t` could be taken, and when: the answer to a double
    submission, a stale page or the loser of a race (a Conflict; `error` another 409 class). None if it never
    left such a stage."""
    session = session or db.session
    log = session.execute(select(TransitionLog).where(TransitionLog.application_id == app_id,
                                                      TransitionLog.from_state.in_(tuple(t.sources)))
                          .order_by(TransitionLog.id.desc()).limit(1)).scalars().first()
    if log is None:
        return None
    state = session.execute(select(Application.state).where(Application.id == app_id)).scalar()
    done = TRANSITIONS[log.action].label if log.action in TRANSITIONS else log.action
    return (error or Conflict)(_l("Already handled by %(who)s at %(time)s (%(action)s); the application is now "
                                  "“%(state)s”.", who=_actor_name(session, log), time=china_minute(log.created_at),
                                  action=done, state=STATE_LABELS.get(state, state)))


def _actor_name(session, log) -> str:
    """The role and the account's name as the trail keeps it; an ID number never appears in full."""
    role = R.ROLE_LABELS.get(log.role, log.role)
    user = session.get(AppUser, log.user_id) if log.user_id else None
    name = (user.get_full_name() if user is not None else "") or log.username or ""
    if looks_like_id_number(name):
        name = mask_id_number(name)
    return f"{role} {name}".strip() if log.role != R.SYSTEM else str(role)


def _check(app_obj, t: Transition, user, opinion, version, via_batch, session=None) -> str:
    roles = R.user_role_names(user)
    if not any(acting_role(t, s, roles) for s in t.sources):
        raise Forbidden(_l("Your role may not %(action)s applications.", action=t.label))
    if app_obj.state not in t.sources:  # e.g. a double submission: who moved it on, and when
        handled = already_handled(app_obj.id, t, session, InvalidState)
        if handled is not None:
            raise handled
    if version is not None and int(version) != app_obj.version:  # acted on a stale page: say what happened
        raise Conflict(_l("This application was changed by someone else since you opened it; it is now “%(state)s”. "
                          "Reload and try again.", state=STATE_LABELS.get(app_obj.state, app_obj.state)))
    if app_obj.state not in t.sources or t.target_for(app_obj) is None:
        raise InvalidState(_l("This application is “%(state)s”; it cannot be %(action)s now.",
                              state=STATE_LABELS.get(app_obj.state, app_obj.state), action=t.label))
    btype = BUSINESS_TYPES[app_obj.business_type]
    role = acting_role(t, app_obj.state, roles, btype)
    if role is None and t.by_starter and acting_role(t, app_obj.state, roles) is not None:
        raise Forbidden(_l("Only %(starters)s may %(action)s a “%(type)s”.", action=t.label, type=btype.label,
                           starters="、".join(str(R.ROLE_LABELS[r]) for r in R.BUSINESS_ROLES if r in btype.starters)))
    if role is None:
        raise Forbidden(_l("It is not your role's turn to act on this application."))
    if role == R.ENTERPRISE and holder_enterprise_id(app_obj) != getattr(user, "enterprise_id", None):
        raise Forbidden(_l("It is not your enterprise's turn to act on this application."))
    if role == R.INDUSTRY and not industry.covers(user, app_obj):
        raise Forbidden(_l("This application chose none of your department's specialties."))
    refused = actor_reasons(t, app_obj, user, role)
    if refused:
        raise Forbidden(refused[0], refused)
    if t.needs_opinion and not (opinion or "").strip():
        raise OpinionRequired(_l("Please write an opinion explaining the decision."))
    if len(opinion or "") > OPINION_MAX_LENGTH:
        raise GuardFailed(_l("The opinion is longer than %(max)s characters.", max=OPINION_MAX_LENGTH))
    if t.batch_only and not via_batch:
        raise InvalidState(_l("Published with its announcement batch (Announcements menu)."))
    reasons = _guard_reasons(t, app_obj)
    if reasons:
        raise GuardFailed(_l("The application cannot be %(action)s yet.", action=t.label), reasons)
    return role


def _move(session, app_obj, t: Transition, user, role: str, opinion, reason=None):
    from_state, to_state = app_obj.state, t.target_for(app_obj)
    now = now_utc()
    entered_at = app_obj.state_changed_at
    session.flush()  # pending edits first, so the guarded UPDATE is the last word on state
    result = session.execute(
        update(Application)
        .where(Application.id == app_obj.id, Application.state == from_state,
               Application.version == app_obj.version)
        .values(state=to_state, version=Application.version + 1, state_changed_at=now,
                stage_deadline=stage_deadline(app_obj.business_type, to_state, now),
                last_opinion=(opinion or None))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise already_handled(app_obj.id, t, session) or _acted_at_the_same_moment()
    session.refresh(app_obj)
    ctx = Context(app_obj, t, user, role, from_state, to_state, opinion, session)
    for effect in t.effects:
        effect(ctx)
    actor = actor_fields(user)
    if role == R.SYSTEM:
        actor = {**actor, "user_id": None, "username": "system", "role": R.SYSTEM}
    session.add(TransitionLog(application_id=app_obj.id, action=t.action, from_state=from_state,
                              to_state=to_state, user_id=actor["user_id"], username=actor["username"],
                              role=role, opinion=opinion or None, reason=reason, created_at=now,
                              business_type=app_obj.business_type, province_code=app_obj.province_code,
                              stage_days=stage_working_days(entered_at, now)))
    detail = {"opinion": opinion or None, "role": role, "from": from_state, "to": to_state,
              **({"reason": reason} if reason else {})}
    session.add(AuditLog(action=f"transition.{t.action}", object_type="Application", object_id=str(app_obj.id),
                         summary=f"{app_obj.number}: {from_state} → {to_state}", detail=detail, created_at=now,
                         **actor))
    session.flush()
    session.info.setdefault("moves", []).append(t.action)  # counted once the transaction commits (/metrics)
    notifications.after_move(ctx)
    _run_automatic(session, app_obj, user, role)


def _run_automatic(session, app_obj, user, role):
    for t in TRANSITIONS.values():
        if t.auto and app_obj.state in t.sources and not _guard_reasons(t, app_obj):
            _move(session, app_obj, t, user, STAGE_OWNER.get(app_obj.state, role), None)
            return


# --- Documentation generated from the table ------------------------------------------------------
def mermaid() -> str:
    """The workflow as a Mermaid state diagram (README)."""
    lines = ["stateDiagram-v2", f"    [*] --> {State.DRAFT}"]
    edges: dict[tuple[str, str], set[str]] = {}
    conditional = set()
    for btype in BUSINESS_TYPES.values():
        conditional |= set(btype.conditions)
        for state in dict.fromkeys((State.DRAFT, *states_of(btype))):  # with the draft a lodging starts from
            for t in TRANSITIONS.values():
                for target in (t.targets_in(btype, state) if state in t.sources else ()):
                    edges.setdefault((state, target), set()).add(t.action)
    for (src, dst), actions in sorted(edges.items()):
        when = " (if required)" if dst in conditional else ""
        lines.append(f"    {src} --> {dst}: {', '.join(sorted(actions))}{when}")
    for final in sorted(FINAL_STATES):
        lines.append(f"    {final} --> [*]")
    return "\n".join(lines)


def pipelines_table() -> str:
    """Markdown table: which stages each business type goes through ("if": a conditional stage)."""
    head = "| business type | " + " | ".join(STAGE_ORDER) + " | certificate |"
    rows = [head, "|" + "---|" * (len(STAGE_ORDER) + 2)]
    for btype in BUSINESS_TYPES.values():
        cells = [("if" if s in btype.conditions else "yes") if s in btype.stages else "—" for s in STAGE_ORDER]
        rows.append(f"| {btype.code} | " + " | ".join(cells) + f" | {btype.certificate} |")
    return "\n".join(rows)


def role_action_matrix() -> str:
    """Markdown table: which role may take which action, from which states."""
    actors = (*R.BUSINESS_ROLES, R.SYSTEM)
    rows = ["| action | " + " | ".join(actors) + " |", "|" + "---|" * (len(actors) + 1)]
    for t in TRANSITIONS.values():
        cells = []
        for role in actors:
            states = [s for s in t.sources if (is_system(t) if role == R.SYSTEM else acting_role(t, s, {role}))]
            cells.append(", ".join(states) if states else "—")
        suffix = " (automatic)" if t.auto else (" (batch)" if t.batch_only else "")
        rows.append(f"| {t.action}{suffix} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


check_table()  # at import: every process that can move an application first proves the table sound
