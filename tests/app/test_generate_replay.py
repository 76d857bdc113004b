"""Generated histories replayed through the engine's declarations (app/workflow.py, app/services/numbering.py,
app/services/validity.py): every transition log is a legal walk of the table for its business type, every
number parses in the engine's format with counters past it, and registrations and certificates are what
the types' outcomes and certificate policies leave behind."""
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import text

from ground.extensions import db
from ground.vocabulary import State
from app import workflow
from app.services import numbering
from app.services.validity import validity_end
from models import Province
from ops.generate import FILLERS
from tests.app.test_generate import _rows, chosen, generated  # noqa: F401  (the module's own generated world)


def _china_day(moment):
    return (moment + timedelta(hours=8)).date()


def _histories(first):
    """(applications, their logs in order) of the generated world."""
    logs = defaultdict(list)
    for log in _rows("transition_log", first["transition_log"]):
        logs[log["application_id"]].append(log)
    return _rows("application", first["application"]), logs


def _approved_at(trail):
    """When the ministry approved (the forward move out of its review), or None."""
    return next((log["created_at"] for log in trail if log["from_state"] == State.MINISTRY
                 and log["to_state"] not in (State.RETURNED, State.REFUSED)), None)


def _issued_at(trail):
    return next((log["created_at"] for log in trail if log["from_state"] == State.ISSUE), None)


def replay_errors(btype, trail, final_state, application=None):
    """Why `trail` is not a path the engine could have taken to `final_state` (empty: it is)."""
    errors, state = [], State.DRAFT
    for log in trail:
        transition = workflow.TRANSITIONS.get(log["action"])
        where = f"{btype.code} #{log['application_id']} {log['action']} from {log['from_state']}"
        if transition is None:
            errors.append(f"{where}: no such transition")
            continue
        if log["from_state"] != state:
            errors.append(f"{where}: the application was {state}")
        if state not in transition.sources:
            errors.append(f"{where}: not a source of {transition.action}")
        target = transition.target_in(btype, state, application)
        if target is None or target != log["to_state"]:
            errors.append(f"{where}: leads to {target}, logged {log['to_state']}")
        system = workflow.is_system(transition) and log["role"] == "System"  # the platform's own move
        if not system and workflow.acting_role(transition, state, {log["role"]}) != log["role"]:
            errors.append(f"{where}: {log['role']} may not take it")
        if transition.needs_opinion and not log["opinion"]:
            errors.append(f"{where}: no opinion")
        choices = transition.reasons()
        if (log["reason"] not in choices) if choices is not None else (log["reason"] is not None):
            errors.append(f"{where}: reason {log['reason']!r}")
        state = log["to_state"]
    if state != final_state:
        errors.append(f"{btype.code}: the log ends in {state}, the application is {final_state}")
    return errors


def test_one_filler_per_business_type():
    assert set(FILLERS) == set(workflow.BUSINESS_TYPES)


def test_every_history_is_a_legal_path(app, generated):  # noqa: F811
    _counts, first = generated
    with app.app_context():
        applications, logs = _histories(first)
        specialties = chosen(first)
        errors = []
        for application in applications:
            btype = workflow.BUSINESS_TYPES[application["business_type"]]
            trail = logs[application["id"]]
            errors += replay_errors(btype, trail, application["state"], specialties[application["id"]])
            if any(workflow.TRANSITIONS[log["action"]].batch_only for log in trail):
                assert application["announcement_id"] is not None
        assert not errors, errors[:20]


def test_a_broken_path_is_caught():
    """The replay refuses a skipped stage, a wrong actor and a target the table does not give."""
    btype = workflow.BUSINESS_TYPES["initial"]

    def log(action, source, target, role):
        return {"application_id": 0, "action": action, "from_state": source, "to_state": target, "role": role,
                "opinion": None, "reason": None}

    good = [log("submit", State.DRAFT, State.ENTERPRISE, "Applicant"),
            log("confirm", State.ENTERPRISE, State.PROVINCE, "Enterprise")]
    assert replay_errors(btype, good, State.PROVINCE) == []
    assert replay_errors(btype, [log("submit", State.DRAFT, State.PROVINCE, "Applicant")], State.PROVINCE)
    assert replay_errors(btype, [good[0], log("confirm", State.ENTERPRISE, State.PROVINCE, "Province")],
                         State.PROVINCE)
    assert replay_errors(btype, [good[0], log("pass", State.ENTERPRISE, State.PROVINCE, "Enterprise")],
                         State.PROVINCE)
    assert replay_errors(workflow.BUSINESS_TYPES["replacement"], good, State.PROVINCE)


def test_numbers_in_the_engines_formats_with_counters_past_them(app, generated):  # noqa: F811
    _counts, first = generated
    with app.app_context():
        counters = dict(db.session.execute(text("SELECT name, value FROM counter")).all())
        abbr = {p.code: p.abbr for p in db.session.query(Province)}
        enterprises = {e["id"]: e for e in _rows("enterprise", 1)}
        for application in _rows("application", first["application"]):
            parsed = numbering.parse_application_number(application["number"])
            assert parsed is not None, application["number"]
            assert numbering.format_application_number(*parsed) == application["number"]
            assert parsed.day == _china_day(application["created_at"])
            assert counters[numbering.application_counter(parsed.day)] >= parsed.serial
        for registration in _rows("registration", first["registration"]):
            leading, digits = numbering.parse_registration_number(registration["number"])
            assert numbering.format_registration_digits(*digits) == registration["number_digits"]
            assert numbering.format_registration_number(leading, registration["number_digits"]) == registration["number"]
            assert leading == abbr[enterprises[registration["enterprise_id"]]["province_code"]]
            assert digits.province_code == registration["initial_province_code"]
            assert digits.year == registration["registered_on"].year
            assert counters[numbering.registration_counter(digits.province_code, digits.year)] >= digits.serial
        for certificate in _rows("certificate", first["certificate"]):
            parsed = numbering.parse_certificate_number(certificate["number"])
            assert numbering.format_certificate_number(*parsed) == certificate["number"]
            assert parsed.year == certificate["issued_on"].year
            assert counters[numbering.certificate_counter(parsed.year)] >= parsed.serial
        for batch in _rows("announcement_batch", first["announcement_batch"]):
            if batch["sequence"] is not None:
                assert counters[numbering.announcement_counter(batch["year"])] >= batch["sequence"]


def test_registrations_and_certificates_follow_the_outcomes(app, generated):  # noqa: F811
    """Validity periods by the engine's rule; registration status and certificates as the approvals and
    each type's certificate policy leave them."""
    _counts, first = generated
    with app.app_context():
        years = app.config["RULES"]["VALIDITY_YEARS"]
        for held in _rows("registration_specialty", first["registration_specialty"]):
            assert held["valid_until"] == validity_end(held["valid_from"], years), held

        applications, logs = _histories(first)
        by_person = defaultdict(list)
        for application in applications:
            by_person[application["person_id"]].append(application)
        registrations = {r["id"]: r for r in _rows("registration", first["registration"])}
        certificate_of = {c["registration_id"]: c for c in _rows("certificate", first["certificate"])}
        for registration in registrations.values():
            apps = by_person[registration["person_id"]]
            approvals = sorted(((_approved_at(logs[a["id"]]), workflow.BUSINESS_TYPES[a["business_type"]])
                                for a in apps if _approved_at(logs[a["id"]])), key=lambda pair: pair[0])
            revokes = [at for at, btype in approvals if btype.certificate == "revoke"]
            # The latest approval that changes the status decides it: cancelled after a revoking type.
            deciding = [(at, btype) for at, btype in approvals if btype.certificate == "revoke" or btype.code in
                        ("initial", "re_registration")]
            if deciding:
                expected = "cancelled" if deciding[-1][1].certificate == "revoke" else "active"
                assert registration["status"] == expected, registration

            def active_at(moment, deciding=deciding):
                before = [btype for at, btype in deciding if at < moment]
                if before:
                    return before[-1].certificate != "revoke"
                return not any(btype.code == "initial" for _at, btype in deciding)  # registered before the window

            # The engine issues a certificate only to an active registration (app/effects.py).
            issues = sorted(((_issued_at(logs[a["id"]]), a) for a in apps
                             if _issued_at(logs[a["id"]]) and active_at(_issued_at(logs[a["id"]]))),
                            key=lambda pair: pair[0])
            certificate = certificate_of.get(registration["id"])
            if certificate is None:
                assert not issues, registration
                continue
            if issues:  # the certificate shown is the last one issued, by a type that issues one
                issued_at, issuer = issues[-1]
                assert certificate["application_id"] == issuer["id"]
                assert workflow.BUSINESS_TYPES[issuer["business_type"]].certificate != "revoke"
                assert certificate["created_at"] == issued_at
            else:
                assert certificate["application_id"] is None
            revoked = any(at > certificate["created_at"] for at in revokes)
            assert certificate["status"] == ("revoked" if revoked else "valid"), (registration, certificate, [(a["business_type"], a["state"], _approved_at(logs[a["id"]])) for a in apps])
        for application in applications:  # a type that revokes never reaches a certificate issue
            if workflow.BUSINESS_TYPES[application["business_type"]].certificate == "revoke":
                assert _issued_at(logs[application["id"]]) is None
