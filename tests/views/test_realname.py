"""Real-name verification: the on-site queue of a province (scope, decisions, reasons) and the online
provider's signed callback (tampering, replay, expiry, a declined answer), and that nobody unverified
can submit an application."""
import html
import json
import re
from datetime import timedelta

from ground.clock import add_years, now_utc, today
from ground.extensions import db
from models import Application, Person, RealnameRequest
from tests import factories as f
from tests.conftest import form_tokens, login
from tests.views.test_personal_journey import apply_form, random_phone


def _text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def _person(app, person_id) -> dict:
    with app.app_context():
        p = db.session.get(Person, person_id)
        return {"status": p.realname_status, "method": p.realname_method, "province": p.realname_province_code,
                "note": p.realname_note, "verified_at": p.realname_verified_at, "name": p.name,
                "id_number": p.id_number}


def _unverified_applicant(app, phone=None):
    """(signed-in client, username, person id) of an applicant with materials on file, not yet verified."""
    with app.app_context():
        # The name ends in a character no other name has, so "name in page" never matches a longer name.
        username, person_id = f.make_applicant(verified=False, name=f"甲{f.next_serial()}乙")
        if phone:
            db.session.get(Person, person_id).phone = phone
            db.session.commit()
    return login(app.test_client(), username, f.PASSWORD), username, person_id


def _queue_onsite(client, province):
    token = form_tokens(client, "/me/verify")["csrf_token"]
    return client.post("/me/verify/onsite", data={"csrf_token": token, "province": province})


def _decide(client, person_id, decision, note=""):
    token = form_tokens(client, f"/realnamequeue/show/{person_id}")["csrf_token"]
    return client.post(f"/realnamequeue/decide/{person_id}", data={"csrf_token": token, "decision": decision,
                                                                   "note": note})


# --- on site ---------------------------------------------------------------------------------------
def test_onsite_queue_is_seen_by_its_province_only(app):
    applicant, _, person_id = _unverified_applicant(app)
    with app.app_context():
        shanghai = f.make_user("Province", province_code="31")
        beijing = f.make_user("Province", province_code="11")
        photo_id = db.session.get(Person, person_id).latest_attachment("photo").id

    resp = _queue_onsite(applicant, "31")
    assert resp.status_code == 302
    assert "You are queued for an on-site check." in _text(applicant.get(resp.headers["Location"]))
    person = _person(app, person_id)
    assert (person["status"], person["method"], person["province"]) == ("pending", "onsite", "31")

    officer = login(app.test_client(), shanghai)
    assert person["name"] in _text(officer.get("/realnamequeue/list/"))
    show = _text(officer.get(f"/realnamequeue/show/{person_id}"))
    assert person["name"] in show and f"/attachments/file/{photo_id}" in show
    photo = officer.get(f"/attachments/file/{photo_id}")
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"

    other = login(app.test_client(), beijing)
    assert person["name"] not in _text(other.get("/realnamequeue/list/"))
    assert other.get(f"/realnamequeue/show/{person_id}").status_code == 404
    token = form_tokens(other, "/realnamequeue/list/")["csrf_token"]
    resp = other.post(f"/realnamequeue/decide/{person_id}", data={"csrf_token": token, "decision": "verify"})
    assert resp.status_code == 404
    assert _person(app, person_id)["status"] == "pending"


def test_onsite_rejection_needs_a_reason_the_applicant_then_reads(app):
    applicant, _, person_id = _unverified_applicant(app)
    with app.app_context():
        officer_name = f.make_user("Province", province_code="44")
    _queue_onsite(applicant, "44")
    officer = login(app.test_client(), officer_name)

    resp = _decide(officer, person_id, "reject", note="   ")
    assert resp.status_code == 302
    assert "Give the reason for the rejection." in _text(officer.get(resp.headers["Location"]))
    assert _person(app, person_id)["status"] == "pending"

    resp = _decide(officer, person_id, "reject", note="照片与本人不符")
    assert resp.status_code == 302 and "/realnamequeue/list/" in resp.headers["Location"]
    assert "on-site check rejected." in _text(officer.get(resp.headers["Location"]))
    person = _person(app, person_id)
    assert (person["status"], person["note"], person["verified_at"]) == ("rejected", "照片与本人不符", None)
    assert person["name"] not in _text(officer.get("/realnamequeue/list/"))  # no longer waiting

    page = _text(applicant.get("/me/verify"))
    assert "The last on-site check was rejected: 照片与本人不符" in page

    # Queued again, then verified.
    _queue_onsite(applicant, "44")
    assert _person(app, person_id)["status"] == "pending"
    resp = _decide(officer, person_id, "verify")
    assert resp.status_code == 302
    assert f"{person['name']}: identity verified." in _text(officer.get(resp.headers["Location"]))
    person = _person(app, person_id)
    assert person["status"] == "verified" and person["method"] == "onsite" and person["verified_at"] is not None
    assert "Your identity is verified." in _text(applicant.get("/me/verify"))


def test_applicant_cannot_open_the_queue(app):
    applicant, _, person_id = _unverified_applicant(app)
    _queue_onsite(applicant, "11")
    for url in ("/realnamequeue/list/", f"/realnamequeue/show/{person_id}"):
        assert applicant.get(url).status_code == 403, url
    token = form_tokens(applicant, "/me/verify")["csrf_token"]
    resp = applicant.post(f"/realnamequeue/decide/{person_id}", data={"csrf_token": token, "decision": "verify"})
    assert resp.status_code == 403
    assert _person(app, person_id)["status"] == "pending"


# --- online (simulator) ----------------------------------------------------------------------------
def _start_online(client) -> str:
    token = form_tokens(client, "/me/verify")["csrf_token"]
    resp = client.post("/me/verify/online", data={"csrf_token": token})
    assert resp.status_code == 302 and "/me/verify/online/" in resp.headers["Location"]
    return resp.headers["Location"].rsplit("/", 1)[1]


def _answers(client, nonce) -> dict:
    """The provider-signed answers of the simulator's phone page: {"verified": (payload, sig), "declined": ...}."""
    page = client.get(f"/realname/simulator/{nonce}").get_data(as_text=True)
    payloads = [html.unescape(p) for p in re.findall(r'name="payload" value="([^"]+)"', page)]
    signatures = re.findall(r'name="signature" value="([^"]+)"', page)
    answers = {json.loads(p)["result"]: (p, s) for p, s in zip(payloads, signatures, strict=True)}
    assert set(answers) == {"verified", "declined"}
    return answers


def _phone(app):
    """The provider's side: no session; English so the test reads the messages."""
    client = app.test_client()
    client.get("/lang/en")
    return client


def _callback(client, payload, signature):
    return client.post("/realname/callback/simulator", data={"payload": payload, "signature": signature})


def _request(app, nonce) -> dict:
    with app.app_context():
        req = db.session.query(RealnameRequest).filter_by(nonce=nonce).one()
        return {"status": req.status, "detail": req.detail, "completed_at": req.completed_at}


def test_tampered_answer_is_refused(app):
    applicant, _, person_id = _unverified_applicant(app)
    with app.app_context():
        _, other_id = f.make_applicant(verified=False)
        other_number = db.session.get(Person, other_id).id_number
    nonce = _start_online(applicant)
    answers = _answers(app.test_client(), nonce)
    phone = _phone(app)  # the provider's server, no session

    declined, signature = answers["declined"]
    forged = json.dumps({**json.loads(declined), "result": "verified"}, sort_keys=True, ensure_ascii=False)
    resp = _callback(phone, forged, signature)
    assert resp.status_code == 400 and "not signed by the provider" in _text(resp)

    verified, signature = answers["verified"]
    forged = json.dumps({**json.loads(verified), "id_number": other_number}, sort_keys=True, ensure_ascii=False)
    resp = _callback(phone, forged, signature)
    assert resp.status_code == 400 and "not signed by the provider" in _text(resp)
    assert _callback(phone, verified, "0" * 64).status_code == 400

    assert _person(app, person_id)["status"] == "unverified"
    assert _person(app, other_id)["status"] == "unverified"
    assert _request(app, nonce)["status"] == "pending"
    # The genuine answer still works afterwards.
    assert _callback(phone, verified, signature).status_code == 200
    assert _person(app, person_id)["status"] == "verified"


def test_replayed_answer_is_refused(app):
    applicant, _, person_id = _unverified_applicant(app)
    nonce = _start_online(applicant)
    answers = _answers(app.test_client(), nonce)
    phone = _phone(app)

    assert _callback(phone, *answers["declined"]).status_code == 200
    # The signed "verified" answer of the same request, sent after the person declined: refused.
    resp = _callback(phone, *answers["verified"])
    assert resp.status_code == 400 and "already been answered" in _text(resp)
    assert _person(app, person_id)["status"] == "unverified"

    # The same answer twice: the second one is refused and changes nothing.
    nonce = _start_online(applicant)
    answers = _answers(app.test_client(), nonce)
    assert _callback(phone, *answers["verified"]).status_code == 200
    done = _request(app, nonce)
    resp = _callback(phone, *answers["verified"])
    assert resp.status_code == 400 and "already been answered" in _text(resp)
    assert _request(app, nonce) == done


def test_expired_request_is_refused(app):
    applicant, _, person_id = _unverified_applicant(app)
    nonce = _start_online(applicant)
    answers = _answers(app.test_client(), nonce)
    with app.app_context():
        db.session.query(RealnameRequest).filter_by(nonce=nonce).update(
            {"expires_at": now_utc() - timedelta(seconds=1)})
        db.session.commit()
    resp = _callback(_phone(app), *answers["verified"])
    assert resp.status_code == 400 and "The verification request has expired; start again." in _text(resp)
    assert _person(app, person_id)["status"] == "unverified"
    assert _request(app, nonce)["status"] != "verified"


def test_declined_answer_leaves_the_person_unverified(app):
    applicant, _, person_id = _unverified_applicant(app)
    nonce = _start_online(applicant)
    resp = _callback(_phone(app), *_answers(app.test_client(), nonce)["declined"])
    assert resp.status_code == 200 and "Identity not confirmed" in _text(resp)
    req = _request(app, nonce)
    assert (req["status"], req["detail"]) == ("failed", "declined") and req["completed_at"] is not None
    assert _person(app, person_id)["status"] == "unverified"
    status = applicant.get(f"/me/verify/online/{nonce}/status").get_json()
    assert status == {"status": "failed", "verified": False}


def test_nobody_else_opens_my_online_request(app):
    applicant, _, _ = _unverified_applicant(app)
    nonce = _start_online(applicant)
    assert applicant.get(f"/me/verify/online/{nonce}").status_code == 200
    stranger, _, _ = _unverified_applicant(app)
    assert stranger.get(f"/me/verify/online/{nonce}").status_code == 404
    assert stranger.get(f"/me/verify/online/{nonce}/status").status_code == 404


# --- no application before verification ------------------------------------------------------------
def test_unverified_person_cannot_submit(app, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_RESEND_SECONDS", 0)
    phone = random_phone()
    applicant, _, person_id = _unverified_applicant(app, phone=phone)
    with app.app_context():
        enterprise = db.session.get(f.Enterprise, f.make_enterprise("11"))
        label = f"{enterprise.name} [{enterprise.credit_code}]"
    reason = "Your identity has not been verified yet (real-name verification)."
    assert reason in _text(applicant.get("/apply/initial"))
    fields = {"enterprise": label, "specialties": "building", "contract_start": (today() - timedelta(days=30)).isoformat(),
              "contract_end": add_years(today(), 3).isoformat()}

    # The form is closed until the identity is verified: no code is sent, neither a submission nor a draft is
    # taken, and the page says why.
    assert "fieldset disabled" in applicant.get("/apply/initial").get_data(as_text=True)
    for submit in (True, False):
        resp = applicant.post("/apply/initial", data={"csrf_token": form_tokens(applicant, "/apply/initial")["csrf_token"],
                                                      "action": "send_sms" if submit else "save", **fields})
        assert resp.status_code == 200 and reason in _text(resp)
        assert "This application cannot be made now" in _text(resp)
    with app.app_context():
        assert db.session.query(Application).filter_by(person_id=person_id).count() == 0
