"""Row scope as SQL: which rows each role sees, model by model."""
import pytest

from app import scope
from ground.extensions import db
from models import (Application, Attachment, AuditLog, Certificate, Enterprise, Person, Qualification, Registration,
                    TransitionLog)
from tests import factories as f
from tests import world as world_module


@pytest.fixture(scope="module")
def world(app):
    with app.app_context():
        return world_module.build()


def visible(model, username, ids):
    user = f.user(username)
    pk = model.__mapper__.primary_key[0]
    return {row for (row,) in db.session.query(pk).filter(scope.clause(model, user), pk.in_(ids))}


def test_applications(world, ctx):
    ids = list(world.apps.values())
    a = world.apps
    assert visible(Application, world.users["a1"], ids) == {a["a1"]}
    assert visible(Application, world.users["a2"], ids) == {a["a2"]}
    assert visible(Application, world.users["ent1"], ids) == {a["a1"], a["r1"]}
    assert visible(Application, world.users["ent2"], ids) == {a["a2"]}
    assert visible(Application, world.users["prov11"], ids) == {a["a1"], a["a2"], a["r1"]}
    assert visible(Application, world.users["prov31"], ids) == {a["a3"], a["r3"]}
    assert visible(Application, world.users["ministry"], ids) == set(ids) - {a["d1"]}
    assert visible(Application, world.users["admin"], ids) == set()
    assert visible(Application, world.users["d1"], ids) == {a["d1"]}  # drafts: the applicant only


def test_persons_and_their_materials(world, ctx):
    p = world.persons
    ids = list(p.values())
    assert visible(Person, world.users["a1"], ids) == {p["a1"]}
    assert visible(Person, world.users["ent1"], ids) == {p["a1"], p["r1"]}
    assert visible(Person, world.users["prov31"], ids) == {p["a3"], p["r3"]}
    assert visible(Person, world.users["ministry"], ids) == set(ids)
    assert p["d1"] not in visible(Person, world.users["ent1"], ids)
    assert visible(Person, world.users["admin"], ids) == set()
    attachments = list(world.attachments.values())
    assert visible(Attachment, world.users["a2"], attachments) == {world.attachments["a2"]}
    assert visible(Attachment, world.users["ent1"], attachments) == {world.attachments["a1"]}
    quals = [q for (q,) in db.session.query(Qualification.id).filter(Qualification.person_id.in_(ids))]
    assert {db.session.get(Qualification, q).person_id for q in visible(Qualification, world.users["ent2"], quals)} \
        == {p["a2"]}


def test_registrations_and_certificates(world, ctx):
    c = world.certificates
    assert visible(Certificate, world.users["r1"], list(c.values())) == {c["r1"]}
    assert visible(Certificate, world.users["ent1"], list(c.values())) == {c["r1"]}
    assert visible(Certificate, world.users["ent2"], list(c.values())) == set()
    assert visible(Certificate, world.users["prov31"], list(c.values())) == {c["r3"]}
    assert visible(Certificate, world.users["a1"], list(c.values())) == set()
    regs = [r for (r,) in db.session.query(Registration.id).filter(
        Registration.person_id.in_([world.persons["r1"], world.persons["r3"]]))]
    assert len(visible(Registration, world.users["prov11"], regs)) == 1
    assert len(visible(Registration, world.users["ministry"], regs)) == 2


def test_enterprises_transition_log_and_audit(world, ctx):
    ents = [world.e1, world.e2, world.e3]
    assert visible(Enterprise, world.users["ent1"], ents) == {world.e1}
    assert visible(Enterprise, world.users["prov11"], ents) == {world.e1, world.e2}
    assert visible(Enterprise, world.users["a1"], ents) == set(ents)  # the public employer directory
    logs = [t for (t,) in db.session.query(TransitionLog.id).filter(
        TransitionLog.application_id.in_(list(world.apps.values())))]
    mine = visible(TransitionLog, world.users["a1"], logs)
    assert mine and {db.session.get(TransitionLog, t).application_id for t in mine} == {world.apps["a1"]}
    some_audit = [x for (x,) in db.session.query(AuditLog.id).limit(5)]
    assert visible(AuditLog, world.users["ent1"], some_audit) == set()
    assert visible(AuditLog, world.users["admin"], some_audit) == set()  # the audit administrator's
    assert visible(AuditLog, world.users["auditor"], some_audit) == set(some_audit)


def test_unbound_staff_see_nothing(ctx):
    """An Enterprise or Province account missing its binding sees no rows rather than all rows."""
    loose_enterprise = f.make_user("Enterprise")
    loose_province = f.make_user("Province")
    for model in (Application, Person, Enterprise, Registration, Certificate):
        for username in (loose_enterprise, loose_province):
            assert db.session.query(model).filter(scope.clause(model, f.user(username))).count() == 0
