"""SMS verification codes sent through a pluggable gateway (config SMS_BACKEND).

Codes are 6 digits, kept only as an HMAC, valid SMS_CODE_TTL_SECONDS, used once, with at most
SMS_CODE_MAX_ATTEMPTS wrong tries; one code per number per SMS_RESEND_SECONDS and SMS_DAILY_CAP a day.
The default gateway only writes to the SmsOutbox table; a real telecom gateway subclasses SmsGateway.
"""
import abc
import hashlib
import hmac
import logging
import math
import secrets
from datetime import datetime, time, timedelta, timezone

from flask import current_app
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from ground import clock
from ground.errors import UserError
from app.services import backends
from ground.extensions import db
from ground.identifiers import InvalidIdentifier, clean_mobile
from models import SmsCode, SmsOutbox
from models.choices import SMS_PURPOSES

log = logging.getLogger(__name__)

PURPOSES = tuple(SMS_PURPOSES)  # codes; their labels are models.choices.SMS_PURPOSES


class SmsError(UserError):
    """A user-facing refusal; `message` is translated, `wait_seconds` says when to try again (if known)."""

    def __init__(self, message, wait_seconds: int | None = None):
        super().__init__(message)
        self.wait_seconds = wait_seconds


class SmsGateway(abc.ABC):
    """What a telecom gateway implements: deliver `text` to `phone`; raise on failure."""

    name = "gateway"

    @abc.abstractmethod
    def send(self, phone: str, text: str, purpose: str) -> None:
        """Deliver the message (the default OutboxGateway records it)."""


class OutboxGateway(SmsGateway):
    """Default: records the message in SmsOutbox (same session, flushed) and logs the masked number."""

    name = "outbox"

    def send(self, phone: str, text: str, purpose: str) -> None:
        db.session.add(SmsOutbox(phone=phone, purpose=purpose, text=text[:500], backend=self.name,
                                 created_at=clock.now_utc()))
        db.session.flush()
        log.info("SMS to %s (%s)", mask_phone(phone), purpose)


def gateway() -> SmsGateway:
    """The configured gateway (SMS_BACKEND)."""
    return backends.configured("SMS_BACKEND")


def mask_phone(phone) -> str:
    """138****5678."""
    phone = str(phone or "")
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


def _clean(phone: str) -> str:
    try:
        return clean_mobile(phone)
    except InvalidIdentifier as exc:
        raise SmsError(exc.message) from None


def _hash(phone: str, purpose: str, code: str) -> str:
    key = current_app.config["SECRET_KEY"]
    key = key if isinstance(key, bytes) else str(key).encode()
    return hmac.new(key, f"{phone}:{purpose}:{code}".encode(), hashlib.sha256).hexdigest()


def _china_midnights(now: datetime) -> tuple[datetime, datetime]:
    """Start of today and of tomorrow in China, as naive UTC."""
    day = now.replace(tzinfo=timezone.utc).astimezone(clock.CHINA_TZ).date()
    start = datetime.combine(day, time.min, tzinfo=clock.CHINA_TZ).astimezone(timezone.utc).replace(tzinfo=None)
    return start, start + timedelta(days=1)


def send_code(phone: str, purpose: str) -> None:
    """Send a new code for `purpose` to `phone`, or raise SmsError (invalid number, too soon, daily cap).

    Earlier unused codes for the same number and purpose stop working. Commits the session on
    success; rolls it back if the gateway fails.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"unknown SMS purpose {purpose!r}")
    phone = _clean(phone)
    config = current_app.config
    now = clock.now_utc()

    last = db.session.scalar(select(func.max(SmsCode.created_at)).where(SmsCode.phone == phone))
    if last is not None:
        wait = math.ceil(config["SMS_RESEND_SECONDS"] - (now - last).total_seconds())
        if wait > 0:
            raise SmsError(_l("Please wait %(seconds)s seconds before asking for another code.", seconds=wait),
                           wait_seconds=wait)
    start, tomorrow = _china_midnights(now)
    sent_today = db.session.scalar(select(func.count()).select_from(SmsCode)
                                   .where(SmsCode.phone == phone, SmsCode.created_at >= start))
    if sent_today >= config["SMS_DAILY_CAP"]:
        raise SmsError(_l("Too many codes have been sent to this number today; please try again tomorrow."),
                       wait_seconds=math.ceil((tomorrow - now).total_seconds()))

    ttl = config["SMS_CODE_TTL_SECONDS"]
    code = f"{secrets.randbelow(10**6):06d}"
    db.session.execute(update(SmsCode)
                       .where(SmsCode.phone == phone, SmsCode.purpose == purpose, SmsCode.used_at.is_(None))
                       .values(used_at=now).execution_options(synchronize_session=False))
    db.session.add(SmsCode(phone=phone, purpose=purpose, code_hash=_hash(phone, purpose, code), created_at=now,
                           expires_at=now + timedelta(seconds=ttl), attempts=0))
    text = gettext("Your verification code is %(code)s, valid for %(minutes)s minutes. Do not share it.",
                   code=code, minutes=max(1, math.ceil(ttl / 60)))
    backend = gateway()
    try:
        backend.send(phone, text, purpose)
    except SmsError:
        db.session.rollback()
        raise
    except Exception:
        db.session.rollback()
        log.exception("SMS gateway %s failed for %s (%s)", backend.name, mask_phone(phone), purpose)
        raise SmsError(_l("The text message could not be sent; please try again later.")) from None
    db.session.commit()


def verify_code(phone: str, purpose: str, code: str) -> None:
    """Check `code` for `phone` and `purpose`; returns None if right, raises SmsError otherwise.

    Commit behaviour: a right code is marked used in the session WITHOUT committing, so the caller
    commits it together with the change it authorises (a rolled-back change does not burn the code).
    A wrong code counts an attempt and COMMITS the session at once, so callers verify before making
    their own changes.
    """
    phone = _clean(phone)
    now = clock.now_utc()
    row = db.session.scalars(
        select(SmsCode).where(SmsCode.phone == phone, SmsCode.purpose == purpose, SmsCode.used_at.is_(None))
        .order_by(SmsCode.created_at.desc(), SmsCode.id.desc()).limit(1).with_for_update()
    ).first()
    if row is None:
        raise SmsError(_l("No verification code has been sent to this number; ask for one first."))
    if row.expires_at <= now:
        raise SmsError(_l("The verification code has expired; ask for a new one."))
    max_attempts = current_app.config["SMS_CODE_MAX_ATTEMPTS"]
    if row.attempts >= max_attempts:
        raise SmsError(_l("Too many wrong attempts; ask for a new code."))
    given = "".join((code or "").split())
    if not hmac.compare_digest(_hash(phone, purpose, given), row.code_hash):
        row.attempts = SmsCode.attempts + 1  # atomic increment in SQL
        db.session.commit()
        left = max(0, max_attempts - row.attempts)
        raise SmsError(_l("The verification code is wrong (%(left)s attempts left).", left=left))
    # Conditional UPDATE: of two concurrent right answers only one marks the code used.
    done = db.session.execute(update(SmsCode).where(SmsCode.id == row.id, SmsCode.used_at.is_(None))
                              .values(used_at=now).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise SmsError(_l("No verification code has been sent to this number; ask for one first."))
    db.session.expire(row, ["used_at"])
