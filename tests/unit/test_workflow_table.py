"""The workflow table and the business-type declarations as pure data and functions: no app, no database.

Persons, registrations and applications are stand-ins (SimpleNamespace); the RULES values are passed in.
"""
import dataclasses
from datetime import date, timedelta
from types import SimpleNamespace as NS

import pytest

from app import rules, workflow
from config import RULES
from app.business_types import BUSINESS_TYPES, shared
from app.business_types.base import BusinessType
from app.business_types.initial import ALREADY_REGISTERED
from ground import roles as R
from ground.clock import add_years, today
from ground.identifiers import make_id_number
from ground.vocabulary import TYPE_LABELS, State

LIMITS = {"VALIDITY_YEARS": 3, "RENEWAL_WINDOW_DAYS": 30, "AGE_LIMIT": 65, "QUALIFICATION_FRESH_YEARS": 3,
          "CHANGE_TEMPORARY_ONLY": True, "EDUCATION_COMPULSORY_HOURS": 60, "EDUCATION_ELECTIVE_HOURS": 60,
          "CONTRACT_MIN_MONTHS": 12}
E, P, M, A, I = State.ENTERPRISE, State.PROVINCE, State.MINISTRY, State.ANNOUNCE, State.ISSUE
IND = State.INDUSTRY


def texts(reasons) -> list[str]:
    return [str(r) for r in reasons]


# --- Stand-ins ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Specialty:
    code: str
    sort_order: int

    def __str__(self):
        return self.code.title()


def specialty(code, order=1):
    return Specialty(code, order)


def qualification(spec, years_ago=1, temporary=False):
    return NS(specialty_code=spec.code, specialty=spec, qualified_on=add_years(today(), -years_ago),
              is_temporary=temporary)


def registration(held=(), status="active", enterprise=None, temporary=False):
    """`held`: (Specialty, valid_until) pairs, all active."""
    rows = [NS(specialty_code=s.code, specialty=s, valid_from=add_years(until, -3), valid_until=until, status="active")
            for s, until in held]
    return NS(status=status, enterprise=enterprise, enterprise_id=getattr(enterprise, "id", None),
              is_temporary=temporary, active_specialties=rows,
              specialty=lambda code: next((r for r in rows if r.specialty_code == code), None))


def person(qualifications=(), reg=None, age=40, id_region="310101", materials=("photo", "signature")):
    return NS(id=1, name="张三", id_number=make_id_number(id_region, add_years(today(), -age), 1),
              birth_date=add_years(today(), -age), qualifications=list(qualifications), registration=reg,
              latest_attachment=lambda kind: object() if kind in materials else None)


def application(business_type, who, specialties=(), enterprise=None, **fields):
    values = {"contract_start": None, "contract_end": None, "new_id_number": None, "submitted_at": None,
              "announcement_id": None, **fields}
    return NS(business_type=business_type, person=who, specialties=list(specialties), enterprise=enterprise,
              enterprise_id=getattr(enterprise, "id", None), **values)


BUILDING, ROADS = specialty("building", 1), specialty("roads", 2)
OLD_FIRM = NS(id=1, name="旧单位", province_code="11")
NEW_FIRM = NS(id=2, name="新单位", province_code="44")


# --- The declarations are complete --------------------------------------------------------------
def test_the_table_is_sound_and_every_type_is_declared_once():
    assert workflow.table_problems() == []
    assert list(BUSINESS_TYPES) == ["initial", "change", "add_specialty", "renewal", "cancellation",
                                    "re_registration", "replacement", "info_change",  # the manual's menu order
                                    "cancel_by_employer", "cancel_by_authority"]  # then those started by others
    assert set(BUSINESS_TYPES) == set(TYPE_LABELS)
    assert workflow.BUSINESS_TYPES is BUSINESS_TYPES
    for code, btype in BUSINESS_TYPES.items():
        assert isinstance(btype, BusinessType) and btype.code == code and btype.label is TYPE_LABELS[code]
        assert btype.problems() == []


def test_declared_facts_of_each_type():
    facts = {code: (t.stages, t.certificate, t.confirmer, t.notice, t.scans, t.reasons is not None)
             for code, t in BUSINESS_TYPES.items()}
    assert facts == {
        "initial": ((E, P, IND, M, A, I), "new", "named", True, (), False),
        "change": ((E, State.RELEASE, P, M, I), "new", "named", True, (), False),
        "add_specialty": ((E, P, IND, M, A, I), "new", "current", True, (), False),
        "renewal": ((E, P, M, I), "new", "current", True, (), False),
        "cancellation": ((E, P, M, A), "revoke", "current", True, (), True),
        "re_registration": ((E, P, IND, M, A, I), "new", "named", True, (), False),
        "replacement": ((M, I), "new", "current", False, (), True),
        "info_change": ((P, M, I), "new_if_registered", "current", False, ("id_front", "id_back"), False),
        "cancel_by_employer": ((P, M, A), "revoke", "current", False, (), True),
        "cancel_by_authority": ((M, A), "revoke", "current", False, (), True),
    }
    starters = {code: set(t.starters) for code, t in BUSINESS_TYPES.items() if t.started_by_staff}
    assert starters == {"cancel_by_employer": {"Enterprise"}, "cancel_by_authority": {"Province", "Ministry"}}
    assert [c for c, t in BUSINESS_TYPES.items() if t.document] == ["cancel_by_authority"]
    assert {c for c, t in BUSINESS_TYPES.items() if t.uses_contract} == {
        "initial", "change", "add_specialty", "renewal", "re_registration"}
    assert [c for c, t in BUSINESS_TYPES.items() if t.records_previous_employer] == ["change"]
    # The refusal grounds of art. 15 (app/penalties.py) stop the types that create, restore or extend a registration.
    assert {c for c, t in BUSINESS_TYPES.items() if t.refusal_grounds} == {
        "initial", "change", "add_specialty", "renewal", "re_registration"}
    switches = {switch for t in BUSINESS_TYPES.values() for switch, _note in t.guide_notes}
    assert switches == {"CHANGE_TEMPORARY_ONLY"} and switches <= set(RULES)


def test_a_reason_code_has_one_label_in_every_list():
    labels = {}
    for t in BUSINESS_TYPES.values():
        for code, label in (t.reasons.pairs if t.reasons is not None else ()):
            assert labels.setdefault(code, label) is label, code
    # The person's cancellation and replacement lists stay apart; the others' lists reuse the cancellation's codes.
    assert not set(BUSINESS_TYPES["cancellation"].reasons) & set(BUSINESS_TYPES["replacement"].reasons)
    assert set(BUSINESS_TYPES["cancel_by_employer"].reasons) == {"contract_ended"}
    assert "obtained_by_fraud" in BUSINESS_TYPES["cancel_by_authority"].reasons


def test_a_type_started_by_staff_must_not_wait_for_an_employer():
    import dataclasses

    broken = dataclasses.replace(BUSINESS_TYPES["cancel_by_employer"], stages=(E, P, M))
    assert any("no employer confirmation stage" in p for p in broken.problems())
    mixed = dataclasses.replace(BUSINESS_TYPES["cancellation"], starters=frozenset({"Applicant", "Enterprise"}))
    assert any("not both" in p for p in mixed.problems())
    stranger = dataclasses.replace(BUSINESS_TYPES["cancellation"], starters=frozenset({"Admin"}))
    assert any("starters must be" in p for p in stranger.problems())


# --- Pipelines ------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", list(BUSINESS_TYPES))
def test_next_stage_walks_the_pipeline(code):
    btype = BUSINESS_TYPES[code]
    assert btype.next_stage(State.DRAFT) == btype.next_stage(State.RETURNED) == btype.stages[0]
    walked, state = [], State.DRAFT
    while state != State.COMPLETED:
        state = btype.next_stage(state)
        walked.append(state)
    assert walked == [*btype.stages, State.COMPLETED]
    for outside in {E, P, IND, M, A, I} - set(btype.stages) | {State.COMPLETED, State.REFUSED, State.WITHDRAWN}:
        assert btype.next_stage(outside) is None


def test_transitions_follow_each_pipeline():
    approve, publish = workflow.TRANSITIONS["approve"], workflow.TRANSITIONS["publish"]
    assert approve.target_in(BUSINESS_TYPES["initial"], M) == A
    assert approve.target_in(BUSINESS_TYPES["renewal"], M) == I  # no announcement
    assert publish.target_in(BUSINESS_TYPES["cancellation"], A) == State.COMPLETED  # nothing to issue
    assert publish.target_in(BUSINESS_TYPES["renewal"], A) is None
    assert workflow.TRANSITIONS["submit"].target_in(BUSINESS_TYPES["replacement"], State.DRAFT) == M
    assert workflow.TRANSITIONS["return"].target_in(BUSINESS_TYPES["initial"], P) == State.RETURNED


def test_the_table_holds_functions_from_rules_and_effects():
    submit, approve, issue = (workflow.TRANSITIONS[a] for a in ("submit", "approve", "issue"))
    assert submit.guards == (rules.ready_to_submit,)
    assert approve.guards == (rules.outcome_possible, rules.employer_qualified) and issue.auto
    assert all(callable(f) for t in workflow.TRANSITIONS.values() for f in (*t.guards, *t.effects))


# --- Role × action ------------------------------------------------------------------------------
def test_role_action_matrix():
    matrix = {t.action: {role: [s for s in t.sources if workflow.acting_role(t, s, {role})]
                         for role in R.BUSINESS_ROLES if any(workflow.acting_role(t, s, {role}) for s in t.sources)}
              for t in workflow.TRANSITIONS.values()}
    assert matrix == {
        "submit": {R.APPLICANT: [State.DRAFT, State.RETURNED]},
        "lodge": {R.ENTERPRISE: [State.DRAFT], R.PROVINCE: [State.DRAFT], R.MINISTRY: [State.DRAFT]},
        "withdraw": {R.APPLICANT: [State.DRAFT, State.RETURNED, E, State.RELEASE, P]},
        "confirm": {R.ENTERPRISE: [E]},
        "pass": {R.PROVINCE: [P]},
        "opine": {R.INDUSTRY: [IND]},  # an opinion only: no return, no refusal
        "approve": {R.MINISTRY: [M]},
        "publish": {R.MINISTRY: [A]},
        "issue": {R.MINISTRY: [I]},
        "return": {R.ENTERPRISE: [E], R.PROVINCE: [P], R.MINISTRY: [M]},
        "refuse": {R.PROVINCE: [P], R.MINISTRY: [M]},
        "release": {R.ENTERPRISE: [State.RELEASE]},  # the previous employer (STAGE_PARTY)
        "object": {R.ENTERPRISE: [State.RELEASE]},
        "release_by_silence": {},  # the platform's own moves: no signed-in role takes them
        "expire": {},
        "employer_closed": {},
    }
    assert {a for a, t in workflow.TRANSITIONS.items() if workflow.is_system(t)} == {"release_by_silence", "expire",
                                                                                        "employer_closed"}
    assert workflow.roles_of(workflow.TRANSITIONS["return"]) == {R.ENTERPRISE, R.PROVINCE, R.MINISTRY}


def test_queues_per_role():
    enterprise = workflow.actionable_pairs({R.ENTERPRISE})
    assert {s for _, s in enterprise} == {E, State.RELEASE}
    assert {c for c, _ in enterprise} == {c for c, t in BUSINESS_TYPES.items() if E in t.stages}
    assert ("replacement", P) not in workflow.actionable_pairs({R.PROVINCE})  # the ministry decides alone
    assert ("info_change", P) in workflow.actionable_pairs({R.PROVINCE})
    assert workflow.actionable_pairs({R.ADMIN}) == []
    assert sorted(workflow.actionable_pairs({R.INDUSTRY})) == [("add_specialty", IND), ("initial", IND),
                                                                ("re_registration", IND)]
    assert ("cancel_by_employer", P) in workflow.actionable_pairs({R.PROVINCE})
    assert ("cancel_by_authority", M) in workflow.actionable_pairs({R.MINISTRY})
    # Staff lodge what they start at once: no drafts in their queues.
    staff = workflow.actionable_pairs({R.ENTERPRISE, R.PROVINCE, R.MINISTRY})
    assert not {s for _, s in staff} & {State.DRAFT, State.RETURNED}


def test_only_the_starters_of_a_type_start_it():
    lodge, submit, withdraw = (workflow.TRANSITIONS[a] for a in ("lodge", "submit", "withdraw"))
    employer, authority = BUSINESS_TYPES["cancel_by_employer"], BUSINESS_TYPES["cancel_by_authority"]
    assert workflow.acting_role(lodge, State.DRAFT, {R.ENTERPRISE}, employer) == R.ENTERPRISE
    assert workflow.acting_role(lodge, State.DRAFT, {R.PROVINCE}, employer) is None
    assert workflow.acting_role(lodge, State.DRAFT, {R.ENTERPRISE}, authority) is None
    assert workflow.acting_role(lodge, State.DRAFT, {R.MINISTRY}, authority) == R.MINISTRY
    assert workflow.acting_role(lodge, State.DRAFT, {R.PROVINCE}, authority) == R.PROVINCE
    # The applicant neither submits nor withdraws what someone else lodged about them; their own types as before.
    assert workflow.acting_role(submit, State.DRAFT, {R.APPLICANT}, employer) is None
    assert workflow.acting_role(withdraw, P, {R.APPLICANT}, employer) is None
    assert workflow.acting_role(submit, State.DRAFT, {R.APPLICANT}, BUSINESS_TYPES["cancellation"]) == R.APPLICANT
    assert workflow.acting_role(lodge, State.DRAFT, {R.ENTERPRISE}, BUSINESS_TYPES["cancellation"]) is None
    # The table itself says so: those moves lead nowhere for those types, and nothing lodged goes back.
    assert submit.target_in(employer, State.DRAFT) is None and withdraw.target_in(authority, M) is None
    assert lodge.target_in(BUSINESS_TYPES["initial"], State.DRAFT) is None
    assert lodge.target_in(employer, State.DRAFT) == P and lodge.target_in(authority, State.DRAFT) == M
    assert workflow.TRANSITIONS["return"].target_in(employer, P) is None
    assert workflow.states_of(employer) == (P, M, A, State.COMPLETED, State.REFUSED)


# --- The table's own check fails on a broken table ------------------------------------------------
def test_check_table_fails_on_a_broken_table():
    submit = workflow.TRANSITIONS["submit"]
    named_guard = {**workflow.TRANSITIONS, "submit": dataclasses.replace(submit, guards=("rules.ready_to_submit",))}
    with pytest.raises(workflow.WorkflowTableError, match="guard 'rules.ready_to_submit' is not callable"):
        workflow.check_table(transitions=named_guard)

    no_publish = {a: t for a, t in workflow.TRANSITIONS.items() if a != "publish"}
    problems = workflow.table_problems(transitions=no_publish)
    assert f"business type 'initial': no transition moves on from '{A}' to '{I}'" in problems
    assert not any("'renewal'" in p for p in problems)  # renewal has no announcement

    unowned = {**workflow.TRANSITIONS, "pass": dataclasses.replace(workflow.TRANSITIONS["pass"], sources=("nowhere",))}
    assert any("unknown source state 'nowhere'" in p for p in workflow.table_problems(transitions=unowned))


def test_check_table_fails_on_an_incomplete_declaration():
    initial = BUSINESS_TYPES["initial"]
    broken = {
        "initial": dataclasses.replace(initial, certificate="maybe"),
        "renewal": dataclasses.replace(BUSINESS_TYPES["renewal"], required=frozenset({"reason"})),
        "cancellation": dataclasses.replace(BUSINESS_TYPES["cancellation"], reasons=None),
        "replacement": dataclasses.replace(BUSINESS_TYPES["replacement"], stages=(I, M)),
        "change": dataclasses.replace(BUSINESS_TYPES["change"], outcome="effects._change"),
        "other": initial,
        "ninth": dataclasses.replace(initial, code="ninth"),
    }
    with pytest.raises(workflow.WorkflowTableError) as raised:
        workflow.check_table(business_types=broken)
    message = str(raised.value)
    for expected in ("initial: certificate policy 'maybe'", "renewal: required fields ['reason'] not in fields",
                     "cancellation: a `reason` field needs a reason list", "replacement: stages out of",
                     "change: outcome is not callable", "business type 'other': not a BusinessType keyed by its code",
                     "ninth: no label in ground.vocabulary.TYPE_LABELS"):
        assert expected in message


# --- Guards and eligibility on stand-ins ----------------------------------------------------------
def eligibility(app, at_submission=True, limits=LIMITS):
    return texts(BUSINESS_TYPES[app.business_type].eligibility(app, at_submission, limits))


def preconditions(code, who, limits=LIMITS):
    return texts(BUSINESS_TYPES[code].preconditions(who, limits))


def hours_on_record(monkeypatch, hours):
    """The database question of continuing-education hours answered with `hours` ({(code, kind): n})."""
    asked = []

    def education_hours(person_id, start, end):
        asked.append((start, end))
        return hours
    monkeypatch.setattr(shared, "education_hours", education_hours)
    return asked


def test_initial_registration(monkeypatch):
    asked = hours_on_record(monkeypatch, {})
    fresh = person([qualification(BUILDING, years_ago=1)])
    assert eligibility(application("initial", fresh, [BUILDING])) == []
    assert eligibility(application("initial", fresh, [ROADS])) == [
        "No qualification certificate in Roads is on the roster."]
    assert asked == []  # a fresh qualification needs no hours
    stale = person([qualification(BUILDING, years_ago=5)])
    period = f"{(add_years(today(), -3) + timedelta(days=1)).isoformat()} to {today().isoformat()}"
    missing = [f"Continuing education in Building for {period}: 60 compulsory and 60 elective hours are still missing.",
               str(shared.EDUCATION_HINT)]
    assert eligibility(application("initial", stale, [BUILDING])) == missing
    assert eligibility(application("initial", stale, [BUILDING]), at_submission=False) == missing  # approval too
    assert preconditions("initial", stale) == missing  # no qualification of the person is fresh
    assert preconditions("initial", person([qualification(BUILDING, years_ago=5), qualification(ROADS)])) == []
    hours_on_record(monkeypatch, {(None, "compulsory"): 48, ("building", "elective"): 30, ("roads", "elective"): 30})
    assert eligibility(application("initial", stale, [BUILDING])) == [
        f"Continuing education in Building for {period}: 12 compulsory and 30 elective hours are still missing.",
        str(shared.EDUCATION_HINT)]
    hours_on_record(monkeypatch, {(None, "compulsory"): 60, ("building", "elective"): 60})
    assert eligibility(application("initial", stale, [BUILDING])) == []
    assert eligibility(application("initial", stale, [BUILDING]), at_submission=False) == []
    registered = person([qualification(BUILDING)], reg=registration([(BUILDING, today())]))
    assert eligibility(application("initial", registered, [BUILDING])) == [str(ALREADY_REGISTERED)]
    assert preconditions("initial", person()) == ["No qualification certificate of yours is on the roster."]


def test_re_registration():
    cancelled = person([qualification(BUILDING)], reg=registration(status="cancelled"))
    assert eligibility(application("re_registration", cancelled, [BUILDING])) == []
    assert preconditions("re_registration", person([qualification(BUILDING)])) == [
        "Re-registration is for cancelled or lapsed registrations; apply for initial registration."]
    active = person([qualification(BUILDING)], reg=registration([(BUILDING, today())]))
    assert preconditions("re_registration", active) == ["Your registration is still active."]


def test_additional_specialty():
    reg = registration([(BUILDING, add_years(today(), 1))], enterprise=OLD_FIRM)
    who = person([qualification(BUILDING), qualification(ROADS)], reg=reg)
    assert BUSINESS_TYPES["add_specialty"].eligible_specialties(who) == [ROADS]
    assert eligibility(application("add_specialty", who, [ROADS])) == []
    assert eligibility(application("add_specialty", who, [BUILDING])) == ["You are already registered in Building."]
    only_building = person([qualification(BUILDING)], reg=reg)
    assert preconditions("add_specialty", only_building) == [
        "You are already registered in every specialty you are qualified for."]
    assert preconditions("add_specialty", person([qualification(ROADS)])) == ["This needs an active registration."]


def test_renewal_window(monkeypatch):
    hours_on_record(monkeypatch, {(None, "compulsory"): 60, (None, "elective"): 60})
    soon, later = today() + timedelta(days=10), today() + timedelta(days=100)
    who = person([qualification(BUILDING)], reg=registration([(BUILDING, soon), (ROADS, later)]))
    assert BUSINESS_TYPES["renewal"].eligible_specialties(who) == [BUILDING, ROADS]
    assert eligibility(application("renewal", who, [BUILDING])) == []
    opens = (later - timedelta(days=30)).isoformat()
    assert eligibility(application("renewal", who, [ROADS])) == [
        f"Renewal of Roads opens on {opens} (30 days before it expires)."]
    assert eligibility(application("renewal", who, [ROADS]), at_submission=False) == []
    assert preconditions("renewal", who) == []
    not_yet = person(reg=registration([(ROADS, later)]))
    assert preconditions("renewal", not_yet) == [
        f"Renewal opens 30 days before a specialty expires; your first expiry is {later.isoformat()}."]
    expired = person(reg=registration([(BUILDING, today() - timedelta(days=1))]))
    assert "apply for re-registration instead" in eligibility(application("renewal", expired, [BUILDING]))[0]
    assert eligibility(application("renewal", who, [specialty("water")])) == ["You are not registered in water."]


def test_renewal_needs_the_hours_of_the_ending_period(monkeypatch):
    soon = today() + timedelta(days=10)
    who = person([qualification(BUILDING)], reg=registration([(BUILDING, soon), (ROADS, soon)]))
    asked = hours_on_record(monkeypatch, {(None, "compulsory"): 60, ("building", "elective"): 60,
                                          ("roads", "elective"): 18})
    period = f"{add_years(soon, -3).isoformat()} to {soon.isoformat()}"
    assert eligibility(application("renewal", who, [BUILDING])) == []
    assert asked == [(add_years(soon, -3), soon)]  # the period that ends is the one counted
    short = [f"Continuing education in Roads for {period}: 42 elective hours are still missing.",
             str(shared.EDUCATION_HINT)]
    assert eligibility(application("renewal", who, [BUILDING, ROADS])) == short
    assert eligibility(application("renewal", who, [ROADS]), at_submission=False) == short  # approval too
    assert preconditions("renewal", who) == []  # building may still be renewed
    hours_on_record(monkeypatch, {("roads", "compulsory"): 50})
    assert preconditions("renewal", who) == [
        f"Continuing education in Building for {period}: 60 compulsory and 60 elective hours are still missing.",
        f"Continuing education in Roads for {period}: 10 compulsory and 60 elective hours are still missing.",
        str(shared.EDUCATION_HINT)]


def test_change_of_employer():
    regular = person(reg=registration(enterprise=OLD_FIRM))
    temporary = person(reg=registration(enterprise=OLD_FIRM, temporary=True))
    assert eligibility(application("change", temporary, enterprise=NEW_FIRM)) == []
    assert eligibility(application("change", temporary, enterprise=OLD_FIRM)) == [
        "The new employer is the same as the current one."]
    assert "temporary practising certificate" in eligibility(application("change", regular, enterprise=NEW_FIRM))[0]
    assert eligibility(application("change", regular, enterprise=NEW_FIRM), at_submission=False) == []
    assert eligibility(application("change", regular, enterprise=NEW_FIRM),
                       limits={**LIMITS, "CHANGE_TEMPORARY_ONLY": False}) == []
    assert preconditions("change", person()) == ["This needs an active registration."]


def test_cancellation_and_replacement(monkeypatch):
    unregistered = person()
    assert eligibility(application("cancellation", unregistered)) == ["This needs an active registration."]
    assert preconditions("replacement", unregistered) == ["This needs an active registration."]
    registered = person(reg=registration(enterprise=OLD_FIRM))
    assert eligibility(application("cancellation", registered)) == []
    monkeypatch.setattr(shared, "has_valid_certificate", lambda reg: False)
    assert preconditions("replacement", registered) == ["There is no valid certificate to replace."]
    monkeypatch.setattr(shared, "has_valid_certificate", lambda reg: True)
    assert eligibility(application("replacement", registered)) == []


def test_personal_information_change(monkeypatch):
    who = person()
    check = BUSINESS_TYPES["info_change"].check_input
    assert set(check({}, who)) == {"new_name"}
    assert set(check({"new_id_number": "123"}, who)) == {"new_id_number"}
    assert texts(check({"new_id_number": who.id_number}, who)["new_id_number"]) == [
        "The new ID number is the same as the current one."]
    assert texts(check({"new_name": who.name}, who)["new_name"]) == ["The new name is the same as the current one."]
    assert check({"new_name": "李四"}, who) == {}
    other_id = make_id_number("110101", date(1980, 1, 1), 7)
    monkeypatch.setattr(shared, "id_number_taken", lambda id_number, person_id: id_number == other_id)
    assert eligibility(application("info_change", who, new_id_number=other_id)) == [
        "The new ID number already belongs to another account."]
    assert eligibility(application("info_change", who, new_name="李四")) == []


def test_age_limit_and_contract():
    assert texts(shared.age_reasons(person(age=65), LIMITS)) == [
        "Registration is not possible at 65 years of age or older."]
    assert shared.age_reasons(person(age=64), LIMITS) == []
    who = person()
    running = application("renewal", who, contract_start=today(), contract_end=add_years(today(), 1))
    short = application("renewal", who, contract_start=today(), contract_end=today() + timedelta(days=30))
    ended = application("renewal", who, contract_start=date(2020, 1, 1), contract_end=date(2021, 1, 1))
    assert shared.contract_reasons(running, True, LIMITS) == []
    assert texts(shared.contract_reasons(short, True, LIMITS)) == [
        f"The labour contract must run at least 12 months after submission, until "
        f"{add_years(today(), 1).isoformat()} or later; it ends on {short.contract_end.isoformat()}."]
    assert shared.contract_reasons(short, True, {**LIMITS, "CONTRACT_MIN_MONTHS": 0}) == []
    assert texts(rules.contract_complete(ended)) == [
        "The labour contract ended on 2021-01-01; enter the current contract."]
    assert texts(rules.contract_complete(application("change", who))) == [
        "The labour-contract period has not been entered."]
    assert rules.contract_complete(application("cancellation", who)) == []  # no contract asked


def test_routing():
    reg = registration(enterprise=OLD_FIRM)
    change = BUSINESS_TYPES["change"].route(application("change", person(reg=reg), enterprise=NEW_FIRM))
    assert (change["enterprise"], change["previous_enterprise"], change["province_code"]) == (NEW_FIRM, OLD_FIRM, "44")
    renewal = BUSINESS_TYPES["renewal"].route(application("renewal", person(reg=reg), enterprise=NEW_FIRM))
    assert (renewal["enterprise"], renewal["previous_enterprise"], renewal["province_code"]) == (OLD_FIRM, None, "11")
    unregistered = BUSINESS_TYPES["info_change"].route(application("info_change", person(id_region="310101")))
    assert (unregistered["enterprise"], unregistered["province_code"]) == (None, "31")
    nowhere = BUSINESS_TYPES["info_change"].route(application("info_change", person(id_region="990101")))
    assert nowhere["province_code"] is None


def test_certificate_policy_and_guard():
    active, cancelled = registration(), registration(status="cancelled")
    printed = {code: (t.prints_certificate(active), t.prints_certificate(cancelled), t.prints_certificate(None))
               for code, t in BUSINESS_TYPES.items()}
    assert printed["cancellation"] == (False, False, False)
    assert printed["info_change"] == (True, False, False)
    assert printed["initial"] == (True, True, True)  # the guard then says what is missing
    assert rules.certificate_ready(application("info_change", person())) == []
    assert texts(rules.certificate_ready(application("replacement", person(materials=("photo",))))) == [
        "No signature image on file; upload it under My materials.",
        "The person holds no active registration to print on a certificate."]
    assert rules.certificate_ready(application("renewal", person(reg=active))) == []
    assert texts(rules.in_announcement_batch(application("initial", person()))) == [
        "Not yet gathered into an announcement batch."]


def test_attestation_names_the_contract():
    who = person()
    confirm = workflow.TRANSITIONS["confirm"]
    app = application("change", who, contract_start=date(2026, 1, 1), contract_end=date(2028, 12, 31))
    assert workflow.attestation_text(confirm, app) == (
        "张三 is employed by our enterprise with a labour contract from 2026-01-01 to 2028-12-31.")
    assert workflow.attestation_text(confirm, application("change", who)) is None
    assert workflow.attestation_text(workflow.TRANSITIONS["pass"], app) is None


# --- The industry department's opinion: a conditional stage ------------------------------------------
FLAGGED, PLAIN = NS(code="railway", needs_industry_opinion=True), NS(code="building", needs_industry_opinion=False)
ON, OFF = {**LIMITS, "INDUSTRY_OPINION": True}, {**LIMITS, "INDUSTRY_OPINION": False}


@pytest.mark.parametrize("code", ["initial", "add_specialty", "re_registration"])
def test_the_industry_stage_is_taken_only_for_flagged_specialties_while_the_rule_is_on(code):
    btype = BUSINESS_TYPES[code]
    assert IND in btype.conditions and IND in btype.stages
    flagged = application(code, person(), specialties=[PLAIN, FLAGGED])
    plain = application(code, person(), specialties=[PLAIN])
    assert btype.next_stage(P, flagged, ON) == IND
    assert btype.next_stage(IND, flagged, ON) == M
    assert btype.next_stage(P, plain, ON) == M  # no flagged specialty: skipped
    assert btype.next_stage(P, flagged, OFF) == M  # the rule switched off: skipped
    assert btype.next_stage(IND, flagged, OFF) == M  # one already there still goes on to the ministry
    assert btype.onward(P) == (IND, M)
    assert btype.next_stage(P) == IND  # without an application: the full pipeline


@pytest.mark.parametrize("code", ["change", "renewal", "cancellation", "replacement", "info_change"])
def test_types_adding_no_specialty_never_see_the_industry(code):
    btype = BUSINESS_TYPES[code]
    assert IND not in btype.stages and not btype.conditions
    assert IND not in {s for stage in btype.stages for s in btype.onward(stage)}


def test_the_generated_documents_show_the_industry_stage_as_conditional():
    assert "province_review --> industry_review: pass (if required)" in workflow.mermaid()
    assert "province_review --> ministry_review: pass\n" in workflow.mermaid()
    assert "industry_review --> ministry_review: opine" in workflow.mermaid()
    assert "| initial | yes | — | yes | if | yes | yes | yes | new |" in workflow.pipelines_table()
    assert "| renewal | yes | — | yes | — | yes | — | yes | new |" in workflow.pipelines_table()


def test_a_condition_on_a_stage_outside_the_pipeline_is_a_problem():
    broken = dataclasses.replace(BUSINESS_TYPES["renewal"], conditions={IND: lambda a, limits: True})
    assert any("condition on 'industry_review'" in p for p in broken.problems())
    opine = workflow.TRANSITIONS["opine"]
    assert opine.needs_opinion and set(opine.reasons()) == {"agree", "disagree"}
    assert workflow.STAGE_OWNER[IND] == R.INDUSTRY
