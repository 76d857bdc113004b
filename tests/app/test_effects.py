"""Each business type taken through its whole pipeline: what approval and certificate issue change."""
import re
from datetime import timedelta

import pytest

from ground.clock import add_years, today
from ground.extensions import db
from models import (Application, AppUser, AuditLog, Certificate, Person, Qualification, Registration,
                    TransitionLog)
from tests import factories as f


@pytest.fixture
def staff(ctx):
    return f.Staff()


def _registration(person_id) -> Registration:
    db.session.expire_all()
    return db.session.query(Registration).filter_by(person_id=person_id).one()


def _valid_certificates(person_id):
    return db.session.query(Certificate).filter_by(person_id=person_id, status="valid").all()


def _state(application_id):
    db.session.expire_all()
    return db.session.get(Application, application_id).state


def test_initial_registration_creates_number_specialties_and_certificate(staff):
    enterprise = f.make_enterprise("11")
    username, person_id, app_id = f.register(staff, enterprise, specialties=("building", "municipal"))

    assert _state(app_id) == "completed"
    registration = _registration(person_id)
    year = today().year
    qual_year = add_years(today(), -1).year
    assert re.fullmatch(rf"京111{qual_year}{year}\d{{5}}", registration.number), registration.number
    assert registration.number_digits == registration.number[1:]
    assert registration.status == "active" and registration.enterprise_id == enterprise
    assert {s.specialty_code for s in registration.specialties} == {"building", "municipal"}
    for held in registration.specialties:
        assert held.valid_from == today()
        assert held.valid_until == add_years(today(), 3) - timedelta(days=1)
    [certificate] = _valid_certificates(person_id)
    assert certificate.registration_number == registration.number
    assert certificate.valid_until == add_years(today(), 3) - timedelta(days=1)
    assert {s["code"] for s in certificate.specialties} == {"building", "municipal"}
    actions = [t.action for t in db.session.query(TransitionLog).filter_by(application_id=app_id)
               .order_by(TransitionLog.id)]
    assert actions == ["submit", "confirm", "pass", "approve", "publish", "issue"]
    audited = {a.action for a in db.session.query(AuditLog).filter_by(object_type="Application", object_id=str(app_id))}
    assert {"transition.submit", "transition.approve", "transition.issue"} <= audited


def test_registration_serial_increments_within_a_province(staff):
    enterprise = f.make_enterprise("31")
    _, first, _ = f.register(staff, enterprise)
    _, second, _ = f.register(staff, enterprise)
    a, b = _registration(first).number_digits, _registration(second).number_digits
    assert a[:-5] == b[:-5] or a[3:7] != b[3:7]  # same province and year prefix unless qualification years differ
    assert int(b[-5:]) > int(a[-5:])


def test_change_moves_employer_keeps_digits_and_expiry_and_replaces_certificate(staff):
    old_employer, new_employer = f.make_enterprise("11"), f.make_enterprise("31")
    username, person_id, _ = f.register(staff, old_employer)
    before = _registration(person_id)
    digits, expiry = before.number_digits, before.specialties[0].valid_until
    [old_certificate] = _valid_certificates(person_id)

    f.make_temporary(person_id)
    app_id = f.make_application(username, "change", enterprise_id=new_employer)
    f.move(app_id, "submit", username)
    f.move(app_id, "confirm", staff.enterprise(new_employer))  # the new employer confirms
    f.move(app_id, "release", staff.enterprise(old_employer))  # the old one releases
    staff.take(app_id, username, "pass", "approve")  # in the new employer's province

    assert _state(app_id) == "completed"  # change has no announcement; certificate issued at once
    after = _registration(person_id)
    assert after.enterprise_id == new_employer
    assert after.number == "沪" + digits and after.number_digits == digits
    assert after.specialties[0].valid_until == expiry
    application = db.session.get(Application, app_id)
    assert application.previous_enterprise_id == old_employer
    db.session.refresh(old_certificate)
    assert old_certificate.status == "replaced"
    [new_certificate] = _valid_certificates(person_id)
    assert old_certificate.replaced_by_id == new_certificate.id
    assert new_certificate.number != old_certificate.number
    assert new_certificate.registration_number == "沪" + digits


def test_add_specialty_adds_one_and_keeps_the_others(staff):
    enterprise = f.make_enterprise("11")
    username, person_id, _ = f.register(staff, enterprise)
    building = _registration(person_id).specialty("building")
    kept = (building.valid_from, building.valid_until)
    db.session.add(Qualification(person_id=person_id, certificate_no=f"ADD{person_id:06d}", specialty_code="mining",
                                 qualified_on=today() - timedelta(days=30)))
    db.session.commit()

    app_id = f.make_application(username, "add_specialty", specialties=("mining",))
    staff.take(app_id, username, "submit", "confirm", "pass", "approve")
    assert _state(app_id) == "announce_pending"
    f.publish_alone(app_id, staff.ministry)

    registration = _registration(person_id)
    assert (registration.specialty("building").valid_from, registration.specialty("building").valid_until) == kept
    assert registration.specialty("mining").valid_until == add_years(today(), 3) - timedelta(days=1)
    [certificate] = _valid_certificates(person_id)
    assert {s["code"] for s in certificate.specialties} == {"building", "mining"}


def test_renewal_extends_chosen_specialty_by_three_years(staff):
    enterprise = f.make_enterprise("11")
    username, person_id, _ = f.register(staff, enterprise)
    held = _registration(person_id).specialty("building")
    held.valid_until = today() + timedelta(days=10)  # history: granted three years ago
    db.session.commit()

    app_id = f.make_application(username, "renewal", specialties=("building",), continuing_education=True)
    staff.take(app_id, username, "submit", "confirm", "pass", "approve")

    assert _state(app_id) == "completed"
    held = _registration(person_id).specialty("building")
    assert held.valid_from == today() + timedelta(days=11)
    assert held.valid_until == add_years(today() + timedelta(days=11), 3) - timedelta(days=1)
    [certificate] = _valid_certificates(person_id)
    assert certificate.valid_until == held.valid_until


def test_cancellation_cancels_registration_and_revokes_certificate(staff):
    enterprise = f.make_enterprise("11")
    username, person_id, _ = f.register(staff, enterprise)
    [certificate] = _valid_certificates(person_id)

    app_id = f.make_application(username, "cancellation", reason="contract_ended", reason_text="合同到期")
    staff.take(app_id, username, "submit", "confirm", "pass", "approve")
    registration = _registration(person_id)
    assert registration.status == "cancelled" and registration.cancel_reason == "contract_ended"
    assert all(s.status == "cancelled" for s in registration.specialties)
    db.session.refresh(certificate)
    assert certificate.status == "revoked" and certificate.revoked_on == today()
    assert _state(app_id) == "announce_pending"  # cancellations are announced
    f.publish_alone(app_id, staff.ministry)
    assert _state(app_id) == "completed"
    assert _valid_certificates(person_id) == []


def test_re_registration_reactivates_with_same_digits(staff):
    first, second = f.make_enterprise("11"), f.make_enterprise("44")
    username, person_id, _ = f.register(staff, first)
    digits = _registration(person_id).number_digits
    cancel = f.make_application(username, "cancellation", reason="contract_ended")
    staff.take(cancel, username, "submit", "confirm", "pass", "approve")
    f.publish_alone(cancel, staff.ministry)

    app_id = f.make_application(username, "re_registration", enterprise_id=second)
    staff.take(app_id, username, "submit", "confirm", "pass", "approve")
    f.publish_alone(app_id, staff.ministry)

    registration = _registration(person_id)
    assert registration.status == "active" and registration.number == "粤" + digits
    assert registration.specialty("building").valid_until == add_years(today(), 3) - timedelta(days=1)
    assert len(_valid_certificates(person_id)) == 1


def test_replacement_issues_new_number_and_replaces_old(staff):
    enterprise = f.make_enterprise("11")
    username, person_id, _ = f.register(staff, enterprise)
    [old] = _valid_certificates(person_id)
    app_id = f.make_application(username, "replacement", reason="lost")
    assert f.move(app_id, "submit", username) == "ministry_review"  # no enterprise, no province stage
    assert f.move(app_id, "approve", staff.ministry) == "completed"
    db.session.refresh(old)
    [new] = _valid_certificates(person_id)
    assert old.status == "replaced" and old.replaced_by_id == new.id and new.number != old.number


def test_info_change_renames_person_moves_login_and_reissues(staff):
    enterprise = f.make_enterprise("11")
    username, person_id, _ = f.register(staff, enterprise)
    new_id = f.unique_id_number().lower()  # lower-case x is normalised
    app_id = f.make_application(username, "info_change", new_name="新名字", new_id_number=new_id)
    assert f.move(app_id, "submit", username) == "province_review"
    f.move(app_id, "pass", staff.province("11"))
    f.move(app_id, "approve", staff.ministry)
    assert _state(app_id) == "completed"
    person = db.session.get(Person, person_id)
    assert person.name == "新名字" and person.id_number == new_id.upper()
    assert db.session.query(AppUser).filter_by(person_id=person_id).one().username == new_id.upper()
    [certificate] = _valid_certificates(person_id)
    assert certificate.holder_name == "新名字"


def test_info_change_of_unregistered_person_issues_nothing(ctx):
    staff = f.Staff()
    username, person_id = f.make_applicant()
    app_id = f.make_application(username, "info_change", new_name="改名")
    f.move(app_id, "submit", username)
    province = db.session.get(Application, app_id).province_code
    assert province == db.session.get(Person, person_id).id_number[:2]
    f.move(app_id, "pass", staff.province(province))
    f.move(app_id, "approve", staff.ministry)
    assert _state(app_id) == "completed"
    assert db.session.query(Certificate).filter_by(person_id=person_id).count() == 0


def test_missing_signature_holds_certificate_until_fixed(staff):
    """The certificate waits in issue_pending with the reason; the ministry issues it once fixed."""
    from app import workflow

    _, person_id, app_id = f.initial_application(staff, "11", "submit", "confirm", "pass", "approve")
    person = db.session.get(Person, person_id)
    person.latest_attachment("signature").is_current = False
    db.session.commit()
    f.publish_alone(app_id, staff.ministry)
    assert _state(app_id) == "issue_pending"
    application = db.session.get(Application, app_id)
    [option] = workflow.available(application, f.user(staff.ministry))
    assert option.action == "issue" and not option.allowed
    assert any("signature" in str(r) for r in option.reasons)

    from app.services import storage

    storage.save(db.session, db.session.get(Person, person_id), "signature", "s.jpg", f._jpeg(), "image/jpeg")
    db.session.commit()
    assert f.move(app_id, "issue", staff.ministry) == "completed"
    assert len(_valid_certificates(person_id)) == 1
