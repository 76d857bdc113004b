"""SMS codes: hashed, single use, limited attempts, resend window, daily cap, pluggable gateway."""
import logging
import random
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from ground import clock
from ground.extensions import db
from app.services import sms
from models import SmsCode, SmsOutbox


def new_phone() -> str:
    return "139" + f"{random.randrange(10**8):08d}"


def last_code(phone: str) -> str:
    text = db.session.scalars(select(SmsOutbox.text).where(SmsOutbox.phone == phone)
                              .order_by(SmsOutbox.id.desc())).first()
    return re.search(r"\d{6}", text).group(0)


def test_send_records_the_text_and_keeps_only_a_hash(ctx):
    phone = new_phone()
    sms.send_code(phone, "register")
    outbox = db.session.scalars(select(SmsOutbox).where(SmsOutbox.phone == phone)).all()
    assert len(outbox) == 1 and outbox[0].purpose == "register" and outbox[0].backend == "outbox"
    code = last_code(phone)
    assert "Your verification code is" in outbox[0].text and "5 minutes" in outbox[0].text
    row = db.session.scalars(select(SmsCode).where(SmsCode.phone == phone)).one()
    assert code not in row.code_hash and len(row.code_hash) == 64
    assert row.used_at is None and row.attempts == 0


def test_second_send_within_the_window_is_refused(ctx):
    phone = new_phone()
    sms.send_code(phone, "register")
    with pytest.raises(sms.SmsError) as err:
        sms.send_code(phone, "apply")  # any purpose
    assert 0 < err.value.wait_seconds <= 60
    assert f"wait {err.value.wait_seconds} seconds" in str(err.value.message)


def test_daily_cap(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_RESEND_SECONDS", 0)
    monkeypatch.setitem(app.config, "SMS_DAILY_CAP", 3)
    phone = new_phone()
    for _ in range(3):
        sms.send_code(phone, "register")
    with pytest.raises(sms.SmsError) as err:
        sms.send_code(phone, "register")
    assert "today" in str(err.value.message) and err.value.wait_seconds > 0


def test_new_code_replaces_the_earlier_one(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_RESEND_SECONDS", 0)
    phone = new_phone()
    sms.send_code(phone, "register")
    first = last_code(phone)
    sms.send_code(phone, "register")
    second = last_code(phone)
    if first != second:
        with pytest.raises(sms.SmsError):
            sms.verify_code(phone, "register", first)
    sms.verify_code(phone, "register", second)


def test_right_code_verifies_once(ctx):
    phone = new_phone()
    sms.send_code(phone, "reset_password")
    code = last_code(phone)
    sms.verify_code(phone, "reset_password", f" {code} ")
    db.session.commit()  # the caller commits with its own change
    with pytest.raises(sms.SmsError, match="No verification code"):
        sms.verify_code(phone, "reset_password", code)


def test_rolled_back_verification_does_not_burn_the_code(ctx):
    phone = new_phone()
    sms.send_code(phone, "change_phone")
    code = last_code(phone)
    sms.verify_code(phone, "change_phone", code)
    db.session.rollback()
    sms.verify_code(phone, "change_phone", code)


def test_wrong_codes_count_and_the_sixth_try_is_refused(ctx):
    phone = new_phone()
    sms.send_code(phone, "unlock")
    code = last_code(phone)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1, 0):
        with pytest.raises(sms.SmsError, match=rf"\({left} attempts left\)"):
            sms.verify_code(phone, "unlock", wrong)
    db.session.rollback()  # the attempts were committed anyway
    assert db.session.scalars(select(SmsCode.attempts).where(SmsCode.phone == phone)).one() == 5
    with pytest.raises(sms.SmsError, match="Too many wrong attempts"):
        sms.verify_code(phone, "unlock", code)


def test_expired_code_is_refused(ctx):
    phone = new_phone()
    sms.send_code(phone, "apply")
    db.session.execute(update(SmsCode).where(SmsCode.phone == phone)
                       .values(expires_at=clock.now_utc() - timedelta(seconds=1)))
    db.session.commit()
    with pytest.raises(sms.SmsError, match="expired"):
        sms.verify_code(phone, "apply", last_code(phone))


def test_code_for_another_purpose_is_refused(ctx):
    phone = new_phone()
    sms.send_code(phone, "register")
    with pytest.raises(sms.SmsError, match="No verification code"):
        sms.verify_code(phone, "apply", last_code(phone))
    sms.verify_code(phone, "register", last_code(phone))


def test_invalid_phone_and_purpose(ctx):
    with pytest.raises(sms.SmsError, match="11 digits"):
        sms.send_code("12345", "register")
    with pytest.raises(sms.SmsError, match="11 digits"):
        sms.verify_code("abc", "register", "123456")
    with pytest.raises(ValueError):
        sms.send_code(new_phone(), "lottery")


def test_log_masks_the_phone_and_hides_the_code(ctx, caplog):
    phone = new_phone()
    with caplog.at_level(logging.INFO, logger="app.services.sms"):
        sms.send_code(phone, "register")
    code = last_code(phone)
    lines = [r.getMessage() for r in caplog.records if r.name == "app.services.sms"]
    assert f"SMS to {phone[:3]}****{phone[-4:]} (register)" in lines
    assert not any(phone in line or code in line for line in lines)
    assert sms.mask_phone("13812345678") == "138****5678"


class RecordingGateway(sms.SmsGateway):
    name = "recording"
    sent: list = []

    def send(self, phone, text, purpose):
        self.sent.append((phone, text, purpose))


class BrokenGateway(sms.SmsGateway):
    name = "broken"

    def send(self, phone, text, purpose):
        raise ConnectionError("gateway down")


def test_custom_gateway_from_config(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_BACKEND", f"{__name__}.RecordingGateway")
    monkeypatch.delitem(app.extensions, "backend:SMS_BACKEND", raising=False)
    phone = new_phone()
    sms.send_code(phone, "apply")
    assert isinstance(sms.gateway(), RecordingGateway)
    (sent_phone, text, purpose), = [m for m in RecordingGateway.sent if m[0] == phone]
    assert purpose == "apply" and re.search(r"\d{6}", text)
    assert db.session.scalar(select(SmsOutbox.id).where(SmsOutbox.phone == phone)) is None
    sms.verify_code(phone, "apply", re.search(r"\d{6}", text).group(0))
    app.extensions.pop("backend:SMS_BACKEND", None)


def test_gateway_failure_keeps_nothing(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_BACKEND", f"{__name__}.BrokenGateway")
    phone = new_phone()
    with pytest.raises(sms.SmsError, match="could not be sent"):
        sms.send_code(phone, "register")
    assert db.session.scalar(select(SmsCode.id).where(SmsCode.phone == phone)) is None
    app.extensions.pop("backend:SMS_BACKEND", None)
