"""Penalty and credit records and the refusal grounds of MOC Order No. 153 art. 15 (app/penalties.py): each ground
refuses with its reason and the day from which the person may apply again, before the form, at submission and at
approval; recording checks its input, keeps the document, tells the person."""
from datetime import date, timedelta

import pytest

from app import penalties, rules, workflow
from ground.clock import add_years, today
from ground.extensions import db
from models import Application, AuditLog, Notification, PenaltyRecord, Person, Registration
from tests import factories as f

PDF = b"%PDF-1.4\n% decision\n%%EOF\n"


@pytest.fixture
def staff(ctx):
    return f.Staff()


def values(**overrides):
    base = {"kind": "administrative_penalty", "ground_code": "practice_violation", "ground_text": "",
            "decision_number": "京建罚〔2026〕1号", "decided_on": today(), "period_from": None, "period_to": None,
            "practice_related": False, "public": True}
    base.update(overrides)
    return base


def enter(username, person_id, **overrides) -> int:
    """A record entered by `username` (a province or ministry account), committed."""
    rec = penalties.record(f.user(username), db.session.get(Person, person_id), values(**overrides), "decision.pdf",
                           PDF)
    db.session.commit()
    return rec.id


def refused(app_id, action, username):
    with pytest.raises(workflow.GuardFailed) as caught:
        f.move(app_id, action, username)
    db.session.rollback()
    return [str(r) for r in caught.value.reasons]


def cancelled(staff, username, reason):
    cancel = f.make_application(username, "cancellation", reason=reason)
    staff.take(cancel, username, "submit", "confirm", "pass", "approve")
    f.publish_alone(cancel, staff.ministry)


# --- certificate revoked less than REVOCATION_BAR_YEARS ago -------------------------------------
def test_re_registration_the_day_of_a_cancellation_revoked_by_law_is_refused_with_the_day_to_apply_again(staff):
    """The issue's failing example: re-registration was accepted the same day as a cancellation "revoked by law"."""
    enterprise = f.make_enterprise("11")
    username, person_id, _ = f.register(staff, enterprise)
    cancelled(staff, username, "revoked_by_law")
    again = add_years(today(), 2).isoformat()

    person = db.session.get(Person, person_id)
    before_form = [str(r) for r in rules.preconditions(person, "re_registration")]
    assert any("revoked by law" in r and again in r for r in before_form)
    app_id = f.make_application(username, "re_registration", enterprise_id=enterprise)
    reasons = refused(app_id, "submit", username)
    assert f"The registration was cancelled on {today().isoformat()}: revoked by law; registration may be applied " \
           f"for again from {again}." in reasons
    assert db.session.get(Application, app_id).state == "draft"


def test_a_cancellation_for_another_reason_does_not_bar(staff):
    enterprise = f.make_enterprise("11")
    username, person_id, _ = f.register(staff, enterprise)
    cancelled(staff, username, "contract_ended")
    app_id = f.make_application(username, "re_registration", enterprise_id=enterprise)
    assert f.move(app_id, "submit", username) == "enterprise_review"


def test_revocation_record_bars_for_two_years_from_the_decision(staff):
    username, person_id = f.make_applicant()
    decided = today() - timedelta(days=30)
    enter(staff.ministry, person_id, kind="revoked", ground_code="fraud_registration", decided_on=decided,
          decision_number="建罚〔2026〕7号")
    again = add_years(decided, 2)
    app_id = f.make_application(username, "initial", enterprise_id=f.make_enterprise("11"))
    assert (f"The registration certificate was revoked on {decided.isoformat()} (decision 建罚〔2026〕7号); "
            f"registration may be applied for again from {again.isoformat()}.") in refused(app_id, "submit", username)


def test_revocation_older_than_the_bar_no_longer_refuses(staff, app):
    username, person_id = f.make_applicant()
    enter(staff.ministry, person_id, kind="revoked", decided_on=add_years(today(), -2))
    assert penalties.refusal_reasons(db.session.get(Person, person_id)) == []
    app.config["RULES"]["REVOCATION_BAR_YEARS"] = 3  # configurable
    try:
        assert len(penalties.refusal_reasons(db.session.get(Person, person_id))) == 1
    finally:
        app.config["RULES"]["REVOCATION_BAR_YEARS"] = 2


def test_a_revocation_recorded_during_review_stops_approval(staff):
    username, person_id, app_id = f.initial_application(staff, "11", "submit", "confirm", "pass")
    enter(staff.province("11"), person_id, kind="revoked", decision_number="京建罚〔2026〕9号")
    reasons = refused(app_id, "approve", staff.ministry)
    assert any("decision 京建罚〔2026〕9号" in r for r in reasons)
    # The ministry refuses with the matching coded reason.
    assert f.move(app_id, "refuse", staff.ministry, reason="revoked_recently") == "refused"


# --- criminal sentences ------------------------------------------------------------------------
def test_criminal_sentence_being_served_refuses(staff):
    username, person_id = f.make_applicant()
    end = today() + timedelta(days=200)
    enter(staff.ministry, person_id, kind="criminal_sentence", ground_code="criminal_judgment",
          period_from=today() - timedelta(days=100), period_to=end, decision_number="(2026)京0105刑初1号",
          practice_related=True)
    app_id = f.make_application(username, "initial", enterprise_id=f.make_enterprise("11"))
    assert (f"A criminal sentence (decision (2026)京0105刑初1号) is being served until {end.isoformat()}; registration "
            f"may be applied for again from {add_years(end, 5).isoformat()}.") in refused(app_id, "submit", username)


def test_criminal_sentence_without_an_end_refuses(staff):
    username, person_id = f.make_applicant()
    enter(staff.ministry, person_id, kind="criminal_sentence", period_from=today() - timedelta(days=10),
          decision_number="刑1号")
    reasons = [str(r) for r in penalties.refusal_reasons(db.session.get(Person, person_id))]
    assert reasons == ["A criminal sentence (decision 刑1号) is being served; registration may be applied for 3 years "
                       "after it has been served."]


@pytest.mark.parametrize("related, years", [(True, 5), (False, 3)])
def test_served_sentence_bars_5_years_for_practice_crimes_and_3_otherwise(staff, related, years):
    username, person_id = f.make_applicant()
    served = add_years(today(), -(years - 1))
    enter(staff.ministry, person_id, kind="criminal_sentence", period_from=served - timedelta(days=365),
          period_to=served, practice_related=related, decision_number="刑2号")
    person = db.session.get(Person, person_id)
    [reason] = [str(r) for r in penalties.refusal_reasons(person)]
    assert f"was served on {served.isoformat()}, less than {years} years ago" in reason
    assert add_years(served, years).isoformat() in reason
    # A day after the bar ends, nothing refuses.
    [bar] = penalties.person_bars(person)
    assert penalties.person_bars(person, day=bar.until) == []


def test_the_criminal_ground_applies_to_renewal_but_not_to_cancellation(staff):
    enterprise = f.make_enterprise("11")
    username, person_id = f.make_registered(enterprise, expires_in_days=20)
    enter(staff.province("11"), person_id, kind="criminal_sentence", period_from=today(), decision_number="刑3号")
    renewal = f.make_application(username, "renewal", continuing_education=True)
    assert any("刑3号" in r for r in refused(renewal, "submit", username))
    db.session.delete(db.session.get(Application, renewal))
    db.session.commit()
    cancel = f.make_application(username, "cancellation", reason="contract_ended")
    assert f.move(cancel, "submit", username) == "enterprise_review"


def test_administrative_penalties_and_credit_records_are_no_refusal_ground(staff):
    username, person_id = f.make_applicant()
    enter(staff.ministry, person_id, kind="administrative_penalty")
    enter(staff.ministry, person_id, kind="credit_record", ground_code="credit_rules", decision_number="信用1号")
    app_id = f.make_application(username, "initial", enterprise_id=f.make_enterprise("11"))
    assert f.move(app_id, "submit", username) == "enterprise_review"


# --- applying in two units -----------------------------------------------------------------------
def two_drafts(username, first, second) -> tuple[int, int]:
    """An application naming `first` under the enterprise's review beside a draft naming `second` (the one-open
    rule of the form would not let the draft start: a second device, the API, or data from before it)."""
    other = f.make_application(username, "initial", enterprise_id=first)
    f.move(other, "submit", username)
    f.set_state(other, "withdrawn")
    app_id = f.make_application(username, "initial", enterprise_id=second)
    f.set_state(other, "enterprise_review")
    return other, app_id


def test_applying_in_two_units_names_the_other_application(staff):
    username, person_id = f.make_applicant()
    first, second = f.make_enterprise("11"), f.make_enterprise("11")
    other, app_id = two_drafts(username, first, second)
    number = db.session.get(Application, other).number
    reasons = refused(app_id, "submit", username)
    first_name = db.session.get(Application, other).enterprise.name
    assert f"Applying for registration in two units: application {number} names {first_name}." in reasons
    assert not any("only one may be open" in r for r in reasons)  # said once, as the legal ground


def test_the_same_unit_twice_is_one_at_a_time_not_two_units(staff):
    username, person_id = f.make_applicant()
    enterprise = f.make_enterprise("11")
    other, app_id = two_drafts(username, enterprise, enterprise)
    reasons = refused(app_id, "submit", username)
    assert any("only one may be open" in r for r in reasons)
    assert not any("two units" in r for r in reasons)


def test_registered_elsewhere_at_approval_is_applying_in_two_units(staff):
    """An initial application reaching approval while the person got registered at another unit."""
    username, person_id, app_id = f.initial_application(staff, "11", "submit", "confirm", "pass")
    other = f.make_enterprise("31")
    registration = Registration(person_id=person_id, enterprise_id=other, status="active", initial_province_code="31",
                                registered_on=today(), number_digits=f"9{person_id:018d}",
                                number=f"沪9{person_id:018d}")
    db.session.add(registration)
    db.session.commit()
    reasons = refused(app_id, "approve", staff.ministry)
    assert any("Applying for registration in two units: the person is registered at" in r for r in reasons)


def test_a_change_of_employer_is_not_two_units(staff):
    enterprise, new = f.make_enterprise("11"), f.make_enterprise("11")
    username, person_id = f.make_registered(enterprise, temporary=True)
    app_id = f.make_application(username, "change", enterprise_id=new)
    assert f.move(app_id, "submit", username) == "enterprise_review"


# --- recording ------------------------------------------------------------------------------------
def test_record_keeps_the_document_audits_and_tells_the_person(staff, app):
    username, person_id = f.make_registered(f.make_enterprise("11"))
    rec_id = enter(staff.province("11"), person_id, kind="revoked", ground_code="other",
                   ground_text="《注册建造师管理规定》第三十三条")
    rec = db.session.get(PenaltyRecord, rec_id)
    assert rec.authority_province_code == "11" and rec.document_content_type == "application/pdf"
    with penalties.open_document(rec) as handle:
        assert handle.read() == PDF
    assert db.session.query(AuditLog).filter_by(action="penalty.record", object_id=str(rec_id)).count() == 1
    assert db.session.query(AuditLog).filter_by(action="create", object_type="PenaltyRecord").count() >= 1
    [message] = db.session.query(Notification).filter_by(kind="penalty_recorded",
                                                         user_id=f.user(username).id).all()
    assert message.subject == f"penalty:{rec_id}" and message.params["penalty_kind"] == "revoked"


def test_the_ministry_records_as_the_ministry(staff):
    username, person_id = f.make_applicant()
    rec = db.session.get(PenaltyRecord, enter(staff.ministry, person_id))
    assert rec.authority_province_code is None and "Ministry" in str(rec.authority_label)


@pytest.mark.parametrize("overrides, words", [
    ({"kind": "fine"}, "Choose the kind of record."),
    ({"ground_code": "whatever"}, "Choose the legal ground."),
    ({"ground_code": "other", "ground_text": " "}, "Name the law or regulation and its article."),
    ({"decision_number": "  "}, "Enter the decision number."),
    ({"decided_on": None}, "Enter the decision date."),
    ({"decided_on": today() + timedelta(days=1)}, "The decision date cannot be in the future."),
    ({"period_from": date(2026, 5, 1), "period_to": date(2026, 4, 1)}, "The period cannot end before it starts."),
    ({"kind": "criminal_sentence"}, "A criminal sentence needs the day its execution began."),
])
def test_bad_input_says_why_and_records_nothing(staff, overrides, words):
    username, person_id = f.make_applicant()
    with pytest.raises(penalties.PenaltyError) as caught:
        penalties.record(f.user(staff.ministry), db.session.get(Person, person_id), values(**overrides), "d.pdf", PDF)
    assert words in str(caught.value.message)
    db.session.rollback()
    assert db.session.query(PenaltyRecord).filter_by(person_id=person_id).count() == 0


def test_the_document_is_required_and_must_be_a_pdf_or_image(staff):
    username, person_id = f.make_applicant()
    person, ministry = db.session.get(Person, person_id), f.user(staff.ministry)
    with pytest.raises(penalties.PenaltyError, match="Attach the decision document"):
        penalties.record(ministry, person, values(), "d.pdf", b"")
    with pytest.raises(penalties.PenaltyError, match="PDF, JPEG or PNG"):
        penalties.record(ministry, person, values(), "d.exe", b"MZ\x90\x00")
    db.session.rollback()


def test_a_province_records_only_for_persons_in_its_scope(staff):
    shanghai = f.make_enterprise("31")
    username, person_id = f.make_registered(shanghai)
    person = db.session.get(Person, person_id)
    with pytest.raises(penalties.PenaltyError, match="area of responsibility"):
        penalties.record(f.user(staff.province("11")), person, values(), "d.pdf", PDF)
    db.session.rollback()
    assert enter(staff.province("31"), person_id)  # its own province's registrant
    with pytest.raises(penalties.PenaltyError, match="provincial authority or the ministry"):
        penalties.record(f.user(username), person, values(), "d.pdf", PDF)
    db.session.rollback()


def test_public_records_are_the_public_ones_within_the_publication_years(staff, app):
    username, person_id = f.make_applicant()
    shown = enter(staff.ministry, person_id, decided_on=today() - timedelta(days=10))
    enter(staff.ministry, person_id, public=False, decision_number="内部1号")
    enter(staff.ministry, person_id, decided_on=add_years(today(), -3) - timedelta(days=1), decision_number="旧1号")
    assert [r.id for r in penalties.public_records(person_id)] == [shown]
