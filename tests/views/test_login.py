"""Sign-in: image captcha (single use) on the page and the API, lockout after LOGIN_MAX_FAILURES wrong
passwords for LOGIN_LOCK_MINUTES, the administrator's unlock action, audit rows, the per-address rate
limit, and the password reset by SMS that also lifts a lock."""
import contextlib
import html
import re
from datetime import timedelta

import pytest

from ground.clock import now_utc
from ground.extensions import db
from ground.identifiers import mask_id_number
from models import AppUser, AuditLog, Person, SmsCode, SmsOutbox
from tests import factories as f
from tests.conftest import another_app, api_captcha, form_tokens, login
from tests.views.test_personal_journey import random_phone, sms_code

WRONG = "Wrong@2026x"
CAPTCHA_MESSAGE = "The verification code is wrong or has expired; type the new one."
# Every refusal (unknown account, wrong password, locked account) gives this one message: no enumeration.
REFUSAL = ("Wrong ID number or password. After 5 failed sign-ins in a row an account is locked for 30 minutes "
           "(its holder is told); resetting the password by SMS unlocks it at once.")


def _attempt(client, username, password, **override):
    """One sign-in through the page with a fresh captcha (answered right unless overridden)."""
    tokens = {**form_tokens(client, "/login/"), **override}
    return client.post("/login/", data={"username": username, "password": password, **tokens})


def _text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def _signed_in(client) -> bool:
    return client.get("/me/").status_code == 200


def _english_client(app):
    client = app.test_client()
    client.get("/lang/en")
    return client


def _account(app, username) -> dict:
    with app.app_context():
        user = db.session.query(AppUser).filter_by(username=username).one()
        return {"id": user.id, "locked_until": user.locked_until, "fail_login_count": user.fail_login_count,
                "login_count": user.login_count, "email": user.email}


def _lock(app, username, minutes=30):
    with app.app_context():
        user = db.session.query(AppUser).filter_by(username=username).one()
        user.locked_until = now_utc() + timedelta(minutes=minutes)
        user.fail_login_count = 0
        db.session.commit()


def _audit(app, user_id) -> list[tuple]:
    with app.app_context():
        rows = (db.session.query(AuditLog).filter(AuditLog.object_type == "AppUser",
                                                  AuditLog.object_id == str(user_id))
                .order_by(AuditLog.id).all())
        return [(r.action, r.user_id, r.username, r.summary) for r in rows]


def _applicant(app, phone=None):
    with app.app_context():
        username, person_id = f.make_applicant()
        if phone:
            db.session.get(Person, person_id).phone = phone
            db.session.commit()
    return username


# --- captcha ---------------------------------------------------------------------------------------
def test_captcha_is_required_and_single_use(app):
    username = _applicant(app)
    client = _english_client(app)
    before = _account(app, username)

    missing = _attempt(client, username, f.PASSWORD, captcha="")
    assert missing.status_code == 200 and "This field is required." in _text(missing)
    wrong = _attempt(client, username, f.PASSWORD, captcha="0000")  # 0 is never drawn
    assert wrong.status_code == 200 and CAPTCHA_MESSAGE in _text(wrong)
    no_nonce = _attempt(client, username, f.PASSWORD, captcha_nonce="")
    assert no_nonce.status_code == 200 and CAPTCHA_MESSAGE in _text(no_nonce)
    assert not _signed_in(client)
    # A wrong captcha is not a wrong password: nothing counts against the account.
    assert _account(app, username) == before

    tokens = form_tokens(client, "/login/")
    resp = client.post("/login/", data={"username": username, "password": f.PASSWORD, **tokens})
    assert resp.status_code == 302 and _signed_in(client)

    # The same nonce and answer again, from another browser: refused.
    other = _english_client(app)
    replay = {**form_tokens(other, "/login/"), "captcha_nonce": tokens["captcha_nonce"], "captcha": tokens["captcha"]}
    resp = other.post("/login/", data={"username": username, "password": f.PASSWORD, **replay})
    assert resp.status_code == 200 and CAPTCHA_MESSAGE in _text(resp)
    assert not _signed_in(other)


# --- lockout ---------------------------------------------------------------------------------------
def test_lockout_after_max_failures_refuses_even_the_right_password(app):
    limit, minutes = app.config["LOGIN_MAX_FAILURES"], app.config["LOGIN_LOCK_MINUTES"]
    assert (limit, minutes) == (5, 30)
    username = _applicant(app)
    client = _english_client(app)
    for attempt in range(1, limit):
        page = _text(_attempt(client, username, WRONG))
        assert REFUSAL in page
        assert _account(app, username)["locked_until"] is None
    page = _text(_attempt(client, username, WRONG))
    assert REFUSAL in page and "locked after" not in page
    locked_until = _account(app, username)["locked_until"]
    assert locked_until is not None
    assert timedelta(minutes=minutes - 1) < locked_until - now_utc() <= timedelta(minutes=minutes)

    page = _text(_attempt(client, username, f.PASSWORD))
    assert REFUSAL in page  # the right password is refused like any other: no guessing during the lock
    assert not _signed_in(client)
    assert _account(app, username)["locked_until"] == locked_until  # the refusal does not extend the lock


def test_lock_lifts_after_the_lock_time(app):
    username = _applicant(app)
    client = _english_client(app)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _attempt(client, username, WRONG)
    assert REFUSAL in _text(_attempt(client, username, f.PASSWORD)) and not _signed_in(client)
    with app.app_context():
        db.session.query(AppUser).filter_by(username=username).update(
            {"locked_until": now_utc() - timedelta(seconds=1)})
        db.session.commit()
    # The count started afresh with the lock: one more wrong password does not lock again.
    _attempt(client, username, WRONG)
    assert _account(app, username)["fail_login_count"] == 1 and _account(app, username)["locked_until"] is not None
    assert _attempt(client, username, f.PASSWORD).status_code == 302
    assert _signed_in(client)
    account = _account(app, username)
    assert account["locked_until"] is None and account["fail_login_count"] == 0


def test_email_is_not_a_sign_in_name_so_a_lock_cannot_be_bypassed(app):
    """FAB would accept the e-mail address as the user name; here only the user name (ID number) signs in."""
    username = _applicant(app)
    email = _account(app, username)["email"]
    client = _english_client(app)
    resp = _attempt(client, email, f.PASSWORD)
    assert resp.status_code == 200 and "Wrong ID number or password." in _text(resp)
    assert not _signed_in(client)
    _lock(app, username)
    other = _english_client(app)
    assert REFUSAL in _text(_attempt(other, email, f.PASSWORD)) and not _signed_in(other)
    assert _account(app, username)["locked_until"] is not None


def test_admin_unlocks_through_the_user_list_action(app):
    username = _applicant(app)
    with app.app_context():
        admin = f.make_user("Admin")
        admin_id = f.user(admin).id
        ministry = f.make_user("Ministry")
    _lock(app, username)
    user_id = _account(app, username)["id"]
    assert REFUSAL in _text(_attempt(_english_client(app), username, f.PASSWORD))

    # Staff other than the administrator cannot use the action.
    officer = login(app.test_client(), ministry)
    token = _csrf_of_signed_in(officer)
    officer.post("/users/action_post", data={"csrf_token": token, "action": "unlock", "rowid": [str(user_id)]})
    assert _account(app, username)["locked_until"] is not None

    client = login(app.test_client(), admin)
    list_page = client.get("/users/list/").get_data(as_text=True)
    assert "Unlock" in list_page
    token = _csrf_of_signed_in(client)
    resp = client.post("/users/action_post", data={"csrf_token": token, "action": "unlock", "rowid": [str(user_id)]})
    assert resp.status_code == 302
    assert "1 account(s) unlocked." in _text(client.get(resp.headers["Location"]))
    account = _account(app, username)
    assert account["locked_until"] is None and account["fail_login_count"] == 0
    assert ("unlock", admin_id) in [row[:2] for row in _audit(app, user_id)]
    login(app.test_client(), username)


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def _csrf_of_signed_in(client) -> str:
    """The session's CSRF token, read from a page every signed-in user has (the logout form)."""
    match = _CSRF.search(client.get("/users/userinfo/").get_data(as_text=True))
    assert match
    return match.group(1) or match.group(2)


# --- audit -----------------------------------------------------------------------------------------
def test_sign_in_events_are_audited(app):
    username = _applicant(app)
    user_id = _account(app, username)["id"]
    client = _english_client(app)

    _attempt(client, username, WRONG)
    assert _audit(app, user_id)[-1] == ("login_failed", None, mask_id_number(username), "")
    _attempt(client, username, f.PASSWORD)
    assert _audit(app, user_id)[-1][:3] == ("login", user_id, username)

    _lock(app, username)
    _attempt(_english_client(app), username, f.PASSWORD)
    assert _audit(app, user_id)[-1] == ("login_refused", None, mask_id_number(username), "locked")

    # An unknown account: a failed sign-in row naming the (masked) ID number typed.
    with app.app_context():
        nobody = f.unique_id_number()
        start = db.session.query(db.func.max(AuditLog.id)).scalar()
    _attempt(_english_client(app), nobody, WRONG)
    with app.app_context():
        rows = db.session.query(AuditLog).filter(AuditLog.id > start, AuditLog.username == mask_id_number(nobody)).all()
        assert [(r.action, r.object_id, r.summary) for r in rows] == [("login_failed", None, "unknown account")]


# --- API -------------------------------------------------------------------------------------------
def _api_login(client, username, password, with_captcha=True, **extra):
    payload = {"username": username, "password": password, "provider": "db",
               **(api_captcha(client) if with_captcha else {})}
    payload.update(extra)
    return client.post("/api/v1/security/login", json=payload)


def test_api_login_needs_a_single_use_captcha(app):
    username = _applicant(app)
    client = _english_client(app)
    before = _account(app, username)

    missing = _api_login(client, username, f.PASSWORD, with_captcha=False)
    assert missing.status_code == 400 and {"captcha", "captcha_nonce"} <= set(missing.get_json()["message"])
    wrong = _api_login(client, username, f.PASSWORD, captcha="0000")
    assert wrong.status_code == 400
    assert wrong.get_json()["message"] == {"captcha": ["The verification code is wrong or has expired."]}
    assert _account(app, username) == before

    captcha = api_captcha(client)
    resp = client.post("/api/v1/security/login", json={"username": username, "password": f.PASSWORD,
                                                        "provider": "db", **captcha})
    assert resp.status_code == 200
    token = resp.get_json()["access_token"]
    assert client.get("/api/v1/person/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    replay = client.post("/api/v1/security/login", json={"username": username, "password": f.PASSWORD,
                                                          "provider": "db", **captcha})
    assert replay.status_code == 400 and "access_token" not in replay.get_json()


def test_api_login_locks_like_the_page(app):
    limit, minutes = app.config["LOGIN_MAX_FAILURES"], app.config["LOGIN_LOCK_MINUTES"]
    username = _applicant(app)
    client = _english_client(app)
    for attempt in range(1, limit + 1):
        resp = _api_login(client, username, WRONG)
        assert resp.status_code == 401 and resp.get_json()["message"] == REFUSAL
    assert _account(app, username)["locked_until"] is not None
    resp = _api_login(client, username, f.PASSWORD)
    assert resp.status_code == 401 and resp.get_json()["message"] == REFUSAL
    assert "access_token" not in resp.get_json()
    # Locked through the API, refused on the page as well.
    page_client = _english_client(app)
    assert REFUSAL in _text(_attempt(page_client, username, f.PASSWORD)) and not _signed_in(page_client)


# --- rate limit ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def limited_app(app, database, tmp_path_factory):
    """A second app on the same database with the per-address limit on."""
    with another_app(database, tmp_path_factory, RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="3 per minute") as application:
        yield application


def _from(app, address):
    client = _english_client(app)
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_page_login_is_rate_limited_per_address(app, limited_app):
    username = _applicant(app)
    client = _from(limited_app, f"10.1.{f.next_serial() % 250}.{f.next_serial() % 250}")
    for _ in range(3):
        assert _attempt(client, username, f.PASSWORD, captcha="0000").status_code == 200
    assert _attempt(client, username, f.PASSWORD).status_code == 429
    assert not _signed_in(client)
    # Another address is not affected.
    assert _attempt(_from(limited_app, "10.2.0.1"), username, f.PASSWORD).status_code == 302


def test_api_login_is_rate_limited_per_address(app, limited_app):
    username = _applicant(app)
    client = _from(limited_app, f"10.3.{f.next_serial() % 250}.{f.next_serial() % 250}")
    for _ in range(3):
        assert _api_login(client, username, f.PASSWORD, captcha="0000").status_code == 400
    resp = _api_login(client, username, f.PASSWORD)
    assert resp.status_code == 429 and "access_token" not in (resp.get_json(silent=True) or {})
    assert _api_login(_from(limited_app, "10.4.0.1"), username, f.PASSWORD).status_code == 200


# --- password reset by SMS -------------------------------------------------------------------------
def test_password_reset_by_sms_unlocks_and_signs_in_with_the_new_password(app):
    phone = random_phone()
    username = _applicant(app, phone=phone)
    _lock(app, username)
    user_id = _account(app, username)["id"]
    client = _english_client(app)

    # A wrong captcha sends nothing.
    tokens = form_tokens(client, "/reset/")
    page = _text(client.post("/reset/", data={**tokens, "captcha": "0000", "id_number": username}))
    assert CAPTCHA_MESSAGE in page
    with app.app_context():
        assert db.session.query(SmsOutbox).filter_by(phone=phone).count() == 0

    tokens = form_tokens(client, "/reset/")
    resp = client.post("/reset/", data={**tokens, "id_number": username.lower()})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/reset/finish")
    with app.app_context():
        assert db.session.query(SmsOutbox).filter_by(phone=phone, purpose="reset_password").count() == 1
    finish = _text(client.get("/reset/finish"))
    assert "If an applicant account with a mobile number on file has this ID number, a code was sent" in finish
    assert phone[-4:] not in finish  # not even masked: an unknown ID number gets the same page
    code = sms_code(app, phone)
    token = form_tokens(client, "/reset/finish")["csrf_token"]

    # The password rules apply; a refused password leaves the account locked and the code unused.
    page = _text(client.post("/reset/finish", data={"csrf_token": token, "sms_code": code, "password": "abcdefgh",
                                                    "confirm": "abcdefgh"}))
    assert "Use at least three of: capital letters, small letters, digits, symbols." in page
    wrong = "000000" if code != "000000" else "000001"
    page = _text(client.post("/reset/finish", data={"csrf_token": token, "sms_code": wrong, "password": "Reset@2026x",
                                                    "confirm": "Reset@2026x"}))
    assert "The SMS code is wrong, has expired or has had too many attempts." in page
    assert _account(app, username)["locked_until"] is not None

    resp = client.post("/reset/finish", data={"csrf_token": token, "sms_code": code, "password": "Reset@2026x",
                                              "confirm": "Reset@2026x"})
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert "Your password is set and the account is unlocked." in _text(client.get(resp.headers["Location"]))
    account = _account(app, username)
    assert account["locked_until"] is None and account["fail_login_count"] == 0
    assert "password_reset" in [row[0] for row in _audit(app, user_id)]
    with app.app_context():
        assert db.session.query(SmsCode).filter(SmsCode.phone == phone, SmsCode.used_at.isnot(None)).count() == 1

    # The code cannot reset again; the old password no longer works; the new one does.
    assert client.get("/reset/finish").status_code == 302
    assert REFUSAL in _text(_attempt(_english_client(app), username, f.PASSWORD))
    login(app.test_client(), username, "Reset@2026x")


# --- several workers share the limit through Redis -------------------------------------------------
REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_up() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


@pytest.mark.skipif(not _redis_up(), reason="no Redis at 127.0.0.1:6379")
def test_two_workers_share_the_login_limit_through_redis(app, database, tmp_path_factory):
    """Two app instances (as two gunicorn workers) with RATELIMIT_STORAGE_URI on Redis count together."""
    import uuid

    import redis

    prefix = f"test-{uuid.uuid4().hex[:10]}"
    settings = {"RATELIMIT_ENABLED": True, "AUTH_RATE_LIMIT": "3 per minute", "RATELIMIT_STORAGE_URI": REDIS_URL,
                "RATELIMIT_KEY_PREFIX": prefix}
    try:
        with contextlib.ExitStack() as stack:
            workers = [stack.enter_context(another_app(database, tmp_path_factory, **settings)) for _ in range(2)]
            username = _applicant(app)
            address = f"10.9.{f.next_serial() % 250}.{f.next_serial() % 250}"
            statuses = [_attempt(_from(workers[i % 2], address), username, f.PASSWORD, captcha="0000").status_code
                        for i in range(4)]
            assert statuses == [200, 200, 200, 429]
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
