"""Test data builders. Call inside an app context; they return ids and usernames, never ORM objects
(those would be detached once the context ends)."""
import io
import itertools
from datetime import date, timedelta

from flask import current_app
from PIL import Image

from app import workflow
from app.applications import start_draft
from ground.clock import add_years, today
from ground.identifiers import make_credit_code, make_id_number
from ground.extensions import db
from app.services import storage
from models import Application, Enterprise, Person, Qualification

PASSWORD = "Test@2026"
_sequence = itertools.count(1)


def next_serial() -> int:
    return next(_sequence) + 10_000 * (hash(object()) % 1000)


def unique_id_number(region="110101", age=None) -> str:
    n = next(_sequence)
    if age is None:
        birth = date(1972, 1, 1) + timedelta(days=(n * 37) % 8000)
    else:
        birth = add_years(today(), -age) - timedelta(days=n % 200 + 1)
    return make_id_number(region, birth, n % 1000)


def unique_credit_code(region="110105") -> str:
    return make_credit_code(region, 10_000_000 + next(_sequence))


def make_enterprise(province="11", name=None) -> int:
    region = {"11": "110105", "31": "310104", "44": "440103"}.get(province, "110105")
    enterprise = Enterprise(credit_code=unique_credit_code(region), name=name or f"测试企业{next(_sequence)}",
                            province_code=province)
    db.session.add(enterprise)
    db.session.commit()
    return enterprise.id


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (295, 413), "white").save(buf, "JPEG")
    return buf.getvalue()


def person_name(number: int) -> str:
    """A legal name (ground.identifiers.clean_person_name: no digits) unique by number: 测试一二三."""
    return "测试" + "".join("零一二三四五六七八九"[int(d)] for d in str(number))


def make_person(verified=True, materials=True, qualifications=(("building", 1),), age=None, name=None) -> int:
    person = Person(id_number=unique_id_number(age=age), name=name or person_name(next(_sequence)),
                    realname_status="verified" if verified else "unverified")
    db.session.add(person)
    db.session.flush()
    for code, years_ago in qualifications:
        db.session.add(Qualification(person=person, certificate_no=f"Q{next(_sequence):08d}", specialty_code=code,
                                     qualified_on=add_years(today(), -years_ago)))
    if materials:
        for kind in ("photo", "signature"):
            storage.save(db.session, person, kind, f"{kind}.jpg", _jpeg(), "image/jpeg")
    db.session.commit()
    return person.id


def make_user(role, username=None, **binding) -> str:
    sm = current_app.appbuilder.sm
    username = username or f"{role.lower()}-{next(_sequence)}"
    user = sm.add_user(username, "测", "试", f"{username}@test.invalid", sm.find_role(role), password=PASSWORD)
    assert user, f"could not create {username}"
    for key, value in binding.items():
        setattr(user, key, value)
    db.session.commit()
    return username


def make_applicant(**person_kwargs) -> tuple[str, int]:
    person_id = make_person(**person_kwargs)
    person = db.session.get(Person, person_id)
    return make_user("Applicant", username=person.id_number, person_id=person_id), person_id


def make_registered(enterprise_id, status="active", expires_in_days=400, temporary=False,
                    qualifications=(("building", 1), ("mining", 1)), **person_kwargs) -> tuple[str, int]:
    """An applicant with a registration in building (and its certificate) built directly, without the workflow."""
    from models import Certificate, Registration, RegistrationSpecialty

    username, person_id = make_applicant(qualifications=qualifications, **person_kwargs)
    registration = Registration(person_id=person_id, enterprise_id=enterprise_id, status=status,
                                is_temporary=temporary, initial_province_code="11",
                                registered_on=today() - timedelta(days=700),
                                number_digits=f"1112024202{person_id:06d}", number=f"京1112024202{person_id:06d}")
    held = RegistrationSpecialty(specialty_code="building", valid_from=today() - timedelta(days=700),
                                 valid_until=today() + timedelta(days=expires_in_days),
                                 status="active" if status == "active" else "cancelled")
    registration.specialties.append(held)
    db.session.add(registration)
    db.session.flush()
    db.session.add(Certificate(number=f"T{person_id:011d}", registration_id=registration.id, person_id=person_id,
                               status="valid" if status == "active" else "revoked",
                               issued_on=today() - timedelta(days=700), valid_until=held.valid_until,
                               holder_name="测试", registration_number=registration.number,
                               enterprise_name="测试企业", specialties=[]))
    if temporary:
        db.session.query(Qualification).filter(Qualification.person_id == person_id).update({"is_temporary": True})
    db.session.commit()
    return username, person_id


def make_temporary(person_id):
    """Mark the person's registration and qualifications as temporary-certificate ones (online change needs it)."""
    person = db.session.get(Person, person_id)
    person.registration.is_temporary = True
    for qualification in person.qualifications:
        qualification.is_temporary = True
    db.session.commit()


def user(username):
    return current_app.appbuilder.sm.find_user(username=username)


def contract(**overrides):
    values = {"contract_start": today() - timedelta(days=100), "contract_end": add_years(today(), 2)}
    values.update(overrides)
    return values


def give_hours(person_id, compulsory=60, elective=60, specialty=None, completed_on=None):
    """Continuing-education records of the person, as a training provider's import would write them."""
    from models import ContinuingEducation

    for kind, hours in (("compulsory", compulsory), ("elective", elective)):
        if hours:
            db.session.add(ContinuingEducation(
                person_id=person_id, specialty_code=specialty, kind=kind, hours=hours,
                completed_on=completed_on or today(), provider="测试培训机构",
                course=f"测试课程{next(_sequence)}", certificate_no=f"CE{next_serial():010d}", source="import"))
    db.session.commit()


def make_application(username, business_type="initial", specialties=("building",), continuing_education=False,
                     **fields) -> int:
    """A draft started by the applicant, exactly as the panel form would. `continuing_education`: the person
    first gets the continuing-education hours a renewal (or an old qualification) needs."""
    from models import Specialty

    if continuing_education:
        give_hours(user(username).person_id)

    if business_type in ("initial", "re_registration", "add_specialty", "renewal", "change"):
        fields = {**contract(), **fields}
    if "enterprise_id" in fields:  # routing reads the relationship, so pass the object
        fields["enterprise"] = db.session.get(Enterprise, fields.pop("enterprise_id"))
    application = Application(business_type=business_type, **fields)
    if business_type in ("initial", "re_registration", "add_specialty", "renewal"):
        application.specialties = db.session.query(Specialty).filter(Specialty.code.in_(specialties)).all()
    start_draft(application, user(username))
    db.session.add(application)
    db.session.commit()
    return application.id


def move(application_id, action, username, opinion=None, **kwargs):
    if workflow.TRANSITIONS[action].needs_opinion and opinion is None:
        opinion = "测试意见"
    kwargs.setdefault("sms_confirmed", True)  # the test plays the applicant who typed the code
    kwargs.setdefault("attested", True)  # ... and the officer who ticked the contract confirmation
    choices = workflow.TRANSITIONS[action].reason_choices
    if choices:
        kwargs.setdefault("reason", "other" if "other" in choices else next(iter(choices)))
    return workflow.apply(application_id, workflow.Move(action, opinion=opinion, **kwargs), user(username)).state


def publish_alone(application_id, ministry_username) -> int:
    """Put one application awaiting announcement into a batch of its own and publish it."""
    from app import announcements
    from models import AnnouncementBatch

    batch = AnnouncementBatch(title="测试公告", state="draft")
    db.session.add(batch)
    db.session.flush()
    db.session.get(Application, application_id).announcement_id = batch.id
    db.session.commit()
    announcements.publish(batch.id, user(ministry_username))
    return batch.id


def set_state(application_id, state):
    """Test shortcut: put an application straight into a state (the matrix needs every state)."""
    application = db.session.get(Application, application_id)
    application.state = state
    db.session.commit()


class Staff:
    """One user per staff role for a given enterprise/province, created on demand and cached."""

    def __init__(self):
        self._cache = {}

    def enterprise(self, enterprise_id):
        key = ("Enterprise", enterprise_id)
        if key not in self._cache:
            self._cache[key] = make_user("Enterprise", enterprise_id=enterprise_id)
        return self._cache[key]

    def province(self, code):
        key = ("Province", code)
        if key not in self._cache:
            self._cache[key] = make_user("Province", province_code=code)
        return self._cache[key]

    def industry(self, specialties=("railway",)):
        """An Industry account (行业主管部门) answering for these (flagged) specialties."""
        from app import industry

        key = ("Industry", tuple(sorted(specialties)))
        if key not in self._cache:
            self._cache[key] = make_user("Industry")
            industry.set_specialties(user(self._cache[key]), specialties)
        return self._cache[key]

    @property
    def ministry(self):
        key = ("Ministry",)
        if key not in self._cache:
            self._cache[key] = make_user("Ministry")
        return self._cache[key]

    def take(self, application_id, applicant, *actions):
        """Move an application through `actions`, each taken by whoever owns its current stage."""
        for action in actions:
            application = db.session.get(Application, application_id)
            owner = workflow.STAGE_OWNER[application.state]
            if owner == "Enterprise":
                username = self.enterprise(application.enterprise_id)
            elif owner == "Province":
                username = self.province(application.province_code)
            elif owner == "Ministry":
                username = self.ministry
            elif owner == "Industry":
                username = self.industry(tuple(s.code for s in application.specialties if s.needs_industry_opinion))
            else:
                username = applicant
            move(application_id, action, username)


def initial_application(staff: Staff, province="11", *actions) -> tuple[str, int, int]:
    """A new applicant's initial application at a new enterprise of `province`, taken through `actions`.
    Returns (username, person id, application id)."""
    enterprise = make_enterprise(province)
    username, person_id = make_applicant()
    application_id = make_application(username, "initial", enterprise_id=enterprise)
    staff.take(application_id, username, *actions)
    return username, person_id, application_id


def register(staff: Staff, enterprise_id, specialties=("building",), **person_kwargs) -> tuple[str, int, int]:
    """An applicant taken through initial registration to a certificate. Returns (username, person, app)."""
    quals = tuple((code, 1) for code in specialties)
    username, person_id = make_applicant(qualifications=quals, **person_kwargs)
    application_id = make_application(username, "initial", specialties=specialties, enterprise_id=enterprise_id)
    staff.take(application_id, username, "submit", "confirm", "pass")
    if db.session.get(Application, application_id).state == "industry_review":  # a flagged specialty
        staff.take(application_id, username, "opine")
    staff.take(application_id, username, "approve")
    publish_alone(application_id, staff.ministry)
    return username, person_id, application_id
