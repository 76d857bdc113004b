"""Reading another person's record is in the audit trail: one "read" row (who, role, which record and person) per
record page or API record, one "read_list" row per staff list request with its query; a person's own records
write none."""
import pytest

from ground.extensions import db
from models import Registration
from tests.conftest import login
from tests.security.test_audit_trail import _jwt, _last_id, _rows, _user_id, world  # noqa: F401 (fixture)


def _registration(app, person_id):
    with app.app_context():
        return db.session.query(Registration.id).filter_by(person_id=person_id).scalar()


# (who, url, object type, key of the record's id, key of the person) per endpoint
PAGES = [
    ("ministry", "/persons/show/{id}", "Person", ("persons", "a1"), "a1"),
    ("prov11", "/applications/show/{id}", "Application", ("apps", "a1"), "a1"),
    ("ent1", "/myqueue/show/{id}", "Application", ("apps", "a1"), "a1"),
    ("ministry", "/registrations/show/{id}", "Registration", ("registration", "r1"), "r1"),
    ("ent1", "/certificates/show/{id}", "Certificate", ("certificates", "r1"), "r1"),
    ("ministry", "/attachments/show/{id}", "Attachment", ("attachments", "a2"), "a2"),
]
APIS = [
    ("ministry", "/api/v1/person/{id}", "Person", ("persons", "a2"), "a2"),
    ("prov11", "/api/v1/application/{id}", "Application", ("apps", "a2"), "a2"),
    ("ministry", "/api/v1/certificate/{id}", "Certificate", ("certificates", "r3"), "r3"),
]


def _record_id(app, world, key):
    group, name = key
    if group == "registration":
        return _registration(app, world.persons[name])
    return getattr(world, group)[name]


def _assert_one_read(app, world, since, who, object_type, record_id, person):
    rows = _rows(app, since, action="read")
    assert [(r.object_type, r.object_id) for r in rows] == [(object_type, str(record_id))]
    row = rows[0]
    assert (row.user_id, row.username) == (_user_id(app, world.users[who]), world.users[who]) and row.role
    assert row.detail["person_id"] == world.persons[person]


@pytest.mark.parametrize("who, url, object_type, key, person", PAGES, ids=[p[1].split("/")[1] for p in PAGES])
def test_record_page_of_another_person_is_audited(app, world, who, url, object_type, key, person):
    record_id = _record_id(app, world, key)
    client = login(app.test_client(), world.users[who])
    since = _last_id(app)
    assert client.get(url.format(id=record_id)).status_code == 200
    _assert_one_read(app, world, since, who, object_type, record_id, person)


@pytest.mark.parametrize("who, url, object_type, key, person", APIS, ids=[p[1].split("/")[3] for p in APIS])
def test_api_record_of_another_person_is_audited(app, world, who, url, object_type, key, person):
    record_id = _record_id(app, world, key)
    client = app.test_client()
    headers = _jwt(client, world.users[who])
    since = _last_id(app)
    assert client.get(url.format(id=record_id), headers=headers).status_code == 200
    _assert_one_read(app, world, since, who, object_type, record_id, person)


def test_own_records_and_refusals_write_no_read_row(app, world):
    own = login(app.test_client(), world.users["a1"])
    since = _last_id(app)
    assert own.get(f"/persons/show/{world.persons['a1']}").status_code == 200
    assert own.get(f"/applications/show/{world.apps['a1']}").status_code == 200
    assert own.get("/applications/list/").status_code == 200
    assert own.get(f"/applications/show/{world.apps['a2']}").status_code == 404  # not theirs: nothing shown
    assert _rows(app, since, action="read") == [] and _rows(app, since, action="read_list") == []


def test_one_row_per_staff_list_request_with_its_query(app, world):
    client = login(app.test_client(), world.users["ministry"])
    since = _last_id(app)
    assert client.get("/persons/list/?_flt_0_name=测试").status_code == 200
    rows = _rows(app, since, action="read_list")
    assert [(r.object_type, r.detail["args"]) for r in rows] == [("Person", {"_flt_0_name": "测试"})]
    headers = _jwt(app.test_client(), world.users["prov11"])
    since = _last_id(app)
    assert app.test_client().get("/api/v1/application/", headers=headers).status_code == 200
    assert [r.object_type for r in _rows(app, since, action="read_list")] == ["Application"]
