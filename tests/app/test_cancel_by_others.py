"""Cancellations lodged by the employer or the authority (app/cancellations.py, app/business_types/cancel_by_others.py)
and no self-review (app/workflow.py actor_reasons, app/staff_links.py): engine-level, reasons asserted."""
from datetime import timedelta

import pytest

from app import announcements, cancellations, notifications, staff_links, workflow
from app.submission import SubmissionRejected
from ground.clock import today
from ground.extensions import db
from models import (AnnouncementBatch, Application, AppUser, AuditLog, Certificate, Notification, Person, Registration,
                    TransitionLog)
from tests import factories as f

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _employer_lodging(registration_id, **overrides):
    values = dict(business_type="cancel_by_employer", registration_id=registration_id,
                  leaving_date=today() - timedelta(days=10), reason_text="劳动合同已于上月解除。", confirmed=True)
    return cancellations.Lodging(**{**values, **overrides})


def _authority_lodging(registration_id, **overrides):
    values = dict(business_type="cancel_by_authority", registration_id=registration_id, reason="revoked_by_law",
                  reason_text="依据行政处罚决定书撤销注册。", document=PDF, document_name="决定书.pdf", confirmed=True)
    return cancellations.Lodging(**{**values, **overrides})


class World:
    def __init__(self):
        self.staff = f.Staff()
        self.employer = f.make_enterprise("11")
        self.other_employer = f.make_enterprise("31")
        self.applicant, self.person_id = f.make_registered(self.employer)
        self.registration_id = db.session.query(Registration.id).filter_by(person_id=self.person_id).scalar()

    def enterprise_user(self, enterprise_id=None):
        return f.user(self.staff.enterprise(enterprise_id or self.employer))


@pytest.fixture
def world(ctx):
    return World()


def _reasons(exc) -> str:
    return " ".join(str(r) for r in exc.reasons) + " " + str(exc.message)


def _fields(exc) -> dict:
    return {name: " ".join(str(m) for m in msgs) for name, msgs in exc.fields.items()}


# --- The employer reports that someone left ------------------------------------------------------------------
def test_employer_cancellation_walks_to_a_cancelled_registration(world):
    item = cancellations.lodge(world.enterprise_user(), _employer_lodging(world.registration_id))
    assert item.state == "province_review" and item.reason == "contract_ended"
    assert item.enterprise_id == world.employer and item.province_code == "11" and item.submitted_at is not None
    # The person is told, and who lodged it.
    message = db.session.query(Notification).filter_by(kind="cancellation_lodged", subject=f"application:{item.id}").one()
    assert db.session.get(AppUser, message.user_id).person_id == world.person_id
    employer_name = item.enterprise.name  # %(starter)s: the employer by name
    assert notifications.text(message).startswith(f"{employer_name} lodged")
    assert "Labour contract ended" in notifications.text(message)
    # Nothing of the person's own path: no withdrawal, no submission.
    assert [o.action for o in workflow.available(item, f.user(world.applicant))] == []
    with pytest.raises(workflow.InvalidState):  # not the person's to withdraw
        f.move(item.id, "withdraw", world.applicant)
    f.move(item.id, "pass", world.staff.province("11"))
    f.move(item.id, "approve", world.staff.ministry)
    assert db.session.get(Application, item.id).state == "announce_pending"
    f.publish_alone(item.id, world.staff.ministry)
    registration = db.session.get(Registration, world.registration_id)
    assert registration.status == "cancelled" and registration.cancel_reason == "contract_ended"
    assert registration.cancelled_on == today() and not registration.revoked_by_law
    assert {c.status for c in db.session.query(Certificate).filter_by(registration_id=registration.id)} == {"revoked"}
    assert db.session.query(Notification).filter_by(kind="cancellation_approved",
                                                    subject=f"application:{item.id}").count() == 1
    # Only those two: nothing says "your application" to someone who did not apply.
    assert {n.kind for n in db.session.query(Notification).filter_by(subject=f"application:{item.id}")
            if db.session.get(AppUser, n.user_id).person_id == world.person_id} == {"cancellation_lodged",
                                                                                   "cancellation_approved"}


def test_employer_may_cancel_only_its_own_staff(world):
    outsider = world.enterprise_user(world.other_employer)
    with pytest.raises(workflow.NotFound):
        cancellations.lodge(outsider, _employer_lodging(world.registration_id))
    assert world.registration_id not in [r.id for r in cancellations.candidates(outsider).items]
    assert world.registration_id in [r.id for r in cancellations.candidates(world.enterprise_user()).items]
    assert db.session.query(Application).filter_by(person_id=world.person_id).count() == 0


def test_employer_cancellation_checks_what_was_entered(world):
    user = world.enterprise_user()
    with pytest.raises(SubmissionRejected) as caught:
        cancellations.lodge(user, _employer_lodging(world.registration_id, leaving_date=today() + timedelta(days=1),
                                                    reason_text="  ", confirmed=False))
    fields = _fields(caught.value)
    assert "must not be in the future" in fields["leaving_date"]
    assert "required" in fields["reason_text"]
    assert "Tick the confirmation" in fields["confirmed"]
    with pytest.raises(SubmissionRejected) as caught:
        cancellations.lodge(user, _employer_lodging(world.registration_id, leaving_date=today() - timedelta(days=800)))
    assert "before the registration began" in _fields(caught.value)["leaving_date"]
    with pytest.raises(SubmissionRejected) as caught:
        cancellations.lodge(user, _employer_lodging(world.registration_id, leaving_date=None))
    assert "required" in _fields(caught.value)["leaving_date"]
    assert db.session.query(Application).filter_by(person_id=world.person_id).count() == 0


def test_only_the_employer_lodges_its_type(world):
    with pytest.raises(workflow.NotFound):
        cancellations.lodge(f.user(world.staff.province("11")), _employer_lodging(world.registration_id))
    with pytest.raises(workflow.NotFound):
        cancellations.lodge(f.user(world.applicant), _employer_lodging(world.registration_id))
    with pytest.raises(workflow.NotFound):
        cancellations.lodge(world.enterprise_user(), _authority_lodging(world.registration_id))


def test_an_application_in_progress_stops_the_lodging(world):
    own = f.make_application(world.applicant, "cancellation", reason="other")
    f.move(own, "submit", world.applicant)
    with pytest.raises(workflow.GuardFailed) as caught:
        cancellations.lodge(world.enterprise_user(), _employer_lodging(world.registration_id))
    assert "already in progress" in _reasons(caught.value)
    assert db.session.query(Application).filter_by(person_id=world.person_id).count() == 1  # nothing half-made remains


def test_a_lodged_cancellation_is_refused_not_returned(world):
    item = cancellations.lodge(world.enterprise_user(), _employer_lodging(world.registration_id))
    province = world.staff.province("11")
    options = {o.action: o for o in workflow.available(item, f.user(province))}
    assert set(options) == {"pass", "refuse"} and all(o.allowed for o in options.values())
    with pytest.raises(workflow.InvalidState) as caught:  # it would go back to nobody
        f.move(item.id, "return", province)
    assert "cannot be Return for amendment now" in _reasons(caught.value)
    f.move(item.id, "refuse", province, reason="other", opinion="仍在职")
    assert db.session.get(Registration, world.registration_id).status == "active"
    refused = db.session.query(Notification).filter_by(kind="cancellation_refused",
                                                       subject=f"application:{item.id}").one()
    assert "仍在职" in notifications.text(refused) and "unchanged" in notifications.text(refused)


# --- The authority cancels or revokes by law -----------------------------------------------------------------
def test_province_revocation_goes_to_the_ministry_and_records_the_revocation(world):
    province = f.user(world.staff.province("11"))
    item = cancellations.lodge(province, _authority_lodging(world.registration_id))
    assert item.state == "ministry_review"
    documents = cancellations.decision_documents(item)
    assert len(documents) == 1 and documents[0].content_type == "application/pdf"
    f.move(item.id, "approve", world.staff.ministry)
    f.publish_alone(item.id, world.staff.ministry)
    registration = db.session.get(Registration, world.registration_id)
    assert registration.revoked_by_law and registration.cancelled_on == today()
    assert registration.cancel_reason == "revoked_by_law"
    log = db.session.query(TransitionLog).filter_by(application_id=item.id, action="lodge").one()
    assert log.role == "Province" and log.from_state == "draft"


def test_province_may_revoke_only_in_its_province(world):
    other_province = f.user(world.staff.province("31"))
    with pytest.raises(workflow.NotFound):
        cancellations.lodge(other_province, _authority_lodging(world.registration_id))
    assert world.registration_id not in [r.id for r in cancellations.candidates(other_province, per_page=1000).items]


def test_the_decision_document_is_checked(world, app):
    ministry = f.user(world.staff.ministry)
    for document, message in ((None, "Upload the decision document"), (b"GIF89a....", "must be a PDF or JPEG"),
                              (b"%PDF-1.4 no end", "incomplete or damaged"),
                              (b"\xff\xd8\xff\xe0 broken", "")):
        with pytest.raises(SubmissionRejected) as caught:
            cancellations.lodge(ministry, _authority_lodging(world.registration_id, document=document))
        assert message in _fields(caught.value)["document"]
    saved = app.config["RULES"]["DECISION_DOCUMENT_MAX_MB"]
    app.config["RULES"]["DECISION_DOCUMENT_MAX_MB"] = 1  # the limit is a rule
    try:
        big = b"%PDF-1.4\n" + b"0" * (1024 * 1024) + b"\n%%EOF\n"
        with pytest.raises(SubmissionRejected) as caught:
            cancellations.lodge(ministry, _authority_lodging(world.registration_id, document=big))
        assert "larger than 1 MB" in _fields(caught.value)["document"]
    finally:
        app.config["RULES"]["DECISION_DOCUMENT_MAX_MB"] = saved
    with pytest.raises(SubmissionRejected) as caught:
        cancellations.lodge(ministry, _authority_lodging(world.registration_id, reason="contract_ended"))
    assert "Choose a reason from the list" in _fields(caught.value)["reason"]
    assert db.session.query(Application).filter_by(person_id=world.person_id).count() == 0


def test_the_ministry_officer_who_lodged_it_may_not_decide_it(world, app):
    starter = world.staff.ministry
    item = cancellations.lodge(f.user(starter), _authority_lodging(world.registration_id, reason="obtained_by_fraud"))
    options = {o.action: o for o in workflow.available(item, f.user(starter))}
    assert not options["approve"].allowed
    assert "another officer must decide it" in " ".join(str(r) for r in options["approve"].reasons)
    with pytest.raises(workflow.Forbidden) as caught:
        f.move(item.id, "approve", starter)
    assert "another officer must decide it" in _reasons(caught.value)
    assert db.session.get(Application, item.id).state == "ministry_review"
    app.config["RULES"]["STARTER_MAY_DECIDE"] = True  # the rule is configurable
    try:
        assert all(o.allowed for o in workflow.available(item, f.user(starter)) if o.action == "approve")
    finally:
        app.config["RULES"]["STARTER_MAY_DECIDE"] = False
    colleague = f.make_user("Ministry")
    assert f.move(item.id, "approve", colleague) == "announce_pending"
    f.publish_alone(item.id, starter)  # publishing the batch is not deciding: the starter may publish it
    registration = db.session.get(Registration, world.registration_id)
    assert registration.revoked_by_law and registration.cancel_reason == "obtained_by_fraud"


def test_the_person_sees_it_with_who_lodged_it(world):
    item = cancellations.lodge(world.enterprise_user(), _employer_lodging(world.registration_id))
    applicant = f.user(world.applicant)
    from app import scope
    assert scope.query(Application, applicant).filter(Application.id == item.id).one() is not None
    assert notifications.starter_role(item) == "Enterprise"


# --- No self-review ----------------------------------------------------------------------------------------
def _link(username, person_id):
    person = db.session.get(Person, person_id)
    return staff_links.link(username, person.id_number)


def test_linking_needs_a_valid_id_number_of_a_verified_person(world):
    officer = world.staff.province("11")
    with pytest.raises(staff_links.LinkRefused, match="check character|not a valid|18 characters"):
        staff_links.link(officer, "110101199001011234")
    with pytest.raises(staff_links.LinkRefused, match="No person with this ID number"):
        staff_links.link(officer, f.unique_id_number())
    unverified = f.make_person(verified=False)
    with pytest.raises(staff_links.LinkRefused, match="real-name verification"):
        _link(officer, unverified)
    with pytest.raises(staff_links.LinkRefused, match="Only a staff account"):
        _link(world.applicant, world.person_id)
    with pytest.raises(staff_links.LinkRefused, match="No account"):
        staff_links.link("nobody-here", "x")
    assert f.user(officer).staff_person_id is None
    _link(officer, world.person_id)
    assert f.user(officer).staff_person_id == world.person_id
    audit = db.session.query(AuditLog).filter_by(action="account.link_person").order_by(AuditLog.id.desc()).first()
    assert world.person_id == audit.detail["person_id"] and "*" in audit.summary
    staff_links.unlink(officer)
    assert f.user(officer).staff_person_id is None
    assert db.session.query(AuditLog).filter_by(action="account.unlink_person", object_id=str(f.user(officer).id)).count() == 1


@pytest.mark.parametrize("role", ["Enterprise", "Province", "Ministry"])
def test_no_officer_acts_on_their_own_application(world, role):
    """The person works as an officer of every role in turn: each refuses them their own application."""
    app_id = f.make_application(world.applicant, "cancellation", reason="other")
    f.move(app_id, "submit", world.applicant)
    stage = {"Enterprise": "enterprise_review", "Province": "province_review", "Ministry": "ministry_review"}[role]
    officer = {"Enterprise": lambda: world.staff.enterprise(world.employer),
               "Province": lambda: world.staff.province("11"), "Ministry": lambda: world.staff.ministry}[role]()
    f.set_state(app_id, stage)
    _link(officer, world.person_id)
    application = db.session.get(Application, app_id)
    options = workflow.available(application, f.user(officer))
    assert options and not any(o.allowed for o in options)
    assert all("You may not act on your own application." in [str(r) for r in o.reasons] for o in options)
    action = {"Enterprise": "confirm", "Province": "pass", "Ministry": "approve"}[role]
    with pytest.raises(workflow.Forbidden, match="your own application"):
        f.move(app_id, action, officer)
    with pytest.raises(workflow.Forbidden, match="your own application"):
        f.move(app_id, "refuse", officer) if role != "Enterprise" else f.move(app_id, "return", officer)
    assert db.session.get(Application, app_id).state == stage
    # Another officer of the same role may act; the applicant's own moves stay theirs.
    colleague = {"Enterprise": lambda: f.make_user("Enterprise", enterprise_id=world.employer),
                 "Province": lambda: f.make_user("Province", province_code="11"),
                 "Ministry": lambda: f.make_user("Ministry")}[role]()
    assert any(o.allowed for o in workflow.available(application, f.user(colleague)))


def test_an_announcement_batch_leaves_out_the_officers_own_application(world):
    app_id = f.make_application(world.applicant, "cancellation", reason="other")
    f.move(app_id, "submit", world.applicant)
    f.set_state(app_id, "announce_pending")
    other_applicant, other_person = f.make_registered(world.employer)
    other_id = f.make_application(other_applicant, "cancellation", reason="other")
    f.move(other_id, "submit", other_applicant)
    f.set_state(other_id, "announce_pending")
    officer = world.staff.ministry
    _link(officer, world.person_id)
    batch = AnnouncementBatch(title="公告", state="draft")
    db.session.add(batch)
    db.session.commit()
    # Other tests' applications may be waiting too (the worker's database is shared): look at these two.
    assert announcements.gather(batch.id, f.user(officer)) >= 1
    assert db.session.get(Application, other_id).announcement_id == batch.id
    assert db.session.get(Application, app_id).announcement_id is None
    # Put in by someone else, the officer still may not publish it.
    db.session.get(Application, app_id).announcement_id = batch.id
    db.session.commit()
    with pytest.raises(workflow.Forbidden, match="your own application"):
        announcements.publish(batch.id, f.user(officer))
    assert db.session.get(Application, other_id).state == "announce_pending"


def test_the_officer_finds_no_own_registration_to_cancel(world):
    officer = world.staff.enterprise(world.employer)
    _link(officer, world.person_id)
    assert world.registration_id not in [r.id for r in cancellations.candidates(f.user(officer)).items]
    with pytest.raises(SubmissionRejected) as caught:
        cancellations.lodge(f.user(officer), _employer_lodging(world.registration_id))
    assert "your own application" in _fields(caught.value)["registration"]


def test_the_cli_links_and_unlinks_a_staff_account(world, app):
    officer = world.staff.ministry
    id_number = db.session.get(Person, world.person_id).id_number
    runner = app.test_cli_runner()
    result = runner.invoke(args=["link-staff-person", officer, id_number])
    assert result.exit_code == 0 and "linked" in result.output and id_number not in result.output  # masked
    assert f.user(officer).staff_person_id == world.person_id
    refused = runner.invoke(args=["link-staff-person", officer, "123"])
    assert refused.exit_code != 0 and "18 characters" in refused.output
    result = runner.invoke(args=["link-staff-person", officer, "--unlink"])
    assert result.exit_code == 0
    db.session.expire_all()
    assert f.user(officer).staff_person_id is None
