"""app/notifications.py: one message per (user, event), delivery by SMS and e-mail (throttled, idempotent), purge,
and the text in the reader's language."""
import itertools
from datetime import timedelta

from flask_babel import force_locale
from sqlalchemy import func, select

from app import notifications
from ground.clock import now_utc, today
from ground.extensions import db
from models import EmailOutbox, Notification, Person, SmsOutbox
from tests import factories as f

_phones = itertools.count(13800000100)


def applicant_with_phone(phone=True) -> tuple[str, str | None]:
    username, person_id = f.make_applicant()
    number = str(next(_phones)) if phone else None
    db.session.get(Person, person_id).phone = number
    db.session.commit()
    return username, number


def deliver_all() -> dict:
    """deliver() until nothing is pending (other tests' messages may come first)."""
    total: dict = {}
    while True:
        counts = notifications.deliver()
        for key, value in counts.items():
            total[key] = total.get(key, 0) + value
        if not any(counts.values()):
            return total


def _rows(username) -> list[Notification]:
    db.session.expire_all()
    return list(db.session.scalars(select(Notification).where(Notification.user_id == f.user(username).id)
                                   .order_by(Notification.id)))


def _sms(phone) -> list[SmsOutbox]:
    return list(db.session.scalars(select(SmsOutbox).where(SmsOutbox.phone == phone).order_by(SmsOutbox.id)))


def _approved(username, event, **params):
    params = {"number": "SQ1", "type": "initial", "person": "张三", "enterprise": "", **params}
    sent = notifications.send("application_returned", event, [f.user(username)], {**params, "opinion": "请补正。"},
                              "application:1")
    db.session.commit()
    return sent


def test_the_same_event_makes_one_message(ctx):
    username, _ = applicant_with_phone()
    other = f.make_user("Enterprise")
    assert notifications.send("application_approved", "approve:1:5", [f.user(username), f.user(username)],
                              {"number": "SQ1", "type": "initial"}) == 1
    assert notifications.send("application_approved", "approve:1:5", [f.user(username), f.user(other)],
                              {"number": "SQ1", "type": "initial"}) == 1  # only the other user's is new
    db.session.commit()
    assert len(_rows(username)) == 1 and len(_rows(other)) == 1
    assert _rows(other)[0].sms_state is None  # text messages go to applicants only
    assert notifications.unread_count(f.user(username)) == 1
    assert notifications.mark_read(f.user(username)) == 1 and notifications.unread_count(f.user(username)) == 0


def test_deliver_sends_text_messages_once_to_applicants_with_a_phone(ctx):
    username, phone = applicant_with_phone()
    no_phone, _ = applicant_with_phone(phone=False)
    _approved(username, "return:10:2")
    _approved(no_phone, "return:10:2")
    assert _rows(username)[0].sms_state == "pending"

    counts = deliver_all()
    assert counts["sms_sent"] >= 1 and counts["no_address"] >= 1
    assert [r.sms_state for r in _rows(username)] == ["sent"]
    assert [r.sms_state for r in _rows(no_phone)] == ["no_address"]
    [sms] = _sms(phone)
    assert sms.purpose == "notice" and "SQ1" in sms.text and "初始注册" in sms.text  # in Chinese

    assert not any(deliver_all().values())  # idempotent: nothing is pending any more
    assert len(_sms(phone)) == 1


def test_at_most_the_daily_cap_of_text_messages_a_day(ctx, app, clock):
    cap = app.config["NOTIFY_SMS_DAILY_CAP"]
    clock.set(today(), hour=9)
    username, phone = applicant_with_phone()
    for n in range(cap + 2):
        _approved(username, f"return:20:{n}")
    deliver_all()
    states = [r.sms_state for r in _rows(username)]
    assert states == ["sent"] * cap + ["throttled"] * 2
    assert len(_sms(phone)) == cap
    assert len(_rows(username)) == cap + 2  # all in the message centre

    clock.set(today() + timedelta(days=1), hour=9)  # a new day in China
    _approved(username, "return:20:next")
    deliver_all()
    assert _rows(username)[-1].sms_state == "sent" and len(_sms(phone)) == cap + 1


def test_e_mail_when_switched_on(ctx, app, monkeypatch):
    username, _ = applicant_with_phone(phone=False)
    _approved(username, "return:30:1")
    assert _rows(username)[0].email_state is None  # off by default

    monkeypatch.setitem(app.config, "NOTIFY_EMAIL", True)
    _approved(username, "return:30:2")
    assert _rows(username)[-1].email_state == "pending"
    counts = deliver_all()
    assert counts["email_sent"] >= 1
    address = f.user(username).email
    [mail] = db.session.scalars(select(EmailOutbox).where(EmailOutbox.address == address)).all()
    assert "SQ1" in mail.body and mail.subject
    assert _rows(username)[-1].email_state == "sent"
    deliver_all()
    assert db.session.scalar(select(func.count()).select_from(EmailOutbox).where(EmailOutbox.address == address)) == 1


def test_purge_deletes_messages_past_their_keeping_time(ctx, app):
    username, _ = applicant_with_phone(phone=False)
    _approved(username, "return:40:1")
    _approved(username, "return:40:2")
    old, new = _rows(username)
    old.created_at = now_utc() - timedelta(days=app.config["NOTIFICATION_KEEP_DAYS"] + 2)
    db.session.commit()
    assert notifications.purge(today())["deleted"] >= 1
    assert [r.id for r in _rows(username)] == [new.id]
    assert notifications.purge(today())["deleted"] == 0


def test_the_text_is_in_the_readers_language(ctx):
    username, _ = applicant_with_phone(phone=False)
    notifications.send("specialty_lapsed", "specialty_lapsed:t:1", [f.user(username)],
                       {"specialty": "building", "day": today(), "until": today() - timedelta(days=1)})
    notifications.send("registration_lapsed", "registration_lapsed:t:1", [f.user(username)],
                       {"registration": "京111", "day": today(), "reason": "over_age"})
    _approved(username, "return:50:1")
    lapsed, registration, returned = _rows(username)
    with force_locale("en"):
        assert "Building Construction" in notifications.text(lapsed)
        assert today().isoformat() in notifications.text(lapsed)
        assert "age limit" in notifications.text(registration)
        assert "Initial registration" in notifications.text(returned)
    with force_locale("zh"):
        assert "建筑工程" in notifications.text(lapsed)
        assert "初始注册" in notifications.text(returned)
        assert "请补正。" in notifications.text(returned)
    broken = Notification(id=0, kind="application_returned", params={"number": "SQ1"})
    assert notifications.text(broken)  # params that do not fit: the bare text, no error


def test_deliver_in_a_worker_writes_chinese(app):
    """The scheduler runs deliver() in a bare app context (no request): the messages still go out in Chinese."""
    with app.app_context():
        username, phone = applicant_with_phone()
        _approved(username, "return:60:1")
    with app.app_context():
        deliver_all()
        [sms] = _sms(phone)
        assert "初始注册" in sms.text, sms.text
