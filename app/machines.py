"""Small declared state machines beside the application workflow: the announcement batch and a person's
real-name verification.

A `StateMachine` names the column that holds the state, its states with their labels (a Choices list of
models.choices) and its `Move`s: the action, the states it may start from, where it leads, the roles that
may take it, and the message that refuses it from any other state. A move whose target is `STAY` is an
action on the subject that keeps its state (gathering applications into a draft batch).

`take()` performs a move in the caller's transaction: it checks the actor's role and the current state,
holds the row with one guarded UPDATE (WHERE id = ? AND state = from: of two moves racing on one row, the
second finds the state changed and is refused), sets the new state through the ORM (so the row's audit
"update" records it with the caller's other edits) and writes one audit row named `<machine>.<action>`.
`mermaid()` draws a machine from its declaration (docs/STATE_MACHINES.md).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect, update

from app import workflow
from app.audit import record
from ground import roles as R
from ground.extensions import db
from models.base import Choices
from models.choices import ANNOUNCEMENT_STATES, REALNAME_STATUSES, BatchState, RealnameStatus

STAY = None  # target of a move that keeps the subject's state

# An actor that is not a signed-in user: an online identity provider, heard through its signed callback.
PROVIDER = "Provider"
ACTOR_LABELS = {**R.ROLE_LABELS, PROVIDER: _l("Verification service")}
ACTOR_ORDER = (*R.BUSINESS_ROLES, PROVIDER)


@dataclass(frozen=True)
class Move:
    action: str
    sources: tuple[str, ...]
    target: str | None  # a state, or STAY
    roles: frozenset[str]  # role names (ground.roles) or PROVIDER
    label: object  # what the audit trail calls the move
    refusal: object  # the message when the subject is in none of the sources

    def target_from(self, state: str) -> str:
        return state if self.target is STAY else self.target


@dataclass(frozen=True)
class StateMachine:
    name: str  # prefix of the audit action names
    field: str  # the column holding the state
    states: Choices  # names and labels
    initial: str
    moves: tuple[Move, ...]
    error: type = workflow.InvalidState  # raised with a move's refusal

    def __post_init__(self):
        actions = [m.action for m in self.moves]
        if len(set(actions)) != len(actions):
            raise ValueError(f"{self.name}: an action is declared twice")
        named = {self.initial, *(s for m in self.moves for s in m.sources),
                 *(m.target for m in self.moves if m.target is not STAY)}
        if not named <= set(self.states):
            raise ValueError(f"{self.name}: undeclared states {sorted(named - set(self.states))}")

    def move(self, action: str) -> Move | None:
        return next((m for m in self.moves if m.action == action), None)

    def allows(self, action: str, state: str) -> bool:
        """The move exists and may start from `state` (whoever takes it)."""
        move = self.move(action)
        return move is not None and state in move.sources

    def actions_from(self, state: str) -> set[str]:
        return {m.action for m in self.moves if state in m.sources}

    def final_states(self) -> list[str]:
        """States no move leaves."""
        return [s for s in self.states if not any(s in m.sources and m.target_from(s) != s for m in self.moves)]

    def audit_action(self, move: Move) -> str:
        return f"{self.name}.{move.action}"


# --- The engine -----------------------------------------------------------------------------------
def acting_role(move: Move, user=None, role: str | None = None) -> str | None:
    """The role under which the move is taken. A signed-in user acts under one of their roles (`role` picks
    one); without a user (command line, a provider's callback) the caller names the role it acts for."""
    if user is None:
        return role if role in move.roles else None
    held = R.user_role_names(user)
    return next((r for r in ACTOR_ORDER if r in move.roles and r in held and role in (None, r)), None)


def check(machine: StateMachine, action: str, subject, user=None, role: str | None = None) -> tuple[Move, str]:
    """The move and the acting role, or a WorkflowError: unknown action, role not allowed, wrong state."""
    move = machine.move(action)
    if move is None:
        raise workflow.NotFound(_l("Unknown action."))
    acting = acting_role(move, user, role)
    if acting is None:
        raise workflow.Forbidden(_l("Your role may not take this action."))
    if getattr(subject, machine.field) not in move.sources:
        raise machine.error(move.refusal)
    return move, acting


def take(machine: StateMachine, action: str, subject, user=None, role: str | None = None,
         detail: dict | None = None) -> str:
    """Take the move on `subject` (a model row) in the session's transaction; the caller commits.

    Returns the new state. Raises a WorkflowError (translated message) and changes nothing when the move
    is not possible, also when another transaction moved the subject since it was read."""
    session = db.session
    with session.no_autoflush:  # reading the user's roles must not send the caller's edits out early
        move, acting = check(machine, action, subject, user, role)
    model = type(subject)
    mapper = inspect(model)
    key = mapper.primary_key_from_instance(subject)[0]
    source = getattr(subject, machine.field)
    target = move.target_from(source)
    # The guarded UPDATE proves the state is still `source` and holds the row until commit; the caller's
    # pending edits and the new state then go out in one flush (one audit "update" row, as for any edit).
    if inspect(subject).attrs[machine.field].history.has_changes():
        session.flush()  # a state set by hand (a fixture) is what the guard compares with
    with session.no_autoflush:
        held = session.execute(
            update(model).where(mapper.primary_key[0] == key, getattr(model, machine.field) == source)
            .values({machine.field: source}).execution_options(synchronize_session=False))
    if held.rowcount != 1:
        raise machine.error(move.refusal)
    setattr(subject, machine.field, target)
    session.flush()
    moved = {machine.field: [source, target]} if target != source else {machine.field: source}
    record(machine.audit_action(move), model.__name__, key,
           summary=f"{subject}: {source} → {target}" if target != source else f"{subject}: {source}",
           detail={**moved, "role": acting, **(detail or {})}, user=user)
    return target


# --- The declarations -----------------------------------------------------------------------------
class BatchError(workflow.InvalidState):
    """A move on an announcement batch refused."""


_PUBLISHED_ALREADY = _l("This batch is already published.")

ANNOUNCEMENT = StateMachine(
    name="announcement", field="state", states=ANNOUNCEMENT_STATES, initial=BatchState.DRAFT, error=BatchError,
    moves=(
        Move("edit", (BatchState.DRAFT,), STAY, frozenset({R.MINISTRY}), _l("Edit"), _PUBLISHED_ALREADY),
        Move("gather", (BatchState.DRAFT,), STAY, frozenset({R.MINISTRY}), _l("Gather approved applications"),
             _PUBLISHED_ALREADY),
        Move("remove", (BatchState.DRAFT,), STAY, frozenset({R.MINISTRY}), _l("Remove from the batch"),
             _PUBLISHED_ALREADY),
        Move("publish", (BatchState.DRAFT,), BatchState.PUBLISHED, frozenset({R.MINISTRY}), _l("Publish"),
             _PUBLISHED_ALREADY),
    ),
)

_OPEN = (RealnameStatus.UNVERIFIED, RealnameStatus.PENDING, RealnameStatus.REJECTED)  # not verified yet
_VERIFIED_ALREADY = _l("Your identity is already verified.")
_NOT_QUEUED = _l("This person is not waiting for an on-site check.")

REALNAME = StateMachine(
    name="realname", field="realname_status", states=REALNAME_STATUSES, initial=RealnameStatus.UNVERIFIED,
    moves=(
        # Queueing again while queued changes the province.
        Move("request_onsite", _OPEN, RealnameStatus.PENDING, frozenset({R.APPLICANT}),
             _l("Queue for an on-site check"), _VERIFIED_ALREADY),
        Move("start_online", _OPEN, STAY, frozenset({R.APPLICANT}), _l("Verify online"), _VERIFIED_ALREADY),
        Move("verify_online", _OPEN, RealnameStatus.VERIFIED, frozenset({PROVIDER}), _l("Online verification"),
             _VERIFIED_ALREADY),
        Move("verify_onsite", (RealnameStatus.PENDING,), RealnameStatus.VERIFIED, frozenset({R.PROVINCE}),
             _l("Identity verified"), _NOT_QUEUED),
        Move("reject_onsite", (RealnameStatus.PENDING,), RealnameStatus.REJECTED, frozenset({R.PROVINCE}),
             _l("Reject"), _NOT_QUEUED),
    ),
)

MACHINES = (ANNOUNCEMENT, REALNAME)


def move_of_audit_action(action: str) -> Move | None:
    """The move an audit row's action names ("realname.verify_onsite"), if any."""
    name, _, verb = action.partition(".")
    machine = next((m for m in MACHINES if m.name == name), None)
    return machine.move(verb) if machine else None


# --- Documentation generated from the declarations ----------------------------------------------------
def mermaid(machine: StateMachine) -> str:
    """The machine as a Mermaid state diagram: one edge per (from, to, who) with its actions."""
    lines = ["stateDiagram-v2", f"    [*] --> {machine.initial}"]
    edges: dict[tuple[str, str, str], list[str]] = {}
    for move in machine.moves:
        who = ", ".join(r for r in ACTOR_ORDER if r in move.roles)
        for source in move.sources:
            edges.setdefault((source, move.target_from(source), who), []).append(move.action)
    order = list(machine.states)
    for (source, target, who), actions in sorted(edges.items(),
                                                 key=lambda e: (order.index(e[0][0]), order.index(e[0][1]), e[0][2])):
        lines.append(f"    {source} --> {target}: {', '.join(actions)} ({who})")
    for final in machine.final_states():
        lines.append(f"    {final} --> [*]")
    return "\n".join(lines)


def moves_table(machine: StateMachine) -> str:
    """Markdown table: each move, from where, to where, who, and its audit action."""
    rows = ["| action | from | to | who | audit action |", "|---|---|---|---|---|"]
    for move in machine.moves:
        who = ", ".join(r for r in ACTOR_ORDER if r in move.roles)
        target = "(stays)" if move.target is STAY else move.target
        rows.append(f"| {move.action} | {', '.join(move.sources)} | {target} | {who} | "
                    f"{machine.audit_action(move)} |")
    return "\n".join(rows)


def markdown() -> str:
    """The generated part of docs/STATE_MACHINES.md: each machine's diagram and its moves."""
    parts = []
    for machine in MACHINES:
        parts += [f"### {machine.name} (`{machine.field}`)", "", "```mermaid", mermaid(machine), "```", "",
                  moves_table(machine), ""]
    return "\n".join(parts).strip()
