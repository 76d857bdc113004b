"""A small country for scope tests: two provinces, three enterprises, applicants, staff of each role."""
from dataclasses import dataclass, field

from ground.extensions import db
from models import Attachment, Certificate
from tests import factories as f


@dataclass
class World:
    e1: int = 0  # Beijing
    e2: int = 0  # Beijing
    e3: int = 0  # Shanghai
    users: dict = field(default_factory=dict)  # role key → username
    apps: dict = field(default_factory=dict)  # key → application id
    persons: dict = field(default_factory=dict)
    certificates: dict = field(default_factory=dict)
    attachments: dict = field(default_factory=dict)


def build() -> World:
    w = World()
    staff = f.Staff()
    w.e1, w.e2, w.e3 = f.make_enterprise("11"), f.make_enterprise("11"), f.make_enterprise("31")
    w.users = {
        "ent1": staff.enterprise(w.e1), "ent2": staff.enterprise(w.e2), "ent3": staff.enterprise(w.e3),
        "prov11": staff.province("11"), "prov31": staff.province("31"), "ministry": staff.ministry,
        "admin": f.make_user("Admin"), "secadmin": f.make_user("SecurityAdmin"), "auditor": f.make_user("AuditAdmin"),
    }
    # Applicants with open applications, one per enterprise.
    for key, enterprise, state_moves in (("a1", w.e1, []), ("a2", w.e2, []), ("a3", w.e3, ["confirm"])):
        username, person_id = f.make_applicant()
        app_id = f.make_application(username, "initial", enterprise_id=enterprise)
        f.move(app_id, "submit", username)
        for action in state_moves:
            f.move(app_id, action, staff.enterprise(enterprise))
        w.users[key], w.apps[key], w.persons[key] = username, app_id, person_id
        w.attachments[key] = db.session.query(Attachment.id).filter_by(person_id=person_id, kind="photo").scalar()
    # A draft at E1: the applicant's own business until submitted.
    username, person_id = f.make_applicant()
    w.users["d1"], w.persons["d1"] = username, person_id
    w.apps["d1"] = f.make_application(username, "initial", enterprise_id=w.e1)
    # Registered constructors with certificates, at E1 and E3.
    for key, enterprise in (("r1", w.e1), ("r3", w.e3)):
        username, person_id, app_id = f.register(staff, enterprise)
        w.users[key], w.apps[key], w.persons[key] = username, app_id, person_id
        w.certificates[key] = db.session.query(Certificate.id).filter_by(person_id=person_id, status="valid").scalar()
    return w
