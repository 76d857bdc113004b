"""The declared state machines (app/machines.py): their states, moves and who takes them, read without an app;
their diagrams in docs/STATE_MACHINES.md; and, with the app, that the engine refuses an illegal move with the
machine's error and writes no audit row, and records a legal one."""
import re
from pathlib import Path

import pytest
from sqlalchemy import update

from app import announcements, machines, workflow
from app.machines import ANNOUNCEMENT, PROVIDER, REALNAME, STAY, Move, StateMachine
from app.services import realname
from ground import roles as R
from ground.extensions import db
from models import AnnouncementBatch, AuditLog, Person
from models.choices import ANNOUNCEMENT_STATES, REALNAME_STATUSES, BatchState, RealnameStatus
from tests import factories as f
from views import audit_display

DOC = Path(__file__).resolve().parents[2] / "docs" / "STATE_MACHINES.md"


# --- The declarations (no app) -------------------------------------------------------------------------
def _who(machine, action):
    return set(machine.move(action).roles)


def test_announcement_batch_is_a_draft_the_ministry_publishes():
    assert list(ANNOUNCEMENT.states) == list(ANNOUNCEMENT_STATES) == [BatchState.DRAFT, BatchState.PUBLISHED]
    assert ANNOUNCEMENT.initial == BatchState.DRAFT and ANNOUNCEMENT.field == "state"
    assert ANNOUNCEMENT.move("publish").sources == (BatchState.DRAFT,)
    assert ANNOUNCEMENT.move("publish").target == BatchState.PUBLISHED
    for action in ("edit", "gather", "remove"):  # actions on a draft that keep it a draft
        assert ANNOUNCEMENT.move(action).target is STAY
        assert ANNOUNCEMENT.move(action).target_from(BatchState.DRAFT) == BatchState.DRAFT
    assert all(_who(ANNOUNCEMENT, m.action) == {R.MINISTRY} for m in ANNOUNCEMENT.moves)
    assert ANNOUNCEMENT.actions_from(BatchState.DRAFT) == {"edit", "gather", "remove", "publish"}
    assert ANNOUNCEMENT.actions_from(BatchState.PUBLISHED) == set()
    assert ANNOUNCEMENT.final_states() == [BatchState.PUBLISHED]
    assert ANNOUNCEMENT.error is machines.BatchError and issubclass(machines.BatchError, workflow.InvalidState)


def test_realname_moves_and_who_takes_them():
    assert list(REALNAME.states) == list(REALNAME_STATUSES)
    assert REALNAME.initial == RealnameStatus.UNVERIFIED and REALNAME.field == "realname_status"
    not_verified = {RealnameStatus.UNVERIFIED, RealnameStatus.PENDING, RealnameStatus.REJECTED}
    expected = {  # action: (sources, target, who)
        "request_onsite": (not_verified, RealnameStatus.PENDING, {R.APPLICANT}),
        "start_online": (not_verified, STAY, {R.APPLICANT}),
        "verify_online": (not_verified, RealnameStatus.VERIFIED, {PROVIDER}),
        "verify_onsite": ({RealnameStatus.PENDING}, RealnameStatus.VERIFIED, {R.PROVINCE}),
        "reject_onsite": ({RealnameStatus.PENDING}, RealnameStatus.REJECTED, {R.PROVINCE}),
    }
    assert {m.action: (set(m.sources), m.target, set(m.roles)) for m in REALNAME.moves} == expected
    assert REALNAME.actions_from(RealnameStatus.VERIFIED) == set()
    assert REALNAME.final_states() == [RealnameStatus.VERIFIED]
    assert not REALNAME.allows("verify_onsite", RealnameStatus.UNVERIFIED)


def test_acting_role():
    publish = ANNOUNCEMENT.move("publish")
    assert machines.acting_role(publish, None, R.MINISTRY) == R.MINISTRY  # the command line names its role
    assert machines.acting_role(publish, None, R.APPLICANT) is None
    assert machines.acting_role(publish, None, None) is None
    assert machines.acting_role(REALNAME.move("verify_online"), None, PROVIDER) == PROVIDER


def test_a_declaration_naming_an_unknown_state_or_a_move_twice_is_refused():
    edit = Move("edit", ("draft",), STAY, frozenset({R.MINISTRY}), "edit", "no")
    with pytest.raises(ValueError, match="undeclared states"):
        StateMachine("x", "state", ANNOUNCEMENT_STATES, "draft",
                     (Move("archive", ("published",), "archived", frozenset({R.MINISTRY}), "a", "no"),))
    with pytest.raises(ValueError, match="twice"):
        StateMachine("x", "state", ANNOUNCEMENT_STATES, "draft", (edit, edit))


def test_audit_actions_name_their_moves():
    assert ANNOUNCEMENT.audit_action(ANNOUNCEMENT.move("publish")) == "announcement.publish"
    assert machines.move_of_audit_action("realname.verify_onsite") is REALNAME.move("verify_onsite")
    assert machines.move_of_audit_action("transition.publish") is None
    assert machines.move_of_audit_action("update") is None


def test_mermaid_draws_every_move_from_the_declaration():
    diagram = machines.mermaid(REALNAME)
    assert diagram.startswith("stateDiagram-v2\n    [*] --> unverified")
    assert "    pending --> verified: verify_onsite (Province)" in diagram.splitlines()
    assert "    rejected --> verified: verify_online (Provider)" in diagram.splitlines()
    assert diagram.endswith("verified --> [*]")
    assert "    draft --> draft: edit, gather, remove (Ministry)" in machines.mermaid(ANNOUNCEMENT).splitlines()


def test_the_document_shows_the_generated_diagrams():
    section = re.search(r"<!-- machines:start -->\n(.*)\n<!-- machines:end -->", DOC.read_text(encoding="utf-8"),
                        re.S).group(1)
    assert section.strip() == machines.markdown().strip(), "paste app.machines.markdown() into docs/STATE_MACHINES.md"
    for machine in machines.MACHINES:
        assert f"```mermaid\n{machines.mermaid(machine)}\n```" in section


# --- The engine (with the app) -------------------------------------------------------------------------
def _audit_rows(object_type, object_id, action=None) -> list:
    query = db.session.query(AuditLog).filter_by(object_type=object_type, object_id=str(object_id))
    if action:
        query = query.filter_by(action=action)
    return query.order_by(AuditLog.id).all()


def _published_batch(staff) -> int:
    app_id = f.initial_application(staff, "31", "submit", "confirm", "pass", "approve")[2]
    return f.publish_alone(app_id, staff.ministry)


def test_publishing_records_the_move_and_the_state_change(ctx):
    staff = f.Staff()
    batch_id = _published_batch(staff)
    updates = _audit_rows("AnnouncementBatch", batch_id, "update")
    assert [row.detail["state"] for row in updates] == [["draft", "published"]]  # with the number, one row
    assert {"year", "sequence", "published_on"} <= set(updates[0].detail)
    (move,) = _audit_rows("AnnouncementBatch", batch_id, "announcement.publish")
    assert move.detail["state"] == ["draft", "published"] and move.detail["role"] == R.MINISTRY
    assert move.username == staff.ministry


def test_publishing_a_published_batch_is_refused_and_writes_nothing(ctx):
    staff = f.Staff()
    batch_id = _published_batch(staff)
    before = len(_audit_rows("AnnouncementBatch", batch_id))
    batch = db.session.get(AnnouncementBatch, batch_id)
    with pytest.raises(machines.BatchError, match="This batch is already published."):
        machines.take(ANNOUNCEMENT, "publish", batch, f.user(staff.ministry))
    with pytest.raises(machines.BatchError, match="This batch is already published."):
        announcements.gather(batch_id, f.user(staff.ministry))
    db.session.rollback()
    assert len(_audit_rows("AnnouncementBatch", batch_id)) == before
    assert db.session.get(AnnouncementBatch, batch_id).state == BatchState.PUBLISHED


def test_a_role_the_move_does_not_name_is_refused(ctx):
    batch = AnnouncementBatch(title="角色", state=BatchState.DRAFT)
    db.session.add(batch)
    db.session.commit()
    province = f.user(f.make_user("Province", province_code="11"))
    with pytest.raises(workflow.Forbidden):
        machines.take(ANNOUNCEMENT, "publish", batch, province)
    with pytest.raises(workflow.NotFound):
        machines.take(ANNOUNCEMENT, "archive", batch, province)
    db.session.rollback()
    assert db.session.get(AnnouncementBatch, batch.id).state == BatchState.DRAFT
    assert _audit_rows("AnnouncementBatch", batch.id, "announcement.publish") == []


def test_a_subject_moved_since_it_was_read_is_refused(ctx):
    """The page loaded the batch as a draft; another transaction published it since: the guarded UPDATE
    matches no row, so the move is refused and nothing is written."""
    staff = f.Staff()
    batch = AnnouncementBatch(title="过期", state=BatchState.DRAFT)
    db.session.add(batch)
    db.session.commit()
    assert batch.state == BatchState.DRAFT  # loaded
    db.session.execute(update(AnnouncementBatch).where(AnnouncementBatch.id == batch.id)
                       .values(state=BatchState.PUBLISHED).execution_options(synchronize_session=False))
    with pytest.raises(machines.BatchError, match="This batch is already published."):
        machines.take(ANNOUNCEMENT, "edit", batch, f.user(staff.ministry))
    assert _audit_rows("AnnouncementBatch", batch.id, "announcement.edit") == []
    db.session.rollback()


def test_verifying_a_verified_person_is_refused_and_writes_nothing(ctx):
    person_id = f.make_person(verified=True)
    person = db.session.get(Person, person_id)
    before = len(_audit_rows("Person", person_id))
    with pytest.raises(workflow.InvalidState, match="Your identity is already verified."):
        machines.take(REALNAME, "verify_online", person, role=PROVIDER)
    with pytest.raises(realname.RealnameError, match="Your identity is already verified."):
        realname.request_onsite(person, "11")
    with pytest.raises(realname.RealnameError, match="This person is not waiting for an on-site check."):
        realname.decide_onsite(person, f.user(f.make_user("Province", province_code="11")), True)
    db.session.rollback()
    assert len(_audit_rows("Person", person_id)) == before
    assert db.session.get(Person, person_id).realname_status == RealnameStatus.VERIFIED


def test_onsite_check_moves_are_recorded_with_who_took_them(ctx):
    person_id = f.make_person(verified=False)
    person = db.session.get(Person, person_id)
    realname.request_onsite(person, "44")
    db.session.commit()
    officer = f.make_user("Province", province_code="44")
    with pytest.raises(realname.RealnameError, match="Your role may not take this action."):
        realname.decide_onsite(person, f.user(f.make_user("Ministry")), True)
    db.session.rollback()
    realname.decide_onsite(person, f.user(officer), False, "照片不符")
    db.session.commit()
    rows = [(r.action, r.detail["realname_status"], r.detail["role"])
            for r in _audit_rows("Person", person_id) if r.action.startswith("realname.")]
    assert rows == [("realname.request_onsite", ["unverified", "pending"], R.APPLICANT),
                    ("realname.reject_onsite", ["pending", "rejected"], R.PROVINCE)]
    row = _audit_rows("Person", person_id, "realname.reject_onsite")[0]
    assert row.username == officer
    # The trail reads it in words: the move's label, the status before and after.
    assert audit_display.action_label(row) == "Reject"
    assert "Awaiting on-site check → Rejected" in audit_display.detail_text(row, {})
