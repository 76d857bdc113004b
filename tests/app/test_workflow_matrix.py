"""The engine's full matrix: every business type × reachable state × action × role.

Expectations are written out here from DOMAIN.md, independently of app/workflow.py's tables, and
each combination is tried against a real application in that state.
"""

import pytest

from app import workflow
from ground.extensions import db
from models import AnnouncementBatch, Application, TransitionLog
from tests import factories as f

E, P, M, A, ISS = "enterprise_review", "province_review", "ministry_review", "announce_pending", "issue_pending"
R = "release_pending"  # a change of employer: the previous employer releases or objects
IND = "industry_review"  # the industry department's opinion: the matrix's applications choose railway (flagged)

# DOMAIN.md "Pipelines per business type".
PIPELINES = {
    "initial": [E, P, IND, M, A, ISS],
    "re_registration": [E, P, IND, M, A, ISS],
    "add_specialty": [E, P, IND, M, A, ISS],
    "change": [E, R, P, M, ISS],
    "renewal": [E, P, M, ISS],
    "cancellation": [E, P, M, A],
    "replacement": [M, ISS],
    "info_change": [P, M, ISS],
    # Started by others (DOMAIN "Actors and records the rules name"): no employer confirmation, announced.
    "cancel_by_employer": [P, M, A],
    "cancel_by_authority": [M, A],
}
# Who starts each type (the applicant, unless named here), and the starter the matrix plays.
STARTERS = {"cancel_by_employer": {"Enterprise"}, "cancel_by_authority": {"Province", "Ministry"}}
MATRIX_STARTER = {"cancel_by_employer": "Enterprise", "cancel_by_authority": "Province"}
BY_STARTER = {"submit", "lodge", "withdraw"}  # moves only a starter of the type takes

# Who may take which action from which state.
EXPECTED = {
    "submit": {"Applicant": {"draft", "returned"}},
    "lodge": {"Enterprise": {"draft"}, "Province": {"draft"}, "Ministry": {"draft"}},
    "withdraw": {"Applicant": {"draft", "returned", E, R, P}},
    "confirm": {"Enterprise": {E}},
    "pass": {"Province": {P}},
    "opine": {"Industry": {IND}},  # an opinion only; the ministry decides
    "approve": {"Ministry": {M}},
    "publish": {"Ministry": {A}},
    "issue": {"Ministry": {ISS}},
    "return": {"Enterprise": {E}, "Province": {P}, "Ministry": {M}},
    "refuse": {"Province": {P}, "Ministry": {M}},
    "release": {"Enterprise": {R}},  # the previous employer
    "object": {"Enterprise": {R}},
    # The platform's own moves (app/lifecycle.py): no signed-in role may take them.
    "release_by_silence": {"System": {R}},
    "expire": {"System": {E}},
    # The named employer is no longer qualified (app/employer_status.py): back to the applicant.
    "employer_closed": {"System": {E, R, P, IND, M}},
}
FIXED_TARGET = {"withdraw": "withdrawn", "return": "returned", "refuse": "refused", "issue": "completed",
                "expire": "expired", "employer_closed": "returned"}
ROLES = ["Applicant", "Enterprise", "Province", "Ministry", "Industry", "Admin"]


def expected_target(btype, state, action):
    if action in BY_STARTER and not set(EXPECTED[action]) & STARTERS.get(btype, {"Applicant"}):
        return None  # nobody who may take it starts this type
    if FIXED_TARGET.get(action) == "returned" and btype in STARTERS:
        return None  # lodged by others: refused, never returned (to nobody)
    if action in FIXED_TARGET:
        return FIXED_TARGET[action]
    stages = PIPELINES[btype]
    if state in ("draft", "returned"):
        return stages[0]
    if state not in stages:
        return None
    i = stages.index(state)
    return stages[i + 1] if i + 1 < len(stages) else "completed"


def expected_outcome(btype, state, action, role, has_enterprise=True, reached_industry=False, lodged=True):
    if role == "Admin" or (role == "Enterprise" and not has_enterprise):
        return workflow.NotFound  # not in this user's scope at all (an unregistered person's info change)
    if role == "Industry" and not (state == IND or reached_industry):
        return workflow.NotFound  # it sees its specialties' applications once they reached its stage
    if not lodged and role not in ("Applicant", MATRIX_STARTER[btype]):
        return workflow.NotFound  # a draft of a type lodged by others is its starter's (and the person's) only
    allowed_by_role = EXPECTED[action]
    if role not in allowed_by_role:
        return workflow.Forbidden
    sources = set().union(*allowed_by_role.values())
    if state not in sources or expected_target(btype, state, action) is None:
        return workflow.InvalidState
    if state not in allowed_by_role[role]:
        return workflow.Forbidden
    if action in BY_STARTER and role not in STARTERS.get(btype, {"Applicant"}):
        return workflow.Forbidden
    return None


def test_pipelines_match_domain():
    assert {code: list(t.stages) for code, t in workflow.BUSINESS_TYPES.items()} == PIPELINES


def test_every_transition_is_in_the_expectations():
    assert set(workflow.TRANSITIONS) == set(EXPECTED)
    for action, by_role in EXPECTED.items():
        t = workflow.TRANSITIONS[action]
        assert set(t.sources) == set().union(*by_role.values()), action


# --- building eligible applications --------------------------------------------------------------
class Setup:
    def __init__(self):
        self.staff = f.Staff()
        self.employer = f.make_enterprise("11")
        self.new_employer = f.make_enterprise("11")
        self.admin = f.make_user("Admin")
        self.industry = self.staff.industry(("railway",))

    def registered(self, status="active", expires_in_days=400, temporary=False, qualifications=None):
        extra = {"qualifications": qualifications} if qualifications else {}
        username, _ = f.make_registered(self.employer, status, expires_in_days, temporary, **extra)
        return username

    def application(self, btype):
        if btype in STARTERS:  # a draft as app/cancellations.py makes it, before its `lodge`
            from app.applications import tidy
            from app.services.numbering import application_number
            from ground.clock import today
            from models import Person

            username = self.registered()
            person = db.session.query(Person).filter_by(id_number=username).one()
            starter = self.staff.enterprise(self.employer) if btype == "cancel_by_employer" else self.staff.province("11")
            item = Application(business_type=btype, person=person, created_by_id=f.user(starter).id, state="draft",
                               number=application_number(db.session, today()), reason_text="依法注销",
                               reason="contract_ended" if btype == "cancel_by_employer" else "revoked_by_law",
                               leaving_date=today() if btype == "cancel_by_employer" else None)
            tidy(item)
            db.session.add(item)
            db.session.commit()
            return username, item.id
        railway = (("building", 1), ("railway", 1))
        if btype == "initial":
            username, _ = f.make_applicant(qualifications=railway)
            return username, f.make_application(username, "initial", specialties=("railway",),
                                                enterprise_id=self.employer)
        if btype == "info_change":
            username, _ = f.make_applicant()
            return username, f.make_application(username, "info_change", new_name="新名")
        if btype == "re_registration":
            username = self.registered(status="cancelled", qualifications=railway)
            return username, f.make_application(username, btype, specialties=("building", "railway"),
                                                enterprise_id=self.employer)
        if btype == "renewal":
            username = self.registered(expires_in_days=10)
            return username, f.make_application(username, btype, specialties=("building",), continuing_education=True)
        username = self.registered(temporary=btype == "change",  # online change: temporary holders only
                                   qualifications=railway if btype == "add_specialty" else None)
        fields = {
            "change": {"enterprise_id": self.new_employer},
            "add_specialty": {"specialties": ("railway",)},
            "cancellation": {"reason": "contract_ended"},
            "replacement": {"reason": "lost"},
        }[btype]
        return username, f.make_application(username, btype, **fields)

    def actor(self, role, application, applicant):
        return {
            "Applicant": lambda: applicant,
            # The enterprise holding the stage: the previous employer releases, the named one confirms.
            "Enterprise": lambda: self.staff.enterprise(application.previous_enterprise_id if application.state == R
                                                        else application.enterprise_id),
            "Province": lambda: self.staff.province(application.province_code),
            "Ministry": lambda: self.staff.ministry,
            "Industry": lambda: self.industry,
            "Admin": lambda: self.admin,
        }[role]()


# The outcomes are the rule table's, whatever the database: every type on SQLite; on PostgreSQL one type applied
# for and one lodged by others keep the engine's SQL honest there.
ON_BOTH_BACKENDS = ("initial", "cancel_by_authority")


@pytest.mark.parametrize("btype", [pytest.param(b, marks=() if b in ON_BOTH_BACKENDS else pytest.mark.one_backend)
                                   for b in PIPELINES])
def test_matrix(ctx, btype):
    setup = Setup()
    states = ["draft", *PIPELINES[btype], "completed", "returned", "refused", "withdrawn", "expired"]
    tried = succeeded = 0
    for state in states:
        applicant, app_id = setup.application(btype)
        if state != "draft" and btype in STARTERS:
            starter = setup.actor(MATRIX_STARTER[btype], db.session.get(Application, app_id), applicant)
            f.move(app_id, "lodge", starter)
        elif state != "draft":
            f.move(app_id, "submit", applicant)  # fixes routing (province, enterprise) as in real life
        if state == ISS and btype in ("initial", "re_registration"):
            # A certificate needs the registration approval creates: take the real road once.
            f.set_state(app_id, M)
            f.move(app_id, "approve", setup.staff.ministry)
        for action in EXPECTED:
            for role in ROLES:
                f.set_state(app_id, state)
                application = db.session.get(Application, app_id)
                username = setup.actor(role, application, applicant)
                reached = db.session.query(TransitionLog.id).filter_by(application_id=app_id, to_state=IND).first()
                lodged = btype not in STARTERS or application.submitted_at is not None
                expected = expected_outcome(btype, state, action, role, application.enterprise_id is not None,
                                            reached is not None, lodged)
                kwargs = {}
                if action == "publish" and expected is None:
                    batch = AnnouncementBatch(title="t", state="draft")
                    db.session.add(batch)
                    db.session.flush()
                    application.announcement_id = batch.id
                    db.session.commit()
                    kwargs["via_batch"] = True
                tried += 1
                label = f"{btype}/{state}/{action}/{role}"
                if expected is not None:
                    with pytest.raises(expected) as caught:
                        f.move(app_id, action, username, **kwargs)
                    assert caught.value.message, label
                    db.session.expire_all()
                    assert db.session.get(Application, app_id).state == state, f"{label} changed state"
                    continue
                try:
                    new_state = f.move(app_id, action, username, **kwargs)
                except workflow.GuardFailed as exc:
                    assert exc.reasons, label  # a guard always says why
                    continue
                succeeded += 1
                target = expected_target(btype, state, action)
                auto_issue = target == ISS and btype not in ("cancellation",)
                assert new_state in ({target, "completed"} if auto_issue else {target}), label
    assert tried == len(states) * len(EXPECTED) * len(ROLES)
    # Every allowed move on an eligible application really happens.
    has_enterprise = btype != "info_change"  # the matrix's info change is an unregistered person's
    allowed = sum(1 for s in states for a in EXPECTED for r in ROLES
                  if expected_outcome(btype, s, a, r, has_enterprise) is None)
    assert succeeded == allowed, f"{btype}: {succeeded} of {allowed} allowed moves succeeded"


def test_publish_only_through_a_batch(ctx):
    setup = Setup()
    applicant, app_id = setup.application("initial")
    f.move(app_id, "submit", applicant)
    f.set_state(app_id, A)
    with pytest.raises(workflow.InvalidState):
        f.move(app_id, "publish", setup.staff.ministry)
    with pytest.raises(workflow.GuardFailed):  # through a batch, but not in one
        f.move(app_id, "publish", setup.staff.ministry, via_batch=True)


def test_opinion_required_to_return_or_refuse(ctx):
    setup = Setup()
    applicant, app_id = setup.application("initial")
    f.move(app_id, "submit", applicant)
    enterprise_user = setup.staff.enterprise(setup.employer)
    for blank in (None, "", "   "):
        with pytest.raises(workflow.OpinionRequired):
            workflow.apply(app_id, workflow.Move("return", opinion=blank), f.user(enterprise_user))
    with pytest.raises(workflow.GuardFailed, match="longer than 2000"):  # the page's limit holds on the server too
        workflow.apply(app_id, workflow.Move("return", opinion="意" * (workflow.OPINION_MAX_LENGTH + 1)),
                       f.user(enterprise_user))
    assert db.session.get(Application, app_id).state == E


def test_refusal_needs_a_coded_reason_and_logs_it(ctx):
    from models import TransitionLog

    setup = Setup()
    applicant, app_id = setup.application("initial")
    f.move(app_id, "submit", applicant)
    f.move(app_id, "confirm", setup.staff.enterprise(setup.employer))
    province_user = setup.staff.province("11")
    for bad in (None, "", "no_such_reason"):
        with pytest.raises(workflow.GuardFailed):
            f.move(app_id, "refuse", province_user, reason=bad)
    assert db.session.get(Application, app_id).state == P
    assert f.move(app_id, "refuse", province_user, reason="dual_employment") == "refused"
    log = db.session.query(TransitionLog).filter_by(application_id=app_id, action="refuse").one()
    assert log.reason == "dual_employment"


def test_stale_version_is_refused(ctx):
    setup = Setup()
    applicant, app_id = setup.application("initial")
    version = db.session.get(Application, app_id).version
    f.move(app_id, "submit", applicant)
    with pytest.raises(workflow.Conflict):
        f.move(app_id, "confirm", setup.staff.enterprise(setup.employer), version=version)
    assert f.move(app_id, "confirm", setup.staff.enterprise(setup.employer), version=version + 1) == P


def test_available_shows_blocked_moves_with_reasons(ctx):
    setup = Setup()
    username, person_id = f.make_applicant(verified=False, materials=False)
    app_id = f.make_application(username, "initial", enterprise_id=setup.employer)
    application = db.session.get(Application, app_id)
    options = {o.action: o for o in workflow.available(application, f.user(username))}
    assert set(options) == {"submit", "withdraw"}
    assert not options["submit"].allowed and options["withdraw"].allowed
    reasons = " ".join(str(r) for r in options["submit"].reasons)
    assert "real-name" in reasons and "photo" in reasons and "signature" in reasons
    # Someone else's view of the same application: nothing, not even disabled buttons.
    other, _ = f.make_applicant()
    assert workflow.available(application, f.user(other)) == []
