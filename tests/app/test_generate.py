"""The national-scale data generator (ops/generate.py): valid identifiers, every state of every business
type with a consistent transition history, one open application per person, well-formed unique numbers
and counters past them; the panel lists the rows. The generated rows are removed afterwards."""
import json
import re
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from stdnum.cn import ric, uscc

from app import workflow
from ground.clock import add_years, today
from ground.extensions import db
from ops.generate import SERIAL_TABLES, generate
from ground.identifiers import birth_date_of, gender_of
from app.services import numbering
from app.services.workdays import stage_deadline, stage_working_days
from models import Model, Province
from models.choices import INDUSTRY_OPINIONS, REFUSAL_REASONS
from tests import factories as f
from tests.conftest import login

PERSONS = 300
SHARE = 0.85


def _table(name):
    return Model.metadata.tables[name]


def _local_day(moment):
    """The China date of a naive UTC timestamp."""
    return (moment + timedelta(hours=8)).date()


@pytest.fixture(scope="module")
def generated(app, backend):
    """Generate a small world into the shared test database; yields (counts, first id per table)."""
    with app.app_context():
        first = {t: (db.session.execute(text(f"SELECT MAX(id) FROM {t}")).scalar() or 0) + 1 for t in SERIAL_TABLES}
        lines = []
        counts = generate(db.session, persons=PERSONS, registered_share=SHARE, seed=20261124,
                          drop_indexes=backend == "postgresql", progress=lines.append)
        assert any("persons/s" in line for line in lines)
        db.session.remove()
    yield counts, first
    with app.app_context():
        apps = first["application"]
        db.session.execute(text("DELETE FROM transition_log WHERE application_id >= :a"), {"a": apps})
        db.session.execute(text("DELETE FROM application_specialty WHERE application_id >= :a"), {"a": apps})
        for table in ("certificate", "application", "registration_specialty", "registration", "qualification",
                      "person", "enterprise", "announcement_batch"):
            db.session.execute(text(f"DELETE FROM {table} WHERE id >= :i"), {"i": first[table]})
        db.session.commit()


def chosen(first):
    """application id → a stand-in with its chosen specialties (whether each needs the industry opinion): what
    the engine's conditional stages read."""
    from types import SimpleNamespace as NS

    from models.dictionary import SPECIALTIES

    flagged = {code for code, _name, _en, industry in SPECIALTIES if industry}
    by_app = defaultdict(list)
    for row in _rows("application_specialty", first["application"], column="application_id"):
        by_app[row["application_id"]].append(NS(code=row["specialty_code"],
                                                 needs_industry_opinion=row["specialty_code"] in flagged))
    return defaultdict(lambda: NS(specialties=[]), {k: NS(specialties=v) for k, v in by_app.items()})


def _rows(table, first, column="id"):
    t = _table(table)
    return db.session.execute(select(t).where(t.c[column] >= first).order_by(t.c[column])).mappings().all()


def test_counts_and_identifiers(app, generated):
    counts, first = generated
    with app.app_context():
        for table, count in counts.items():
            column = "application_id" if table == "application_specialty" else "id"
            key = "application" if table == "application_specialty" else table
            t = _table(table)
            stored = db.session.execute(select(func.count()).select_from(t).where(t.c[column] >= first[key])).scalar()
            assert stored == count, table
        assert counts["person"] == PERSONS and counts["enterprise"] == 50
        assert 0.75 * SHARE * PERSONS <= counts["registration"] <= min(PERSONS, 1.25 * SHARE * PERSONS)
        assert 0.75 * 2 * PERSONS <= counts["application"] <= 1.25 * 2 * PERSONS
        assert counts["transition_log"] > 3 * counts["application"]

        persons = _rows("person", first["person"])
        assert len({p["id_number"] for p in persons}) == PERSONS
        for person in persons:
            number = person["id_number"]
            assert ric.is_valid(number), number
            assert person["gender"] == gender_of(number) and person["birth_date"] == birth_date_of(number)
            assert 1962 <= person["birth_date"].year <= 2000
            assert re.fullmatch(r"[\u4e00-\u9fff]{2,4}", person["name"]), person["name"]
            assert re.fullmatch(r"1\d{10}", person["phone"])
        statuses = Counter(p["realname_status"] for p in persons)
        assert statuses["verified"] > 0.8 * PERSONS
        for enterprise in _rows("enterprise", first["enterprise"]):
            assert uscc.is_valid(enterprise["credit_code"]), enterprise["credit_code"]
            assert enterprise["name"].endswith("公司") and enterprise["address"].startswith(
                db.session.get(Province, enterprise["province_code"]).name)
        codes = [q["certificate_no"] for q in _rows("qualification", first["qualification"])]
        assert len(codes) == len(set(codes)) >= PERSONS


def test_every_state_and_consistent_histories(app, generated):
    _counts, first = generated
    with app.app_context():
        apps = _rows("application", first["application"])
        logs = defaultdict(list)
        for log in _rows("transition_log", first["transition_log"]):
            logs[log["application_id"]].append(log)
        wanted = {(code, state) for code, btype in workflow.BUSINESS_TYPES.items()
                  for state in workflow.states_of(btype)}
        assert wanted <= {(a["business_type"], a["state"]) for a in apps}

        open_per_person = Counter(a["person_id"] for a in apps if a["state"] in workflow.OPEN_STATES)
        assert max(open_per_person.values()) == 1

        enterprises = {e["id"]: e for e in _rows("enterprise", 1)}
        specialties = chosen(first)
        refusals, opinions = Counter(), Counter()
        for application in apps:
            trail = logs[application["id"]]
            btype = workflow.BUSINESS_TYPES[application["business_type"]]
            assert application["version"] == len(trail) + 1
            assert re.fullmatch(r"SQ\d{14}", application["number"])
            assert application["number"][2:10] == f"{_local_day(application['created_at']):%Y%m%d}"
            if application["enterprise_id"]:
                assert application["province_code"] == enterprises[application["enterprise_id"]]["province_code"]
            if not trail:
                assert application["state"] == "draft" and application["submitted_at"] is None
                continue
            assert trail[0]["from_state"] == "draft" and trail[-1]["to_state"] == application["state"]
            assert trail[-1]["created_at"] == application["state_changed_at"]
            assert application["created_at"] <= trail[0]["created_at"]
            for before, after in zip(trail, trail[1:], strict=False):
                assert after["from_state"] == before["to_state"]
                assert after["created_at"] >= before["created_at"]
            entered = application["created_at"]
            for log in trail:  # the statistics' facts, as the engine records them
                assert (log["business_type"], log["province_code"]) == (btype.code, application["province_code"])
                assert log["stage_days"] == stage_working_days(entered, log["created_at"])
                entered = log["created_at"]
            for log in trail:
                transition = workflow.TRANSITIONS[log["action"]]
                assert log["from_state"] in transition.sources
                assert transition.target_in(btype, log["from_state"], specialties[application["id"]]) == log["to_state"]
                if workflow.is_system(transition):  # the platform's own move (an expiry)
                    assert log["role"] == "System" and log["username"] == "system"
                else:
                    assert workflow.acting_role(transition, log["from_state"], {log["role"]}) == log["role"]
                if log["action"] == "refuse":
                    assert log["reason"] in REFUSAL_REASONS and log["opinion"]
                    refusals[log["reason"]] += 1
                elif log["action"] == "opine":  # the industry department's opinion, coded
                    assert log["reason"] in INDUSTRY_OPINIONS and log["opinion"]
                    opinions[log["reason"]] += 1
                else:
                    assert log["reason"] is None
            submits = [log["created_at"] for log in trail if log["action"] in ("submit", "lodge")]
            assert application["submitted_at"] == (max(submits) if submits else None)
            assert application["last_opinion"] == trail[-1]["opinion"]
            if "publish" in {log["action"] for log in trail}:
                assert application["announcement_id"] is not None
        assert len(refusals) >= 3
        assert opinions["agree"] >= 1, "no application went through the industry opinion"

        registration_of = {r["person_id"]: r["id"] for r in _rows("registration", first["registration"])}
        for application in apps:
            assert application["registration_id"] in (None, registration_of.get(application["person_id"]))
            if application["business_type"] not in ("initial", "info_change"):
                assert application["registration_id"] is not None

        in_progress = [a for a in apps if a["state"] in workflow.IN_PROGRESS_STATES]
        limited = [a for a in in_progress if a["state"] in ("enterprise_review", "province_review", "ministry_review")]
        for application in limited:  # as the engine computes it on entering the stage
            assert application["stage_deadline"] == stage_deadline(
                application["business_type"], application["state"], application["state_changed_at"])
        assert any(a["stage_deadline"] < today() for a in limited), "no overdue application"
        assert any(a["stage_deadline"] >= today() for a in limited)


def test_registrations_certificates_and_counters(app, generated):
    _counts, first = generated
    with app.app_context():
        abbr = {p.code: p.abbr for p in db.session.query(Province)}
        enterprises = {e["id"]: e for e in _rows("enterprise", 1)}
        registrations = _rows("registration", first["registration"])
        assert len({r["number"] for r in registrations}) == len({r["number_digits"] for r in registrations}) \
            == len(registrations)
        for registration in registrations:
            digits = registration["number_digits"]
            assert re.fullmatch(r"1\d{2}\d{4}\d{4}\d{5}", digits), digits
            assert digits[1:3] == registration["initial_province_code"]
            assert int(digits[7:11]) == registration["registered_on"].year and int(digits[3:7]) <= int(digits[7:11])
            employer = enterprises[registration["enterprise_id"]]
            assert registration["number"] == abbr[employer["province_code"]] + digits
        # A small population covers every (type, state) pair, so cancellations weigh more than nationally; the
        # share moves a little with the day the world is generated on.
        statuses = Counter(r["status"] for r in registrations)
        assert statuses["active"] > 0.6 * len(registrations)
        assert all(r["cancelled_on"] and r["cancel_reason"] for r in registrations if r["status"] == "cancelled")

        validity = app.config["RULES"]["VALIDITY_YEARS"]
        held = _rows("registration_specialty", first["registration_specialty"])
        for row in held:
            assert row["valid_until"] == add_years(row["valid_from"], validity) - timedelta(days=1)
        active = [row["valid_until"] for row in held if row["status"] == "active"]
        assert any(d < today() for d in active) and any(today() <= d <= today() + timedelta(days=180) for d in active)

        certificates = _rows("certificate", first["certificate"])
        assert len({c["number"] for c in certificates}) == len(certificates) > 0.8 * len(registrations)
        by_registration = {r["id"]: r for r in registrations}
        for certificate in certificates:
            assert re.fullmatch(r"\d{12}", certificate["number"])
            assert certificate["number"][:4] == str(certificate["issued_on"].year)
            registration = by_registration[certificate["registration_id"]]
            assert certificate["registration_number"] == registration["number"]
            if registration["status"] != "active":  # revoked at cancellation (and still, while re-registering)
                assert certificate["status"] == "revoked"
            specialties = certificate["specialties"]
            specialties = json.loads(specialties) if isinstance(specialties, str) else specialties
            assert specialties and {"code", "name", "valid_until"} == set(specialties[0])
        assert Counter(c["registration_id"] for c in certificates).most_common(1)[0][1] == 1
        # At most one valid certificate per registration, only for active ones, and most active ones have it.
        valid = [c["registration_id"] for c in certificates if c["status"] == "valid"]
        assert len(valid) == len(set(valid)) and all(by_registration[r]["status"] == "active" for r in valid)
        assert len(valid) > 0.8 * statuses["active"]

        # The next real numbers never collide with generated ones.
        used_digits = {r["number_digits"] for r in registrations}
        for registration in registrations[:20]:
            digits = registration["number_digits"]
            fresh = numbering.registration_digits(db.session, digits[1:3], int(digits[3:7]), int(digits[7:11]))
            assert fresh not in used_digits
        used_certificates = {c["number"] for c in certificates}
        for certificate in certificates[:20]:
            assert numbering.certificate_number(db.session, certificate["issued_on"]) not in used_certificates
        used_numbers = {a["number"] for a in _rows("application", first["application"])}
        for application in _rows("application", first["application"])[:20]:
            assert numbering.application_number(db.session, _local_day(application["created_at"])) not in used_numbers
        db.session.rollback()


def test_orm_and_panel_list_the_rows(app, client, generated):
    from models import Application, Certificate, Person

    _counts, first = generated
    with app.app_context():
        items = db.session.query(Application).filter(Application.id >= first["application"]).limit(50).all()
        assert all(a.person.name and a.state_label for a in items)
        assert sum(len(a.transitions) for a in items) > 0
        certificate = db.session.query(Certificate).filter(Certificate.id >= first["certificate"]).first()
        assert certificate.specialty_summary and certificate.person.registration is not None
        assert db.session.query(Person).filter(Person.id >= first["person"]).count() == PERSONS
        ministry = f.make_user("Ministry")
    login(client, ministry)
    for url in ("/applications/list/", "/persons/list/", "/registrations/list/", "/certificates/list/",
                "/transitionlog/list/", "/myqueue/list/"):
        assert client.get(url).status_code == 200, url
