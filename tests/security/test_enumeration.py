"""Account enumeration: sign-in (page and API) and the password reset answer a known and an unknown account alike,
byte for byte once tokens and nonces are blanked, and do the same password-hashing work for both."""
import re
from datetime import timedelta

from ground.clock import now_utc
from ground.extensions import db
from models import AppUser, Notification, Person, SmsOutbox
from tests import factories as f
from tests.conftest import api_captcha, form_tokens
from tests.views.test_personal_journey import random_phone

WRONG = "Wrong@2026x"
_VOLATILE = [
    (re.compile(r'(name="csrf_token"[^>]*value=")[^"]+'), r"\1-"),
    (re.compile(r'(value=")[^"]+("[^>]*name="csrf_token")'), r"\1-\2"),
    (re.compile(r'(name="captcha_nonce"[^>]*value=")[^"]+'), r"\1-"),
    (re.compile(r'(value=")[^"]+("[^>]*name="captcha_nonce")'), r"\1-\2"),
    (re.compile(r"/captcha/[A-Za-z0-9_-]+\.png"), "/captcha/-.png"),
    (re.compile(r'nonce="[^"]+"'), 'nonce="-"'),
    (re.compile(r'"request_id": "[0-9a-f]+"'), '"request_id": "-"'),
]


def _blank(body: str, *typed: str) -> str:
    """The page without what changes on every request (tokens, nonces) and without what the client typed."""
    for pattern, repl in _VOLATILE:
        body = pattern.sub(repl, body)
    for value in typed:
        body = body.replace(value, "<typed>")
    return body


def _client(app):
    client = app.test_client()
    client.get("/lang/zh")
    return client


def _accounts(app, phone=None):
    """A known applicant (optionally with a mobile), a locked one, an inactive one, and an unknown ID number."""
    with app.app_context():
        known, person_id = f.make_applicant()
        if phone:
            db.session.get(Person, person_id).phone = phone
        locked, _ = f.make_applicant()
        inactive, _ = f.make_applicant()
        users = {u.username: u for u in db.session.query(AppUser).filter(AppUser.username.in_([locked, inactive]))}
        users[locked].locked_until = now_utc() + timedelta(minutes=30)
        users[inactive].active = False
        db.session.commit()
        return known, locked, inactive, f.unique_id_number()


def _page_attempt(app, username, password):
    client = _client(app)
    resp = client.post("/login/", data={"username": username, "password": password,
                                        **form_tokens(client, "/login/")})
    return resp.status_code, sorted(resp.headers.keys()), _blank(resp.get_data(as_text=True), username)


def test_page_sign_in_answers_known_unknown_locked_and_inactive_accounts_alike(app):
    known, locked, inactive, unknown = _accounts(app)
    wrong_password = _page_attempt(app, known, WRONG)
    assert wrong_password[0] == 200
    assert _page_attempt(app, unknown, WRONG) == wrong_password
    assert _page_attempt(app, inactive, f.PASSWORD) == wrong_password
    # A locked account refuses even the right password, with the same answer (no guessing during the lock).
    assert _page_attempt(app, locked, f.PASSWORD) == wrong_password
    assert _page_attempt(app, locked, WRONG) == wrong_password
    # The one message names the policy instead of counting down one account's attempts.
    assert "账号将被锁定" in wrong_password[2] and "再输错" not in wrong_password[2]


def test_api_sign_in_answers_known_unknown_and_locked_accounts_alike(app):
    known, locked, inactive, unknown = _accounts(app)

    def attempt(username, password):
        client = _client(app)
        resp = client.post("/api/v1/security/login", json={"username": username, "password": password,
                                                            "provider": "db", **api_captcha(client)})
        return resp.status_code, _blank(resp.get_data(as_text=True))

    wrong_password = attempt(known, WRONG)
    assert wrong_password[0] == 401
    for username, password in ((unknown, WRONG), (inactive, f.PASSWORD), (locked, f.PASSWORD), (locked, WRONG)):
        assert attempt(username, password) == wrong_password


def test_every_refusal_does_one_password_hash(app, monkeypatch):
    """Timing: an unknown, inactive or locked account costs one hash check like a wrong password."""
    from views.shell import security

    known, locked, inactive, unknown = _accounts(app)
    calls = []
    real = security.check_password_hash
    monkeypatch.setattr(security, "check_password_hash", lambda *a: calls.append(1) or real(*a))
    for username in (known, unknown, inactive, locked):
        calls.clear()
        _page_attempt(app, username, WRONG)
        assert len(calls) == 1, username
    # The dummy hash is of the configured method, as costly as a real one.
    with app.app_context():
        assert security._dummy_hash().startswith(app.config["FAB_PASSWORD_HASH_METHOD"].split(":")[0])


def test_the_lock_is_told_to_the_holder_only(app):
    phone = random_phone()
    known, *_ = _accounts(app, phone=phone)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _page_attempt(app, known, WRONG)
    with app.app_context():
        user = db.session.query(AppUser).filter_by(username=known).one()
        assert user.locked_until is not None
        notes = db.session.query(Notification).filter_by(user_id=user.id, kind="account_locked").all()
        assert len(notes) == 1 and notes[0].sms_state == "pending"


# --- password reset ---------------------------------------------------------------------------------
def _reset(app, id_number):
    """Start a reset, read the finish page and try a wrong code: the three answers, blanked."""
    client = _client(app)
    start = client.post("/reset/", data={"id_number": id_number, **form_tokens(client, "/reset/")})
    finish = client.get("/reset/finish")
    token = form_tokens(client, "/reset/finish")["csrf_token"]
    wrong = client.post("/reset/finish", data={"csrf_token": token, "sms_code": "000000", "password": "Reset@2026x",
                                               "confirm": "Reset@2026x"})
    return [(r.status_code, r.headers.get("Location"), _blank(r.get_data(as_text=True), id_number))
            for r in (start, finish, wrong)]


def test_password_reset_answers_known_and_unknown_id_numbers_alike(app, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_RESEND_SECONDS", 0)
    phone = random_phone()
    known, locked, inactive, unknown = _accounts(app, phone=phone)
    with app.app_context():
        no_phone, _ = f.make_applicant()  # an account without a mobile on file
    answers = _reset(app, known)
    assert answers[0][:2] == (302, "/reset/finish") and answers[1][0] == 200 and answers[2][0] == 200
    with app.app_context():
        assert db.session.query(SmsOutbox).filter_by(phone=phone, purpose="reset_password").count() == 1
    assert phone[-4:] not in answers[1][2]
    assert _reset(app, unknown) == answers
    assert _reset(app, no_phone) == answers
    # A refused sending (here: asked again at once) is not shown either: it would tell the account exists.
    monkeypatch.setitem(app.config, "SMS_RESEND_SECONDS", 600)
    assert _reset(app, known) == answers
