"""REST API: applicant drafts validated like the form (422 with field messages), state rules (409),
OpenAPI served."""
from datetime import timedelta

import pytest

from ground.clock import today
from ground.extensions import db
from models import Application, Person
from tests import factories as f
from tests.conftest import api_captcha
from tests.views.test_personal_journey import sms_code


@pytest.fixture
def applicant(app):
    with app.app_context():
        enterprise = f.make_enterprise("11")
        username, person_id = f.make_applicant()
        phone = f"137{f.next_serial():08d}"
        db.session.get(Person, person_id).phone = phone
        db.session.commit()
    return {"username": username, "enterprise": enterprise, "person": person_id, "phone": phone}


def _headers(client, username):
    resp = client.post("/api/v1/security/login", json={"username": username, "password": f.PASSWORD,
                                                       "provider": "db", **api_captcha(client)})
    return {"Authorization": f"Bearer {resp.get_json()['access_token']}"}


def test_create_draft_validates_and_writes_nothing_on_error(app, applicant):
    client = app.test_client()
    headers = _headers(client, applicant["username"])
    good = {"business_type": "initial", "enterprise_id": applicant["enterprise"], "specialties": ["building"],
            "contract_start": str(today() - timedelta(days=5)), "contract_end": str(today() + timedelta(days=900))}
    bad_cases = [
        ({**good, "contract_end": str(today() - timedelta(days=30))}, "contract_end"),
        ({**good, "specialties": ["building", "unknown"]}, "specialties"),
        ({**good, "enterprise_id": 999999}, "enterprise_id"),
        ({**good, "business_type": "nonsense"}, "business_type"),
        ({**good, "contract_start": "31/12/2026"}, "contract_start"),
        ({"business_type": "info_change", "new_id_number": "110101199001011234"}, "new_id_number"),
    ]
    for body, field in bad_cases:
        resp = client.post("/api/v1/application/", json=body, headers=headers)
        assert resp.status_code == 422, (body, resp.get_json())
        assert field in resp.get_json()["fields"], resp.get_json()
    assert client.post("/api/v1/application/", data="not json", headers=headers).status_code == 400
    with app.app_context():
        assert db.session.query(Application).filter_by(person_id=applicant["person"]).count() == 0

    resp = client.post("/api/v1/application/", json=good, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    app_id = resp.get_json()["id"]
    resp = client.put(f"/api/v1/application/{app_id}", json={**good, "specialties": ["municipal"]}, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["result"]["specialties"] == [{"code": "municipal"}]
    resp = client.post(f"/api/v1/application/{app_id}/transition/submit?_l_=en", json={}, headers=headers)
    assert resp.status_code == 422 and "qualification" in " ".join(resp.get_json()["reasons"])
    resp = client.post(f"/api/v1/application/{app_id}/transition/submit", json={}, headers=headers)
    assert "资格证书" in " ".join(resp.get_json()["reasons"])  # Chinese unless asked otherwise
    resp = client.put(f"/api/v1/application/{app_id}", json=good, headers=headers)
    assert resp.status_code == 200
    # Complete now, but a submission is signed with the SMS code sent to the applicant's mobile.
    resp = client.post(f"/api/v1/application/{app_id}/transition/submit?_l_=en", json={}, headers=headers)
    assert resp.status_code == 422 and "SMS code" in resp.get_json()["message"]
    assert client.post(f"/api/v1/application/{app_id}/sms", headers=headers).status_code == 200
    resp = client.post(f"/api/v1/application/{app_id}/transition/submit?_l_=en", json={"sms_code": "000000"},
                       headers=headers)
    assert resp.status_code == 422 and "sms_code" in resp.get_json()["fields"]
    code = sms_code(app, applicant["phone"])
    assert client.post(f"/api/v1/application/{app_id}/transition/submit", json={"sms_code": code},
                       headers=headers).get_json()["state"] == "enterprise_review"
    resp = client.put(f"/api/v1/application/{app_id}", json=good, headers=headers)
    assert resp.status_code == 409 and resp.get_json()["message"]
    resp = client.post("/api/v1/application/", json=good, headers=headers)
    assert resp.status_code == 409  # one open application at a time


def test_staff_cannot_create_applications(app):
    with app.app_context():
        ministry = f.make_user("Ministry")
    client = app.test_client()
    resp = client.post("/api/v1/application/", json={"business_type": "initial"}, headers=_headers(client, ministry))
    assert resp.status_code == 403


def test_openapi_lists_resources_and_transitions(app):
    with app.app_context():
        ministry = f.make_user("Ministry")
    client = app.test_client()
    resp = client.get("/api/v1/_openapi", headers=_headers(client, ministry))
    assert resp.status_code == 200
    paths = resp.get_json()["paths"]
    for path in ("/application/", "/application/{pk}/transition/{action}", "/application/{pk}/transitions",
                 "/certificate/", "/person/", "/enterprise/"):
        assert "/api/v1" + path in paths, sorted(paths)
