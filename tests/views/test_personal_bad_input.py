"""Every bad input of the personal edition gives a clear, translated message on the page and saves nothing.

One table: each case prepares its own person/phone/ID, takes a snapshot of every row the input could
touch (accounts, persons, attachments, applications, SMS codes, sign-in counters and audit rows),
sends the bad input through the pages, and the test checks the message and that the snapshot is unchanged.
"""
import re
import struct
import zlib
from datetime import timedelta

import pytest
from sqlalchemy import func

from ground.clock import add_years, now_utc, today
from ground.extensions import db
from models import Application, AppUser, Attachment, AuditLog, Person, SmsCode
from tests import factories as f
from tests.conftest import form_tokens, login
from tests.views.test_personal_journey import PASSWORD, apply_form, image, random_phone, sign_up, sms_code, upload

CHECKSUM_MESSAGE = "The check character of this ID number is wrong; please check every digit."
CAPTCHA_MESSAGE = "The verification code is wrong or has expired; type the new one."


# --- building blocks --------------------------------------------------------------------------------
def _bad_checksum(id_number: str) -> str:
    alphabet = "0123456789X"
    return id_number[:17] + alphabet[(alphabet.index(id_number[17]) + 1) % len(alphabet)]


def _new_identity(app):
    with app.app_context():
        return f.unique_id_number(), random_phone()


def _signup_data(client, name, id_number, phone, lang="en"):
    client.get(f"/lang/{lang}")
    return {"name": name, "id_number": id_number, "phone": phone, **form_tokens(client, "/signup/")}


def _send_signup_code(app, client, name, id_number, phone) -> tuple[dict, str]:
    """Ask for the sign-up code through the form; returns the form data (fresh CSRF) and the code."""
    data = _signup_data(client, name, id_number, phone)
    resp = client.post("/signup/", data={**data, "action": "send_sms"})
    assert "An SMS code was sent" in resp.get_data(as_text=True)
    data = {k: v for k, v in data.items() if not k.startswith("captcha")}
    return data, sms_code(app, phone)


def _open_account(client, data, code, password=PASSWORD):
    return client.post("/signup/", data={**data, "action": "next", "sms_code": code, "password": password,
                                         "confirm": password})


def _signed_in_applicant(app, verified=True, materials=True):
    """(client signed in, username, person id, phone, enterprise id, label of that enterprise as the form shows it);
    the enterprise is a new one in Beijing."""
    with app.app_context():
        username, person_id = f.make_applicant(verified=verified, materials=materials)
        phone = random_phone()
        db.session.get(Person, person_id).phone = phone
        enterprise = db.session.get(f.Enterprise, f.make_enterprise("11"))
        label = f"{enterprise.name} [{enterprise.credit_code}]"
        db.session.commit()
        enterprise_id = enterprise.id
    return login(app.test_client(), username, f.PASSWORD), username, person_id, phone, enterprise_id, label


def _huge_png(width=20000, height=20000) -> bytes:
    """A valid PNG header claiming width x height with a few bytes of pixel data (nothing big in memory)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grey
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def _snapshot(app, keys: dict) -> dict:
    """Every row the bad input could have written, for the case's own ID number / phone / person / account."""
    s = {}
    with app.app_context():
        q = db.session.query
        if "id_number" in keys:
            s["accounts"] = q(AppUser).filter(AppUser.username == keys["id_number"]).count()
            s["persons"] = q(Person).filter(Person.id_number == keys["id_number"]).count()
        if "phone" in keys:
            phone = keys["phone"]
            s["persons with the phone"] = q(Person).filter(Person.phone == phone).count()
            s["SMS codes used"] = q(SmsCode).filter(SmsCode.phone == phone, SmsCode.used_at.isnot(None)).count()
            if keys.get("no_sms"):
                s["SMS codes sent"] = q(SmsCode).filter(SmsCode.phone == phone).count()
        if "person_id" in keys:
            pid = keys["person_id"]
            s["attachments"] = sorted((a.id, a.kind, a.is_current) for a in q(Attachment).filter_by(person_id=pid))
            s["applications"] = sorted((a.id, a.state, a.submitted_at) for a in q(Application).filter_by(person_id=pid))
            person = db.session.get(Person, pid)
            s["person"] = (person.phone, person.realname_status, person.name)
        if "username" in keys:
            user = q(AppUser).filter(AppUser.username == keys["username"]).one()
            s["sign-in counters"] = (user.login_count, user.fail_login_count, user.last_login, user.locked_until)
            s["audit rows"] = (q(func.count(AuditLog.id))
                               .filter(AuditLog.object_type == "AppUser", AuditLog.object_id == str(user.id)).scalar())
    return s


def _messages(page: str) -> list[str]:
    """The error texts and flashed messages of a page (what the user reads), for assertion output."""
    found = re.findall(r'<span class="help-block">([^<]*)</span>', page)
    found += [re.sub(r"\s+", " ", m).strip() for m in re.findall(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', page, re.S)]
    return found


def _page(client, resp) -> str:
    """The page the user ends up on (a redirect is followed once); never a server error or a bare status page."""
    assert resp.status_code < 500, resp.get_data(as_text=True)[:1000]
    if resp.status_code in (301, 302, 303):
        resp = client.get(resp.headers["Location"])
    assert resp.status_code == 200, (resp.status_code, resp.get_data(as_text=True)[:500])
    return resp.get_data(as_text=True)


# --- the cases: each prepares its data and returns the bad request, the message and what to snapshot ---
def case_id_checksum(app, client):
    id_number, phone = _new_identity(app)
    bad = _bad_checksum(id_number)

    def act():
        return client.post("/signup/", data={**_signup_data(client, "校验位", bad, phone), "action": "send_sms"})

    return {"keys": {"id_number": bad, "phone": phone, "no_sms": True}, "act": act, "message": CHECKSUM_MESSAGE}


def case_duplicate_id(app, client):
    with app.app_context():
        username, person_id = f.make_applicant()
        name = db.session.get(Person, person_id).name
    phone = random_phone()

    def act():
        return client.post("/signup/", data={**_signup_data(client, name, username, phone), "action": "send_sms"})

    return {"keys": {"id_number": username, "phone": phone, "no_sms": True, "person_id": person_id}, "act": act,
            "message": "An account with this ID number already exists; sign in, or reset the password by SMS."}


def case_wrong_sms_code(app, client):
    id_number, phone = _new_identity(app)
    data, code = _send_signup_code(app, client, "错验证码", id_number, phone)
    wrong = "000000" if code != "000000" else "000001"
    return {"keys": {"id_number": id_number, "phone": phone}, "act": lambda: _open_account(client, data, wrong),
            "message": "The verification code is wrong (4 attempts left)."}


def case_expired_sms_code(app, client):
    id_number, phone = _new_identity(app)
    data, code = _send_signup_code(app, client, "过期码", id_number, phone)
    with app.app_context():
        db.session.query(SmsCode).filter(SmsCode.phone == phone).update(
            {"expires_at": now_utc() - timedelta(seconds=1)})
        db.session.commit()
    return {"keys": {"id_number": id_number, "phone": phone}, "act": lambda: _open_account(client, data, code),
            "message": "The verification code has expired; ask for a new one."}


def case_reused_sms_code(app, client):
    """A code that opened one account cannot open a second one (same phone, another ID number)."""
    first_id, phone = _new_identity(app)
    assert sign_up(app, app.test_client(), "首个", first_id, phone).status_code == 302
    code = sms_code(app, phone)
    second_id, _ = _new_identity(app)
    data = _signup_data(client, "第二个", second_id, phone)
    return {"keys": {"id_number": second_id, "phone": phone}, "act": lambda: _open_account(client, data, code),
            "message": "No verification code has been sent to this number; ask for one first."}


def case_wrong_captcha_for_sms(app, client):
    id_number, phone = _new_identity(app)

    def act():
        data = _signup_data(client, "错图形码", id_number, phone)
        return client.post("/signup/", data={**data, "captcha": "0000", "action": "send_sms"})  # 0 is never drawn

    return {"keys": {"id_number": id_number, "phone": phone, "no_sms": True}, "act": act, "message": CAPTCHA_MESSAGE}


def case_wrong_captcha_at_login(app, client):
    with app.app_context():
        username, person_id = f.make_applicant()

    def act():
        client.get("/lang/en")
        tokens = form_tokens(client, "/login/")
        return client.post("/login/", data={**tokens, "captcha": "0000", "username": username, "password": f.PASSWORD})

    return {"keys": {"username": username, "person_id": person_id}, "act": act, "message": CAPTCHA_MESSAGE,
            "check": lambda: client.get("/me/").status_code == 302}  # still signed out


def case_weak_password(app, client):
    id_number, phone = _new_identity(app)
    data, code = _send_signup_code(app, client, "弱密码", id_number, phone)
    return {"keys": {"id_number": id_number, "phone": phone},
            "act": lambda: _open_account(client, data, code, password="abcdefgh"),
            "message": "Use at least three of: capital letters, small letters, digits, symbols."}


def _text_file():
    return b"This is a plain text file, renamed photo.jpg.\n" * 20


def _truncated_jpeg():
    whole = image((1200, 1600))
    return whole[: len(whole) // 2]


def _over_upload_limit():
    return b"\xff\xd8\xff\xe0" + b"\0" * (8 * 1024 * 1024)  # UPLOAD_MAX_BYTES (8 MB) + 4 bytes


def _over_request_limit():
    return b"\xff\xd8\xff\xe0" + b"\0" * (16 * 1024 * 1024)  # the whole request is over MAX_CONTENT_LENGTH (16 MB)


def case_contract_end_before_start(app, client):
    signed_in, _, person_id, phone, _, label = _signed_in_applicant(app)
    fields = {"enterprise": label, "specialties": "building",
              "contract_start": (today() + timedelta(days=400)).isoformat(),
              "contract_end": (today() + timedelta(days=100)).isoformat()}
    return {"keys": {"person_id": person_id, "phone": phone}, "client": signed_in,
            "act": lambda: apply_form(app, signed_in, "initial", phone, **fields),
            "message": "The contract end date must not be before its start date."}


def case_specialty_not_qualified(app, client):
    """Qualified in building only; the form offers building; a hand-made post asks for mining."""
    signed_in, _, person_id, phone, _, label = _signed_in_applicant(app)
    page = signed_in.get("/apply/initial").get_data(as_text=True)
    assert 'value="building"' in page and 'value="mining"' not in page
    fields = {"enterprise": label, "contract_start": (today() - timedelta(days=30)).isoformat(),
              "contract_end": add_years(today(), 3).isoformat()}
    # The SMS code is asked for with a valid form; the submit then names the specialty not offered.
    token = form_tokens(signed_in, "/apply/initial")["csrf_token"]
    sent = signed_in.post("/apply/initial", data={"csrf_token": token, **fields, "specialties": "building",
                                                  "action": "send_sms"})
    assert "An SMS code was sent" in sent.get_data(as_text=True)
    data = {"csrf_token": token, **fields, "specialties": "mining", "agree_notice": "y", "agree_commitment": "y",
            "sms_code": sms_code(app, phone), "action": "submit"}
    return {"keys": {"person_id": person_id, "phone": phone}, "client": signed_in,
            "act": lambda: signed_in.post("/apply/initial", data=data),
            "message": "Choose only specialties you are qualified for."}


def case_second_open_application(app, client):
    signed_in, username, person_id, phone, enterprise_id, label = _signed_in_applicant(app)
    with app.app_context():
        first = f.make_application(username, "initial", enterprise_id=enterprise_id)
        f.move(first, "submit", username)
        number = db.session.get(Application, first).number
    message = f"Application {number} is already in progress; only one may be open at a time."
    # The form's eligibility check lists it before anything is typed...
    assert message in signed_in.get("/apply/initial").get_data(as_text=True)
    fields = {"enterprise": label, "specialties": "building", "contract_start": (today() - timedelta(days=30)).isoformat(),
              "contract_end": add_years(today(), 3).isoformat()}
    # ... the form is closed (no code to send, nothing to fill in), and a forged post is refused.
    assert "fieldset disabled" in signed_in.get("/apply/initial").get_data(as_text=True)
    return {"keys": {"person_id": person_id, "phone": phone}, "client": signed_in,
            "act": lambda: apply_form(app, signed_in, "initial", phone, submit=False, **fields),
            "message": "This application cannot be made now; see the reasons above the form."}


def _upload(data_factory, message, filename=None):
    def case(app, client):
        signed_in, _, person_id, *_ = _signed_in_applicant(app, materials=False)
        return {"keys": {"person_id": person_id}, "client": signed_in,
                "act": lambda: upload(signed_in, "photo", data_factory(), filename), "message": message}
    return case


CASES = {
    "id-checksum": case_id_checksum,
    "duplicate-id": case_duplicate_id,
    "wrong-sms-code": case_wrong_sms_code,
    "expired-sms-code": case_expired_sms_code,
    "reused-sms-code": case_reused_sms_code,
    "wrong-captcha-for-sms": case_wrong_captcha_for_sms,
    "wrong-captcha-at-login": case_wrong_captcha_at_login,
    "weak-password": case_weak_password,
    "text-file-renamed-jpg": _upload(_text_file, "The file is not a JPEG or PNG image.", "photo.jpg"),
    "truncated-jpeg": _upload(_truncated_jpeg, "The image is damaged or incomplete; please save or scan it again."),
    "20000x20000-png": _upload(_huge_png, "The image has too many pixels; at most 40 million are allowed.",
                               "photo.png"),
    "over-upload-limit": _upload(_over_upload_limit, "The file is larger than 8 MB."),
    # Flask refuses the request with 413 before the view runs; the app's handler must turn it into a message.
    "over-request-limit": _upload(_over_request_limit, "The upload is larger than 16 MB; choose a smaller file."),
    "contract-end-before-start": case_contract_end_before_start,
    "specialty-not-qualified": case_specialty_not_qualified,
    "second-open-application": case_second_open_application,
}


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_bad_input_gives_a_clear_message_and_saves_nothing(app, monkeypatch, name):
    monkeypatch.setitem(app.config, "SMS_RESEND_SECONDS", 0)  # a case may send two codes to one number
    client = app.test_client()
    case = CASES[name](app, client)
    client = case.get("client", client)
    before = _snapshot(app, case["keys"])
    resp = case["act"]()
    page = _page(client, resp)
    assert _snapshot(app, case["keys"]) == before
    assert case["message"] in page, _messages(page)
    if "check" in case:
        assert case["check"]()


def test_bad_id_number_message_in_chinese(app):
    id_number, phone = _new_identity(app)
    bad = _bad_checksum(id_number)
    client = app.test_client()
    keys = {"id_number": bad, "phone": phone, "no_sms": True}
    before = _snapshot(app, keys)
    data = _signup_data(client, "中文", bad, phone, lang="zh")
    page = client.post("/signup/", data={**data, "action": "send_sms"}).get_data(as_text=True)
    assert "身份证号码校验位错误，请逐位核对。" in page
    assert CHECKSUM_MESSAGE not in page
    assert _snapshot(app, keys) == before


def test_a_bad_sign_up_keeps_what_was_typed_and_a_fresh_captcha(app):
    """After a refusal the form is shown again with the typed values (never the password) and a new captcha."""
    id_number, phone = _new_identity(app)
    client = app.test_client()
    data, code = _send_signup_code(app, client, "保留输入", id_number, phone)
    resp = _open_account(client, data, code, password="abcdefgh")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and id_number in page and phone in page and "abcdefgh" not in page
    assert form_tokens(client, "/signup/").get("captcha_nonce")
    # The code was not used up by the refused attempt: the right password now opens the account.
    assert _open_account(client, data, code).status_code == 302
    with app.app_context():
        assert db.session.query(AppUser).filter_by(username=id_number).count() == 1
