"""`lifecycle-lapse`: a specialty lapses the day after its valid-until date, a registration whose specialties have
all lapsed lapses (its certificates expire and verify as expired), a renewal under review holds the lapse, and
re-registration brings the registration back with the same digits."""
from datetime import timedelta

from flask_babel import force_locale
from sqlalchemy import select

from app import rules
from ground.clock import today
from ground.extensions import db
from models import Certificate, Notification, Person, RegistrationSpecialty
from reports.certificates import verification_token
from tests import factories as f
from tests.lifecycle.conftest import run


def _registration(person_id):
    db.session.expire_all()
    return db.session.get(Person, person_id).registration


def _held(person_id, code="building"):
    return _registration(person_id).specialty(code)


def _kinds(username):
    user = f.user(username)
    return sorted(db.session.scalars(select(Notification.kind).where(Notification.user_id == user.id)))


def test_a_specialty_lapses_the_day_after_its_valid_until_date(ctx):
    username, person_id = f.make_registered(f.make_enterprise(), expires_in_days=10)
    until = _held(person_id).valid_until

    run("lifecycle-lapse", until)
    assert _held(person_id).status == "active"
    assert _registration(person_id).status == "active"

    figures = run("lifecycle-lapse", until + timedelta(days=1))
    assert figures["specialties_lapsed"] >= 1 and figures["registrations_lapsed"] >= 1
    held = _held(person_id)
    assert (held.status, held.lapsed_on) == ("lapsed", until + timedelta(days=1))
    registration = _registration(person_id)
    assert (registration.status, registration.lapse_reason, registration.lapsed_on) == (
        "lapsed", "expired", until + timedelta(days=1))
    certificate = db.session.scalar(select(Certificate).where(Certificate.registration_id == registration.id))
    assert (certificate.status, certificate.revoked_on, certificate.revoke_reason) == (
        "expired", until + timedelta(days=1), "expired")
    assert _kinds(username) == ["registration_lapsed", "specialty_lapsed"]

    # Run again (and a day later): nothing more happens, nobody is told twice.
    run("lifecycle-lapse", until + timedelta(days=1))
    run("lifecycle-lapse", until + timedelta(days=2))
    assert _kinds(username) == ["registration_lapsed", "specialty_lapsed"]
    assert _registration(person_id).lapsed_on == until + timedelta(days=1)


def test_the_registration_lapses_with_its_last_specialty(ctx):
    username, person_id = f.make_registered(f.make_enterprise(), expires_in_days=5)
    registration = _registration(person_id)
    first = registration.specialty("building").valid_until
    registration.specialties.append(RegistrationSpecialty(specialty_code="mining", valid_from=today(),
                                                          valid_until=first + timedelta(days=20), status="active"))
    db.session.commit()

    run("lifecycle-lapse", first + timedelta(days=1))
    assert _held(person_id).status == "lapsed"
    assert _registration(person_id).status == "active"  # mining still runs
    assert rules.preconditions(db.session.get(Person, person_id), "re_registration")  # still registered

    run("lifecycle-lapse", first + timedelta(days=25))  # a few nights missed: caught up, dated correctly
    registration = _registration(person_id)
    assert registration.status == "lapsed"
    assert registration.lapsed_on == first + timedelta(days=21)
    assert registration.specialty("mining").lapsed_on == first + timedelta(days=21)
    assert registration.specialty("building").lapsed_on == first + timedelta(days=1)


def test_the_verification_page_shows_a_lapsed_registration_as_lapsed(app, client):
    with app.app_context():  # not around the requests (tests/conftest.py)
        _, person_id = f.make_registered(f.make_enterprise(), expires_in_days=3)
        until = _held(person_id).valid_until
        certificate = db.session.scalar(select(Certificate).where(Certificate.person_id == person_id))
        token, number = verification_token(certificate, until), certificate.number
        before = client.get(f"/verify/{token}").get_data(as_text=True)
        run("lifecycle-lapse", until + timedelta(days=1))

    assert "注册已失效" not in before
    client.get("/lang/zh")
    page = client.get(f"/verify/{token}").get_data(as_text=True)
    assert "注册已失效" in page  # 失效, with the day and the reason
    lapsed_on = (until + timedelta(days=1)).isoformat()
    assert f"该注册已于 {lapsed_on} 失效：所有注册专业均已超过有效期。本证书已不再有效。" in page
    assert number in page


def test_a_renewal_under_review_holds_the_lapse(ctx):
    staff = f.Staff()
    username, person_id = f.make_registered(f.make_enterprise(), expires_in_days=10)
    until = _held(person_id).valid_until
    renewal = f.make_application(username, "renewal", continuing_education=True)
    staff.take(renewal, username, "submit", "confirm")

    run("lifecycle-lapse", until + timedelta(days=3))
    assert _held(person_id).status == "active"
    assert _registration(person_id).status == "active"

    staff.take(renewal, username, "pass", "approve")  # approved after the old valid-until date
    held = _held(person_id)
    assert held.status == "active" and held.valid_from == until + timedelta(days=1)
    run("lifecycle-lapse", until + timedelta(days=4))
    assert _registration(person_id).status == "active"


def test_a_withdrawn_renewal_no_longer_holds_it(ctx):
    username, person_id = f.make_registered(f.make_enterprise(), expires_in_days=10)
    until = _held(person_id).valid_until
    renewal = f.make_application(username, "renewal", continuing_education=True)
    f.move(renewal, "submit", username)
    run("lifecycle-lapse", until + timedelta(days=2))
    assert _held(person_id).status == "active"

    f.move(renewal, "withdraw", username)
    run("lifecycle-lapse", until + timedelta(days=3))
    held = _held(person_id)
    assert (held.status, held.lapsed_on) == ("lapsed", until + timedelta(days=1))


def test_after_the_lapse_renewal_is_closed_and_re_registration_keeps_the_digits(ctx):
    staff = f.Staff()
    enterprise = f.make_enterprise()
    username, person_id = f.make_registered(enterprise, expires_in_days=2)
    registration = _registration(person_id)
    digits, number = registration.number_digits, registration.number
    run("lifecycle-lapse", registration.specialty("building").valid_until + timedelta(days=1))
    person = db.session.get(Person, person_id)

    with force_locale("en"):
        reasons = [str(r) for r in rules.preconditions(person, "renewal")]
    assert len(reasons) == 1 and "re-registration" in reasons[0] and "lapsed on" in reasons[0]
    assert rules.preconditions(person, "re_registration") == []
    assert rules.preconditions(person, "initial")  # already registered: re-registration, not initial

    application = f.make_application(username, "re_registration", enterprise_id=enterprise)
    staff.take(application, username, "submit", "confirm", "pass", "approve")
    f.publish_alone(application, staff.ministry)

    registration = _registration(person_id)
    assert (registration.status, registration.lapsed_on, registration.lapse_reason) == ("active", None, None)
    assert (registration.number_digits, registration.number) == (digits, number)
    held = registration.specialty("building")
    assert (held.status, held.lapsed_on) == ("active", None)
    assert held.valid_until > today()
    certificates = {c.status for c in db.session.scalars(select(Certificate).where(
        Certificate.registration_id == registration.id))}
    assert certificates == {"expired", "valid"}
