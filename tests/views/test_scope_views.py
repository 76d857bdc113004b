"""Row scope through every door: list, show, edit, delete, action, transition, file download, REST API.

A user of enterprise E1 cannot see or move E2's application; province 11 cannot reach province 31's;
an applicant cannot reach another applicant's records. Out of scope means 404.
"""
import pytest

from ground.extensions import db
from models import Application
from tests import world as world_module
from tests.conftest import api_captcha, csrf_token, login


@pytest.fixture(scope="module")
def world(app):
    with app.app_context():
        return world_module.build()


def _number(app, application_id):
    with app.app_context():
        return db.session.get(Application, application_id).number


def _state(app, application_id):
    with app.app_context():
        return db.session.get(Application, application_id).state


@pytest.mark.parametrize("viewer, own, other", [
    ("ent1", "a1", "a2"), ("ent2", "a2", "a1"), ("prov11", "a1", "a3"), ("prov31", "a3", "a1"),
    ("a1", "a1", "a2"), ("a2", "a2", "a1"),
])
def test_list_and_show(app, world, viewer, own, other):
    client = login(app.test_client(), world.users[viewer])
    for view in ("applications", "myqueue"):
        page = client.get(f"/{view}/list/?psize_{'MyQueueView' if view == 'myqueue' else 'ApplicationsView'}=100")
        assert page.status_code == 200
        assert _number(app, world.apps[other]) not in page.get_data(as_text=True)
    listing = client.get("/applications/list/?psize_ApplicationsView=100").get_data(as_text=True)
    assert _number(app, world.apps[own]) in listing
    assert client.get(f"/applications/show/{world.apps[own]}").status_code == 200
    assert client.get(f"/applications/show/{world.apps[other]}").status_code == 404
    assert client.get(f"/myqueue/show/{world.apps[other]}").status_code == 404
    assert client.get(f"/transitionlog/list/?_flt_0_application_id={world.apps[other]}").status_code == 200
    assert client.get(f"/persons/show/{world.persons[other]}").status_code == 404


def test_enterprise_cannot_move_another_enterprises_application(app, world):
    client = login(app.test_client(), world.users["ent1"])
    token = csrf_token(client, f"/applications/transition/{world.apps['a1']}/confirm")
    target = world.apps["a2"]  # E2's application, awaiting E2's confirmation
    assert client.get(f"/applications/transition/{target}/confirm").status_code == 404
    resp = client.post(f"/applications/transition/{target}/confirm", data={"csrf_token": token})
    assert resp.status_code == 404
    resp = client.post("/applications/action_post", data={"csrf_token": token, "action": "confirm",
                                                          "rowid": [str(target)]})
    assert resp.status_code == 404
    assert client.post(f"/applications/action/confirm/{target}", data={"csrf_token": token}).status_code == 404
    assert _state(app, target) == "enterprise_review"


def test_applicant_cannot_edit_or_withdraw_anothers_application(app, world):
    client = login(app.test_client(), world.users["a1"])
    token = csrf_token(client, f"/applications/transition/{world.apps['a1']}/withdraw")
    other = world.apps["a2"]
    assert client.get(f"/applications/edit/{other}").status_code == 404
    resp = client.post(f"/applications/edit/{other}", data={"csrf_token": token, "business_type": "cancellation"})
    assert resp.status_code == 405  # applicants edit in 注册申报's form, never by posting to the panel
    assert client.post(f"/applications/transition/{other}/withdraw", data={"csrf_token": token}).status_code == 404
    # Nobody deletes applications (they are withdrawn through the workflow).
    assert client.post(f"/applications/delete/{world.apps['a1']}", data={"csrf_token": token}).status_code in (302, 403)
    assert _state(app, other) == "enterprise_review"
    assert _state(app, world.apps["a1"]) == "enterprise_review"


def test_viewing_another_persons_photo_is_audited_ones_own_is_not(app, world):
    from models import AuditLog

    def views_of(attachment_id):
        with app.app_context():
            return [(u, s) for u, s in db.session.query(AuditLog.username, AuditLog.summary)
                    .filter_by(action="view", object_type="Attachment", object_id=str(attachment_id))]

    photo = world.attachments["a1"]
    before = len(views_of(photo))
    own = login(app.test_client(), world.users["a1"]).get(f"/attachments/file/{photo}")
    assert own.status_code == 200 and len(views_of(photo)) == before
    officer = login(app.test_client(), world.users["ministry"]).get(f"/attachments/file/{photo}")
    assert officer.status_code == 200 and officer.headers["Cache-Control"] == "private, no-store"
    seen = views_of(photo)
    assert len(seen) == before + 1 and seen[-1][0] == world.users["ministry"]
    assert seen[-1][1].startswith("photo of ") and "*" in seen[-1][1]  # masked ID, never the full number


def test_attachment_files_and_certificates_in_scope_only(app, world):
    client = login(app.test_client(), world.users["a2"])
    assert client.get(f"/attachments/file/{world.attachments['a2']}").status_code == 200
    assert client.get(f"/attachments/file/{world.attachments['a1']}").status_code == 404
    client = login(app.test_client(), world.users["ent2"])
    assert client.get(f"/certificates/show/{world.certificates['r1']}").status_code == 404
    client = login(app.test_client(), world.users["ent1"])
    assert client.get(f"/certificates/show/{world.certificates['r1']}").status_code == 200
    assert client.get(f"/enterprises/show/{world.e2}").status_code == 404


def test_roles_without_permission_are_refused(app, world):
    client = login(app.test_client(), world.users["ent1"])
    assert client.get("/auditlog/list/").status_code == 403
    assert client.get("/applications/add").status_code == 403
    client = login(app.test_client(), world.users["admin"])
    assert client.get("/applications/list/").status_code == 403
    assert client.get("/auditlog/list/").status_code == 403  # the audit administrator's (app/duties.py)
    assert login(app.test_client(), world.users["auditor"]).get("/auditlog/list/").status_code == 200
    anonymous = app.test_client()
    resp = anonymous.get("/applications/list/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def _jwt(client, username):
    resp = client.post("/api/v1/security/login", json={"username": username, "password": "Test@2026",
                                                       "provider": "db", **api_captcha(client)})
    assert resp.status_code == 200, resp.get_json()
    return {"Authorization": f"Bearer {resp.get_json()['access_token']}"}


def test_api_scope_and_transitions(app, world):
    client = app.test_client()
    headers = _jwt(client, world.users["ent1"])
    listing = client.get("/api/v1/application/?q=(page_size:100)", headers=headers).get_json()
    ids = {row["id"] for row in listing["result"]}
    assert world.apps["a1"] in ids and world.apps["a2"] not in ids and world.apps["a3"] not in ids
    assert client.get(f"/api/v1/application/{world.apps['a2']}", headers=headers).status_code == 404
    resp = client.post(f"/api/v1/application/{world.apps['a2']}/transition/confirm", json={}, headers=headers)
    assert resp.status_code == 404
    assert client.get(f"/api/v1/application/{world.apps['a2']}/transitions", headers=headers).status_code == 404
    assert client.get(f"/api/v1/person/{world.persons['a2']}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/certificate/{world.certificates['r3']}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/enterprise/{world.e2}", headers=headers).status_code == 404
    assert _state(app, world.apps["a2"]) == "enterprise_review"

    # Its own application: the available moves, then a wrong-role move (403) and a real one.
    own = world.apps["a1"]
    moves = client.get(f"/api/v1/application/{own}/transitions", headers=headers).get_json()
    assert {m["action"] for m in moves["result"]} == {"confirm", "return"}
    resp = client.post(f"/api/v1/application/{own}/transition/approve", json={}, headers=headers)
    assert resp.status_code == 403 and resp.get_json()["message"]
    resp = client.post(f"/api/v1/application/{own}/transition/return?_l_=en", json={}, headers=headers)
    assert resp.status_code == 422 and "opinion" in resp.get_json()["message"]
    resp = client.post(f"/api/v1/application/{own}/transition/confirm", json={"version": 1}, headers=headers)
    assert resp.status_code == 409  # stale version: it was submitted since version 1
    resp = client.post(f"/api/v1/application/{own}/transition/confirm?_l_=en",
                       json={"version": moves["version"]}, headers=headers)
    assert resp.status_code == 422 and "labour contract" in resp.get_json()["message"]  # not attested
    resp = client.post(f"/api/v1/application/{own}/transition/confirm",
                       json={"version": moves["version"], "attested": True}, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["state"] == "province_review"
    resp = client.post(f"/api/v1/application/{own}/transition/confirm", json={}, headers=headers)
    assert resp.status_code == 409  # already moved on: wrong state
    assert client.post(f"/api/v1/application/{own}/transition/nonsense", json={}, headers=headers).status_code == 404


def test_api_refuses_form_posts_from_other_sites(app, world):
    """The API is CSRF-exempt for JWT clients; a browser session must still not be driven by a form."""
    client = login(app.test_client(), world.users["prov31"])
    target = world.apps["a3"]
    resp = client.post(f"/api/v1/application/{target}/transition/pass", data={"opinion": "x"})
    assert resp.status_code == 400
    assert _state(app, target) == "province_review"
