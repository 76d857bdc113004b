"""Penalty records on the web: a province records one through the form (document upload, confirmation, CSRF), bad
input is refused with the reason and records nothing; the panel lists and shows records in each role's row scope and
serves the document (audited); the person sees their records and the refusal they cause on 个人信息 and the
re-registration form; the public register shows public records within their period, never the document."""
import io
from datetime import timedelta

import pytest

from app import notifications, penalties
from ground.clock import add_years, today
from ground.extensions import db
from models import AuditLog, Notification, PenaltyRecord, Person
from tests import factories as f
from tests.conftest import form_tokens, login

PDF = b"%PDF-1.4\n% decision\n%%EOF\n"


def _form(client, id_number, **overrides):
    data = {"id_number": id_number, "kind": "revoked", "ground_code": "fraud_registration", "ground_text": "",
            "decision_number": "京建罚〔2026〕21号", "decided_on": today().isoformat(), "period_from": "",
            "period_to": "", "public": "y", "confirm": "y", "document": (io.BytesIO(PDF), "决定书.pdf"),
            **form_tokens(client, "/penalties/record")}
    data.update(overrides)
    if isinstance(data.get("document"), tuple) and isinstance(data["document"][0], bytes):
        data["document"] = (io.BytesIO(data["document"][0]), data["document"][1])  # a fresh stream per post
    return {k: v for k, v in data.items() if v is not None}


def _post(client, data):
    return client.post("/penalties/record", data=data, content_type="multipart/form-data")


@pytest.fixture
def world(app):
    """A Beijing registrant and a Shanghai one, a Beijing and a Shanghai province officer, the ministry."""
    with app.app_context():
        bj, sh = f.make_enterprise("11"), f.make_enterprise("31")
        user_bj, person_bj = f.make_registered(bj)
        user_sh, person_sh = f.make_registered(sh)
        ids = {k: db.session.get(Person, p).id_number for k, p in (("bj", person_bj), ("sh", person_sh))}
        return {"bj": (user_bj, person_bj, ids["bj"]), "sh": (user_sh, person_sh, ids["sh"]),
                "prov11": f.make_user("Province", province_code="11"),
                "prov31": f.make_user("Province", province_code="31"), "ministry": f.make_user("Ministry"),
                "enterprise": f.make_user("Enterprise", enterprise_id=bj)}


def test_province_records_a_penalty_through_the_form(app, world):
    client = login(app.test_client(), world["prov11"])
    page = client.get("/penalties/record")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.get_data(as_text=True)
    username, person_id, id_number = world["bj"]
    resp = _post(client, _form(client, id_number.lower()))
    assert resp.status_code == 302 and "/penaltyrecords/show/" in resp.headers["Location"]
    with app.app_context():
        rec = db.session.query(PenaltyRecord).filter_by(person_id=person_id).one()
        assert rec.kind == "revoked" and rec.authority_province_code == "11" and rec.document_filename == "决定书.pdf"
        assert db.session.query(Notification).filter_by(kind="penalty_recorded", subject=f"penalty:{rec.id}").count() == 1
        rec_id = rec.id
    show = client.get(f"/penaltyrecords/show/{rec_id}").get_data(as_text=True)
    assert "京建罚〔2026〕21号" in show and f"/penaltyrecords/document/{rec_id}" in show
    document = client.get(f"/penaltyrecords/document/{rec_id}")
    assert document.status_code == 200 and document.data == PDF
    assert document.headers["Cache-Control"] == "private, no-store"
    with app.app_context():
        assert db.session.query(AuditLog).filter_by(action="download", object_type="PenaltyRecord",
                                                    object_id=str(rec_id)).count() == 1


@pytest.mark.parametrize("overrides, words", [
    ({"confirm": None}, "Tick the confirmation to record."),
    ({"document": None}, "Attach the decision document."),
    ({"document": (b"GIF89a...", "x.gif")}, "must be a PDF, JPEG or PNG file"),
    ({"decision_number": ""}, "This field is required."),
    ({"decided_on": "2026-13-45"}, "This field is required."),
    ({"ground_code": "other"}, "Name the law or regulation and its article."),
    ({"kind": "criminal_sentence"}, "A criminal sentence needs the day its execution began."),
    ({"kind": "<script>"}, "Not a valid choice."),
])
def test_bad_input_is_refused_on_the_page_and_records_nothing(app, world, overrides, words):
    client = login(app.test_client(), world["ministry"])
    resp = _post(client, _form(client, world["bj"][2], **overrides))
    assert resp.status_code == 200 and words in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(PenaltyRecord).filter_by(person_id=world["bj"][1]).count() == 0


def test_a_province_cannot_record_for_a_person_outside_its_province(app, world):
    client = login(app.test_client(), world["prov11"])
    resp = _post(client, _form(client, world["sh"][2]))
    assert resp.status_code == 200
    assert "No person with this ID number is in your area of responsibility." in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(PenaltyRecord).filter_by(person_id=world["sh"][1]).count() == 0


def test_without_csrf_nothing_is_recorded(app, world):
    client = login(app.test_client(), world["ministry"])
    data = _form(client, world["bj"][2])
    data["csrf_token"] = "forged"
    assert _post(client, data).status_code in (200, 400)
    with app.app_context():
        assert db.session.query(PenaltyRecord).filter_by(person_id=world["bj"][1]).count() == 0


def _enter(app, world, who, key, **overrides):
    with app.app_context():
        values = {"kind": "administrative_penalty", "ground_code": "practice_violation", "decision_number": f"罚{key}",
                  "decided_on": today() - timedelta(days=3), "public": True, **overrides}
        rec = penalties.record(f.user(world[who]), db.session.get(Person, world[key][1]), values, "d.pdf", PDF)
        db.session.commit()
        return rec.id


def test_row_scope_per_role(app, world):
    bj = _enter(app, world, "ministry", "bj")
    sh = _enter(app, world, "ministry", "sh")
    expected = {"prov11": ({bj}, sh), "prov31": ({sh}, bj), "ministry": ({bj, sh}, None)}
    for who, (visible, hidden) in expected.items():
        client = login(app.test_client(), world[who])
        listing = client.get("/penaltyrecords/list/?psize_PenaltyRecordsView=100").get_data(as_text=True)  # a shared database
        for rec_id, key in ((bj, "bj"), (sh, "sh")):
            assert (f"罚{key}" in listing) == (rec_id in visible), (who, key)
        if hidden is not None:
            assert client.get(f"/penaltyrecords/show/{hidden}").status_code == 404
            assert client.get(f"/penaltyrecords/document/{hidden}").status_code == 404
    for who in ("enterprise",):
        client = login(app.test_client(), world[who])
        assert client.get("/penaltyrecords/list/").status_code == 403
        assert client.get("/penalties/record").status_code == 403
    applicant = login(app.test_client(), world["bj"][0])
    assert applicant.get(f"/penaltyrecords/show/{bj}").status_code == 403
    own = applicant.get("/me/").get_data(as_text=True)
    assert "罚bj" in own and "罚sh" not in own


def test_a_province_sees_the_records_it_decided_even_after_the_person_moved(app, world):
    rec = _enter(app, world, "prov11", "bj")
    with app.app_context():
        person = db.session.get(Person, world["bj"][1])
        person.registration.enterprise_id = f.make_enterprise("44")
        db.session.commit()
    client = login(app.test_client(), world["prov11"])
    assert client.get(f"/penaltyrecords/show/{rec}").status_code == 200


def test_the_person_sees_the_refusal_on_their_page_and_the_form(app, world):
    username, person_id, _ = world["bj"]
    _enter(app, world, "prov11", "bj", kind="revoked", ground_code="fraud_registration")
    client = login(app.test_client(), username)
    again = add_years(today() - timedelta(days=3), 2).isoformat()
    page = client.get("/me/").get_data(as_text=True)
    assert "Registration applications are refused for now" in page and again in page
    form = client.get("/apply/renewal").get_data(as_text=True)
    assert "registration may be applied for again from " + again in form


def test_the_public_register_shows_public_records_within_their_period_never_the_document(app, world):
    _enter(app, world, "prov11", "bj", ground_code="quality_accident")
    _enter(app, world, "prov11", "bj", public=False, decision_number="不公开1号")
    _enter(app, world, "prov11", "bj", decided_on=add_years(today(), -4), decision_number="过期1号")
    with app.app_context():
        number = db.session.get(Person, world["bj"][1]).registration.number
    visitor = app.test_client()
    visitor.get("/lang/en")
    page = visitor.get(f"/registry/{number}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Penalty and credit records" in html
    assert "Quality accident" in html and "不公开1号" not in html and "过期1号" not in html
    assert "/document/" not in html and "罚bj" not in html  # kind, ground, authority, date: no decision number


def test_reviewers_see_the_refusal_grounds_on_the_application_page(app, world):
    with app.app_context():
        staff = f.Staff()
        staff._cache[("Province", "11")] = world["prov11"]
        username, person_id, app_id = f.initial_application(staff, "11", "submit", "confirm")
        rec = penalties.record(f.user(world["ministry"]), db.session.get(Person, person_id),
                               {"kind": "criminal_sentence", "ground_code": "criminal_judgment",
                                "decision_number": "(2026)京0105刑初9号", "decided_on": today(),
                                "period_from": today()}, "d.pdf", PDF)
        db.session.commit()
        assert rec.id
    client = login(app.test_client(), world["prov11"])
    html = client.get(f"/applications/show/{app_id}").get_data(as_text=True)
    assert "Grounds for refusal found" in html and "(2026)京0105刑初9号" in html
    clean = login(app.test_client(), world["ministry"])
    with app.app_context():
        other = f.initial_application(staff, "11", "submit")[2]
    assert "Grounds for refusal found" not in clean.get(f"/applications/show/{other}").get_data(as_text=True)


def test_the_message_opens_the_persons_page_and_the_officers_record(app, world):
    rec = _enter(app, world, "prov11", "bj")
    with app.app_context():
        own = db.session.query(Notification).filter_by(subject=f"penalty:{rec}").one().id
        officer = f.user(world["prov11"])  # the same subject for an officer: the door follows the reader's scope
        notifications.send("penalty_recorded", f"penalty:{rec}:officer", [officer],
                           {"penalty_kind": "revoked", "decision": "罚bj", "day": today()}, subject=f"penalty:{rec}")
        db.session.commit()
        theirs = db.session.query(Notification).filter_by(user_id=officer.id).one().id
    resp = login(app.test_client(), world["bj"][0]).get(f"/messages/{own}/open")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/me/#penalties")
    opened = login(app.test_client(), world["prov31"]).get(f"/messages/{theirs}/open")
    assert opened.status_code == 404  # another reader's message
    opened = login(app.test_client(), world["prov11"]).get(f"/messages/{theirs}/open")
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/penaltyrecords/show/{rec}")
