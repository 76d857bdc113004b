"""`lifecycle-age-limit`: the registration ends on the day the holder reaches RULES AGE_LIMIT; over the limit only
cancellation, replacement and a personal-information change may still be applied for; a changed ID number
re-checks the age at approval."""
import itertools
from datetime import date, timedelta

from sqlalchemy import select

from app import rules
from app.business_types import shared
from ground.clock import add_years, today
from ground.extensions import db
from ground.identifiers import make_id_number
from models import Application, Certificate, Notification, Person
from tests import factories as f
from reports.certificates import verification_token
from tests.lifecycle.conftest import run

_serial = itertools.count(500)
AGE_BLOCKED = {"initial", "change", "add_specialty", "renewal", "re_registration"}
NOT_AGE_BLOCKED = {"cancellation", "replacement", "info_change"}


def id_number_born(birth: date) -> str:
    return make_id_number("110101", birth, next(_serial) % 1000)


def registered_born(birth: date, **kwargs) -> tuple[str, int]:
    """A registered holder (building, a valid certificate) born on `birth`."""
    username, person_id = f.make_registered(f.make_enterprise(), **kwargs)
    db.session.get(Person, person_id).id_number = id_number_born(birth)
    db.session.commit()
    return username, person_id


def _registration(person_id):
    db.session.expire_all()
    return db.session.get(Person, person_id).registration


def _certificates(person_id) -> list[str]:
    return sorted(db.session.scalars(select(Certificate.status).where(Certificate.person_id == person_id)))


def test_the_registration_ends_on_the_day_the_holder_reaches_the_limit(ctx):
    limit = ctx_limit()
    birth = date(1963, 6, 15)
    username, person_id = registered_born(birth)
    birthday = date(birth.year + limit, 6, 15)

    run("lifecycle-age-limit", birthday - timedelta(days=1))
    assert _registration(person_id).status == "active"

    figures = run("lifecycle-age-limit", birthday)
    assert figures["registrations_ended"] >= 1
    registration = _registration(person_id)
    assert (registration.status, registration.lapse_reason, registration.lapsed_on) == ("lapsed", "over_age", birthday)
    assert {s.status for s in registration.specialties} == {"lapsed"}
    assert _certificates(person_id) == ["expired"]
    certificate = db.session.scalar(select(Certificate).where(Certificate.person_id == person_id))
    assert (certificate.revoked_on, certificate.revoke_reason) == (birthday, "over_age")
    kinds = db.session.scalars(select(Notification.kind).where(Notification.user_id == f.user(username).id)).all()
    assert kinds == ["registration_lapsed"]

    # A late run (nights missed) dates the end on the birthday, and only once.
    run("lifecycle-age-limit", birthday + timedelta(days=3))
    assert _registration(person_id).lapsed_on == birthday


def test_a_late_run_dates_the_end_on_the_birthday(ctx):
    limit = ctx_limit()
    birth = date(1962, 1, 20)
    _, person_id = registered_born(birth)
    run("lifecycle-age-limit", date(birth.year + limit, 2, 2))
    assert _registration(person_id).lapsed_on == date(birth.year + limit, 1, 20)


def test_a_29_february_birthday_reaches_the_limit_on_1_march(ctx):
    limit = ctx_limit()
    birth = date(1964, 2, 29)
    _, person_id = registered_born(birth)
    year = birth.year + limit
    assert shared.age_limit_day(db.session.get(Person, person_id), shared.configured_limits()) == (
        date(year, 2, 29) if year % 4 == 0 else date(year, 3, 1))

    run("lifecycle-age-limit", date(year, 2, 28))
    assert _registration(person_id).status == "active"
    run("lifecycle-age-limit", date(year, 3, 1))
    registration = _registration(person_id)
    assert (registration.status, registration.lapsed_on) == ("lapsed", date(year, 3, 1))


def ctx_limit() -> int:
    return shared.configured_limits()["AGE_LIMIT"]


def _has_age_reason(person, business_type) -> bool:
    return any("years of age" in str(reason) for reason in rules.preconditions(person, business_type))


def test_over_the_limit_only_cancellation_replacement_and_information_change_stay_open(ctx):
    # Over the limit, before the nightly job ended the registration: the certificate is still valid.
    birth = add_years(today(), -ctx_limit()) - timedelta(days=3)
    _, person_id = registered_born(birth)
    person = db.session.get(Person, person_id)
    assert shared.is_active(person.registration) and shared.has_valid_certificate(person.registration)
    for business_type in AGE_BLOCKED:
        assert _has_age_reason(person, business_type), business_type
    for business_type in NOT_AGE_BLOCKED:
        assert not _has_age_reason(person, business_type), business_type
    assert rules.preconditions(person, "replacement") == []
    assert rules.preconditions(person, "cancellation") == []

    # The day before the limit nothing is blocked by age.
    _, younger_id = registered_born(add_years(today(), -ctx_limit()) + timedelta(days=1))
    younger = db.session.get(Person, younger_id)
    assert not any(_has_age_reason(younger, business_type) for business_type in AGE_BLOCKED | NOT_AGE_BLOCKED)


def test_over_the_limit_a_cancellation_and_a_replacement_go_through(ctx):
    staff = f.Staff()
    birth = add_years(today(), -ctx_limit()) - timedelta(days=10)
    username, person_id = registered_born(birth)
    replacement = f.make_application(username, "replacement", reason="lost")
    staff.take(replacement, username, "submit", "approve")
    assert db.session.get(Application, replacement).state == "completed"
    assert _certificates(person_id) == ["replaced", "valid"]

    other, other_id = registered_born(birth - timedelta(days=30))
    cancellation = f.make_application(other, "cancellation", reason="contract_ended")
    staff.take(cancellation, other, "submit", "confirm", "pass", "approve")
    assert db.session.get(Application, cancellation).state == "announce_pending"


def test_a_new_id_number_past_the_limit_ends_the_registration_at_approval(ctx):
    staff = f.Staff()
    username, person_id = registered_born(add_years(today(), -40))
    new_id = id_number_born(add_years(today(), -70))
    application = f.make_application(username, "info_change", new_id_number=new_id)
    staff.take(application, username, "submit", "pass", "approve")

    assert db.session.get(Application, application).state == "completed"
    person = db.session.get(Person, person_id)
    assert person.id_number == new_id
    registration = _registration(person_id)
    assert (registration.status, registration.lapse_reason, registration.lapsed_on) == (
        "lapsed", "over_age", today())
    assert _certificates(person_id) == ["expired"]  # no new certificate issued
    kinds = db.session.scalars(select(Notification.kind).where(Notification.user_id == f.user(username).id)).all()
    assert "registration_lapsed" in kinds
    # The nightly job finds nothing more to do.
    run("lifecycle-age-limit", today())
    assert _registration(person_id).lapsed_on == today()


def test_a_name_change_over_the_limit_prints_no_certificate(ctx):
    """Over the limit before the nightly job ran: the approval ends the registration (dated as the job would)."""
    staff = f.Staff()
    birth = add_years(today(), -ctx_limit()) - timedelta(days=2)
    username, person_id = registered_born(birth)
    application = f.make_application(username, "info_change", new_name="新名字")
    staff.take(application, username, "submit", "pass", "approve")
    assert db.session.get(Application, application).state == "completed"
    registration = _registration(person_id)
    assert (registration.status, registration.lapsed_on) == ("lapsed", today() - timedelta(days=2))
    assert _certificates(person_id) == ["expired"]
    assert db.session.get(Person, person_id).name == "新名字"


def test_the_verification_page_says_the_registration_ended_at_the_age_limit(app, client):
    with app.app_context():  # not around the requests (tests/conftest.py)
        limit = ctx_limit()
        birth = add_years(today(), -limit) + timedelta(days=2)  # reaches the limit in two days
        _, person_id = registered_born(birth)
        certificate = db.session.scalar(select(Certificate).where(Certificate.person_id == person_id))
        token = verification_token(certificate, certificate.valid_until)
        birthday = shared.age_limit_day(db.session.get(Person, person_id), {"AGE_LIMIT": limit})
        run("lifecycle-age-limit", birthday)
    client.get("/lang/zh")
    page = client.get(f"/verify/{token}").get_data(as_text=True)
    assert "注册已失效" in page and "该证书在注册信息中" not in page
    assert f"该注册已于 {birthday.isoformat()} 失效：持证人已达到年龄上限。" in page
