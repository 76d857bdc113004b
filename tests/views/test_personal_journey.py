"""The personal edition end to end through the test client: a new person signs up in four steps,
verifies online, applies, withdraws, amends a returned application; each business type submits
through its own form; progress, trail, mobile and password pages work."""
import io
import re
from datetime import timedelta

import pytest
from PIL import Image

from ground.clock import add_years, today
from ground.extensions import db
from models import Application, AppUser, Person, SmsOutbox
from tests import factories as f
from tests.conftest import form_tokens, login

PASSWORD = "Build@2026x"


def sms_code(app, phone) -> str:
    """The newest code sent to `phone`, read from the outbox (the default SMS gateway)."""
    with app.app_context():
        row = db.session.query(SmsOutbox).filter(SmsOutbox.phone == phone).order_by(SmsOutbox.id.desc()).first()
        assert row is not None, f"no SMS to {phone}"
        return re.search(r"\d{6}", row.text).group(0)


def image(size=(600, 800), colour="white", fmt="JPEG", face=True) -> bytes:
    img = Image.new("RGB", size, colour)
    if face:  # a dark shape in the middle keeps the light border a "background"
        w, h = size
        img.paste((60, 50, 40), (w // 3, h // 4, 2 * w // 3, 3 * h // 4))
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def random_phone() -> str:
    return f"139{f.next_serial():08d}"


def sign_up(app, client, name, id_number, phone, password=PASSWORD):
    """Step 1 through the form: captcha → SMS code → account. Returns the last response."""
    client.get("/lang/en")
    tokens = form_tokens(client, "/signup/")
    data = {"name": name, "id_number": id_number, "phone": phone, **tokens}
    resp = client.post("/signup/", data={**data, "action": "send_sms"})
    assert resp.status_code == 200 and "An SMS code was sent" in resp.get_data(as_text=True)
    tokens = form_tokens(client, "/signup/")
    return client.post("/signup/", data={**data, "csrf_token": tokens["csrf_token"], "action": "next",
                                         "sms_code": sms_code(app, phone), "password": password,
                                         "confirm": password})


def upload(client, kind, data, filename=None):
    token = form_tokens(client, "/me/materials")["csrf_token"]
    return client.post("/me/materials", data={"csrf_token": token, "kind": kind,
                                              "file": (io.BytesIO(data), filename or f"{kind}.jpg")},
                       content_type="multipart/form-data")


def complete_materials(client):
    resp = upload(client, "photo", image())
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/me/materials/photo")
    assert "Check your 1-inch photo" in client.get("/me/materials/photo").get_data(as_text=True)
    token = form_tokens(client, "/me/materials")["csrf_token"]
    client.post("/me/materials/photo", data={"csrf_token": token, "decision": "keep"})
    for kind in ("id_front", "id_back", "id_handheld"):
        assert upload(client, kind, image((800, 500), face=False)).status_code == 302
    assert upload(client, "signature", image((600, 200), fmt="PNG", face=False), "sign.png").status_code == 302


def complete_profile(client):
    token = form_tokens(client, "/me/profile")["csrf_token"]
    return client.post("/me/profile", data={
        "csrf_token": token, "ethnicity": "01", "email": "wang@example.cn", "education": "bachelor",
        "degree": "bachelor", "school": "同济大学", "graduation_date": "2008-07-01", "major": "土木工程"})


def verify_online(client):
    token = form_tokens(client, "/me/verify")["csrf_token"]
    resp = client.post("/me/verify/online", data={"csrf_token": token})
    nonce = resp.headers["Location"].rsplit("/", 1)[1]
    assert "<svg" in client.get(resp.headers["Location"]).get_data(as_text=True)  # the QR code
    phone_page = client.get(f"/realname/simulator/{nonce}").get_data(as_text=True)
    payload, signature = re.findall(r'name="payload" value="([^"]+)"', phone_page)[0], \
        re.findall(r'name="signature" value="([^"]+)"', phone_page)[0]
    import html

    return nonce, client.post("/realname/callback/simulator",
                              data={"payload": html.unescape(payload), "signature": signature})


def apply_form(app, client, business_type, phone, submit=True, **fields):
    url = f"/apply/{business_type}"
    token = form_tokens(client, url)["csrf_token"]
    data = {"csrf_token": token, "agree_notice": "y", "agree_commitment": "y", **fields}

    def fresh(values):  # file fields are given as callables: a new stream for every post
        return {k: v() if callable(v) else v for k, v in values.items()}

    if submit:
        resp = client.post(url, data={**fresh(data), "action": "send_sms"}, content_type="multipart/form-data")
        assert "An SMS code was sent" in resp.get_data(as_text=True), resp.get_data(as_text=True)[:3000]
        data["sms_code"] = sms_code(app, phone)
    return client.post(url, data={**fresh(data), "action": "submit" if submit else "save"},
                       content_type="multipart/form-data")


def state_of(app, application_id):
    with app.app_context():
        return db.session.get(Application, application_id).state


def test_new_person_signs_up_verifies_applies_withdraws_and_amends(app, monkeypatch):
    # The journey sends several codes to one number within a minute; the 60 s limit has its own test.
    monkeypatch.setitem(app.config, "SMS_RESEND_SECONDS", 0)
    with app.app_context():
        # The exam authority's roster already holds the person (imported by the ministry).
        person_id = f.make_person(verified=False, materials=False, name="王建国")
        person = db.session.get(Person, person_id)
        id_number = person.id_number
        enterprise = f.make_enterprise("11", name="北京旅程建设集团有限公司")
        officer = f.make_user("Enterprise", enterprise_id=enterprise)
        credit_code = db.session.get(f.Enterprise, enterprise).credit_code
    phone = random_phone()
    client = app.test_client()

    resp = sign_up(app, client, "王建国", id_number.lower(), phone)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/me/materials")
    with app.app_context():
        account = db.session.query(AppUser).filter_by(username=id_number).one()
        assert account.person_id == person_id  # bound to the roster's person, not a duplicate
        assert db.session.get(Person, person_id).phone == phone

    steps = client.get("/me/").get_data(as_text=True)
    assert "Next: step 2" in steps
    complete_materials(client)
    assert "Next: step 3" in client.get("/me/").get_data(as_text=True)
    assert complete_profile(client).status_code == 302
    assert "Next: step 4" in client.get("/me/").get_data(as_text=True)

    # Not verified yet: the eligibility check says so before anything is typed.
    form_page = client.get("/apply/initial").get_data(as_text=True)
    assert "has not been verified yet" in form_page

    nonce, resp = verify_online(client)
    assert resp.status_code == 200 and "Identity confirmed" in resp.get_data(as_text=True)
    assert "Your account is complete" in client.get("/me/").get_data(as_text=True)
    assert "Every precondition is met" in client.get("/apply/initial").get_data(as_text=True)

    # The employer is found by keyword.
    found = client.get("/apply/enterprises?q=旅程").get_json()
    assert found and credit_code in found[0]["label"]

    fields = {"enterprise": found[0]["label"], "contract_start": (today() - timedelta(days=30)).isoformat(),
              "contract_end": add_years(today(), 3).isoformat(), "specialties": "building"}
    resp = apply_form(app, client, "initial", phone, **fields)
    assert resp.status_code == 302 and "/progress/" in resp.headers["Location"], resp.get_data(as_text=True)[:2000]
    with app.app_context():
        first = db.session.query(Application).filter_by(person_id=person_id).one()
        first_id = first.id
        assert first.state == "enterprise_review" and first.enterprise_id == enterprise
    progress = client.get("/progress/").get_data(as_text=True)
    assert first.number in progress and "Statutory time limit" in progress and "working days left" in progress

    # Withdraw before the enterprise confirms (through the confirmation page).
    token = form_tokens(client, f"/applications/transition/{first_id}/withdraw")["csrf_token"]
    client.post(f"/applications/transition/{first_id}/withdraw", data={"csrf_token": token})
    assert state_of(app, first_id) == "withdrawn"

    # Apply again; the enterprise returns it; the applicant amends and resubmits from the same form.
    assert apply_form(app, client, "initial", phone, **fields).status_code == 302
    with app.app_context():
        second_id = (db.session.query(Application.id).filter_by(person_id=person_id, state="enterprise_review")
                     .scalar())
        f.move(second_id, "return", officer, opinion="合同起始日期与社保记录不符")
    page = client.get("/apply/initial").get_data(as_text=True)
    assert "合同起始日期与社保记录不符" in page and "Returned for amendment" in page
    resp = apply_form(app, client, "initial", phone, **{**fields, "contract_start": (today() - timedelta(days=60)).isoformat()})
    assert resp.status_code == 302
    assert state_of(app, second_id) == "enterprise_review"
    progress = client.get("/progress/").get_data(as_text=True)
    assert "合同起始日期与社保记录不符" in progress  # the opinion stays on the timeline

    trail = client.get("/me/trail").get_data(as_text=True)
    for entry in ("Submit", "Withdraw", "Material", "Personal information"):
        assert entry in trail


def test_sign_in_with_captcha_after_sign_up(app):
    with app.app_context():
        id_number = f.unique_id_number()
    phone = random_phone()
    client = app.test_client()
    assert sign_up(app, client, "赵登录", id_number, phone).status_code == 302
    token = form_tokens(client, "/me/")  # signed in: the page has the logout form's token
    client.post("/logout/", data={"csrf_token": token["csrf_token"]})
    login(client, id_number, PASSWORD)
    assert "赵登录" in client.get("/me/").get_data(as_text=True)
    assert "Signed in" in client.get("/me/trail").get_data(as_text=True)


# --- each business type through its own form ---------------------------------------------------
def _contract():
    return {"contract_start": (today() - timedelta(days=30)).isoformat(),
            "contract_end": add_years(today(), 3).isoformat()}


def _case(business_type, employer, other_employer):
    """(username, person id, form fields) of a person eligible for this type."""
    if business_type == "initial":
        username, person_id = f.make_applicant()
        return username, person_id, {**_contract(), "enterprise": other_employer["label"], "specialties": "building"}
    if business_type == "re_registration":
        username, person_id = f.make_registered(employer["id"], status="cancelled")
        return username, person_id, {**_contract(), "enterprise": other_employer["label"], "specialties": "building"}
    if business_type == "info_change":
        username, person_id = f.make_applicant()
        return username, person_id, {"new_name": "王新名", "reason_text": "户籍登记更名",
                                     "id_front": lambda: (io.BytesIO(image((800, 500), face=False)), "front.jpg"),
                                     "id_back": lambda: (io.BytesIO(image((800, 500), face=False)), "back.jpg")}
    if business_type == "renewal":
        username, person_id = f.make_registered(employer["id"], expires_in_days=10)
        f.give_hours(person_id)  # the period's continuing-education hours are on record
        return username, person_id, {**_contract(), "specialties": "building"}
    username, person_id = f.make_registered(employer["id"], temporary=business_type == "change")
    fields = {
        "change": {**_contract(), "enterprise": other_employer["label"]},
        "add_specialty": {**_contract(), "specialties": "mining"},
        "cancellation": {"reason": "contract_ended"},
        "replacement": {"reason": "lost"},
    }[business_type]
    return username, person_id, fields


FIRST_STAGE = {"initial": "enterprise_review", "re_registration": "enterprise_review", "change": "enterprise_review",
               "add_specialty": "enterprise_review", "renewal": "enterprise_review",
               "cancellation": "enterprise_review", "replacement": "ministry_review",
               "info_change": "province_review"}


def eligible_applicant(app, business_type):
    """(username, person id, form fields, mobile, [current employer, other employer]) for this type."""
    with app.app_context():
        employers = []
        for _ in range(2):
            eid = f.make_enterprise("11")
            e = db.session.get(f.Enterprise, eid)
            employers.append({"id": eid, "label": f"{e.name} [{e.credit_code}]"})
        username, person_id, fields = _case(business_type, *employers)
        phone = random_phone()
        db.session.get(Person, person_id).phone = phone
        db.session.commit()
    return username, person_id, fields, phone, employers


@pytest.mark.parametrize("business_type", sorted(FIRST_STAGE))
def test_each_business_type_submits_through_its_form(app, business_type):
    username, person_id, fields, phone, _ = eligible_applicant(app, business_type)
    client = login(app.test_client(), username, f.PASSWORD)
    page = client.get(f"/apply/{business_type}").get_data(as_text=True)
    assert "Every precondition is met" in page, re.findall(r"<li>([^<]+)</li>", page)
    resp = apply_form(app, client, business_type, phone, **fields)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    with app.app_context():
        item = db.session.query(Application).filter_by(person_id=person_id).one()
        assert item.state == FIRST_STAGE[business_type]
        assert item.submitted_at is not None
        if business_type == "info_change":
            assert item.new_name == "王新名"
            assert {a.kind for a in db.session.get(Person, person_id).attachments
                    if a.application_id == item.id} == {"id_front", "id_back"}


def test_a_draft_is_saved_without_sms_and_continued(app):
    with app.app_context():
        username, person_id = f.make_applicant()
        enterprise = f.make_enterprise("11")
        e = db.session.get(f.Enterprise, enterprise)
        label = f"{e.name} [{e.credit_code}]"
    client = login(app.test_client(), username, f.PASSWORD)
    resp = apply_form(app, client, "initial", None, submit=False, enterprise=label, specialties="building")
    assert resp.status_code == 302
    with app.app_context():
        draft = db.session.query(Application).filter_by(person_id=person_id).one()
        assert draft.state == "draft" and draft.enterprise_id == enterprise
    page = client.get("/apply/initial").get_data(as_text=True)
    assert draft.number in page and label in page  # reopened with what was typed


# --- personal information -------------------------------------------------------------------------
def test_change_mobile_needs_the_code_sent_to_the_new_number(app):
    with app.app_context():
        username, person_id = f.make_applicant()
    client = login(app.test_client(), username, f.PASSWORD)
    new_phone = random_phone()
    token = form_tokens(client, "/me/phone")["csrf_token"]
    client.post("/me/phone", data={"csrf_token": token, "phone": new_phone, "action": "send_sms"})
    wrong = client.post("/me/phone", data={"csrf_token": token, "phone": new_phone, "sms_code": "000000",
                                           "action": "save"}).get_data(as_text=True)
    assert "verification code is wrong" in wrong
    with app.app_context():
        assert db.session.get(Person, person_id).phone != new_phone
    client.post("/me/phone", data={"csrf_token": token, "phone": new_phone, "sms_code": sms_code(app, new_phone),
                                   "action": "save"})
    with app.app_context():
        assert db.session.get(Person, person_id).phone == new_phone


def test_change_password_checks_the_old_one_and_the_rules(app):
    with app.app_context():
        username, _ = f.make_applicant()
    client = login(app.test_client(), username, f.PASSWORD)
    token = form_tokens(client, "/me/password")["csrf_token"]
    page = client.post("/me/password", data={"csrf_token": token, "old_password": "nope", "password": "New@2026ab",
                                             "confirm": "New@2026ab"}).get_data(as_text=True)
    assert "current password is wrong" in page
    page = client.post("/me/password", data={"csrf_token": token, "old_password": f.PASSWORD, "password": "short",
                                             "confirm": "short"}).get_data(as_text=True)
    assert "At least 8 characters" in page
    resp = client.post("/me/password", data={"csrf_token": token, "old_password": f.PASSWORD,
                                             "password": "New@2026ab", "confirm": "New@2026ab"})
    assert resp.status_code == 302
    assert "Password changed" in client.get("/me/trail").get_data(as_text=True)
    login(app.test_client(), username, "New@2026ab")


def test_my_certificates_lists_them_or_says_none(app):
    with app.app_context():
        fresh, _ = f.make_applicant()
        employer = f.make_enterprise("11")
        registered, person_id = f.make_registered(employer)
    page = login(app.test_client(), fresh, f.PASSWORD).get("/me/certificates").get_data(as_text=True)
    assert "No certificate has been issued to you yet" in page
    page = login(app.test_client(), registered, f.PASSWORD).get("/me/certificates").get_data(as_text=True)
    assert f"T{person_id:011d}" in page


def test_personal_menus_in_chinese(app):
    with app.app_context():
        username, _ = f.make_applicant()
    client = login(app.test_client(), username, f.PASSWORD, lang="zh")
    page = client.get("/me/").get_data(as_text=True)
    for entry in ("注册申报", "一级建造师", "一级建造师临时", "进度查询", "个人信息", "修改手机", "修改密码", "操作轨迹",
                  "我的证书"):
        assert entry in page, entry
    # 注册申报: the 执业资格 first (user manual 3.1.3), then the business types in the left-hand menu.
    page = client.get("/apply/").get_data(as_text=True)
    assert "/apply/?kind=regular" in page and "/apply/?kind=temporary" in page and "/apply/initial" not in page
    page = client.get("/apply/?kind=regular").get_data(as_text=True)
    for entry in ("初始注册", "变更注册", "增项注册", "延续注册", "注销注册", "重新注册", "证书更换", "个人信息修改"):
        assert entry in page, entry
