"""Conflict checks (挂证, item 8 of issue 17): the social-insurance sources, the nightly match (new, still open,
resolved; twice changes nothing twice), the payments import's row report, and what reviewers may see."""
from datetime import date

import pytest
from sqlalchemy import select

from app import conflicts, workflow
from app.services import social_insurance
from ground.extensions import db
from models import Enterprise, InsuranceConflict, Person, Registration, SocialInsuranceRecord
from tests import factories as f
from tests.lifecycle.conftest import run

DAY = date(2027, 6, 15)
MONTH = "2027-05"  # one month back (RULES["SOCIAL_INSURANCE_MONTH_LAG"])


@pytest.fixture
def csv_source(app, monkeypatch):
    monkeypatch.setitem(app.config, "SOCIAL_INSURANCE_SOURCE", "app.services.social_insurance.CsvSource")


def _person(person_id) -> Person:
    return db.session.get(Person, person_id)


def _code(enterprise_id) -> str:
    return db.session.get(Enterprise, enterprise_id).credit_code


def _pay(person_id, enterprise_id, month=MONTH):
    db.session.add(SocialInsuranceRecord(id_number=_person(person_id).id_number, credit_code=_code(enterprise_id),
                                         month=month))
    db.session.commit()


def _conflicts(person_id) -> list[InsuranceConflict]:
    db.session.expire_all()
    return list(db.session.scalars(select(InsuranceConflict).where(InsuranceConflict.person_id == person_id)
                                   .order_by(InsuranceConflict.id)))


def test_month_for_counts_back_across_the_year():
    assert conflicts.month_for(date(2027, 1, 5), 1) == "2026-12"
    assert conflicts.month_for(date(2027, 6, 15), 0) == "2027-06"


def test_a_mismatch_is_recorded_kept_and_resolved(ctx, clock, csv_source):
    clock.set(DAY)
    employer, payer = f.make_enterprise(), f.make_enterprise("31")
    _username, person_id = f.make_registered(employer)
    _other, honest_id = f.make_registered(employer)
    _silent, unknown_id = f.make_registered(employer)  # the source knows nothing of this one
    _pay(person_id, payer)
    _pay(honest_id, employer)

    run("conflict-check", DAY)
    [found] = _conflicts(person_id)
    assert (found.enterprise_id, found.paying_credit_code, found.first_seen, found.last_seen, found.resolved_on) == \
        (employer, _code(payer), DAY, DAY, None)
    assert found.province_code == "11" and found.paying_name == db.session.get(Enterprise, payer).name
    assert _conflicts(honest_id) == [] and _conflicts(unknown_id) == []

    run("conflict-check", DAY)  # twice the same day: nothing changes
    assert [(c.first_seen, c.last_seen, c.resolved_on) for c in _conflicts(person_id)] == [(DAY, DAY, None)]

    later = date(2027, 7, 15)
    clock.set(later)
    _pay(person_id, payer, "2027-06")
    run("conflict-check", later)
    assert [(c.first_seen, c.last_seen, c.month) for c in _conflicts(person_id)] == [(DAY, later, "2027-06")]

    resolved_day = date(2027, 8, 15)
    clock.set(resolved_day)
    _pay(person_id, employer, "2027-07")  # the registered employer pays now, nobody else
    run("conflict-check", resolved_day)
    assert [c.resolved_on for c in _conflicts(person_id)] == [resolved_day]
    run("conflict-check", resolved_day)
    assert [c.resolved_on for c in _conflicts(person_id)] == [resolved_day]


def test_a_registration_no_longer_active_ends_its_conflict(ctx, clock, csv_source):
    clock.set(DAY)
    employer, payer = f.make_enterprise(), f.make_enterprise()
    _username, person_id = f.make_registered(employer)
    _pay(person_id, payer)
    run("conflict-check", DAY)
    assert _conflicts(person_id)[0].resolved_on is None
    db.session.scalar(select(Registration).where(Registration.person_id == person_id)).status = "cancelled"
    db.session.commit()
    run("conflict-check", DAY)
    assert _conflicts(person_id)[0].resolved_on == DAY


def test_the_simulator_is_deterministic(ctx, app, monkeypatch):
    monkeypatch.setitem(app.config, "SOCIAL_INSURANCE_SOURCE", "app.services.social_insurance.SimulatorSource")
    monkeypatch.setitem(app.config, "SOCIAL_INSURANCE_SIMULATOR_EVERY", 1)  # everyone paid elsewhere
    employer = f.make_enterprise()
    f.make_enterprise()
    _u, person_id = f.make_registered(employer)
    id_number = _person(person_id).id_number
    first = social_insurance.source().payers([id_number], MONTH)
    assert first == social_insurance.source().payers([id_number], MONTH)
    assert first[id_number] and _code(employer) not in first[id_number]
    monkeypatch.setitem(app.config, "SOCIAL_INSURANCE_SIMULATOR_EVERY", 0)  # nobody
    assert social_insurance.source().payers([id_number], MONTH) == {id_number: {_code(employer)}}


def test_the_payments_import_reports_bad_rows(ctx, clock):
    clock.set(DAY)
    employer = f.make_enterprise()
    _u, person_id = f.make_registered(employer)
    id_number, code = _person(person_id).id_number, _code(employer)
    body = ("身份证号,缴费单位统一社会信用代码,缴费月份\n"
            f"{id_number},{code},2027-05\n"
            f"{id_number},{code},2027年5月\n"  # the same payment again: unchanged
            f"123,{code},2027-05\n"  # bad ID number
            f"{id_number},{code},2099-01\n"  # future month
            f"{id_number},{code},五月\n")  # not a month
    report = social_insurance.import_payments(body.encode("utf-8"), "si.csv", None)
    assert report.counts == {"rows": 5, "accepted": 1, "refused": 3, "unchanged": 1}
    reasons = " ".join(r[3] for r in report.rows if r[2] == "refused")
    assert "18 characters" in reasons and "in the future" in reasons and "not understood" in reasons
    assert id_number not in report.to_csv()  # ID numbers masked in the report


def test_reviewers_see_their_scope_only(ctx, clock, csv_source):
    clock.set(DAY)
    staff = f.Staff()
    beijing, shanghai, payer = f.make_enterprise("11"), f.make_enterprise("31"), f.make_enterprise("44")
    _u1, in_beijing = f.make_registered(beijing)
    _u2, in_shanghai = f.make_registered(shanghai)
    _pay(in_beijing, payer)
    _pay(in_shanghai, payer)
    run("conflict-check", DAY)
    province = f.user(staff.province("11"))
    seen = {c.person_id for c, _days in conflicts.query(province, DAY, conflicts.Filters(q="")).rows}
    assert in_beijing in seen and in_shanghai not in seen
    everyone = {c.person_id for c, _days in conflicts.query(f.user(staff.ministry), DAY).rows}
    assert {in_beijing, in_shanghai} <= everyone
    by_name = conflicts.query(f.user(staff.ministry), DAY, conflicts.Filters(q=_person(in_shanghai).name))
    assert in_shanghai in {c.person_id for c, _ in by_name.rows}
    for role in ("enterprise", "applicant"):
        username = staff.enterprise(beijing) if role == "enterprise" else _u1
        with pytest.raises(workflow.Forbidden):
            conflicts.query(f.user(username), DAY)
