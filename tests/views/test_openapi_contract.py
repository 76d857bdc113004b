"""The API contract: /api/v1/_openapi is a valid OpenAPI description (openapi-spec-validator), a client generated
from it (openapi-python-client, offline) drives the whole journey against a live server without hand-written
HTTP (login → draft → SMS → submit → confirm → pass → approve), and the error answers 401/403/409/422/429 match
their documented schemas (a malformed or forged token is 401, not flask-jwt-extended's 422).

The client is generated once per session (the description is the same on every backend).
"""
import importlib
import json
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_spec
from werkzeug.serving import make_server

from ground.clock import today
from tests import factories as f
from tests.conftest import another_app
from tests.views.test_api import applicant  # noqa: F401  (fixture: an applicant with a mobile, an employer)
from tests.views.test_personal_journey import sms_code

PACKAGE = "constructor_registry_api_client"
_GENERATED = {}


@pytest.fixture(scope="module")
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def spec(app):
    with app.app_context():
        ministry = f.make_user("Ministry")
    client = app.test_client()
    nonce = client.get("/captcha/new").get_json()["nonce"]
    with app.app_context():
        from app.services import captcha

        answer = captcha.peek_answer(nonce)
    token = client.post("/api/v1/security/login", json={"username": ministry, "password": f.PASSWORD,
                                                         "captcha_nonce": nonce, "captcha": answer})
    resp = client.get("/api/v1/_openapi", headers={"Authorization": f"Bearer {token.get_json()['access_token']}"})
    assert resp.status_code == 200
    assert app.test_client().get("/api/v1/_openapi").status_code == 401  # signed-in users only, as before
    return resp.get_json()


@pytest.fixture(scope="module")
def api(spec, tmp_path_factory):
    """The generated client package, imported (generated on the first call of the session)."""
    if "package" not in _GENERATED:
        folder = tmp_path_factory.mktemp("generated_client")
        (folder / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        (folder / "config.yaml").write_text("post_hooks: []\n", encoding="utf-8")
        done = subprocess.run([sys.executable, "-m", "openapi_python_client", "generate", "--path", "spec.json",
                               "--config", "config.yaml", "--meta", "none"],
                              cwd=folder, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
        assert (folder / PACKAGE).is_dir(), sorted(p.name for p in folder.iterdir())  # English package name
        sys.path.insert(0, str(folder))
        _GENERATED["package"] = importlib.import_module(PACKAGE)
    return _GENERATED["package"]


def _module(api, name):
    return importlib.import_module(f"{api.__name__}.{name}")


def _check(spec, status, body, schema="Error"):
    """The body is valid under the documented schema of that status."""
    def resolve(node):
        if isinstance(node, dict):
            if "$ref" in node:
                target = spec
                for part in node["$ref"].lstrip("#/").split("/"):
                    target = target[part]
                return resolve(target)
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    documented = resolve({"$ref": f"#/components/responses/{status}"})
    json_schema = documented["content"]["application/json"]["schema"]
    assert json_schema == resolve({"$ref": f"#/components/schemas/{schema}"})
    OAS30Validator(json_schema).validate(body)


def _sign_in(api, app, base_url, username):
    """Captcha and login through the generated client; returns an authenticated client."""
    from app.services import captcha

    models = _module(api, "models")
    anonymous = api.Client(base_url=base_url)
    challenge = _module(api, "api.captcha.captcha_new").sync(client=anonymous)
    assert isinstance(challenge, models.Captcha), challenge
    with app.app_context():
        answer = captcha.peek_answer(challenge.nonce)
    tokens = _module(api, "api.security.security_login").sync(client=anonymous, body=models.LoginInput(
        username=username, password=f.PASSWORD, captcha_nonce=challenge.nonce, captcha=answer))
    assert isinstance(tokens, models.Tokens), tokens
    return api.AuthenticatedClient(base_url=base_url, token=tokens.access_token)


def test_description_is_valid_and_complete(spec):
    validate_spec(spec)
    assert spec["info"]["title"].isascii() and spec["info"]["x-title-zh"]
    assert set(spec["components"]["securitySchemes"]) == {"jwt", "jwt_refresh"}
    login = spec["paths"]["/api/v1/security/login"]["post"]
    assert login["security"] == [] and set(login["responses"]) >= {"200", "400", "401", "429"}
    assert "/captcha/new" in spec["paths"]
    move = spec["paths"]["/api/v1/application/{pk}/transition/{action}"]["post"]
    assert set(spec["components"]["schemas"]["TransitionInput"]["properties"]) >= {
        "opinion", "version", "sms_code", "attested", "reason"}
    assert set(move["responses"]) >= {"200", "400", "401", "403", "404", "409", "422"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation.get("operationId"), (path, method)
            assert operation["responses"], (path, method)
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) or status == "200":
                    content = spec["components"]["responses"][status] if "$ref" in response else response
                    assert "application/json" in content.get("content", {}), (path, method, status)
    assert "delete" not in spec["paths"]["/api/v1/person/{pk}"]  # no role may: not offered
    assert "PersonsApi.post" not in spec["components"]["schemas"]


def test_generated_client_drives_the_journey(app, spec, api, live_server, applicant):
    enterprise, username, phone = applicant["enterprise"], applicant["username"], applicant["phone"]
    with app.app_context():
        staff = f.Staff()
        officers = {"confirm": staff.enterprise(enterprise), "pass": staff.province("11"), "approve": staff.ministry}
    models = _module(api, "models")
    drafts = _module(api, "api.applications_api.application_create")
    move = _module(api, "api.applications_api.application_transition")
    action = models.ApplicationTransitionAction
    person = _sign_in(api, app, live_server, username)

    body = models.ApplicationsApiPost(
        business_type=models.ApplicationsApiPostBusinessType.INITIAL, enterprise_id=enterprise,
        specialties=["building"], contract_start=today() - timedelta(days=5),
        contract_end=today() + timedelta(days=900))
    created = drafts.sync_detailed(client=person, body=body)
    assert created.status_code == 201, created.content
    app_id = created.parsed.id
    assert created.parsed.result.state == "draft"

    # 422: a wrong SMS code, with the field named
    assert _module(api, "api.applications_api.application_send_sms").sync(client=person, pk=app_id).message
    wrong = move.sync_detailed(client=person, pk=app_id, action=action.SUBMIT,
                               body=models.TransitionInput(sms_code="000000"))
    assert wrong.status_code == 422 and "sms_code" in wrong.parsed.fields.additional_properties, wrong.content
    _check(spec, "422", json.loads(wrong.content))
    # 403: an applicant may not approve
    refused = move.sync_detailed(client=person, pk=app_id, action=action.APPROVE, body=models.TransitionInput())
    assert refused.status_code == 403 and isinstance(refused.parsed, models.Error), refused.content
    _check(spec, "403", json.loads(refused.content))

    result = move.sync(client=person, pk=app_id, action=action.SUBMIT,
                       body=models.TransitionInput(sms_code=sms_code(app, phone)))
    assert isinstance(result, models.TransitionResult) and result.state == "enterprise_review", result
    # 409: a submitted application is no draft any more
    edit = models.ApplicationsApiPut.from_dict(body.to_dict())
    stale = _module(api, "api.applications_api.application_update").sync_detailed(client=person, pk=app_id,
                                                                                   body=edit)
    assert stale.status_code == 409 and isinstance(stale.parsed, models.Error), stale.content
    _check(spec, "409", json.loads(stale.content))

    for name, expected in (("confirm", "province_review"), ("pass", "ministry_review"),
                           ("approve", "announce_pending")):
        officer = _sign_in(api, app, live_server, officers[name])
        options = _module(api, "api.applications_api.application_transitions").sync(client=officer, pk=app_id)
        assert name in [o.action for o in options.result if o.allowed], options
        result = move.sync(client=officer, pk=app_id, action=getattr(action, name.upper()),
                           body=models.TransitionInput(attested=name == "confirm", version=options.version))
        assert isinstance(result, models.TransitionResult) and result.state == expected, (name, result)
    getter = _module(api, "api.applications_api.application_get")
    for token in ("not-a-token", "x.y.z", person.token[:-4] + "AAAA"):  # malformed, forged
        bad = getter.sync_detailed(client=api.AuthenticatedClient(base_url=live_server, token=token), pk=app_id)
        assert bad.status_code == 401 and isinstance(bad.parsed, models.Error), (token, bad.content)
        _check(spec, "401", json.loads(bad.content))
    shown = getter.sync(client=person, pk=app_id)
    assert shown.result.state == "announce_pending" and shown.result.number


def test_captcha_errors_are_json_for_any_client(app):
    from views.errors import wants_json

    with app.test_request_context("/captcha/new", headers={"Accept": "*/*"}):  # what httpx sends
        app.preprocess_request()
        assert wants_json()
    with app.test_request_context("/login/", headers={"Accept": "*/*"}):
        app.preprocess_request()
        assert not wants_json()


def test_rate_limit_answers_json_as_documented(database, tmp_path_factory, spec, api):
    with another_app(database, tmp_path_factory, RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="2 per minute") as limited:
        server = make_server("127.0.0.1", 0, limited, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            models = _module(api, "models")
            client = api.Client(base_url=f"http://127.0.0.1:{server.server_port}")
            login = _module(api, "api.security.security_login")
            body = models.LoginInput(username="nobody", password="Wrong@2026x", captcha_nonce="x", captcha="y")
            answers = [login.sync_detailed(client=client, body=body) for _ in range(3)]
        finally:
            server.shutdown()
    assert [a.status_code for a in answers] == [400, 400, 429], [a.content for a in answers]
    assert answers[2].headers["content-type"].startswith("application/json")
    assert isinstance(answers[2].parsed, models.Error) and answers[2].headers.get("retry-after")
    _check(spec, "429", json.loads(answers[2].content))
