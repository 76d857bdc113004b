"""Demo data for development and the README's accounts (idempotent: running it twice adds nothing).

Ten enterprises in Beijing, Shanghai and Guangdong; one account per role (and a few more);
persons with qualifications and materials; and applications in every state, produced by driving
the workflow engine as the demo users would (so trails, numbers and certificates are real).
"""
import io
from datetime import date, timedelta

from flask import current_app
from PIL import Image, ImageDraw

from ground import roles as R
from ground.clock import add_years, today
from ground.extensions import db
from ground.identifiers import make_credit_code, make_id_number
from models import (AnnouncementBatch, Application, Certificate, ContinuingEducation, Enterprise, InsuranceConflict,
                    PenaltyRecord, Person, Qualification, Specialty)
from sqlalchemy import update

from app import cancellations, employer_status, industry, lifecycle, penalties, workflow
from app.announcements import publish
from app.applications import start_draft
from app.services import realname, storage


ENTERPRISES = [
    # (key, name, province, region code)
    ("bj1", "北京城建集团有限责任公司（演示）", "11", "110105"),
    ("bj2", "北京市政路桥建设有限公司（演示）", "11", "110102"),
    ("bj3", "中建京华工程有限公司（演示）", "11", "110108"),
    ("bj4", "北京京冶机电安装有限公司（演示）", "11", "110106"),
    ("sh1", "上海隧道建设工程有限公司（演示）", "31", "310104"),
    ("sh2", "上海浦江港航工程有限公司（演示）", "31", "310115"),
    ("sh3", "上海申通轨道建设有限公司（演示）", "31", "310101"),
    ("gd1", "广东粤海水利水电工程有限公司（演示）", "44", "440103"),
    ("gd2", "广州穗通通信工程有限公司（演示）", "44", "440106"),
    ("gd3", "深圳鹏城建筑工程有限公司（演示）", "44", "440304"),
]

# (username, full name, role, enterprise key, province code)
STAFF_ACCOUNTS = [
    ("admin", "系统管理员", R.ADMIN, None, None),
    ("secadmin", "安全管理员", R.SECURITY_ADMIN, None, None),
    ("auditor", "审计管理员", R.AUDIT_ADMIN, None, None),
    ("ministry", "部注册中心", R.MINISTRY, None, None),
    ("province-bj", "北京市住建委", R.PROVINCE, None, "11"),
    ("province-sh", "上海市住建委", R.PROVINCE, None, "31"),
    ("province-gd", "广东省住建厅", R.PROVINCE, None, "44"),
    ("enterprise-bj1", "北京城建人事部", R.ENTERPRISE, "bj1", None),
    ("enterprise-bj2", "北京市政路桥人事部", R.ENTERPRISE, "bj2", None),
    ("enterprise-sh1", "上海隧道人事部", R.ENTERPRISE, "sh1", None),
    ("enterprise-gd1", "粤海水利人事部", R.ENTERPRISE, "gd1", None),
    ("industry", "交通运输行业主管部门", R.INDUSTRY, None, None),
    ("industry-water", "水利部建设管理司", R.INDUSTRY, None, None),
]
# The specialties each demo Industry account gives its opinion on (flagged ones; app/industry.py).
INDUSTRY_SCOPES = {"industry": ["highway", "railway", "airport", "port"], "industry-water": ["water", "telecom"]}

# Each demo person: (key, name, region, birth date, specialty codes, qualification age in years, story)
PERSONS = [
    ("main", "王建国", "110101", date(1985, 3, 7), ["building", "municipal"], 1, "registered"),
    ("draft", "李晓明", "110102", date(1990, 6, 12), ["building"], 1, "draft"),
    ("ent", "张伟", "110105", date(1988, 1, 23), ["highway"], 1, "enterprise_review"),
    ("prov", "刘洋", "110108", date(1987, 9, 2), ["municipal"], 2, "province_review"),
    ("min", "陈静", "310101", date(1986, 11, 30), ["port"], 1, "ministry_review"),
    ("ann", "杨帆", "310104", date(1991, 4, 18), ["railway"], 1, "announce_pending"),
    ("iss", "赵磊", "440103", date(1984, 8, 8), ["water"], 1, "issue_pending"),
    ("ret", "黄丽", "440106", date(1992, 2, 14), ["telecom"], 1, "returned"),
    ("ref", "周强", "110106", date(1983, 12, 1), ["mechanical"], 1, "refused"),
    ("wd", "吴敏", "310110", date(1989, 7, 21), ["building"], 1, "withdrawn"),
    ("chg", "徐涛", "110102", date(1982, 5, 5), ["highway"], 2, "change"),
    ("ren", "孙芳", "110101", date(1980, 10, 10), ["building"], 3, "renewal"),
    ("can", "马超", "310104", date(1979, 3, 3), ["mining"], 2, "cancellation"),
    ("rep", "朱红", "110105", date(1986, 6, 6), ["municipal"], 1, "replacement"),
    ("info", "胡斌", "440103", date(1987, 12, 12), ["water"], 1, "info_change"),
    ("rer", "郑洁", "310104", date(1985, 2, 2), ["municipal"], 2, "re_registration"),
    ("onsite", "钱程", "110108", date(1993, 5, 20), ["building"], 1, "onsite"),
    ("exp", "冯刚", "110105", date(1990, 9, 9), ["building"], 1, "expired"),
    ("lap", "韩梅", "310110", date(1975, 4, 4), ["municipal"], 3, "lapsed"),
    ("pen", "蒋磊", "110106", date(1981, 7, 15), ["building"], 2, "revoked"),
    ("indr", "孙海洋", "310104", date(1988, 8, 18), ["port"], 1, "industry_review"),
    ("left", "林峰", "110105", date(1984, 4, 4), ["building"], 1, "cancel_by_employer"),
    ("rev", "罗军", "440103", date(1986, 7, 7), ["water"], 1, "cancel_by_authority"),
]
# Demo persons whose accounts the README and the start banner list, with what there is to see.
DEMO_APPLICANTS = [
    ("main", "registered at 北京城建, with a certificate and an additional-specialty draft"),
    ("onsite", "signed up, waiting for the on-site real-name check at 北京 (province-bj's queue)"),
    ("pen", "certificate revoked by 北京 (a penalty record): re-registration refused for two years"),
    ("indr", "initial registration in 港口与航道, waiting for the industry opinion (industry's queue)"),
]

PERSON_ENTERPRISE = {"main": "bj1", "draft": "bj1", "ent": "bj1", "prov": "bj1", "min": "sh1", "ann": "sh1",
                     "iss": "gd1", "ret": "gd1", "ref": "bj1", "wd": "sh1", "chg": "bj2", "ren": "gd1",
                     "can": "sh1", "rep": "bj1", "info": "gd1", "rer": "sh1", "onsite": "bj1",
                     "exp": "bj1", "lap": "sh1", "pen": "bj2",
                     "indr": "sh2", "left": "bj1", "rev": "gd1"}
# A public administrative penalty on a registrant, shown on the public register (不良行为记录).
PUBLIC_PENALTY = ("rep", "京建罚〔2026〕3号", "practice_violation")
# A tiny PDF standing for a scanned decision document (处罚决定书, 撤销注册决定书).
DECISION_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>"
                b"endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n"
                b"%%EOF\n")


def _image(kind: str, name: str) -> bytes:
    """A stand-in 1-inch photo (295×413, white background) or signature strip."""
    if kind == "photo":
        img = Image.new("RGB", (295, 413), "white")
        draw = ImageDraw.Draw(img)
        draw.ellipse((97, 80, 198, 200), fill=(226, 190, 160))
        draw.rectangle((60, 230, 235, 413), fill=(40, 60, 110))
    elif kind.startswith("id_"):  # a stand-in ID card scan
        img = Image.new("RGB", (856, 540), (214, 228, 240))
        draw = ImageDraw.Draw(img)
        draw.rounded_rectangle((10, 10, 846, 530), radius=30, outline=(120, 140, 170), width=4)
        draw.rectangle((560, 90, 800, 390), fill=(240, 240, 240))
        for y in range(110, 420, 60):
            draw.rectangle((60, y, 480, y + 22), fill=(150, 165, 185))
        draw.text((60, 460), f"DEMO {kind.upper()}", fill=(60, 70, 90))
    else:
        img = Image.new("RGB", (400, 120), "white")
        draw = ImageDraw.Draw(img)
        draw.line([(20, 80), (90, 30), (150, 90), (230, 25), (300, 85), (380, 40)], fill="black", width=5)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _user(username, full_name, role_name, password, **binding):
    sm = current_app.appbuilder.sm
    user = sm.find_user(username=username)
    if user is None:
        first, last = full_name[:1], full_name[1:] or full_name
        user = sm.add_user(username, first, last, f"{username}@demo.invalid", sm.find_role(role_name),
                           password=password)
    for key, value in binding.items():
        setattr(user, key, value)
    db.session.commit()
    return user


def _move(application, action, user, opinion=None, reason=None):
    # Demo applicants "typed" their SMS code: the demo plays them.
    return workflow.apply(application.id, workflow.Move(action, opinion=opinion, reason=reason, sms_confirmed=True,
                                                        attested=True), user)


def _person_id_number(key: str) -> str:
    """A demo person's ID number (= their account), as load_demo() makes it."""
    n, (_key, _name, region, birth, *_rest) = next((n, p) for n, p in enumerate(PERSONS, start=1) if p[0] == key)
    return make_id_number(region, birth, 100 + 2 * n + (1 if n % 2 else 0))


def demo_accounts() -> list[tuple[str, str, str]]:
    """(role, user name, who) of the accounts the README and `./scripts/serve` list."""
    rows = [(role, username, full) for username, full, role, _ent, _province in STAFF_ACCOUNTS]
    names = {key: name for key, name, *_rest in PERSONS}
    rows += [(R.APPLICANT, _person_id_number(key), f"{names[key]}, {note}") for key, note in DEMO_APPLICANTS]
    return rows


def accounts_markdown() -> str:
    """The README's demo-account table (a test keeps the README identical to it)."""
    lines = ["| role | username | who |", "|---|---|---|"]
    lines += [f"| {role} | `{username}` | {who} |" for role, username, who in demo_accounts()]
    return "\n".join(lines)


def load_demo() -> list[str]:
    password = current_app.config["DEMO_PASSWORD"]
    day = today()
    enterprises = {}
    for i, (key, name, province, region) in enumerate(ENTERPRISES, start=1):
        code = make_credit_code(region, 70000000 + i)
        ent = db.session.query(Enterprise).filter_by(credit_code=code).one_or_none()
        if ent is None:
            ent = Enterprise(credit_code=code, name=name, province_code=province, legal_representative="演示",
                             address=f"{name[:2]}演示路{i}号")
            db.session.add(ent)
        enterprises[key] = ent
    db.session.commit()

    users = {}
    for username, full, role, ent_key, province in STAFF_ACCOUNTS:
        users[username] = _user(username, full, role, password,
                                enterprise_id=enterprises[ent_key].id if ent_key else None, province_code=province)
    for username, codes in INDUSTRY_SCOPES.items():
        if {s.code for s in users[username].industry_specialties} != set(codes):
            industry.set_specialties(users[username], codes)

    specialties = {s.code: s for s in db.session.query(Specialty)}
    persons, applicants = {}, {}
    for n, (key, name, region, birth, codes, qual_age, _story_name) in enumerate(PERSONS, start=1):
        id_number = _person_id_number(key)
        person = db.session.query(Person).filter_by(id_number=id_number).one_or_none()
        if person is None:
            person = Person(id_number=id_number, name=name, phone=f"139{n:08d}", email=f"p{n}@demo.invalid",
                            ethnicity="01", education="bachelor", degree="bachelor", school="演示大学",
                            graduation_date=date(birth.year + 22, 7, 1),
                            major="土木工程", realname_status="verified", realname_method="onsite")
            db.session.add(person)
            db.session.flush()
            for j, code in enumerate(codes):
                db.session.add(Qualification(person=person, certificate_no=f"DEMO{n:04d}{j:02d}",
                                             specialty_code=code, qualified_on=add_years(day, -qual_age)))
            for kind in ("photo", "id_front", "id_back", "id_handheld", "signature"):
                storage.save(db.session, person, kind, f"{kind}.jpg", _image(kind, name), "image/jpeg")
            db.session.commit()
        persons[key] = person
        applicants[key] = _user(id_number, name, R.APPLICANT, password, person_id=person.id)

    created = []
    for key, _name, _region, _birth, codes, _qual_age, story in PERSONS:
        person = persons[key]
        if _story_done(story, person):
            continue
        _story(story, person, applicants[key], enterprises[PERSON_ENTERPRISE[key]], enterprises, users,
               [specialties[c] for c in codes])
        created.append(key)
    _public_penalty(persons[PUBLIC_PENALTY[0]], users)
    _employer_status_and_conflict(enterprises, persons)
    return [f"Enterprises: {len(enterprises)}; persons: {len(persons)}; stories created: {len(created)}."]


def _employer_status_and_conflict(enterprises, persons):
    """One deregistered enterprise (from the national register, with its history) and one social-insurance conflict
    (朱红, registered at 北京城建, paid by 北京市政路桥) for the province's 挂证核查 list and the application pages."""
    closed = enterprises["bj4"]
    if not closed.status_changes:
        employer_status.set_status(closed, "deregistered", today() - timedelta(days=30), "register",
                                   "全国企业登记信息导入", None)
        db.session.commit()
    person = persons["rep"]
    registration = person.registration
    if registration is not None and not db.session.query(InsuranceConflict.id).filter_by(person_id=person.id).first():
        payer = enterprises["bj2"]
        db.session.add(InsuranceConflict(person_id=person.id, registration_id=registration.id,
                                         enterprise_id=registration.enterprise_id,
                                         province_code=registration.enterprise.province_code,
                                         paying_credit_code=payer.credit_code, paying_name=payer.name,
                                         month=f"{today() - timedelta(days=31):%Y-%m}",
                                         first_seen=today() - timedelta(days=40), last_seen=today()))
        db.session.commit()


def _new(person, applicant, btype, **fields):
    application = Application(business_type=btype, **fields)
    start_draft(application, applicant)
    db.session.add(application)
    db.session.commit()
    return application


def _initial(person, applicant, enterprise, specialties):
    day = today()
    return _new(person, applicant, "initial", enterprise=enterprise, contract_start=day - timedelta(days=200),
                contract_end=add_years(day, 3), specialties=specialties)


def _register(person, applicant, enterprise, specialties, users):
    """Run an initial registration all the way: submit → confirm → pass → (industry opinion) → approve → publish
    → certificate."""
    app = _initial(person, applicant, enterprise, specialties)
    _move(app, "submit", applicant)
    _move(app, "confirm", _enterprise_user(enterprise, users))
    _pass(app, enterprise, users)
    _move(app, "approve", users["ministry"], "同意注册。")
    _announce(app, users["ministry"])
    return app


def _education(person, records):
    """Continuing-education records as a training provider's list would bring them: (kind, hours, specialty code
    or None, days ago, course)."""
    for i, (kind, hours, code, days_ago, course) in enumerate(records, start=1):
        db.session.add(ContinuingEducation(
            person=person, specialty_code=code, kind=kind, hours=hours, completed_on=today() - timedelta(days=days_ago),
            provider="演示建设职业培训中心", course=course, certificate_no=f"DEMO-CE-{person.id}-{i}", source="import"))
    db.session.commit()


def _announce(application, ministry):
    """Publish one application in a batch of its own (gathering would sweep up the other stories)."""


    batch = AnnouncementBatch(title="一级建造师注册公告（演示）", state="draft", created_by_id=ministry.id)
    db.session.add(batch)
    db.session.flush()
    application.announcement_id = batch.id
    db.session.commit()
    publish(batch.id, ministry)


def _enterprise_user(enterprise, users):
    for user in users.values():
        if user.enterprise_id == enterprise.id:
            return user
    # Enterprises without a demo account get one so their staff's stories can run.
    return _user(f"enterprise-{enterprise.id}", enterprise.name[:10], R.ENTERPRISE,
                 current_app.config["DEMO_PASSWORD"], enterprise_id=enterprise.id)


def _pass(app, enterprise, users, opinion="材料齐全，符合条件。"):
    """The province passes; a flagged specialty's application then gets its industry department's opinion."""
    _move(app, "pass", _province_user(enterprise, users), opinion)
    if app.state == workflow.State.INDUSTRY:
        department = next(u for u in users.values() if industry.covers(u, app))
        _move(app, "opine", department, "经审核，申请人专业工程业绩符合要求，同意注册。", reason="agree")


def _province_user(enterprise, users):
    return next(u for u in users.values() if u.province_code == enterprise.province_code)


def _penalty(person, officer, kind, number, ground, decided_on, public=True):
    """A penalty record entered by `officer` with the demo decision document (through app.penalties, audited)."""
    values = {"kind": kind, "ground_code": ground, "decision_number": number, "decided_on": decided_on,
              "public": public}
    penalties.record(officer, person, values, "处罚决定书.pdf", DECISION_PDF)
    db.session.commit()


def _public_penalty(person, users):
    key, number, ground = PUBLIC_PENALTY
    if db.session.query(PenaltyRecord.id).filter_by(person_id=person.id).first() is None:
        _penalty(person, users["province-bj"], "administrative_penalty", number, ground, today() - timedelta(days=40))


def _story_done(story, person) -> bool:
    if story == "onsite":
        return person.realname_requested_at is not None
    return db.session.query(Application.id).filter_by(person_id=person.id).first() is not None


def _story(story, person, applicant, enterprise, enterprises, users, specialties):
    ministry = users["ministry"]
    if story == "draft":
        _initial(person, applicant, enterprise, specialties)
        return
    if story == "onsite":  # signed up, waiting for the on-site real-name check in Beijing

        person.realname_status = "unverified"
        realname.request_onsite(person, "11")
        db.session.commit()
        return
    if story in ("registered", "change", "renewal", "cancellation", "replacement", "info_change", "re_registration",
                 "lapsed", "revoked", "cancel_by_employer", "cancel_by_authority"):
        _register(person, applicant, enterprise, specialties, users)
    if story == "revoked":
        # The province revoked the certificate (a penalty record with its decision) and the registration was
        # cancelled "revoked by law": re-registration is refused for REVOCATION_BAR_YEARS.
        _penalty(person, _province_user(enterprise, users), "revoked", "京建罚〔2026〕12号", "fraud_registration",
                 today() - timedelta(days=30))
        cancel = _new(person, applicant, "cancellation", reason="revoked_by_law",
                      reason_text="以欺骗手段取得注册，依法撤销注册。")
        _move(cancel, "submit", applicant)
        _move(cancel, "confirm", _enterprise_user(enterprise, users))
        _move(cancel, "pass", _province_user(enterprise, users), "依法撤销，情况属实。")
        _move(cancel, "approve", ministry, "同意注销。")
        _announce(cancel, ministry)
        return
    if story == "lapsed":
        # Seed history: registered three years ago and never renewed; the nightly lapse job has run.
        for held in person.registration.specialties:
            held.valid_from, held.valid_until = add_years(today(), -3), today() - timedelta(days=12)
        for certificate in db.session.query(Certificate).filter_by(person_id=person.id):  # as printed back then
            certificate.issued_on, certificate.valid_until = add_years(today(), -3), today() - timedelta(days=12)
            certificate.specialties = [{**s, "valid_until": certificate.valid_until.isoformat()}
                                       for s in certificate.specialties]
        db.session.commit()
        lifecycle.lapse(today())
        return
    if story == "registered":
        # 个人信息 → 继续教育 shows what is still missing: 还差必修 12 学时、选修 30 学时.
        _education(person, [("compulsory", 24, None, 0, "建设工程法规及相关知识"),
                            ("compulsory", 24, "building", 0, "建筑工程施工质量安全管理"),
                            ("elective", 30, None, 0, "BIM技术在施工管理中的应用")])
        extra = db.session.get(Specialty, "mechanical")
        db.session.add(Qualification(person=person, certificate_no=f"DEMO-ADD-{person.id}", specialty_code="mechanical",
                                     qualified_on=add_years(today(), -1)))
        db.session.commit()
        day = today()
        _new(person, applicant, "add_specialty", contract_start=day - timedelta(days=200),
             contract_end=add_years(day, 3), specialties=[extra])
        return
    if story == "change":
        # Online change registration is for temporary-certificate holders (user manual 3.1.3.2).
        person.registration.is_temporary = True
        for qualification in person.qualifications:
            qualification.is_temporary = True
        db.session.commit()
        day = today()
        new_employer = enterprises["bj3"]
        app = _new(person, applicant, "change", enterprise=new_employer, contract_start=day,
                   contract_end=add_years(day, 3))
        _move(app, "submit", applicant)
        _move(app, "confirm", _enterprise_user(new_employer, users))
        return
    if story == "renewal":
        # Seed history: this registration was granted three years ago and now expires within the window.
        held = person.registration.specialties[0]
        held.valid_from, held.valid_until = add_years(today(), -3), today() + timedelta(days=20)
        db.session.commit()
        # The hours of the period that ends: 60 compulsory and 60 elective.
        _education(person, [("compulsory", 36, None, 700, "建设工程法规及相关知识"),
                            ("compulsory", 24, "building", 400, "建筑工程施工质量安全管理"),
                            ("elective", 60, None, 90, "绿色建造与新技术应用")])
        day = today()
        app = _new(person, applicant, "renewal", contract_start=day - timedelta(days=30),
                   contract_end=add_years(day, 3), specialties=specialties)
        _move(app, "submit", applicant)
        return
    if story == "cancellation":
        app = _new(person, applicant, "cancellation", reason="contract_ended", reason_text="劳动合同到期，不再续签。")
        _move(app, "submit", applicant)
        _move(app, "confirm", _enterprise_user(enterprise, users))
        _move(app, "pass", _province_user(enterprise, users), "情况属实。")
        return
    if story == "cancel_by_employer":  # 北京城建 reports that 林峰 left; the province has passed it on
        person.registration.registered_on = add_years(today(), -2)  # seed history: registered two years ago
        db.session.commit()
        app = cancellations.lodge(_enterprise_user(enterprise, users), cancellations.Lodging(
            "cancel_by_employer", person.registration.id, leaving_date=today() - timedelta(days=14),
            reason_text="劳动合同期满，本人不再续签，已办理离职手续。", confirmed=True))
        _move(app, "pass", _province_user(enterprise, users), "情况属实。")
        return
    if story == "cancel_by_authority":  # 广东省住建厅 revokes 罗军's registration; waiting for the ministry
        cancellations.lodge(_province_user(enterprise, users), cancellations.Lodging(
            "cancel_by_authority", person.registration.id, reason="obtained_by_fraud",
            reason_text="经查，申请人提供虚假劳动合同取得注册，依法撤销。", document=DECISION_PDF,
            document_name="撤销注册决定书.pdf", confirmed=True))
        return
    if story == "replacement":
        app = _new(person, applicant, "replacement", reason="damaged", reason_text="证书打印件污损。")
        _move(app, "submit", applicant)
        _move(app, "approve", ministry, "同意更换。")
        return
    if story == "re_registration":
        # Registered, then cancelled when the contract ended; now re-registering with a new employer.
        cancel = _new(person, applicant, "cancellation", reason="contract_ended")
        _move(cancel, "submit", applicant)
        _move(cancel, "confirm", _enterprise_user(enterprise, users))
        _pass(cancel, enterprise, users, None)
        _move(cancel, "approve", ministry)
        _announce(cancel, ministry)
        day = today()
        new_employer = enterprises["sh2"]
        app = _new(person, applicant, "re_registration", enterprise=new_employer, contract_start=day,
                   contract_end=add_years(day, 3), specialties=specialties)
        _move(app, "submit", applicant)
        return
    if story == "info_change":
        app = _new(person, applicant, "info_change", new_name=person.name + "明", reason_text="户籍姓名变更。")
        _move(app, "submit", applicant)
        return

    app = _initial(person, applicant, enterprise, specialties)
    _move(app, "submit", applicant)
    if story == "withdrawn":
        _move(app, "withdraw", applicant)
        return
    if story == "returned":
        _move(app, "return", _enterprise_user(enterprise, users), "劳动合同起始日期与社保记录不一致，请核对后重新提交。")
        return
    if story == "enterprise_review":
        return
    if story == "expired":
        # Seed history: submitted long ago and never confirmed; the nightly job expired it.
        days = current_app.config["RULES"]["APPLICATION_EXPIRY_DAYS"] + 5
        db.session.execute(update(Application).where(Application.id == app.id)
                           .values(state_changed_at=app.state_changed_at - timedelta(days=days)))
        db.session.commit()
        workflow.apply(app.id, workflow.Move("expire"), None, as_system=True)
        return
    _move(app, "confirm", _enterprise_user(enterprise, users))
    if story == "province_review":
        return
    if story == "refused":
        _move(app, "refuse", _province_user(enterprise, users), "经核查，申请人同时在两个单位申请注册，不予注册。",
              reason="two_units")
        return
    if story == "industry_review":  # left in the industry department's queue
        _move(app, "pass", _province_user(enterprise, users), "材料齐全，符合条件，报部审批。")
        return
    _pass(app, enterprise, users)
    if story == "ministry_review":
        return
    if story == "issue_pending":
        # The signature on file was found illegible after approval: the certificate waits for a new one.
        person.latest_attachment("signature").is_current = False
        db.session.commit()
    _move(app, "approve", ministry, "同意注册。")
    if story == "announce_pending":
        return
    _announce(app, ministry)
