"""Legal names and contact phones: one rule each (ground.identifiers), enforced wherever a name or a contact phone
enters — sign-up, the name change (page and API), the roster and continuing-education imports, the persons panel,
staff names, the enterprise's legal representative and contact phone."""
import html

import pytest

from app import roster
from app.business_types import info_change
from ground.extensions import db
from ground.identifiers import InvalidIdentifier, clean_contact_phone, clean_person_name
from models import AppUser, Enterprise, Person
from tests import factories as f
from tests.app.test_roster import HEADER_ZH, _certs, _csv_bytes, _ministry
from tests.conftest import form_tokens, login
from tests.views.test_personal_journey import random_phone

HOSTILE_NAMES = ["<script>alert('name')</script>", "=cmd|'/C calc'!A0", "测试1", "张San", "张", "·张三", "张三·",
                 "张" * 31, "A", "Robert'); DROP TABLE person;--", "@SUM(1+1)", "+张三", "张\x00三", ""]
NAME_MESSAGE = "A name is 2 to 30 Chinese characters"


@pytest.mark.parametrize("typed, stored", [
    ("张三", "张三"), (" 张 三 ", "张三"), ("阿依古丽·买买提", "阿依古丽·买买提"), ("阿依古丽・买买提", "阿依古丽·买买提"),
    ("阿依古丽•买买提", "阿依古丽·买买提"), ("阿依古丽．买买提", "阿依古丽·买买提"), ("阿依古丽.买买提", "阿依古丽·买买提"),
    ("㐀三", "㐀三"), ("𠈌三", "𠈌三"), ("John Smith", "John Smith"), ("O'Brien", "O'Brien"),
    ("Jean-Luc  Picard", "Jean-Luc Picard"), ("J. R. R. Tolkien", "J. R. R. Tolkien"), ("Ｊｏｈｎ", "John"),
])
def test_legal_names_are_accepted_and_normalised(ctx, typed, stored):
    assert clean_person_name(typed) == stored


@pytest.mark.parametrize("typed", HOSTILE_NAMES)
def test_other_names_are_refused_with_the_rule(ctx, typed):
    with pytest.raises(InvalidIdentifier) as caught:
        clean_person_name(typed)
    assert str(caught.value.message).startswith(NAME_MESSAGE)


@pytest.mark.parametrize("typed, stored", [
    ("13800001111", "13800001111"), ("138 0000 1111", "13800001111"), ("010-12345678", "010-12345678"),
    ("0755-1234567", "0755-1234567"), ("010-12345678-123", "010-12345678-123"),
    ("010-12345678转123", "010-12345678-123"), ("(010)12345678", "010-12345678"), ("02112345678", "021-12345678"),
    ("0755 12345678 ext 12", "0755-12345678-12"), ("０１０－１２３４５６７８", "010-12345678"),
])
def test_contact_phones_accept_mobiles_and_landlines(ctx, typed, stored):
    assert clean_contact_phone(typed) == stored


@pytest.mark.parametrize("typed", ["12345", "010-123456", "010-123456789", "0755-0234567", "010-12345678-1234567",
                                   "=1+1", "<b>010</b>", "00-12345678", "abc"])
def test_contact_phones_refuse_the_rest(ctx, typed):
    with pytest.raises(InvalidIdentifier):
        clean_contact_phone(typed)


# --- where names enter ---------------------------------------------------------------------------------
def test_sign_up_refuses_a_script_as_the_real_name(app):
    client = app.test_client()
    client.get("/lang/en")
    id_number, phone = f.unique_id_number(), random_phone()
    data = {"name": "<script>alert('name')</script>", "id_number": id_number, "phone": phone,
            **form_tokens(client, "/signup/")}
    page = html.unescape(client.post("/signup/", data={**data, "action": "send_sms"}).get_data(as_text=True))
    assert NAME_MESSAGE in page and "An SMS code was sent" not in page
    with app.app_context():
        assert db.session.query(Person).filter_by(id_number=id_number).count() == 0


def test_open_account_refuses_a_bad_name(ctx):
    from app import accounts

    with pytest.raises(accounts.AccountError) as caught:
        accounts.open_account("=cmd|'/C calc'!A0", f.unique_id_number(), random_phone(), "Good@2026x")
    assert "name" in caught.value.errors


def test_roster_import_refuses_formula_and_markup_names(ctx):
    c = _certs(4)
    ids = [f.unique_id_number() for _ in range(4)]
    rows = [HEADER_ZH,
            ["=cmd|'/C calc'!A0", ids[0], c[0], "建筑工程", "2020-05-01", "否"],
            ["<script>alert(1)</script>", ids[1], c[1], "建筑工程", "2020-05-01", "否"],
            ["阿依古丽・买买提", ids[2], c[2], "建筑工程", "2020-05-01", "否"],
            ["Anna Müller-Lüdenscheidt", ids[3], c[3], "建筑工程", "2020-05-01", "否"]]
    report = roster.import_roster(_csv_bytes(rows), "names.csv", _ministry())
    got = {r.row: r for r in report.rows}
    assert got[2].status == got[3].status == "refused"
    assert NAME_MESSAGE in got[2].reason and NAME_MESSAGE in got[3].reason
    assert got[4].status == got[5].status == "accepted"
    assert db.session.query(Person).filter(Person.id_number.in_(ids[:2])).count() == 0
    assert db.session.query(Person).filter_by(id_number=ids[2]).one().name == "阿依古丽·买买提"


def test_the_name_change_refuses_a_bad_new_name(ctx):
    person = db.session.get(Person, f.make_person())
    errors = info_change.check_input({"new_name": "<script>alert(1)</script>"}, person)
    assert NAME_MESSAGE in str(errors["new_name"][0])
    assert info_change.check_input({"new_name": "阿依古丽・买买提"}, person) == {}


def test_the_name_change_through_the_api_refuses_a_bad_new_name(app):
    from tests.conftest import api_captcha

    with app.app_context():
        username, _ = f.make_applicant()
    client = app.test_client()
    client.get("/lang/en")
    token = client.post("/api/v1/security/login", json={"username": username, "password": f.PASSWORD,
                                                         "provider": "db", **api_captcha(client)}).get_json()
    resp = client.post("/api/v1/application/", headers={"Authorization": f"Bearer {token['access_token']}"},
                       json={"business_type": "info_change", "new_name": "=cmd|'/C calc'!A0",
                             "reason_text": "户籍姓名变更。"})
    assert resp.status_code in (400, 422), resp.get_data(as_text=True)
    assert NAME_MESSAGE in resp.get_data(as_text=True)


def test_staff_cannot_save_markup_as_their_name(app):
    with app.app_context():
        username = f.make_user("Ministry")
    client = login(app.test_client(), username)
    token = form_tokens(client, "/userinfoeditview/form")["csrf_token"]
    page = client.post("/userinfoeditview/form", data={"csrf_token": token, "first_name": "<b>x</b>",
                                                       "last_name": "三"})
    assert page.status_code == 200 and "A name part is Chinese characters" in html.unescape(page.get_data(as_text=True))
    with app.app_context():
        assert db.session.query(AppUser).filter_by(username=username).one().first_name == "测"


# --- the enterprise's legal representative and contact phone -------------------------------------------
def test_enterprise_profile_takes_a_landline_and_refuses_a_bad_representative(app):
    with app.app_context():
        enterprise_id = f.make_enterprise()
        username = f.make_user("Enterprise", enterprise_id=enterprise_id)
    client = login(app.test_client(), username)
    token = form_tokens(client, "/enterprise-profile/")["csrf_token"]
    ok = client.post("/enterprise-profile/", data={"csrf_token": token, "legal_representative": "阿依古丽・买买提",
                                                   "contact_phone": "010-12345678转123", "address": "北京"})
    assert ok.status_code in (200, 302)
    with app.app_context():
        enterprise = db.session.get(Enterprise, enterprise_id)
        assert (enterprise.legal_representative, enterprise.contact_phone) == ("阿依古丽·买买提", "010-12345678-123")
    bad = client.post("/enterprise-profile/", data={"csrf_token": token, "legal_representative": "=HYPERLINK(1)",
                                                    "contact_phone": "0755-1234567", "address": "北京"})
    assert NAME_MESSAGE in html.unescape(bad.get_data(as_text=True))
    with app.app_context():
        assert db.session.get(Enterprise, enterprise_id).contact_phone == "010-12345678-123"


def test_the_enterprise_model_stores_landlines(ctx):
    enterprise = db.session.get(Enterprise, f.make_enterprise())
    enterprise.contact_phone = "0755-12345678-123456"
    db.session.commit()
    assert db.session.get(Enterprise, enterprise.id).contact_phone == "0755-12345678-123456"
    with pytest.raises(InvalidIdentifier):
        enterprise.contact_phone = "12345"
    db.session.rollback()
