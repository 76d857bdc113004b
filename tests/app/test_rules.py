"""Eligibility rules and field checks: each refusal names its reason; identifiers via python-stdnum."""
from datetime import date, timedelta

import pytest

from app import rules, workflow
from ground.clock import add_years, today
from ground.identifiers import make_credit_code, make_id_number
from ground.extensions import db
from ground.identifiers import InvalidIdentifier, clean_credit_code, clean_id_number, clean_mobile, mask_id_number
from app.services.workdays import add_working_days, is_workday, working_days_between
from models import Application, Person, Registration, RegistrationSpecialty
from tests import factories as f


# --- identifiers -------------------------------------------------------------------------------
def test_id_number_normalises_lower_case_x_and_derives_birth_and_gender():
    number = next(n for n in (make_id_number("110101", date(1980, 5, 17), s) for s in range(1000)) if n.endswith("X"))
    assert clean_id_number(number.lower()) == number
    assert clean_id_number(f"  {number[:6]} {number[6:]} ") == number
    person = Person(id_number=number.lower(), name="甲")
    assert person.id_number == number and person.birth_date == date(1980, 5, 17)
    assert person.gender == ("M" if int(number[16]) % 2 else "F")
    assert mask_id_number(number) == number[:6] + "********" + number[14:]  # the birth date hidden


def _with_check(body17):
    from stdnum.cn import ric

    return body17 + ric.calc_check_digit(body17 + "0")


def _wrong_check(body17):
    right = _with_check(body17)[-1]
    return body17 + ("1" if right != "1" else "2")


@pytest.mark.parametrize("bad, words", [
    ("11010119800517001", "18 characters"),
    (_wrong_check("11010119800517001"), "check character"),
    (_with_check("11010119801317001"), "impossible"),  # month 13
    (_with_check("99010119800517001"), "impossible"),  # no such region
    ("", "Enter"),
])
def test_invalid_id_numbers_say_why(bad, words):
    with pytest.raises(InvalidIdentifier) as caught:
        clean_id_number(bad)
    assert words in str(caught.value)


def test_credit_code_and_mobile():
    code = make_credit_code("110105", 12345678)
    assert clean_credit_code(code.lower()) == code
    with pytest.raises(InvalidIdentifier, match="check character"):
        clean_credit_code(code[:-1] + ("0" if code[-1] != "0" else "1"))
    with pytest.raises(InvalidIdentifier, match="18 characters"):
        clean_credit_code(code[:-1])
    assert clean_mobile("139 1234-5678") == "13912345678"
    for bad in ("2391234567", "1391234567", "139123456789"):
        with pytest.raises(InvalidIdentifier):
            clean_mobile(bad)


# --- working days ------------------------------------------------------------------------------
def test_working_days_follow_chinese_holidays_and_make_up_days():
    assert not is_workday(date(2026, 10, 1))  # National Day
    assert is_workday(date(2026, 9, 30))
    # 2026-09-30 (Wed) + 1 working day skips the National Day week.
    assert add_working_days(date(2026, 9, 30), 1) > date(2026, 10, 7)
    assert working_days_between(date(2026, 11, 23), date(2026, 11, 30)) == 5
    # Years the calendar does not know yet fall back to Monday–Friday.
    assert add_working_days(date(2099, 1, 2), 1) == date(2099, 1, 5)


def test_stage_deadline_uses_configured_limits(app, ctx):
    from datetime import datetime

    from app.services.workdays import stage_deadline

    entered = datetime(2026, 11, 23, 2, 0)  # Monday 10:00 in China
    assert stage_deadline("initial", "province_review", entered) == add_working_days(date(2026, 11, 23), 20)
    assert stage_deadline("change", "province_review", entered) == add_working_days(date(2026, 11, 23), 5)
    assert stage_deadline("initial", "announce_pending", entered) is None
    app.config["STAGE_TIME_LIMITS"]["change"]["province_review"] = 7
    try:
        assert stage_deadline("change", "province_review", entered) == add_working_days(date(2026, 11, 23), 7)
    finally:
        app.config["STAGE_TIME_LIMITS"]["change"]["province_review"] = 5


# --- field checks ------------------------------------------------------------------------------
def test_check_fields(ctx):
    d = today()
    assert set(rules.check_fields("nonsense", {})) == {"business_type"}
    errors = rules.check_fields("initial", {"contract_start": d, "contract_end": d - timedelta(days=1),
                                            "specialties": ["building", "building", "bogus"]})
    assert set(errors) == {"enterprise", "contract_end", "specialties"}
    assert any("Unknown specialty: bogus" in str(m) for m in errors["specialties"])
    assert any("twice" in str(m) for m in errors["specialties"])
    assert set(rules.check_fields("cancellation", {"reason": "lost"})) == {"reason"}  # a replacement reason
    assert rules.check_fields("replacement", {"reason": "lost"}) == {}
    assert rules.check_fields("renewal", {"contract_start": d, "contract_end": d, "specialties": ["building"]}) == {}
    assert set(rules.check_fields("info_change", {})) == {"new_name"}
    assert set(rules.check_fields("info_change", {"new_id_number": "123"})) == {"new_id_number"}


# --- guards ------------------------------------------------------------------------------------
def _reasons(app_id):
    db.session.expire_all()
    return " ".join(str(r) for r in rules.ready_to_submit(db.session.get(Application, app_id)))


def test_submission_guards_name_each_missing_condition(ctx):
    enterprise = f.make_enterprise("11")
    username, person_id = f.make_applicant(verified=False, materials=False, qualifications=())
    app_id = f.make_application(username, "initial", enterprise_id=enterprise,
                                contract_end=today() - timedelta(days=1), contract_start=today() - timedelta(days=9))
    reasons = _reasons(app_id)
    for words in ("real-name", "1-inch ID photo", "signature", "contract ended", "No qualification certificate"):
        assert words in reasons, words


def test_age_limit_and_stale_qualification(ctx):
    enterprise = f.make_enterprise("11")
    old, _ = f.make_applicant(age=65)
    assert "65 years" in _reasons(f.make_application(old, "initial", enterprise_id=enterprise))
    young, _ = f.make_applicant(age=64)
    assert "years of age" not in _reasons(f.make_application(young, "initial", enterprise_id=enterprise))
    stale, _ = f.make_applicant(qualifications=(("building", 4),))
    app_id = f.make_application(stale, "initial", enterprise_id=enterprise)
    assert "60 compulsory and 60 elective hours are still missing" in _reasons(app_id)
    f.give_hours(f.user(stale).person_id, compulsory=48, elective=30)
    assert "12 compulsory and 30 elective hours are still missing" in _reasons(app_id)
    f.give_hours(f.user(stale).person_id, compulsory=12, elective=30)
    assert _reasons(app_id) == ""


def test_one_open_application_at_a_time(ctx):
    enterprise = f.make_enterprise("11")
    username, person_id = f.make_applicant()
    first = f.make_application(username, "initial", enterprise_id=enterprise)
    f.move(first, "submit", username)
    with pytest.raises(workflow.Conflict, match=db.session.get(Application, first).number):
        f.make_application(username, "initial", enterprise_id=enterprise)


def _registered(person_id, enterprise, valid_until, status="active"):
    registration = Registration(person_id=person_id, enterprise_id=enterprise, status=status,
                                initial_province_code="11", registered_on=today() - timedelta(days=900),
                                number_digits=f"9{person_id:015d}", number=f"京9{person_id:015d}")
    registration.specialties.append(RegistrationSpecialty(specialty_code="building", valid_from=today(),
                                                          valid_until=valid_until, status="active"))
    db.session.add(registration)
    db.session.commit()


def test_renewal_window(ctx, app):
    enterprise = f.make_enterprise("11")
    window = app.config["RULES"]["RENEWAL_WINDOW_DAYS"]
    for days_left, expected in ((window + 5, "opens on"), (window - 1, None), (-1, "expired")):
        username, person_id = f.make_applicant()
        _registered(person_id, enterprise, today() + timedelta(days=days_left))
        app_id = f.make_application(username, "renewal", continuing_education=True)
        reasons = _reasons(app_id)
        if expected:
            assert expected in reasons, (days_left, reasons)
        else:
            assert reasons == "", (days_left, reasons)


def test_type_preconditions(ctx):
    enterprise, other = f.make_enterprise("11"), f.make_enterprise("11")
    unregistered, _ = f.make_applicant()
    for btype, fields in (("change", {"enterprise_id": other}), ("cancellation", {"reason": "other"}),
                          ("replacement", {"reason": "lost"}), ("add_specialty", {}), ("re_registration",
                                                                                      {"enterprise_id": other})):
        app_id = f.make_application(unregistered, btype, **fields)
        assert _reasons(app_id), btype
        f.move(app_id, "withdraw", unregistered)
    registered, person_id = f.make_applicant()
    _registered(person_id, enterprise, add_years(today(), 2))
    same = f.make_application(registered, "change", enterprise_id=enterprise)
    assert "same as the current" in _reasons(same)
    f.move(same, "withdraw", registered)
    again = f.make_application(registered, "initial", enterprise_id=enterprise)
    assert "already registered" in _reasons(again)
    f.move(again, "withdraw", registered)
    add = f.make_application(registered, "add_specialty", specialties=("building",))
    assert "already registered in" in _reasons(add)
    f.move(add, "withdraw", registered)
    replace = f.make_application(registered, "replacement", reason="lost")
    assert "no valid certificate" in _reasons(replace)
