"""Personal data: ID numbers (110101********1234) and mobiles (138****5678) are masked on every panel list and
page, in the API, the PDFs and the public pages, unless the viewer holds can_view_unmasked on PersonalData
(no built-in role does) or the numbers are their own; searching by an ID prefix still works; full numbers
shown to someone else are audited; and no ID number, mobile, name, password, SMS code or captcha answer
reaches the logs."""
import json
import logging
import re
import subprocess
import uuid
from datetime import timedelta

import pytest

from ground.clock import add_years, now_utc, today
from ground.extensions import db
from ground.identifiers import mask_id_number, mask_mobile, mask_text, personal_numbers_in
from models import AppUser, Application, AuditLog, Person, SmsOutbox
from tests import factories as f
from tests import world as world_module
from tests.conftest import api_captcha, form_tokens, job_result, login

FULL_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def test_mask_formats():
    assert mask_id_number("11010119850307103X") == "110101********103X"
    assert mask_mobile("13812345678") == "138****5678"
    text = "身份证110101198503071032，手机13812345678；证书号202600000123，注册号京1112024202000123，x11010119850307103xy"
    assert mask_text(text) == ("身份证110101********1032，手机138****5678；证书号202600000123，注册号京1112024202000123，"
                               "x11010119850307103xy")
    assert mask_text(text, keep={"13812345678"}).count("13812345678") == 1
    assert personal_numbers_in("a 11010119850307103x b") == ["11010119850307103x"]


def test_log_records_are_cleaned_when_made(app):
    from views.shell import logging_filters

    logging_filters.install()
    logging_filters.install()  # idempotent
    assert logging_filters.installed()
    logger = logging.getLogger("tests.personal_data")
    with app.app_context():
        person = db.session.get(Person, f.make_person(materials=False, name="记录甲"))
        record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "Updated %s, mobile %s",
                                   (person, "13812345678"), None)
        assert record.getMessage() == f"Updated <Person #{person.id}>, mobile 138****5678"
        error = ValueError(f"UPDATE person SET name=?\n[parameters: ({person.name!r}, {person.id_number!r})]\nmore")
        try:
            raise error  # the traceback shows this line: no value in it
        except ValueError:
            import sys

            record = logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    assert "[parameters: hidden]" in record.exc_text and "记录甲" not in record.exc_text
    assert person.id_number not in record.exc_text


@pytest.fixture(scope="module")
def people(app):
    """The small world, plus: a1 with a mobile and an uploaded file named after their ID number; an
    info_change application with a new ID number; an SMS to a1; an on-site check waiting in Beijing."""
    from app.services import sms, storage

    with app.app_context():
        w = world_module.build()
        a1 = db.session.get(Person, w.persons["a1"])
        a1.phone = f"139{f.next_serial() % 10**8:08d}"
        db.session.commit()
        storage.save(db.session, a1, "education_proof", f"{a1.id_number}.jpg", f._jpeg(), "image/jpeg")
        db.session.commit()
        sms.send_code(a1.phone, "apply")

        changer, changer_id = f.make_applicant()
        new_id = f.unique_id_number()
        change = f.make_application(changer, "info_change", new_id_number=new_id,
                                    reason_text=f"旧号码录入错误，正确号码为{new_id}")
        f.move(change, "submit", changer)

        onsite = f.make_person(verified=False)
        person = db.session.get(Person, onsite)
        person.realname_status, person.realname_method, person.realname_province_code = "pending", "onsite", "11"
        person.phone = f"137{f.next_serial() % 10**8:08d}"
        person.realname_requested_at = now_utc()
        db.session.commit()

        def numbers(person_id):
            p = db.session.get(Person, person_id)
            return {"name": p.name, "id": p.id_number, "phone": p.phone}

        return {
            "w": w, "a1": numbers(w.persons["a1"]), "a1_user": db.session.query(AppUser.id).filter_by(
                username=w.users["a1"]).scalar(),
            "changer": {**numbers(changer_id), "new_id": new_id, "app": change, "username": changer},
            "onsite": {**numbers(onsite), "pk": onsite},
        }


def _text(resp):
    assert resp.status_code == 200, (resp.status_code, resp.headers.get("Location"))
    return resp.get_data(as_text=True)


def _masked(number):
    return mask_id_number(number) if len(number) == 18 else mask_mobile(number)


def _assert_masked(html, *numbers):
    for number in numbers:
        assert number not in html, f"{number} shown in full"
        assert _masked(number) in html, f"{_masked(number)} not shown"


def _last_audit_id(app):
    with app.app_context():
        return db.session.query(db.func.max(AuditLog.id)).scalar() or 0


def _views_since(app, since):
    with app.app_context():
        return [(r.username, r.object_type, r.object_id, r.detail["shown"]) for r in db.session.query(AuditLog)
                .filter(AuditLog.id > since, AuditLog.action == "view").order_by(AuditLog.id)]


def _jwt(client, username):
    resp = client.post("/api/v1/security/login", json={"username": username, "password": f.PASSWORD,
                                                       "provider": "db", **api_captcha(client)})
    assert resp.status_code == 200, resp.get_json()
    return {"Authorization": f"Bearer {resp.get_json()['access_token']}"}


# --- the panel -------------------------------------------------------------------------------------------

# Searches use prefixes: a page may repeat what the user typed in its search form.
PAGES = [
    # (viewer, address built from the data, which numbers of whom must be masked)
    ("ministry", lambda d: f"/persons/list/?_flt_0_name={d['a1']['name']}", lambda d: [d["a1"]["id"], d["a1"]["phone"]]),
    ("ministry", lambda d: f"/persons/show/{d['w'].persons['a1']}", lambda d: [d["a1"]["id"], d["a1"]["phone"]]),
    ("prov11", lambda d: f"/persons/list/?_flt_0_id_number={d['a1']['id'][:14]}",
     lambda d: [d["a1"]["id"], d["a1"]["phone"]]),  # found by an ID prefix, shown masked
    ("ministry", lambda d: f"/applications/show/{d['changer']['app']}",
     lambda d: [d["changer"]["new_id"]]),  # new ID number and the explanation quoting it
    ("prov11", lambda d: f"/myqueue/show/{d['changer']['app']}", lambda d: [d["changer"]["new_id"]]),
    ("ministry", lambda d: f"/transitionlog/list/?_flt_0_username={d['changer']['username'][:14]}",
     lambda d: [d["changer"]["id"]]),  # the applicant's user name is their ID number
    ("ministry", lambda d: f"/auditlog/list/?_flt_0_username={d['changer']['username'][:14]}",
     lambda d: [d["changer"]["id"]]),
    ("auditor", lambda d: f"/auditlog/list/?_flt_0_object_type=Person&_flt_1_object_id={d['w'].persons['a1']}",
     lambda d: [d["a1"]["id"]]),
    ("admin", lambda d: f"/smsoutbox/list/?_flt_0_phone={d['a1']['phone'][:7]}", lambda d: [d["a1"]["phone"]]),
    ("ministry", lambda d: "/attachments/list/?_flt_0_kind=education_proof", lambda d: [d["a1"]["id"]]),
    ("prov11", lambda d: "/realnamequeue/list/", lambda d: [d["onsite"]["id"], d["onsite"]["phone"]]),
]
# FAB's account views (views/shell/security.py) format user name and e-mail (<ID number>@applicant.invalid) the same way.
PAGES += [
    pytest.param("admin", lambda d: f"/users/list/?_flt_0_username={d['w'].users['a1'][:14]}",
                 lambda d: [d["a1"]["id"]]),
    pytest.param("admin", lambda d: f"/users/show/{d['a1_user']}", lambda d: [d["a1"]["id"]]),
]


@pytest.mark.parametrize("viewer, url, numbers", PAGES,
                         ids=[f"{(p.values if hasattr(p, 'values') else p)[0]}-{i}" for i, p in enumerate(PAGES)])
def test_panel_pages_mask_numbers(app, people, viewer, url, numbers):
    since = _last_audit_id(app)
    client = login(app.test_client(), people["w"].users[viewer])
    _assert_masked(_text(client.get(url(people))), *numbers(people))
    assert _views_since(app, since) == []  # nothing was shown in full


def test_audit_details_are_masked(app, people):
    """The audit rows of a person's creation and mobile change hold the numbers; their page masks them."""
    with app.app_context():
        ids = [r.id for r in db.session.query(AuditLog).filter_by(object_type="Person",
                                                                  object_id=str(people["w"].persons["a1"]))]
    client = login(app.test_client(), people["w"].users["auditor"])
    pages = "".join(_text(client.get(f"/auditlog/show/{row_id}")) for row_id in ids)
    _assert_masked(pages, people["a1"]["id"], people["a1"]["phone"])


def test_on_site_check_shows_the_full_number_and_is_audited(app, people):
    since = _last_audit_id(app)
    client = login(app.test_client(), people["w"].users["prov11"])
    html = _text(client.get(f"/realnamequeue/show/{people['onsite']['pk']}"))
    assert people["onsite"]["id"] in html  # compared with the card in front of the officer
    _assert_masked(html, people["onsite"]["phone"])  # the mobile is not needed for that
    assert _views_since(app, since) == [(people["w"].users["prov11"], "Person", str(people["onsite"]["pk"]),
                                         [mask_id_number(people["onsite"]["id"])])]


def test_own_numbers_are_shown_in_full_without_an_audit_row(app, people):
    since = _last_audit_id(app)
    client = login(app.test_client(), people["w"].users["a1"])
    html = _text(client.get(f"/persons/show/{people['w'].persons['a1']}"))
    assert people["a1"]["id"] in html and people["a1"]["phone"] in html
    api = app.test_client()
    result = api.get(f"/api/v1/person/{people['w'].persons['a1']}", headers=_jwt(api, people["w"].users["a1"]))
    assert (result.get_json()["result"]["id_number"], result.get_json()["result"]["phone"]) == \
        (people["a1"]["id"], people["a1"]["phone"])
    assert _views_since(app, since) == []


# --- the API -------------------------------------------------------------------------------------------

def test_api_masks_numbers_and_searches_by_prefix(app, people):
    client = app.test_client()
    headers = _jwt(client, people["w"].users["ministry"])
    one = client.get(f"/api/v1/person/{people['w'].persons['a1']}", headers=headers).get_json()["result"]
    assert (one["id_number"], one["phone"]) == (mask_id_number(people["a1"]["id"]), mask_mobile(people["a1"]["phone"]))
    query = f"(filters:!((col:id_number,opr:sw,value:'{people['a1']['id'][:14]}')))"
    found = client.get(f"/api/v1/person/?q={query}", headers=headers).get_json()["result"]
    assert [r["id_number"] for r in found] == [mask_id_number(people["a1"]["id"])]
    application = client.get(f"/api/v1/application/{people['changer']['app']}", headers=headers).get_json()
    body = json.dumps(application, ensure_ascii=False)
    _assert_masked(body, people["changer"]["id"], people["changer"]["new_id"])


# --- the explicit permission -------------------------------------------------------------------------------

def test_no_built_in_role_may_see_full_numbers(app):
    from ground.roles import PERSONAL_DATA, VIEW_UNMASKED
    from views.grants import role_permissions

    assert all((PERSONAL_DATA, VIEW_UNMASKED) not in pairs for pairs in role_permissions().values())
    assert all(VIEW_UNMASKED not in str(rules) for rules in app.config["FAB_ROLES"].values())


def test_the_permission_shows_full_numbers_audited_and_can_be_taken_back(app, people):
    from app.personal_data import set_unmasked_view

    with app.app_context():
        username = f.make_user("Ministry")
        set_unmasked_view(username)
    a1, person_id = people["a1"], people["w"].persons["a1"]
    since = _last_audit_id(app)
    client = login(app.test_client(), username)
    html = _text(client.get(f"/persons/show/{person_id}"))
    assert a1["id"] in html and a1["phone"] in html
    listing = _text(client.get(f"/persons/list/?_flt_0_name={a1['name']}"))  # one row: a1
    assert a1["id"] in listing and a1["phone"] in listing
    api = app.test_client()
    assert api.get(f"/api/v1/person/{person_id}", headers=_jwt(api, username)).get_json()["result"]["id_number"] == a1["id"]
    shown = sorted([mask_id_number(a1["id"]), mask_mobile(a1["phone"])])
    assert _views_since(app, since) == [(username, "Person", str(person_id), shown), (username, "Person", None, shown),
                                        (username, "Person", str(person_id), shown)]

    with app.app_context():
        set_unmasked_view(username, granted=False)
        grants = [r.action for r in db.session.query(AuditLog).filter(AuditLog.object_type == "User",
                                                                     AuditLog.summary.contains("can_view_unmasked"),
                                                                     AuditLog.summary.contains(username))
                  .order_by(AuditLog.id)]
    assert grants == ["grant", "revoke"]
    client = login(app.test_client(), username)
    _assert_masked(_text(client.get(f"/persons/show/{person_id}")), a1["id"], a1["phone"])


# --- PDFs -------------------------------------------------------------------------------------------------

def _pdf_text(resp):
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    out = subprocess.run(["pdftotext", "-raw", "-", "-"], input=resp.data, capture_output=True, check=True).stdout
    return "".join(out.decode().split())


def test_pdfs_mask_numbers(app, people):
    client = login(app.test_client(), people["w"].users["prov11"])
    form = _pdf_text(client.get(f"/applications/pdf/{people['changer']['app']}"))
    assert mask_id_number(people["changer"]["id"]) in form and people["changer"]["id"] not in form
    assert f"NewIDnumber{mask_id_number(people['changer']['new_id'])}" in form
    roster = _pdf_text(job_result(client, "/dashboard/roster?province=11"))
    assert not FULL_ID.search(roster) and "********" in roster


def test_free_text_in_the_application_pdf_is_masked(app, people):
    client = login(app.test_client(), people["w"].users["prov11"])
    form = _pdf_text(client.get(f"/applications/pdf/{people['changer']['app']}"))
    assert people["changer"]["new_id"] not in form  # the explanation quotes it


# --- logs -------------------------------------------------------------------------------------------------

def test_a_journey_leaves_no_personal_data_in_the_logs(app, caplog, monkeypatch):
    """Sign-up, materials, profile, online verification, application with its SMS code, the enterprise and
    the province deciding, a failed and a good sign-in, staff reading the person: every log line of the
    application, FAB, Werkzeug and SQLAlchemy (statements and parameters at DEBUG) is scanned."""
    from views.shell import logging_filters
    from app.services import captcha
    from tests.views.test_personal_journey import (PASSWORD, apply_form, complete_materials, complete_profile,
                                                   random_phone, sign_up, verify_online)
    from tests.views.test_staff_work import Desk

    logging_filters.install()  # as server.py does
    monkeypatch.setitem(app.config, "SMS_RESEND_SECONDS", 0)
    monkeypatch.setitem(app.config, "CAPTCHA_LENGTH", 6)  # answers no SQL keyword can equal
    answers = []
    peek = captcha.peek_answer
    monkeypatch.setattr(captcha, "peek_answer", lambda nonce: answers.append(peek(nonce)) or answers[-1])
    caplog.set_level(logging.DEBUG)
    for name in ("werkzeug", "flask_appbuilder", "sqlalchemy", "sqlalchemy.engine", "app", "views", "ops", "ground", "flask"):
        caplog.set_level(logging.DEBUG, logger=name)

    name = "日志" + f.person_name(uuid.uuid4().int % 10**6)[2:]  # a legal name: Chinese characters only
    with app.app_context():
        person_id = f.make_person(verified=False, materials=False, name=name)
        id_number = db.session.get(Person, person_id).id_number
        enterprise = f.make_enterprise("11", name=f"日志建设{uuid.uuid4().hex[:6]}有限公司")
    phone = random_phone()
    desk = Desk(app)

    client = app.test_client()
    assert sign_up(app, client, name, id_number.lower(), phone).status_code == 302
    complete_materials(client)
    assert complete_profile(client).status_code == 302
    verify_online(client)
    found = client.get(f"/apply/enterprises?q={enterprise}").get_json() or \
        client.get("/apply/enterprises?q=日志建设").get_json()
    fields = {"enterprise": found[0]["label"], "contract_start": (today() - timedelta(days=30)).isoformat(),
              "contract_end": add_years(today(), 3).isoformat(), "specialties": "building"}
    assert apply_form(app, client, "initial", phone, **fields).status_code == 302
    with app.app_context():
        application_id = db.session.query(Application.id).filter_by(person_id=person_id).scalar()
    assert desk.take(application_id, "confirm").status_code == 302
    assert desk.take(application_id, "pass").status_code == 302
    wrong = app.test_client()
    wrong.post("/login/", data={"username": id_number, "password": "Wrong@2026x", **form_tokens(wrong, "/login/")})
    login(app.test_client(), id_number, PASSWORD)
    with app.app_context():
        ministry = desk.client(desk.staff.ministry)
    assert ministry.get(f"/persons/show/{person_id}").status_code == 200
    assert ministry.get(f"/persons/list/?_flt_0_id_number={id_number}").status_code == 200

    with app.app_context():
        codes = [re.search(r"\d{6}", t).group(0) for (t,) in db.session.query(SmsOutbox.text).filter_by(phone=phone)]
    secrets = {"ID number": [id_number, id_number.lower()], "mobile": [phone], "name": [name],
               "password": [PASSWORD, f.PASSWORD], "SMS code": codes, "captcha answer": answers}
    assert codes and answers
    records = caplog.records
    lines = [_message(r) + "\n" + (r.exc_text or "") for r in records]
    for kind, values in secrets.items():
        for value in values:
            pattern = re.compile(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])")
            leaks = [line for line in lines if pattern.search(line)]
            assert not leaks, f"{kind} {value!r} in the log: {leaks[0][:300]}"
    # The capture did work: FAB's failed sign-in line is there, masked, and SQL was logged without its values.
    assert any(f"Login Failed for user: {mask_id_number(id_number)}" in line for line in lines)
    assert any(r.name.startswith("sqlalchemy.engine") and "[hidden]" in _message(r) for r in records)


def _message(record) -> str:
    """The record's text, as a handler would write it later (an argument may fail to print by then)."""
    try:
        return record.getMessage()
    except Exception:  # nothing of it could be written either
        return str(record.msg)
