"""No self-review through the doors the access matrix walks (ops/access_policy.py): an officer linked to the person
of an application in their own scope gets no move on it, on the panel's page, in the REST API and in the queue's
bulk form; the same officer acts on everyone else's. The oracle's rows stay true for everyone else."""
import pytest

from app import staff_links
from ground.extensions import db
from models import Application, Person
from tests import factories as f
from tests import world as world_module
from tests.conftest import api_captcha, csrf_token, login


@pytest.fixture(scope="module")
def world(app):
    with app.app_context():
        w = world_module.build()
        # The province 31 officer is the person of application a3 (waiting at province 31); the E1 officer of a1.
        staff_links.link(w.users["prov31"], db.session.get(Person, w.persons["a3"]).id_number)
        staff_links.link(w.users["ent1"], db.session.get(Person, w.persons["a1"]).id_number)
    return w


def _state(app, app_id):
    with app.app_context():
        return db.session.get(Application, app_id).state


def test_the_officer_gets_no_move_on_their_own_application_in_the_panel(app, world):
    client = login(app.test_client(), world.users["prov31"])
    url = f"/applications/transition/{world.apps['a3']}/pass"
    assert "You may not act on your own application." in client.get(url).get_data(as_text=True)
    resp = client.post(url, data={"csrf_token": csrf_token(client, url)}, follow_redirects=True)
    assert "You may not act on your own application." in resp.get_data(as_text=True)
    assert _state(app, world.apps["a3"]) == "province_review"
    enterprise = login(app.test_client(), world.users["ent1"])
    url = f"/applications/transition/{world.apps['a1']}/confirm"
    resp = enterprise.post(url, data={"csrf_token": csrf_token(enterprise, url), "attested": "y"},
                           follow_redirects=True)
    assert "You may not act on your own application." in resp.get_data(as_text=True)
    assert _state(app, world.apps["a1"]) == "enterprise_review"


def test_the_api_refuses_it_with_403_and_says_why(app, world):
    client = app.test_client()
    token = client.post("/api/v1/security/login", json={"username": world.users["prov31"], "password": f.PASSWORD,
                                                        "provider": "db", **api_captcha(client)}).get_json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    listed = client.get(f"/api/v1/application/{world.apps['a3']}/transitions", headers=headers).get_json()
    moves = {m["action"]: m for m in listed["result"]} if "result" in listed else {m["action"]: m for m in listed}
    assert moves and not any(m["allowed"] for m in moves.values())
    assert "您不能办理本人的申报（回避）。" in moves["pass"]["reasons"]  # the API speaks Chinese by default
    resp = client.post(f"/api/v1/application/{world.apps['a3']}/transition/refuse", headers=headers,
                       json={"opinion": "自己驳回自己", "reason": "other"})
    assert resp.status_code == 403
    assert _state(app, world.apps["a3"]) == "province_review"


def test_the_same_officer_still_acts_on_other_applications(app, world):
    client = login(app.test_client(), world.users["ent1"])
    with app.app_context():
        username, _person = f.make_applicant()
        other = f.make_application(username, "initial", enterprise_id=world.e1)
        f.move(other, "submit", username)
    url = f"/applications/transition/{other}/confirm"
    page = client.get(url).get_data(as_text=True)
    assert "You may not act on your own application." not in page
    resp = client.post(url, data={"csrf_token": csrf_token(client, url), "attested": "y"})
    assert resp.status_code == 302 and _state(app, other) == "province_review"
