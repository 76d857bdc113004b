"""Public pages without sign-in: certificate verification by QR token or by number and name, the public
key for offline checks, and the public register (注册人员查询). Only masked ID numbers, only active
registrations; Chinese by default."""
import base64
import json
import re
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization

from ground.clock import today
from ground.extensions import db
from app.services import signing
from models import Certificate, Person, Registration
from tests import factories as f
from tests.conftest import another_app, form_tokens


def _english(app):
    client = app.test_client()
    client.get("/lang/en")
    return client


def _holder(status="active", name=None, enterprise_name=None) -> dict:
    """A registered person whose certificate shows their real name and specialties (inside an app context)."""
    enterprise = f.make_enterprise(name=enterprise_name)
    _, person_id = f.make_registered(enterprise, status=status, name=name or f"查验{f.next_serial()}")
    person = db.session.get(Person, person_id)
    certificate = db.session.query(Certificate).filter(Certificate.person_id == person_id).one()
    certificate.holder_name = person.name
    certificate.enterprise_name = person.registration.enterprise.name
    certificate.specialties = [{"code": "building", "name": "建筑工程", "valid_until": certificate.valid_until.isoformat()}]
    db.session.commit()
    return {"person_id": person_id, "name": person.name, "id_number": person.id_number,
            "masked": person.masked_id_number, "registration": person.registration.number,
            "certificate_id": certificate.id, "certificate": certificate.number,
            "enterprise": person.registration.enterprise.name}


def _token(holder, copy_days=180, **changes) -> str:
    payload = {"c": holder["certificate"], "r": holder["registration"], "h": holder["name"],
               "u": (today() + timedelta(days=copy_days)).isoformat(), "t": "cert"}
    payload.update(changes)
    return signing.sign(payload)


def _make(app, **kwargs):
    with app.app_context():
        holder = _holder(**kwargs)
        holder["token"] = _token(holder)
        return holder


def _text(resp) -> str:
    return resp.get_data(as_text=True)


def _verdict(html) -> str:
    """The headline word of a verification result."""
    match = re.search(r'<div class="alert [^"]+ verdict"[^>]*>\s*<h4><span class="fa [^"]+"></span>\s*([^<]+?)\s*</h4>', html)
    assert match, "no verdict on the page"
    return match.group(1)


# --- verification by QR token ---------------------------------------------------------------------------
def test_valid_token_shows_the_certificate_with_a_masked_id(app):
    holder = _make(app)
    resp = _english(app).get(f"/verify/{holder['token']}")
    html = _text(resp)
    assert resp.status_code == 200, html[:500]
    assert resp.headers["Cache-Control"] == "no-store"
    assert holder["name"] in html and holder["registration"] in html and holder["certificate"] in html
    assert holder["masked"] in html and "******" in holder["masked"]
    assert holder["id_number"] not in html
    assert holder["enterprise"] in html and "Building Construction" in html
    assert _verdict(html) == "Valid"
    assert "This downloaded copy is valid until" in html
    assert "The name and registration number in the code match the register." in html


def test_altered_or_foreign_token_is_not_genuine(app):
    holder = _make(app)
    token = holder["token"]
    i = 5
    altered = token[:i] + ("B" if token[i] != "B" else "C") + token[i + 1:]
    client = _english(app)
    resp = client.get(f"/verify/{altered}")
    html = _text(resp)
    assert resp.status_code == 400
    assert "Not a genuine certificate code" in html and "altered" in html
    assert holder["name"] not in html and holder["registration"] not in html
    resp = client.get("/verify/not-a-token")
    assert resp.status_code == 400 and "This is not a certificate verification code." in _text(resp)
    # Signed by us, but not a certificate code (another kind of signed payload).
    with app.app_context():
        other = signing.sign({"c": holder["certificate"], "t": "something-else"})
    resp = client.get(f"/verify/{other}")
    assert resp.status_code == 400 and "This is not a certificate verification code." in _text(resp)


def test_signed_token_for_an_unknown_certificate(app):
    with app.app_context():
        token = signing.sign({"c": "X00000000000", "r": "京0000", "h": "无名", "u": today().isoformat(), "t": "cert"})
    resp = _english(app).get(f"/verify/{token}")
    assert resp.status_code == 404 and "Certificate not on the register" in _text(resp)


def test_revoked_certificate(app):
    holder = _make(app)
    with app.app_context():
        certificate = db.session.get(Certificate, holder["certificate_id"])
        certificate.status, certificate.revoked_on = "revoked", today() - timedelta(days=3)
        db.session.commit()
    html = _text(_english(app).get(f"/verify/{holder['token']}"))
    assert _verdict(html) == "Revoked (registration cancelled)"
    assert f"revoked on {today() - timedelta(days=3)}" in html
    assert "fa-check-circle" not in html


def test_replaced_certificate_names_the_newer_one(app):
    holder = _make(app)
    with app.app_context():
        old = db.session.get(Certificate, holder["certificate_id"])
        newer = Certificate(number=f"N{holder['person_id']:011d}", registration_id=old.registration_id,
                            person_id=old.person_id, status="valid", issued_on=today(), valid_until=old.valid_until,
                            holder_name=old.holder_name, registration_number=old.registration_number,
                            enterprise_name=old.enterprise_name, specialties=old.specialties)
        db.session.add(newer)
        db.session.flush()
        old.status, old.replaced_by_id = "replaced", newer.id
        db.session.commit()
        newer_number = newer.number
    html = _text(_english(app).get(f"/verify/{holder['token']}"))
    assert _verdict(html) == "Replaced" and newer_number in html
    assert "fa-check-circle" not in html


def test_expired_certificate(app):
    holder = _make(app)
    with app.app_context():
        db.session.get(Certificate, holder["certificate_id"]).valid_until = today() - timedelta(days=1)
        db.session.commit()
    html = _text(_english(app).get(f"/verify/{holder['token']}"))
    assert _verdict(html) == "Expired" and f"This certificate expired on {today() - timedelta(days=1)}" in html


def test_expired_copy_of_a_valid_certificate(app):
    with app.app_context():
        holder = _holder()
        token = _token(holder, copy_days=-1)
    html = _text(_english(app).get(f"/verify/{token}"))
    assert f"This downloaded copy expired on {today() - timedelta(days=1)}" in html
    assert "the holder can download a new one" in html
    assert "The certificate itself is still valid" in html and _verdict(html) == "Valid"


def test_code_that_differs_from_the_register_is_flagged(app):
    with app.app_context():
        holder = _holder()
        token = _token(holder, h="冒名")
    html = _text(_english(app).get(f"/verify/{token}"))
    assert "The code and the register differ" in html and "冒名" in html
    assert "match the register." not in html


def test_chinese_by_default(app):
    holder = _make(app)
    html = _text(app.test_client().get(f"/verify/{holder['token']}"))
    assert _verdict(html) == "有效" and holder["masked"] in html and holder["id_number"] not in html


# --- verification by number and name ----------------------------------------------------------------------
def _verify_by_form(client, number, name, wrong_captcha=False):
    tokens = form_tokens(client, "/verify/")
    if wrong_captcha:
        tokens["captcha"] = "0000"
    return client.post("/verify/", data={"number": number, "holder_name": name, **tokens})


def test_verify_by_number_and_name(app):
    holder = _make(app)
    client = _english(app)
    assert client.get("/verify/").status_code == 200
    resp = _verify_by_form(client, f" {holder['certificate'].lower()} ", holder["name"])
    html = _text(resp)
    assert resp.status_code == 200 and _verdict(html) == "Valid"
    assert holder["registration"] in html and holder["masked"] in html and holder["id_number"] not in html
    assert "This copy" not in html  # no copy was scanned


def test_verify_by_number_with_a_wrong_name_reveals_nothing(app):
    holder = _make(app)
    client = _english(app)
    for number, name in ((holder["certificate"], "别人"), ("Z99999999999", holder["name"])):
        html = _text(_verify_by_form(client, number, name))
        assert "No certificate matches this number and name." in html
        assert holder["registration"] not in html and holder["masked"] not in html
        assert holder["enterprise"] not in html


def test_verify_by_number_needs_the_captcha_and_both_fields(app):
    holder = _make(app)
    client = _english(app)
    html = _text(_verify_by_form(client, holder["certificate"], holder["name"], wrong_captcha=True))
    assert "The verification code is wrong" in html and holder["registration"] not in html
    html = _text(_verify_by_form(client, holder["certificate"], ""))
    assert "This field is required." in html and holder["registration"] not in html


# --- public key: offline verification ---------------------------------------------------------------------
def test_public_key_verifies_a_token_offline(app):
    holder = _make(app)
    resp = app.test_client().get("/verify/public-key")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    key = serialization.load_pem_public_key(resp.data)
    body_part, signature_part = holder["token"].split(".")

    def unb64(text):
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    key.verify(unb64(signature_part), unb64(body_part))  # raises InvalidSignature if not genuine
    assert json.loads(unb64(body_part))["c"] == holder["certificate"]


# --- the public register ------------------------------------------------------------------------------------
def test_registry_search_by_name_prefix_shows_active_registrations_only(app):
    prefix = f"公示{f.next_serial()}"
    with app.app_context():
        active = _holder(name=prefix + "甲")
        cancelled = _holder(status="cancelled", name=prefix + "乙")
    client = _english(app)
    resp = client.get("/registry/", query_string={"name": prefix})
    html = _text(resp)
    assert resp.status_code == 200
    assert active["name"] in html and active["registration"] in html and active["masked"] in html
    assert active["id_number"] not in html and active["enterprise"] in html and "Building Construction" in html
    assert cancelled["name"] not in html and cancelled["registration"] not in html
    # Exact name, registration number (exact) and employer prefix find the same person.
    assert active["registration"] in _text(client.get("/registry/", query_string={"name": active["name"]}))
    assert active["name"] in _text(client.get("/registry/", query_string={"number": active["registration"]}))
    assert active["name"] not in _text(client.get("/registry/", query_string={"number": active["registration"][:-1]}))
    assert active["name"] in _text(client.get("/registry/", query_string={"enterprise": active["enterprise"][:6]}))
    # No leading-wildcard search: the middle of a name finds nobody.
    assert active["name"] not in _text(client.get("/registry/", query_string={"name": prefix[1:]}))
    # The cancelled person's page does not exist publicly.
    assert client.get(f"/registry/{cancelled['registration']}").status_code == 404


def test_registry_refuses_short_or_empty_searches(app):
    client = _english(app)
    html = _text(client.get("/registry/", query_string={"name": "张"}))
    assert "Type at least 2 characters" in html
    html = _text(client.get("/registry/", query_string={"name": "", "number": "", "enterprise": ""}))
    assert "Type a name, a registration number or an employer&#39;s name." in html
    assert client.get("/registry/").status_code == 200


def test_registry_wildcards_are_literal(app):
    prefix = f"通配{f.next_serial()}"
    with app.app_context():
        holder = _holder(name=prefix + "丙")
    html = _text(_english(app).get("/registry/", query_string={"name": "%%"}))
    assert holder["name"] not in html


def test_registry_hides_a_registration_without_a_valid_certificate(app):
    prefix = f"无证{f.next_serial()}"
    with app.app_context():
        holder = _holder(name=prefix + "丁")
        db.session.get(Certificate, holder["certificate_id"]).status = "revoked"
        db.session.commit()
    client = _english(app)
    assert holder["name"] not in _text(client.get("/registry/", query_string={"name": prefix}))
    assert client.get(f"/registry/{holder['registration']}").status_code == 404


def test_registry_caps_and_pages_results(app, monkeypatch):
    import views.public as public

    prefix = f"分页{f.next_serial()}"
    with app.app_context():
        people = [_holder(name=f"{prefix}{i}") for i in range(3)]
    client = _english(app)
    monkeypatch.setattr(public, "PAGE_SIZE", 2)
    html = _text(client.get("/registry/", query_string={"name": prefix}))
    assert "3 found." in html and "Page 1 of 2" in html
    assert people[0]["name"] in html and people[1]["name"] in html and people[2]["name"] not in html
    html = _text(client.get("/registry/", query_string={"name": prefix, "page": 2}))
    assert people[2]["name"] in html and people[0]["name"] not in html
    monkeypatch.setattr(public, "MAX_RESULTS", 2)
    html = _text(client.get("/registry/", query_string={"name": prefix}))
    assert "More than 2 people match." in html and people[0]["name"] not in html


def test_registry_detail_with_history(app):
    staff = f.Staff()
    with app.app_context():
        enterprise = f.make_enterprise()
        _, person_id, _ = f.register(staff, enterprise)
        person = db.session.get(Person, person_id)
        registration = db.session.query(Registration).filter(Registration.person_id == person_id).one()
        certificate = db.session.query(Certificate).filter(Certificate.registration_id == registration.id,
                                                           Certificate.status == "valid").one()
        number, cert_number = registration.number, certificate.number
        name, id_number, masked = person.name, person.id_number, person.masked_id_number
    resp = _english(app).get(f"/registry/{number}")
    html = _text(resp)
    assert resp.status_code == 200, html[:500]
    assert name in html and masked in html and id_number not in html and cert_number in html
    assert "Building Construction" in html and "Registered" in html
    assert "Initial registration" in html and str(today()) in html
    assert "Registration history" in html


# --- rate limit -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def limited_app(app, database, tmp_path_factory):
    """A second app on the same database with the public per-address limit on."""
    with another_app(database, tmp_path_factory, RATELIMIT_ENABLED=True, PUBLIC_RATE_LIMIT="3 per minute") as application:
        yield application


def test_public_pages_are_rate_limited_per_address(app, limited_app):
    client = limited_app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.9.{f.next_serial() % 250}.{f.next_serial() % 250}"
    for _ in range(3):
        assert client.get("/registry/", query_string={"name": "某某"}).status_code == 200
    assert client.get("/registry/", query_string={"name": "某某"}).status_code == 429
