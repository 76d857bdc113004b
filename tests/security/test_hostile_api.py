"""Hostile input to the REST API (/api/v1): JSON bodies of the draft and workflow endpoints, FAB's rison
query strings, odd path arguments and malformed requests. Never a server error; a refused request
changes nothing; errors are JSON.
"""
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ground.extensions import db
from models import Application
from tests import factories as f
from tests.security.helpers import (PAYLOADS, bearer, changed, hostile_json, hostile_settings, hostile_text,
                                    hostile_world, row_counts)

APPLICATION_FIELDS = ("business_type", "enterprise_id", "contract_start", "contract_end", "specialties",
                      "pass_certificate_no", "reason", "reason_text", "new_name",
                      "new_id_number", "version")
TRANSITION_FIELDS = ("opinion", "version", "sms_code", "attested", "reason")
RESOURCES = ("application", "person", "certificate", "enterprise")


@pytest.fixture(scope="module")
def world(app):
    return hostile_world(app)


def _valid_application(w):
    from datetime import timedelta

    from ground.clock import add_years, today

    return {"business_type": "initial", "enterprise_id": w.e1, "specialties": ["building"],
            "contract_start": (today() - timedelta(days=30)).isoformat(),
            "contract_end": add_years(today(), 2).isoformat()}


def _bodies(keys, valid):
    """Dicts of the schema's keys (some missing, some unknown) with valid or hostile values; sometimes not
    a dict at all."""
    def one_field_off(name_value):
        name, value = name_value
        return {**valid, name: value}

    field_off = st.tuples(st.sampled_from(keys + ("unknown", "")), hostile_json()).map(one_field_off)
    any_dict = st.dictionaries(st.sampled_from(keys + ("unknown",)), hostile_json(), max_size=len(keys))
    missing = st.sets(st.sampled_from(sorted(valid)), min_size=1).map(
        lambda drop: {k: v for k, v in valid.items() if k not in drop})
    return st.one_of(field_off, field_off, any_dict, missing, hostile_json())


def _json_ok(resp, what):
    assert resp.status_code < 500, f"{resp.status_code} from {what}: {resp.get_data(as_text=True)[:300]}"
    if resp.status_code in (404, 405) and not resp.is_json:
        return  # no API route matches the address (Flask's own page)
    if resp.status_code != 204:
        assert resp.is_json, f"{what} answered {resp.status_code} {resp.mimetype}, not JSON"
        if resp.status_code >= 400:
            body = resp.get_json()
            assert isinstance(body, dict) and body.get("message") not in (None, ""), (what, body)


def _check(app, client, method, url, body, headers, fingerprint=None):
    before = row_counts(app)
    fp = fingerprint() if fingerprint else None
    resp = client.open(url, method=method, data=json.dumps(body), content_type="application/json", headers=headers)
    _json_ok(resp, f"{method} {url} {json.dumps(body)[:200]}")
    if resp.status_code >= 400:
        assert changed(before, row_counts(app)) == {}, f"refused {method} {url} wrote rows"
        if fingerprint:
            assert fingerprint() == fp, f"refused {method} {url} changed the application"
    return resp


def _application_state(app, app_id):
    def fingerprint():
        with app.app_context():
            a = db.session.get(Application, app_id)
            return (a.state, a.version, a.business_type, a.enterprise_id, a.contract_start, a.contract_end,
                    a.reason_text, a.new_name, a.last_opinion, sorted(s.code for s in a.specialties))
    return fingerprint


def test_draft_bodies(app, world):
    """POST /application/ and PUT /application/<id> as an applicant: wrong types, huge numbers, nested
    objects, missing and unknown keys. A refused body writes nothing."""
    with app.app_context():
        username, _person = f.make_applicant()
    headers = bearer(app, username)
    client = app.test_client()
    valid = _valid_application(world)
    created = client.post("/api/v1/application/", json=valid, headers=headers)
    assert created.status_code == 201, created.get_json()
    app_id = created.get_json()["id"]
    fingerprint = _application_state(app, app_id)

    @hostile_settings(40)
    @given(body=_bodies(APPLICATION_FIELDS, valid), put=st.booleans())
    def run(body, put):
        if put:
            _check(app, client, "PUT", f"/api/v1/application/{app_id}", body, headers, fingerprint)
        else:  # the open draft makes every new one a conflict: validation runs first
            _check(app, client, "POST", "/api/v1/application/", body, headers)

    run()


@pytest.mark.parametrize("role,key,state", [("ent1", "a1", "enterprise_review"), ("prov31", "a3", "province_review"),
                                            ("ministry", "m1", "ministry_review"), ("d1", "d1", "draft")])
def test_transition_bodies(app, world, role, key, state):
    """POST /application/<id>/transition/<action> with hostile bodies and actions, by the stage's owner."""
    headers = bearer(app, world.users[role])
    client = app.test_client()
    app_id = world.apps[key]
    fingerprint = _application_state(app, app_id)
    actions = ["confirm", "return", "refuse", "pass", "approve", "withdraw", "submit", "publish", "issue"]
    valid = {"opinion": "意见", "reason": "other", "attested": True}

    @hostile_settings(15)
    @given(body=_bodies(TRANSITION_FIELDS, valid),
           action=st.one_of(st.sampled_from(actions), hostile_text(long=False).filter(lambda s: "/" not in s)))
    def run(body, action):
        with app.app_context():
            f.set_state(app_id, state)
        from urllib.parse import quote

        url = f"/api/v1/application/{app_id}/transition/{quote(action, safe='')}"
        resp = _check(app, client, "POST", url, body, headers, fingerprint)
        assert resp.status_code != 200 or action in actions

    try:
        run()
    finally:
        with app.app_context():
            f.set_state(app_id, state)


def _rison_strings():
    """FAB's `q`: malformed rison, and well-formed rison with hostile filters, paging and ordering."""
    from prison import dumps

    value = st.one_of(hostile_text(long=False), st.integers(min_value=-(2**70), max_value=2**70), st.booleans(),
                      st.none())
    filters = st.lists(st.fixed_dictionaries({"col": st.one_of(st.sampled_from(["name", "number", "state",
                                                                                 "id_number", "status", "id"]),
                                                               hostile_text(long=False)),
                                              "opr": st.one_of(st.sampled_from(["eq", "sw", "ct", "ew", "neq", "gt",
                                                                                "rel_o_m", "in"]),
                                                               hostile_text(long=False)),
                                              "value": value}), max_size=2)
    structured = st.fixed_dictionaries({}, optional={
        "filters": filters, "page": value, "page_size": value, "order_column": value, "order_direction": value,
        "columns": st.lists(hostile_text(long=False), max_size=2), "keys": st.lists(hostile_text(long=False), max_size=2),
        "select_columns": st.lists(hostile_text(long=False), max_size=2)})

    def safe_dumps(obj):
        try:
            return dumps(obj)
        except Exception:  # prison cannot write some values: send the raw repr instead
            return repr(obj)

    return st.one_of(hostile_text(long=False), structured.map(safe_dumps),
                     st.sampled_from(["(", "!(", "(filters:!((col:name,opr:sw,value:'x')", "'", "(a:b", "!t",
                                      "(page:-1)", "(page_size:999999999999)", "(page:99999999999999999999)",
                                      "(filters:!((col:id,opr:eq,value:99999999999999999999)))",
                                      "(filters:!((col:name,opr:sw,value:!n)))", "(order_column:id,order_direction:x)"]))


@pytest.mark.parametrize("role", ["a1", "ent1", "ministry"])
def test_rison_query_strings(app, world, role):
    """Malformed rison is a 400 (never a 500); well-formed rison with hostile filters is answered in JSON."""
    headers = bearer(app, world.users[role])
    client = app.test_client()

    @hostile_settings(15)
    @given(q=_rison_strings(), resource=st.sampled_from(RESOURCES), info=st.booleans())
    def run(q, resource, info):
        from urllib.parse import quote

        url = f"/api/v1/{resource}/{'_info' if info else ''}?q={quote(q, safe='')}"
        _json_ok(client.get(url, headers=headers), f"GET {url}")

    run()
    for q in ("(", "!(", "(a:b", "'"):
        resp = client.get(f"/api/v1/application/?q={q}", headers=headers)
        assert resp.status_code == 400, (q, resp.status_code)


def test_odd_path_arguments(app, world):
    """Primary keys no column holds, negative, zero and Unicode digits: 404 or 405, in JSON where FAB answers."""
    client = app.test_client()
    for role in ("a1", "ministry"):
        headers = bearer(app, world.users[role])
        for pk in ("99999999999999999999", "9223372036854775808", "2147483648", "0", "-1", "١٢", "1.5", "%00"):
            for resource in RESOURCES:
                for method, suffix in (("GET", ""), ("PUT", ""), ("DELETE", ""), ("GET", "/transitions"),
                                       ("POST", "/transition/return"), ("POST", "/sms")):
                    url = f"/api/v1/{resource}/{pk}{suffix}"
                    resp = client.open(url, method=method, json={"opinion": "x"}, headers=headers)
                    assert resp.status_code < 500, (method, url, resp.status_code)
                    if pk != "١٢":  # Arabic-Indic digits are a number to Python and the router: record 12
                        assert resp.status_code in (400, 403, 404, 405), (method, url, resp.status_code)


MALFORMED = [  # (content type, body, is it a JSON object the endpoints may act on)
    ("application/json", b"{", False), ("application/json", b"[" * 100_000, False),
    ("application/json", b'{"a":' * 50_000, False), ("application/json", b"\xff\xfe\x00", False),
    ("application/json", b"NaN", False), ("application/json", b'"\\ud800"', False),
    ("application/json", b'{"enterprise_id": ' + b"9" * 5000 + b"}", False),
    ("application/x-www-form-urlencoded", b"business_type=initial", False),
    ("text/plain", b"<script>alert(1)</script>", False),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1", False),
    ("", b"", False),
    # Odd but well-formed JSON objects: a withdrawal (which needs no field) may go through.
    ("application/json", b'{"business_type": "initial", "business_type": "change"}', True),
    ("application/json", json.dumps({"business_type": "x" * 1_000_000}).encode(), True),
    ("application/json", b'{"enterprise_id": 1e400, "version": -1e400}', True),
    ("application/json; charset=utf-16", "{}".encode("utf-16"), True),
]


@pytest.mark.parametrize("content_type,data,is_object", MALFORMED, ids=[f"malformed{i}" for i in range(len(MALFORMED))])
def test_malformed_requests(app, world, content_type, data, is_object):
    """Broken, deeply nested, huge or mislabelled bodies to every writing endpoint: a 4xx in JSON that
    changes nothing. A broken body is never read as an empty one (which would withdraw the draft)."""
    client = app.test_client()
    headers = bearer(app, world.users["d1"])
    withdraw = f"/api/v1/application/{world.apps['d1']}/transition/withdraw"
    try:
        with app.app_context():
            f.set_state(world.apps["d1"], "draft")
        before, fingerprint = row_counts(app), _application_state(app, world.apps["d1"])
        state = fingerprint()
        for method, url in (("POST", "/api/v1/application/"), ("PUT", f"/api/v1/application/{world.apps['d1']}"),
                            ("POST", "/api/v1/security/login"), ("POST", withdraw)):
            resp = client.open(url, method=method, data=data, content_type=content_type, headers=headers)
            _json_ok(resp, f"{method} {url}")
            if not (is_object and url == withdraw):
                assert 400 <= resp.status_code < 500, (method, url, resp.status_code)
        if not is_object:
            assert changed(before, row_counts(app)) == {}
            assert fingerprint() == state
    finally:
        with app.app_context():
            f.set_state(world.apps["d1"], "draft")


def test_login_api_with_hostile_credentials(app):
    """The API sign-in reads username, password and captcha from any JSON: 400 or 401, never a 500."""
    client = app.test_client()

    @hostile_settings(25)
    @given(body=st.one_of(hostile_json(), st.fixed_dictionaries(
        {"username": hostile_json(), "password": hostile_json(), "captcha_nonce": hostile_json(),
         "captcha": hostile_json(), "provider": st.sampled_from(["db", "ldap", ""]), "refresh": hostile_json()})))
    def run(body):
        resp = client.post("/api/v1/security/login", data=json.dumps(body), content_type="application/json")
        _json_ok(resp, "POST /api/v1/security/login")
        assert resp.status_code in (400, 401, 422), resp.status_code

    run()
    for payload in PAYLOADS[:8]:
        resp = client.post("/api/v1/security/login", json={"username": payload, "password": payload,
                                                           "captcha_nonce": payload, "captcha": payload})
        assert resp.status_code == 400, resp.status_code
