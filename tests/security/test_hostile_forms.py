"""Hostile input through every HTML form: never a server error, nothing half-written, no payload rendered as markup.

Each form is read from its page as a signed-in user of the right role (field names, select options,
the CSRF token, a solved captcha), then hypothesis posts random, boundary and payload values: most
examples make one field hostile and keep the others valid (so the input reaches the deep code paths),
the rest make every field hostile. A response that refuses the input (the form again, a 4xx, or a
redirect to a page with an error) must leave every table as it was. `test_every_post_route_*` walks
the URL map so a new POST route cannot escape: it is fuzzed here, or listed with the reason it is not.
Query strings of the search, list, export and dashboard pages get the same treatment.
"""
import io
from dataclasses import dataclass
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import Callable
from urllib.parse import urlencode, urlparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ground.clock import add_years, now_utc, today
from ground.extensions import db
from sqlalchemy import select

from models import Application, CalendarDay, Enterprise, Job, Notification, Person
from app import jobs, notifications
from app.services import workdays
from tests import factories as f
from tests.conftest import form_tokens
from tests.security.helpers import (PAYLOADS, assert_no_injected_markup, changed, hostile_settings, hostile_text,
                                    hostile_value, hostile_world, picture, row_counts, the_form)

OMIT = object()  # leave the field out of the post
EXAMPLES = 5  # random examples per form (after the sweep); every example is two or three requests
# The sweep: each value in every field at once, and DEEP_SHARP field by field with valid values elsewhere.
SHARP = ("a\x00b", "<script>alert(1)</script>", "²", ["1", "2"])
DEEP_SHARP = ("²", "9" * 300)  # a Unicode digit; a number no integer column holds, longer than most columns


def _date(days=0):
    return (today() + timedelta(days=days)).isoformat()


def _user(w, role):
    """World key → username: "a1", "ent1", ... or "apply:<business type>"."""
    if role is None:
        return None
    if role.startswith("apply:"):
        return w.apply_users[role[6:]]
    return w.users[role]


@dataclass
class Target:
    role: str | None  # a key of _user(), None for an anonymous visitor
    page: Callable  # world → URL of the page holding the form
    post: Callable | None = None  # world → URL the form posts to, when not the page itself
    good: Callable = lambda w: {}  # world → valid values (a list: one of them) mixed with the hostile ones
    reset: Callable | None = None  # world → None, in an app context: put the record back before each example
    fingerprint: Callable | None = None  # world → the values a refused post must leave unchanged
    setup: Callable | None = None  # (app, client, world) → None, before the first example


# --- record resets and fingerprints (run in an app context) ---------------------------------------------
def _state(key, state):
    def reset(w):
        f.set_state(w.apps[key], state)
    return reset


def _application(key):
    def fingerprint(w):
        a = db.session.get(Application, w.apps[key])
        return (a.state, a.version, a.last_opinion, a.enterprise_id, a.contract_start, a.contract_end,
                a.reason, a.reason_text, sorted(s.code for s in a.specialties))
    return fingerprint


def _unreminded(key):
    """The applicant's application back waiting for its employer, never reminded (催办 is possible)."""
    def reset(w):
        db.session.query(Application).filter_by(id=w.apps[key]).update(
            {"state": "enterprise_review", "reminder_count": 0, "last_reminded_at": None})
        db.session.commit()
    return reset


def _reminders(key):
    def fingerprint(w):
        a = db.session.get(Application, w.apps[key])
        return (a.state, a.version, a.reminder_count, a.last_reminded_at)
    return fingerprint


def _person(key):
    def fingerprint(w):
        p = db.session.get(Person, w.persons[key])
        return (p.name, p.phone, p.email, p.ethnicity, p.education, p.degree, p.school, p.graduation_date,
                p.major, p.realname_status, p.realname_note)
    return fingerprint


def _id_number(w, key):
    return w.id_numbers[key]


def _remember_id_numbers(app, client, w):
    with app.app_context():
        w.id_numbers = {key: db.session.get(Person, pid).id_number for key, pid in w.persons.items()}


def _education(key):
    def fingerprint(w):
        from models import ContinuingEducation

        return sorted((r.certificate_no, r.hours, r.kind) for r in
                      db.session.query(ContinuingEducation).filter_by(person_id=w.persons[key]))
    return fingerprint


def _scan_jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (800, 600), "white").save(buf, "JPEG")
    return buf.getvalue()


def _enterprise(attr):
    def fingerprint(w):
        e = db.session.get(Enterprise, getattr(w, attr))
        return (e.name, e.province_code, e.address, e.legal_representative, e.contact_phone)
    return fingerprint


def _queue_onsite(w):
    person = db.session.get(Person, w.persons["onsite"])
    person.realname_status, person.realname_method, person.realname_province_code = "pending", "onsite", "11"
    db.session.commit()


def _restore_reference(w):
    """Admin edits of reference data every test reads: put the dictionary values back (models/dictionary.py)."""
    from models import Province, Specialty
    from models.dictionary import PROVINCES, SPECIALTIES

    code, name, name_en, abbr = next(p for p in PROVINCES if p[0] == "65")
    province = db.session.get(Province, code)
    province.name, province.name_en, province.abbr = name, name_en, abbr
    code, name, name_en, industry = next(s for s in SPECIALTIES if s[0] == "airport")
    specialty = db.session.get(Specialty, code)
    specialty.name, specialty.name_en, specialty.needs_industry_opinion = name, name_en, industry
    db.session.commit()


def _start_reset(app, client, w):
    """The finish page needs a reset started: ID number → SMS code to the phone on file."""
    tokens = form_tokens(client, "/reset/")
    resp = client.post("/reset/", data={"id_number": w.users["a2"], **tokens})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/reset/finish"), resp.status_code


def _apply_good(w):
    return {"enterprise": [w.enterprise_label["e1"], w.enterprise_label["e3"]],
            "contract_start": _date(-30), "contract_end": add_years(today(), 2).isoformat(),
            "specialties": ["building", "mining"], "pass_certificate_no": "P2026001",
            "reason_text": "说明", "new_name": "新名字", "new_id_number": w.unused_id_number,
            "agree_notice": "y", "agree_commitment": "y", "sms_code": "123456", "action": ["save", "send_sms"],
            "id_front": (picture(), "front.jpg"), "id_back": (picture(), "back.jpg")}


def _make_jobs(app, client, w):
    """我的任务's forms: a queued job to cancel and a failed one to start again (an export of a view that is gone)."""
    with app.app_context():
        user = f.user(w.users["ministry"])
        failed = jobs.start("export", {"view": "no-such-view", "format": "csv"}, user, title="hostile retry")
        queued = Job(kind="export", params={"view": "no-such-view", "format": "csv"}, title="hostile cancel",
                     unit="rows", state="queued", created_by_fk=user.id, shared_role="Ministry", created_at=now_utc())
        db.session.add(queued)
        db.session.commit()
        w.job_ids = {"retry": failed.id, "cancel": queued.id}


def _job_url(purpose):
    """The form's address (job 0 before the set-up made the job: the route is the same)."""
    return lambda w: f"/jobs/{getattr(w, 'job_ids', {}).get(purpose, 0)}/{purpose}"


def _requeue_job(w):
    db.session.execute(Job.__table__.update().where(Job.id == w.job_ids["cancel"])
                       .values(state="queued", cancel_requested=False, finished_at=None))
    db.session.commit()


def _make_messages(app, client, w):
    """消息中心's forms: an unread message of the signed-in user (the newest: first on the list)."""
    with app.app_context():
        w.message_ids = getattr(w, "message_ids", {})
        for role in ("d1", "ent1"):
            user = f.user(w.users[role])
            event = f"hostile:{role}:{len(w.message_ids)}"
            notifications.send("application_approved", event, [user], {"number": "HOSTILE", "type": "initial"},
                               f"application:{w.apps['d1']}")
            db.session.commit()
            w.message_ids[role] = db.session.query(Notification.id).filter_by(user_id=user.id, event=event).scalar()


def _message_url(role):
    """The mark-read form's address (message 0 before the set-up made the message: the route is the same)."""
    return lambda w: f"/messages/{getattr(w, 'message_ids', {}).get(role, 0)}/read"


def _unread_messages(w):
    db.session.execute(Notification.__table__.update().where(Notification.id.in_(w.message_ids.values()))
                       .values(read_at=None))
    db.session.commit()
def _calendar_setup(app, client, w):
    """节假日与调休: the rows there before the first calendar target (kept), and a make-up Saturday to edit."""
    with app.app_context():
        if not hasattr(w, "calendar_keep"):
            row = CalendarDay(day=date(2032, 1, 3), is_workday=True, name="调休", source="admin")
            db.session.add(row)
            db.session.commit()
            w.calendar_row = row.id
            w.calendar_keep = set(db.session.scalars(select(CalendarDay.id)))


def _reset_calendar(w):
    """Remove the rows the forms added (other tests count deadlines on this database); put the edited one back."""
    db.session.execute(CalendarDay.__table__.delete().where(CalendarDay.id.not_in(w.calendar_keep)))
    db.session.execute(CalendarDay.__table__.update().where(CalendarDay.id == w.calendar_row).values(
        day=date(2032, 1, 3), is_workday=True, name="调休", source="admin"))
    db.session.commit()
    workdays.clear_cache()


def _calendar_row(w):
    row = db.session.get(CalendarDay, w.calendar_row)
    return row.day, row.is_workday, row.name, row.source


def _cancel_setup(app, client, w):
    """注销 lodged by others: a registered constructor at E1 for the employer's form, one for the province's."""
    from models import Registration

    with app.app_context():
        if not hasattr(w, "cancel_registrations"):
            w.cancel_registrations = {}
            for key in ("cancel_by_employer", "cancel_by_authority"):
                _username, person_id = f.make_registered(w.e1)
                w.cancel_registrations[key] = db.session.query(Registration.id).filter_by(person_id=person_id).scalar()


def _unlodged(key):
    """An accepted lodging leaves the person an application in progress: withdraw it so the next may be lodged."""
    def reset(w):
        from models import Registration

        person_id = db.session.get(Registration, w.cancel_registrations[key]).person_id
        db.session.query(Application).filter_by(person_id=person_id).update({"state": "withdrawn"})
        db.session.commit()
    return reset


def _cancel_target(role, key, good):
    return Target(role, lambda w: f"/cancellations/{key}/new?registration={w.cancel_registrations.get(key, 0)}"
                  if hasattr(w, "cancel_registrations") else f"/cancellations/{key}/new",
                  post=lambda w: f"/cancellations/{key}/new", setup=_cancel_setup, reset=_unlodged(key),
                  good=lambda w: {"registration": str(w.cancel_registrations[key]), "confirmed": "y", **good()})


_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
_CALENDAR_CSV = "date,type,name\r\n2031-01-01,休,元旦\r\n2031-01-04,班,元旦\r\n".encode("utf-8-sig")


def _calendar_target(page, post=None, good=lambda w: {}, fingerprint=None):
    return Target("admin", page, post=post, good=good, setup=_calendar_setup, reset=_reset_calendar,
                  fingerprint=fingerprint)


_PROFILE = {"ethnicity": "01", "email": "x@example.cn", "education": "bachelor", "degree": "bachelor",
            "school": "同济大学", "graduation_date": "2008-07-01", "major": "土木工程"}
_PASSWORD = "Build@2026x"

def _penalty_person(app, client, w):
    with app.app_context():
        w.penalty_id_number = f.make_registered(w.e1)[0]


def _penalty_good(w):
    return {"id_number": w.penalty_id_number, "kind": "administrative_penalty", "ground_code": "practice_violation",
            "decision_number": "京建罚〔2026〕1号", "decided_on": _date(-1), "public": "y", "confirm": "y",
            "document": (b"%PDF-1.4 decision", "decision.pdf")}


TARGETS = {
    # Anonymous pages with the image captcha.
    "login": Target(None, lambda w: "/login/"),  # no real user names: failures would lock the accounts
    "signup": Target(None, lambda w: "/signup/", good=lambda w: {
        "name": "张三", "id_number": w.unused_id_number, "phone": "13700000000", "password": _PASSWORD,
        "confirm": _PASSWORD, "sms_code": "123456"}),
    "reset": Target(None, lambda w: "/reset/", good=lambda w: {"id_number": w.users["a2"]}),
    "reset-finish": Target(None, lambda w: "/reset/finish", setup=_start_reset,
                           good=lambda w: {"sms_code": "123456", "password": _PASSWORD, "confirm": _PASSWORD}),
    "verify": Target(None, lambda w: "/verify/", good=lambda w: {"number": w.certificate[0],
                                                                "holder_name": w.certificate[1]}),
    # The applicant's own pages.
    "me-profile": Target("d1", lambda w: "/me/profile", good=lambda w: _PROFILE, fingerprint=_person("d1")),
    "me-phone": Target("d1", lambda w: "/me/phone", good=lambda w: {"phone": "13912345678", "sms_code": "123456"},
                       fingerprint=_person("d1")),
    # No valid current password: a change would lock later tests out of the account.
    "me-password": Target("d1", lambda w: "/me/password", good=lambda w: {"password": _PASSWORD, "confirm": _PASSWORD}),
    "account-password": Target("ent1", lambda w: "/account/password", good=lambda w: {"password": _PASSWORD,
                                                                                      "confirm": _PASSWORD}),
    "me-verify-onsite": Target("onsite", lambda w: "/me/verify", post=lambda w: "/me/verify/onsite",
                               good=lambda w: {"province": "11"}),
    **{f"apply-{code}": Target(f"apply:{code}", (lambda c: lambda w: f"/apply/{c}")(code), good=_apply_good)
       for code in ("initial", "change", "add_specialty", "renewal", "cancellation", "re_registration",
                    "replacement", "info_change")},
    # Panel forms.
    "persons-add": Target("ministry", lambda w: "/persons/add", good=lambda w: {
        "id_number": w.unused_id_number, "name": "李四", "phone": "13811112222", **_PROFILE}),
    "persons-edit-own": Target("a1", lambda w: f"/persons/edit/{w.persons['a1']}", fingerprint=_person("a1"),
                               good=lambda w: {"phone": "13811112222", **_PROFILE}),
    "enterprises-add": Target("ministry", lambda w: "/enterprises/add", good=lambda w: {
        "credit_code": w.unused_credit_code, "name": "新企业", "province": "11", "address": "北京",
        "legal_representative": "王五", "contact_phone": "13811112222"}),
    "enterprises-edit": Target("ministry", lambda w: f"/enterprises/edit/{w.e2}", fingerprint=_enterprise("e2"),
                               good=lambda w: {"name": "改名企业", "province": "11"}),
    "enterprise-profile": Target("ent1", lambda w: "/enterprise-profile/", fingerprint=_enterprise("e1"),
                                 good=lambda w: {"address": "北京", "legal_representative": "王五",
                                                 "contact_phone": "13811112222"}),
    "qualifications-add": Target("ministry", lambda w: "/qualifications/add", good=lambda w: {
        "person_id_number": w.users["a1"], "certificate_no": "Q-HOSTILE-1", "specialty": "mining",
        "qualified_on": _date(-400)}),
    "qualifications-edit": Target("ministry", lambda w: f"/qualifications/edit/{w.qualifications['a1']}",
                                  good=lambda w: {"certificate_no": "Q-HOSTILE-2", "specialty": "building",
                                                  "qualified_on": _date(-400)}),
    "provinces-edit": Target("admin", lambda w: "/provinces/edit/65", reset=_restore_reference,
                             good=lambda w: {"name": "新疆维吾尔自治区", "name_en": "Xinjiang", "abbr": "新"}),
    "specialties-edit": Target("admin", lambda w: "/specialties/edit/airport", reset=_restore_reference,
                               good=lambda w: {"name": "民航机场工程", "name_en": "Civil Airport Engineering",
                                               "needs_industry_opinion": "y"}),
    "calendar-add": _calendar_target(lambda w: "/calendardays/add", good=lambda w: {
        "day": ["2031-01-01", "2031-01-04"], "is_workday": ["False", "True"], "name": "元旦"}),
    "calendar-edit": _calendar_target(lambda w: f"/calendardays/edit/{getattr(w, 'calendar_row', 0)}",
                                      fingerprint=_calendar_row, good=lambda w: {
                                          "day": "2032-01-03", "is_workday": ["True", "False"], "name": "元旦调休"}),
    "calendar-upload": _calendar_target(lambda w: "/calendardays/upload",
                                        good=lambda w: {"file": (_CALENDAR_CSV, "calendar.csv")}),
    "calendar-fill": _calendar_target(lambda w: "/calendardays/list/", post=lambda w: "/calendardays/fill"),
    "users-add": Target("admin", lambda w: "/users/add", good=lambda w: {
        "first_name": "测", "last_name": "试", "username": "hostile-user", "email": "h@example.cn",
        "password": _PASSWORD, "conf_password": _PASSWORD, "active": "y"}),
    # 安全管理员: grant roles (app/duties.py); refused posts leave the account's roles as they were.
    "users-roles": Target("secadmin", lambda w: f"/users/roles/?username={w.users['ent2']}", post=lambda w: "/users/roles/",
                          good=lambda w: {"username": w.users["ent2"], "roles": [["Enterprise"], ["Enterprise",
                                                                                                 "ExportUnmasked"]]},
                          fingerprint=lambda w: sorted(f.user(w.users["ent2"]).role_names)),
    # 企业状态: the ministry's entry (its form leads to the confirmation page; hostile input never gets past it).
    "employer-status": Target("ministry", lambda w: "/employer-status/", good=lambda w: {
        "credit_code": w.credit_codes["e2"], "status": ["suspended", "deregistered"], "effective_on": "2026-01-05",
        "note": "公告"}),
    "announcements-add": Target("ministry", lambda w: "/announcements/add", good=lambda w: {"title": "公告"}),
    "announcements-edit": Target("ministry", lambda w: f"/announcements/edit/{w.batch}", good=lambda w: {"title": "公告"}),
    # Decisions: the confirmation pages and the bulk form (the application is put back before each example).
    "transition-confirm": Target("ent1", lambda w: f"/applications/transition/{w.apps['a1']}/confirm",
                                 reset=_state("a1", "enterprise_review"), fingerprint=_application("a1"),
                                 good=lambda w: {"attested": "y", "opinion": "同意"}),
    "transition-return": Target("ent1", lambda w: f"/applications/transition/{w.apps['a1']}/return",
                                reset=_state("a1", "enterprise_review"), fingerprint=_application("a1"),
                                good=lambda w: {"opinion": "请补正"}),
    "transition-pass": Target("prov31", lambda w: f"/applications/transition/{w.apps['a3']}/pass",
                              reset=_state("a3", "province_review"), fingerprint=_application("a3")),
    "transition-refuse": Target("prov31", lambda w: f"/applications/transition/{w.apps['a3']}/refuse",
                                reset=_state("a3", "province_review"), fingerprint=_application("a3"),
                                good=lambda w: {"opinion": "不予注册", "reason": "other"}),
    "transition-ministry-return": Target("ministry", lambda w: f"/applications/transition/{w.apps['m1']}/return",
                                         reset=_state("m1", "ministry_review"), fingerprint=_application("m1"),
                                         good=lambda w: {"opinion": "请补正"}),
    # 注销 lodged by the employer and by the authority (a person of their own is put back before each example).
    "cancel-by-employer": _cancel_target("ent1", "cancel_by_employer", lambda: {
        "leaving_date": _date(-10), "reason_text": "劳动合同已解除"}),
    "cancel-by-authority": _cancel_target("prov11", "cancel_by_authority", lambda: {
        "reason": ["revoked_by_law", "obtained_by_fraud"], "reason_text": "依法撤销", "document": (_PDF, "决定书.pdf")}),
    # 催办: the applicant reminds the employer from the progress page (reminders put back before each example).
    "progress-remind": Target("a1", lambda w: "/progress/", post=lambda w: f"/progress/remind/{w.apps['a1']}",
                              reset=_unreminded("a1"), fingerprint=_reminders("a1"),
                              good=lambda w: {"kind": ["regular", "temporary"]}),
    "transition-withdraw": Target("d1", lambda w: f"/applications/transition/{w.apps['d1']}/withdraw",
                                  reset=_state("d1", "draft"), fingerprint=_application("d1")),
    "bulk-return": Target("ent1", lambda w: f"/myqueue/bulk/return?ids={w.apps['a1']}",
                          reset=_state("a1", "enterprise_review"), fingerprint=_application("a1"),
                          good=lambda w: {"opinion": "请补正"}),
    "bulk-refuse": Target("prov31", lambda w: f"/myqueue/bulk/refuse?ids={w.apps['a3']}",
                          reset=_state("a3", "province_review"), fingerprint=_application("a3"),
                          good=lambda w: {"opinion": "不予注册", "reason": "other"}),
    "realname-decide": Target("prov11", lambda w: f"/realnamequeue/show/{w.persons['onsite']}",
                              post=lambda w: f"/realnamequeue/decide/{w.persons['onsite']}", reset=_queue_onsite,
                              fingerprint=_person("onsite"), good=lambda w: {"decision": ["verify", "reject"],
                                                                            "note": "证件不符"}),
    # 继续教育: a provincial officer enters a record for a person of its province, with the certificate scan.
    "education-enter": Target("prov11", lambda w: f"/education/?id_number={_id_number(w, 'onsite')}",
                              post=lambda w: "/education/enter", fingerprint=_education("onsite"),
                              setup=_remember_id_numbers,
                              good=lambda w: {"person": _id_number(w, "onsite"), "certificate_no": "HF0001",
                                              "course": "建设工程法规", "provider": "培训中心", "kind": "compulsory",
                                              "hours": "8", "completed_on": "2025-06-30", "specialty_code": "",
                                              "scan": (_scan_jpeg(), "scan.jpg")}),
    "jobs-cancel": Target("ministry", lambda w: "/jobs/", post=_job_url("cancel"), setup=_make_jobs,
                          reset=_requeue_job),
    "jobs-retry": Target("ministry", lambda w: "/jobs/", post=_job_url("retry"), setup=_make_jobs),
    # 消息中心: mark one read (the applicant's edition), mark all read (staff).
    "messages-read": Target("d1", lambda w: "/messages/", post=_message_url("d1"), setup=_make_messages,
                            reset=_unread_messages, good=lambda w: {"show": "unread", "page": "2"}),
    "messages-read-all": Target("ent1", lambda w: "/messages/", post=lambda w: "/messages/read-all",
                                setup=_make_messages, reset=_unread_messages),
    "penalty-record": Target("prov11", lambda w: "/penalties/record", setup=_penalty_person, good=_penalty_good),
}
# POST routes fuzzed elsewhere in this folder.
# (The penalty form's person: a registrant of E1 in province 11 of its own, so records entered leave the world's
# applicants as they were.)
FUZZED_ELSEWHERE = {
    "MyAccountView.materials": "test_hostile_uploads.py",
    "RosterImportView.upload": "test_hostile_uploads.py",
    "EducationImportView.upload": "test_hostile_uploads.py",
    "EmployerStatusView.register": "test_hostile_uploads.py",
}


def _endpoint(app, url):
    adapter = app.url_map.bind("localhost")
    return adapter.match(urlparse(url).path, method="POST")[0]


# --- strategies -----------------------------------------------------------------------------------------
def _file_strategy(good):
    garbage = st.one_of(st.binary(max_size=64), st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"GIF89a<script>",
                                                                  b"<svg onload=alert(1)>"]))
    name = st.one_of(st.sampled_from(["x.jpg", "../../x.png", "/etc/passwd", "a\\b.png"]), hostile_text(long=False))
    files = [st.tuples(garbage, name)]
    if good is not None:
        files.insert(0, st.just(good))
    return st.one_of(*files)


def _valid(fld, good):
    """Values the page itself would send (the given good value, an option, the current value), or None."""
    if fld.kind == "file":
        return st.just(good) if good is not None else None
    known = []
    if good is not None:
        known += good if isinstance(good, list) else [good]
    known += [o for o in fld.options if o not in ("", "__None")]
    if fld.value not in (None, ""):
        known.append(fld.value)
    if not known:
        return None
    values = st.sampled_from(known)
    if fld.multiple:
        return st.one_of(values, st.lists(values, min_size=1, max_size=3, unique=True))
    return values


def _hostile(fld, good):
    if fld.kind == "file":
        return st.one_of(_file_strategy(None), st.just(OMIT))
    return st.one_of(hostile_value(), st.just(OMIT))


def _draw_values(data, form, good):
    """One field hostile and the rest valid (3 in 4 examples), or every field hostile."""
    names = [n for n in form.fields if n not in ("csrf_token", "captcha_nonce", "captcha")]
    if not names:
        return {}
    one = data.draw(st.sampled_from([True, True, True, False]), label="one hostile field")
    target = data.draw(st.sampled_from(names), label="hostile field") if one else None
    values = {}
    for name in names:
        fld = form.fields[name]
        valid = _valid(fld, good.get(name))
        strategy = _hostile(fld, good.get(name)) if (not one or name == target or valid is None) else valid
        value = data.draw(strategy, label=name)
        if value is not OMIT:
            values[name] = value
    return values


def _encode(values: dict) -> tuple[dict, bool]:
    """Values as the test client posts them (fresh streams for files); True when multipart is needed."""
    body, multipart = {}, False
    for name, value in values.items():
        if isinstance(value, tuple):
            body[name] = (io.BytesIO(value[0]), value[1])
            multipart = True
        else:
            body[name] = value
    return body, multipart


def _fresh_captcha(client):
    from app.services import captcha

    nonce = client.get("/captcha/new").get_json()["nonce"]
    with client.application.app_context():
        return {"captcha_nonce": nonce, "captcha": captcha.peek_answer(nonce)}


def _captcha(client, data):
    """A new captcha answer (the page's challenge is used up by each post); sometimes a wrong one."""
    from app.services import captcha

    nonce = client.get("/captcha/new").get_json()["nonce"]
    with client.application.app_context():
        answer = captcha.peek_answer(nonce)
    if not data.draw(st.sampled_from([True, True, True, False]), label="captcha solved"):
        answer = data.draw(hostile_text(long=False), label="captcha")
    return {"captcha_nonce": nonce, "captcha": answer}


# --- the fuzzer ---------------------------------------------------------------------------------------------
def _refused(client, resp) -> bool:
    """The post was turned down: the form again, a 4xx, or a redirect to a page showing an error."""
    if resp.status_code not in (301, 302, 303):
        return True
    page = client.get(resp.headers["Location"])
    assert page.status_code < 500, (resp.headers["Location"], page.status_code)
    html = page.get_data(as_text=True)
    assert_no_injected_markup(html, f"after redirect to {resp.headers['Location']}")
    return "alert-danger" in html


def _check_post(app, client, url, body, multipart, fingerprint=None):
    before, fp_before = row_counts(app), fingerprint() if fingerprint else None
    kwargs = {"content_type": "multipart/form-data"} if multipart else {}
    resp = client.post(url, data=body, **kwargs)
    assert resp.status_code < 500, f"{resp.status_code} from POST {url}"
    if resp.mimetype == "text/html":
        assert_no_injected_markup(resp.get_data(as_text=True), f"in the answer to POST {url}")
    if _refused(client, resp):
        assert changed(before, row_counts(app)) == {}, f"a refused POST {url} wrote rows"
        if fingerprint:
            assert fingerprint() == fp_before, f"a refused POST {url} changed the record"
    return resp


def fuzz_form(app, w, target: Target, examples=EXAMPLES):
    username = _user(w, target.role)
    client = app.test_client()
    if username:
        from tests.conftest import login

        login(client, username)
    if target.setup:
        target.setup(app, client, w)

    def in_ctx(fn):
        if fn is None:
            return None

        def run():
            with app.app_context():
                return fn(w)
        return run

    reset, fingerprint = in_ctx(target.reset), in_ctx(target.fingerprint)
    page_url = target.page(w)
    post_url = target.post(w) if target.post else page_url
    if reset:
        reset()
    page = client.get(page_url)
    assert page.status_code == 200, (page_url, page.status_code)
    form = the_form(page.get_data(as_text=True), post_url)
    csrf = form.fields["csrf_token"].value if "csrf_token" in form.fields else None
    assert csrf, f"no CSRF token in the form of {page_url}"
    good = target.good(w)

    @hostile_settings(examples)
    @given(data=st.data())
    def run(data):
        if reset:
            reset()
        body = {"csrf_token": csrf}
        if "captcha_nonce" in form.fields:
            body.update(_captcha(client, data))
        values, multipart = _encode(_draw_values(data, form, good))
        _check_post(app, client, post_url, {**values, **body}, multipart or form.has_files, fingerprint)

    def sweep():
        """Deterministic sharp values: each one in every field at once, then field by field among valid ones."""
        names = [n for n in form.fields if n not in ("csrf_token", "captcha_nonce", "captcha")]
        valid = {}
        for name in names:
            fld, value = form.fields[name], good.get(name)
            value = value[0] if isinstance(value, list) else value
            if value is None and fld.kind != "file":
                value = next((o for o in fld.options if o not in ("", "__None")), fld.value)
            if value is not None:
                valid[name] = value
        posts = [{n: sharp for n in names} for sharp in SHARP]
        posts += [{**valid, name: sharp} for name in names for sharp in DEEP_SHARP]
        for values in posts:
            if reset:
                reset()
            body = {"csrf_token": csrf}
            if "captcha_nonce" in form.fields:
                body.update(_fresh_captcha(client))
            encoded, multipart = _encode(values)
            _check_post(app, client, post_url, {**encoded, **body}, multipart or form.has_files, fingerprint)

    try:
        sweep()
        run()
    finally:
        if reset:
            reset()
    return form


@pytest.fixture(scope="module")
def world(app):
    return hostile_world(app)


@pytest.mark.parametrize("name", list(TARGETS), ids=list(TARGETS))
def test_form_survives_hostile_input(app, world, monkeypatch, name):
    monkeypatch.setitem(app.config, "SMS_RESEND_SECONDS", 0)
    fuzz_form(app, world, TARGETS[name])


# --- every POST route ---------------------------------------------------------------------------------------
# Routes not fuzzed as forms, with the reason. The JSON API has its own suites.
NOT_FORMS = {
    "AppAuthDBView.logout": "sign-out: no input",
    "MyAccountView.verify_online": "no input; starts a provider session",
    "MyAccountView.photo_preview": "one choice (keep or discard) of a pending photo: test_hostile_uploads.py",
    "RealnameSimulatorView.callback": "CSRF-exempt provider callback: checked by test_realname_callback_rejects_garbage",
    "MyQueueView.transition": "the same handler as ApplicationsView.transition (inherited), fuzzed there",
    "AnnouncementsView.gather": "no input",
    "AnnouncementsView.publish": "no input; publishes the batch",
}
_SECURITY_VIEWS = ("users", "roles", "permissions", "viewmenus", "permissionviews", "groups", "resetmypassword",
                   "resetpassword", "userinfoeditview")
_ROLES = ("a1", "ent1", "prov11", "ministry", "admin", "secadmin")
_ODD_IDS = ("99999999999999999999", "²")  # beyond every integer key; a digit int() refuses


def _post_rules(app):
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.rule.startswith(("/api/", "/static", "/exports/static")):
            continue
        yield rule


# Path arguments that name a choice rather than a record keep a real value, so the handler gets past them.
_REAL_ARGS = {"action": "return", "business_type": "initial", "provider_name": "simulator", "export_type": "csv"}


def _build(rule, value, real_names=False):
    """The rule's path with every argument set to `value` (URL-quoted); with real_names, choices are real."""
    from urllib.parse import quote

    out = rule.rule
    for arg in rule.arguments:
        arg_value = _REAL_ARGS.get(arg, value) if real_names else value
        for conv in ("<int:", "<string:", "<path:", "<"):
            marker = f"{conv}{arg}>"
            if marker in out:
                out = out.replace(marker, quote(arg_value, safe=""))
    return out


def test_every_post_route_is_fuzzed_or_listed(app):
    """A new POST form must get a target above (or a reason in NOT_FORMS): the URL map is the list.
    FAB's generated add/edit forms count when some role holds the permission (views/registry.py)."""
    from views.registry import PANEL

    world = hostile_world(app)
    targeted = {_endpoint(app, (t.post or t.page)(world)) for t in TARGETS.values()}
    known = targeted | set(FUZZED_ELSEWHERE) | set(NOT_FORMS)
    generated = {f"{spec.name}View.{verb}" for spec in PANEL for verb, roles in (("add", spec.add), ("edit", spec.edit))
                 if roles} & {r.endpoint for r in _post_rules(app)}  # applications: GET only, to 注册申报's forms
    crud = (".add", ".edit", ".delete", ".action", ".action_post", ".download")
    custom = {r.endpoint for r in _post_rules(app)
              if not r.endpoint.endswith(crud) and not r.endpoint.startswith("exports")
              and r.rule.split("/")[1] not in _SECURITY_VIEWS}
    missing = sorted((custom | generated) - known)
    assert not missing, f"POST routes with no hostile-input target: {missing}"


def test_every_route_survives_odd_ids_and_payloads(app):
    """Every POST route of the URL map, and every GET route with path arguments, as every role, with odd
    arguments (huge, zero, a Unicode digit) and a body of payloads: never a server error. Real records are
    never named, so nothing can be deleted."""
    from tests.conftest import csrf_token, login

    world = hostile_world(app)
    body = {name: PAYLOADS[i % len(PAYLOADS)] for i, name in enumerate(
        ("name", "title", "opinion", "reason", "note", "action", "rowid", "ids", "decision", "username", "password",
         "id_number", "phone", "email", "business_type", "enterprise", "version", "q", "kind", "file"))}
    get_rules = [r for r in app.url_map.iter_rules() if "GET" in r.methods and r.arguments
                 and not r.rule.startswith(("/api/", "/static", "/exports/static", "/appbuilder"))]
    failures = []
    for role in _ROLES:
        client = login(app.test_client(), _user(world, role))
        token = csrf_token(client, "/me/password" if role == "a1" else "/account/password")
        requests = []
        for rule in _post_rules(app):
            if rule.endpoint in ("AppAuthDBView.logout", "MyAccountView.verify_online"):
                continue  # would sign the client out / start a provider session: no input anyway
            urls = {_build(rule, v, real) for v in _ODD_IDS for real in (False, True)} if rule.arguments else {rule.rule}
            requests += [("POST", url) for url in sorted(urls)]
        for rule in get_rules:
            requests += [("GET", url) for url in sorted({_build(rule, v, True) for v in _ODD_IDS})]
        for method, url in requests:
            try:
                resp = client.open(url, method=method, data={**body, "csrf_token": token} if method == "POST" else None)
            except Exception as exc:  # the test client re-raises what would be a 500
                failures.append((role, method, url, f"{type(exc).__name__}: {str(exc)[:80]}"))
                continue
            resp.get_data()  # a streamed export holds its request context (and g.user) until read
            resp.close()
            if resp.status_code >= 500:
                failures.append((role, method, url, resp.status_code))
            elif resp.mimetype == "text/html":
                assert_no_injected_markup(resp.get_data(as_text=True), f"{method} {url}")
    assert not failures, "\n".join(map(str, failures))


# --- query strings ------------------------------------------------------------------------------------------
def _list_args(app, view_name):
    """FAB list arguments of a panel view: filters on its search columns, paging, ordering."""
    view = next(v for v in app.appbuilder.baseviews if v.__class__.__name__ == view_name)
    columns = list(getattr(view, "search_columns", []) or []) + ["id", "nonexistent"]
    keys = [f"_flt_{i}_{c}" for c in columns for i in range(0, 8)]
    keys += [f"psize_{view_name}", f"page_{view_name}", f"_oc_{view_name}", f"_od_{view_name}"]
    return keys


def _export_args(app):
    from views.exports import VIEWS, _filters
    from views.registry import LABELS

    out = {}
    for spec_name, *_rest in VIEWS:
        names = [flt.arg for flt in _filters(spec_name, LABELS)]
        keys = [f"flt{i}_{n}" for i, n in enumerate(names)] + [f"flt{len(names)}_{n}" for n in names[:2]]
        keys += ["search", "sort", "desc", "page", "flt0_nonexistent"]
        out[spec_name] = keys
    return out


def _query(keys):
    """Query strings over `keys`: each present or not, with hostile (or list) values."""
    return st.dictionaries(st.sampled_from(keys), hostile_value(long=False), max_size=4)


def _get_ok(client, url, follow=True):
    """GET `url` (and the page a redirect leads to, e.g. the list without the arguments it dropped)."""
    resp = client.get(url)
    resp.get_data()  # a streamed export holds its request context (and g.user) until read
    resp.close()
    assert resp.status_code < 500, f"{resp.status_code} from GET {url}"
    if resp.mimetype == "text/html":
        assert_no_injected_markup(resp.get_data(as_text=True), f"GET {url}")
    if follow and resp.status_code in (301, 302, 303) and not urlparse(resp.headers["Location"]).netloc:
        return _get_ok(client, resp.headers["Location"], follow=False)
    return resp


def _fuzz_get(client, base, keys, examples, sharp_keys=None):
    """Each of SHARP and DEEP_SHARP alone in each of `sharp_keys` (default: all), then random query strings."""
    for key in keys if sharp_keys is None else sharp_keys:
        for value in (*SHARP[1:], *DEEP_SHARP):
            _get_ok(client, f"{base}?{urlencode({key: value}, doseq=True)}")

    @hostile_settings(examples)
    @given(args=_query(keys))
    def run(args):
        _get_ok(client, f"{base}?{urlencode(args, doseq=True)}")

    run()


PANEL_LISTS = [("ministry", "PersonsView", "/persons/list/"), ("ministry", "ApplicationsView", "/applications/list/"),
               ("ent1", "MyQueueView", "/myqueue/list/"), ("prov11", "RealnameQueueView", "/realnamequeue/list/"),
               ("a1", "CertificatesView", "/certificates/list/"), ("ministry", "EnterprisesView", "/enterprises/list/"),
               ("ministry", "QualificationsView", "/qualifications/list/"),
               ("ministry", "RegistrationsView", "/registrations/list/"), ("ministry", "AuditLogView", "/auditlog/list/"),
               ("ministry", "TransitionLogView", "/transitionlog/list/"),
               ("ministry", "AttachmentsView", "/attachments/list/"), ("admin", "SmsOutboxView", "/smsoutbox/list/"),
               ("admin", "CalendarDaysView", "/calendardays/list/")]


@pytest.mark.parametrize("role,view,url", PANEL_LISTS, ids=[v for _r, v, _u in PANEL_LISTS])
def test_panel_list_filters_survive_hostile_query_strings(app, role, view, url):
    world = hostile_world(app)
    client = app.test_client()
    from tests.conftest import login

    login(client, _user(world, role))
    keys = _list_args(app, view)
    _fuzz_get(client, url, keys, 4, sharp_keys=[k for k in keys if not k.startswith("_flt_") or k.startswith("_flt_0_")])


def test_export_filters_survive_hostile_query_strings(app):
    world = hostile_world(app)
    from tests.conftest import login

    client = login(app.test_client(), world.users["ministry"])
    for spec_name, keys in _export_args(app).items():
        _fuzz_get(client, f"/exports/{spec_name}/", keys, 4)
        _fuzz_get(client, f"/exports/{spec_name}/export/csv/", keys, 2, sharp_keys=keys[:2])


def test_public_and_personal_query_strings(app):
    world = hostile_world(app)
    from tests.conftest import login

    anonymous = app.test_client()
    _fuzz_get(anonymous, "/registry/", ["name", "number", "enterprise", "page"], 12)

    @hostile_settings(15)
    @given(value=hostile_text(long=False), path=st.sampled_from(["/registry/{}", "/verify/{}", "/captcha/{}.png",
                                                                "/realname/simulator/{}"]))
    def run(value, path):
        from urllib.parse import quote

        _get_ok(anonymous, path.format(quote(value, safe="")) if value not in ("", ".", "..") else path.format(""))

    run()
    applicant = login(app.test_client(), world.users["a1"])
    _fuzz_get(applicant, "/apply/enterprises", ["q"], 8)
    _fuzz_get(applicant, "/progress/", ["kind"], 4)
    _fuzz_get(applicant, "/me/trail", ["page"], 4)
    _fuzz_get(applicant, "/me/materials", ["kind"], 4)
    enterprise = login(app.test_client(), world.users["ent1"])
    _fuzz_get(enterprise, "/enterprise-profile/constructors", ["page"], 4)


@pytest.mark.parametrize("role", ["ministry", "prov11", "ent1"])
def test_dashboard_filters_survive_hostile_query_strings(app, role):
    world = hostile_world(app)
    from tests.conftest import login

    client = login(app.test_client(), world.users[role])
    keys = ["date_from", "date_to", "province", "specialty", "business_type", "expiring_days", "refresh"]
    _fuzz_get(client, "/dashboard/", keys, 10)


@pytest.mark.parametrize("role", ["ministry", "prov11"])
def test_overdue_filters_survive_hostile_query_strings(app, role):
    world = hostile_world(app)
    from tests.conftest import login

    client = login(app.test_client(), world.users[role])
    _fuzz_get(client, "/overdue/", ["tab", "state", "business_type", "page"], 10)


# --- stored script ------------------------------------------------------------------------------------------
# One payload per field, each small enough for its column; the person's name is typed at sign-up.
STORED = {
    "enterprise name": "<script>alert(1)</script>企业",
    "legal representative": "<xss-probe>x</xss-probe>",
    "address": "'><svg onload=alert(1)>地址",
    "person name": '"><img src=x onerror=alert(1)>',
    "school": "</textarea><script>alert(1)</script>",
    "major": '<a href="javascript:alert(1)">x</a>',
    "reason text": "<xss-probe>理由</xss-probe>",
    "enterprise opinion": '"><img src=x onerror=alert(1)>同意',
    "province opinion": "<script>alert(1)</script>退回",
    "announcement title": "<svg onload=alert(1)>公告",
}


class _Text(HTMLParser):
    """The text a reader sees: character data and attribute values, entities decoded."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)

    def handle_starttag(self, tag, attrs):
        self.parts.extend(v for _k, v in attrs if v)


def _seen(client, url, expected):
    """The page shows each expected payload as text, and none of them (or anything else) as markup."""
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code)
    html = resp.get_data(as_text=True)
    assert_no_injected_markup(html, f"on {url}")
    reader = _Text()
    reader.feed(html)
    text = "\n".join(reader.parts)
    missing = [key for key in expected if STORED[key] not in text]
    assert not missing, f"{url} does not show {missing}: the check would prove nothing there"


def _post_form(client, url, values):
    token = form_tokens(client, url)["csrf_token"]
    resp = client.post(url, data={"csrf_token": token, **values})
    assert resp.status_code in (302, 303), (url, resp.status_code, resp.get_data(as_text=True)[:2000])
    return resp


def test_stored_payloads_are_escaped_on_other_users_pages(app, monkeypatch):
    """Script typed by one user (applicant, enterprise officer, reviewer, ministry) appears only as text on the
    pages other users open: lists, records, queues, confirmation pages, the progress timeline."""
    from tests.conftest import login
    from tests.views.test_personal_journey import apply_form

    monkeypatch.setitem(app.config, "SMS_RESEND_SECONDS", 0)
    world = hostile_world(app)
    ministry = login(app.test_client(), world.users["ministry"])
    with app.app_context():
        credit_code = f.unique_credit_code()
    _post_form(ministry, "/enterprises/add", {"credit_code": credit_code, "name": STORED["enterprise name"],
                                              "province": "11"})
    with app.app_context():
        enterprise = db.session.query(Enterprise).filter_by(credit_code=credit_code).one()
        enterprise_id, label = enterprise.id, f"{enterprise.name} [{enterprise.credit_code}]"
        officer = f.make_user("Enterprise", enterprise_id=enterprise_id)
        applicant, person_id = f.make_applicant(name=STORED["person name"])
        leaver, _leaver_person = f.make_registered(enterprise_id)
        phones = {}
        for username in (applicant, leaver):
            phones[username] = f"135{f.next_serial() % 10**8:08d}"
            f.user(username).person.phone = phones[username]
        db.session.commit()
    ent = login(app.test_client(), officer)
    # A legal representative must be a legal name (ground.identifiers.clean_person_name): markup is refused there.
    token = form_tokens(ent, "/enterprise-profile/")["csrf_token"]
    refused = ent.post("/enterprise-profile/", data={"csrf_token": token, "address": STORED["address"],
                                                     "legal_representative": STORED["legal representative"]})
    assert refused.status_code == 200 and "A name is 2 to 30 Chinese characters" in refused.get_data(as_text=True)
    _post_form(ent, "/enterprise-profile/", {"address": STORED["address"], "legal_representative": "王五"})
    with app.app_context():  # as if on file from before the rule: pages must still show it as text
        db.session.get(Enterprise, enterprise_id).legal_representative = STORED["legal representative"]
        db.session.commit()
    person = login(app.test_client(), applicant)
    _post_form(person, "/me/profile", {**_PROFILE, "school": STORED["school"], "major": STORED["major"]})
    resp = apply_form(app, person, "initial", phones[applicant], enterprise=label, specialties="building",
                      contract_start=_date(-30), contract_end=add_years(today(), 2).isoformat())
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    other = login(app.test_client(), leaver)
    resp = apply_form(app, other, "cancellation", phones[leaver], reason="other", reason_text=STORED["reason text"])
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    with app.app_context():
        app_id, number = db.session.query(Application.id, Application.number).filter_by(person_id=person_id).one()
        leaver_app = db.session.query(Application.id).filter(
            Application.person_id == f.user(leaver).person_id).scalar()

    # The employer: queue, record, confirmation and bulk pages, the person, the home page.
    queue = f"/myqueue/list/?_flt_0_number={number}"  # oldest first: other tests' applications may fill page 1
    _seen(ent, queue, ["person name"])
    _seen(ent, f"/applications/show/{app_id}", ["person name", "enterprise name"])
    _seen(ent, f"/applications/show/{leaver_app}", ["reason text"])
    _seen(ent, f"/applications/transition/{app_id}/confirm", ["person name", "enterprise name"])
    _seen(ent, f"/myqueue/bulk/confirm?ids={app_id}", ["person name", "enterprise name"])
    _seen(ent, f"/persons/show/{person_id}", ["person name", "school", "major"])
    _seen(ent, "/", ["person name"])
    _post_form(ent, f"/applications/transition/{app_id}/confirm",
               {"attested": "y", "opinion": STORED["enterprise opinion"]})
    # The province: queue, record with the employer's opinion, the person.
    province = login(app.test_client(), world.users["prov11"])
    _seen(province, queue, ["person name", "enterprise name"])
    _seen(province, f"/applications/show/{app_id}", ["person name", "enterprise opinion"])
    _seen(province, f"/persons/show/{person_id}", ["person name", "school", "major"])
    _seen(province, f"/enterprises/show/{enterprise_id}", ["enterprise name", "address", "legal representative"])
    _post_form(province, f"/applications/transition/{app_id}/return", {"opinion": STORED["province opinion"]})
    # The applicant: progress timeline and record with both opinions.
    _seen(person, "/progress/", ["enterprise opinion", "province opinion"])
    _seen(person, f"/applications/show/{app_id}", ["enterprise name", "province opinion"])
    _seen(person, "/apply/initial", ["enterprise name"])
    # The ministry: lists, records, logs, exports.
    _post_form(ministry, "/announcements/add", {"title": STORED["announcement title"]})
    _seen(ministry, "/persons/list/?_flt_0_name=%22%3E%3Cimg", ["person name"])  # other tests' persons: filter
    _seen(ministry, "/applications/list/", ["person name", "enterprise name"])
    _seen(ministry, f"/enterprises/show/{enterprise_id}", ["enterprise name", "address", "legal representative"])
    _seen(ministry, "/enterprises/list/?_flt_0_name=" + "%3Cscript%3E", ["enterprise name", "legal representative"])
    _seen(ministry, "/transitionlog/list/", ["enterprise opinion", "province opinion"])
    _seen(ministry, "/announcements/list/", ["announcement title"])
    _seen(ministry, "/exports/persons/?search=%22%3E%3Cimg", ["person name"])
    _seen(ministry, "/exports/applications/?search=%22%3E%3Cimg", ["person name", "enterprise name"])
