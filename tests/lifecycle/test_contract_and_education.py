"""Through the engine: the labour contract must run RULES CONTRACT_MIN_MONTHS after the submission day and still
run at approval; continuing-education hours per validity period are checked at submission and again at approval
(renewal, and initial registration / re-registration with a qualification older than QUALIFICATION_FRESH_YEARS)."""
from datetime import date, timedelta

import pytest
from sqlalchemy import delete

from app import rules, workflow
from app.business_types import shared
from ground.clock import add_years
from ground.extensions import db
from models import Application, ContinuingEducation, Person
from tests import factories as f

MONDAY = date(2031, 3, 3)


def _guard_reasons(application_id, action, username) -> list[str]:
    with pytest.raises(workflow.GuardFailed) as refused:
        f.move(application_id, action, username)
    return [str(r) for r in refused.value.reasons]


def _state(application_id) -> str:
    db.session.expire_all()
    return db.session.get(Application, application_id).state


# --- the contract -------------------------------------------------------------------------------------------
def test_a_30_day_contract_is_refused_at_submission_with_the_day_it_must_reach(ctx, clock):
    clock.set(MONDAY)
    username, _person = f.make_applicant()
    short = f.make_application(username, "initial", enterprise_id=f.make_enterprise(),
                               contract_start=MONDAY - timedelta(days=335), contract_end=MONDAY + timedelta(days=30))
    assert _guard_reasons(short, "submit", username) == [
        "The labour contract must run at least 12 months after submission, until 2032-03-03 or later; it ends on "
        "2031-04-02."]
    assert _state(short) == "draft"
    db.session.get(Application, short).contract_end = date(2032, 3, 3)  # exactly 12 months: enough
    db.session.commit()
    f.move(short, "submit", username)
    assert _state(short) == "enterprise_review"


def test_a_contract_that_ended_during_review_blocks_approval(ctx, clock):
    staff = f.Staff()
    clock.set(MONDAY)
    username, _person = f.make_applicant()
    application = f.make_application(username, "initial", enterprise_id=f.make_enterprise(),
                                     contract_start=MONDAY - timedelta(days=30), contract_end=date(2032, 4, 30))
    staff.take(application, username, "submit", "confirm", "pass")
    clock.set(date(2032, 5, 10))  # a very long review: the contract ended meanwhile
    reasons = _guard_reasons(application, "approve", staff.ministry)
    assert reasons == ["The labour contract ended on 2032-04-30; enter the current contract."]
    assert _state(application) == "ministry_review"
    option = next(o for o in workflow.available(db.session.get(Application, application), f.user(staff.ministry))
                  if o.transition.action == "approve")
    assert not option.allowed and [str(r) for r in option.reasons] == reasons  # shown beside the button
    f.move(application, "return", staff.ministry)  # the applicant enters the current contract
    assert _state(application) == "returned"


def test_approval_counts_the_minimum_from_the_submission_day(ctx, clock):
    """Review time is not held against the applicant: at approval the 12 months count from submission."""
    staff = f.Staff()
    clock.set(MONDAY)
    username, _person = f.make_applicant()
    application = f.make_application(username, "initial", enterprise_id=f.make_enterprise(),
                                     contract_start=MONDAY - timedelta(days=30), contract_end=date(2032, 3, 10))
    staff.take(application, username, "submit", "confirm", "pass")
    clock.set(MONDAY + timedelta(days=40))  # less than 12 months left now, but the contract still runs
    staff.take(application, username, "approve")
    assert _state(application) == "announce_pending"


# --- continuing education -----------------------------------------------------------------------------------
def _renewal_holder(clock, valid_until):
    """A holder of building valid until `valid_until` (from three years before), the clock in its window."""
    username, person_id = f.make_registered(f.make_enterprise(), expires_in_days=10)
    held = db.session.get(Person, person_id).registration.specialties[0]
    held.valid_from, held.valid_until = add_years(valid_until, -3), valid_until
    db.session.commit()
    return username, person_id


def test_renewal_names_the_missing_hours_at_the_form_submission_and_approval(ctx, clock):
    staff = f.Staff()
    clock.set(MONDAY)
    valid_until = MONDAY + timedelta(days=20)
    username, person_id = _renewal_holder(clock, valid_until)
    f.give_hours(person_id, compulsory=48, elective=30, completed_on=MONDAY - timedelta(days=400))
    f.give_hours(person_id, compulsory=60, elective=60, completed_on=add_years(valid_until, -3) - timedelta(days=1))
    missing = ("Continuing education in Building Construction for 2028-03-23 to 2031-03-23: 12 compulsory and 30 "
               "elective hours are still missing.")
    person = db.session.get(Person, person_id)
    assert [str(r) for r in rules.preconditions(person, "renewal")][:1] == [missing]  # the form says it first
    application = f.make_application(username, "renewal")
    reasons = _guard_reasons(application, "submit", username)
    assert reasons == [missing, str(shared.EDUCATION_HINT)]  # the hours of the period before do not count
    f.give_hours(person_id, compulsory=12, elective=0, completed_on=MONDAY - timedelta(days=2))
    f.give_hours(person_id, compulsory=0, elective=30, specialty="building", completed_on=MONDAY - timedelta(days=1))
    assert rules.preconditions(db.session.get(Person, person_id), "renewal") == []
    staff.take(application, username, "submit", "confirm", "pass")
    # A record withdrawn during review (the provider's list corrected): approval checks again.
    db.session.execute(delete(ContinuingEducation).where(ContinuingEducation.person_id == person_id,
                                                         ContinuingEducation.specialty_code == "building"))
    db.session.commit()
    assert _guard_reasons(application, "approve", staff.ministry) == [
        "Continuing education in Building Construction for 2028-03-23 to 2031-03-23: 30 elective hours are still "
        "missing.", str(shared.EDUCATION_HINT)]
    f.give_hours(person_id, compulsory=0, elective=30, completed_on=MONDAY)
    staff.take(application, username, "approve")
    assert _state(application) == "completed"


def test_initial_registration_with_an_old_qualification_counts_the_last_three_years(ctx, clock):
    staff = f.Staff()
    clock.set(MONDAY)
    username, person_id = f.make_applicant(qualifications=(("building", 5),))
    f.give_hours(person_id, compulsory=60, elective=60, completed_on=date(2028, 3, 3))  # a day too early
    application = f.make_application(username, "initial", enterprise_id=f.make_enterprise())
    assert _guard_reasons(application, "submit", username)[0] == (
        "Continuing education in Building Construction for 2028-03-04 to 2031-03-03: 60 compulsory and 60 elective "
        "hours are still missing.")
    f.give_hours(person_id, compulsory=60, elective=60, specialty="building", completed_on=date(2028, 3, 4))
    staff.take(application, username, "submit", "confirm", "pass", "approve")
    assert _state(application) == "announce_pending"


def test_records_of_another_specialty_do_not_count(ctx, clock):
    clock.set(MONDAY)
    username, person_id = f.make_applicant(qualifications=(("building", 5),))
    f.give_hours(person_id, compulsory=60, elective=60, specialty="mining")
    application = f.make_application(username, "initial", enterprise_id=f.make_enterprise())
    assert "60 compulsory and 60 elective hours are still missing" in _guard_reasons(application, "submit",
                                                                                      username)[0]
