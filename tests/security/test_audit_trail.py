"""Audit trail through HTTP: every state change, sign-in, failed sign-in, export, print and view of another
person's sensitive data writes exactly one audit row naming who (user and role), what, which record, when
and from which address; the audit log cannot be changed or deleted through any panel or API route; the
Ministry and the administrator search it (user, action, object, record, time range, address), newest
first, twenty to a page; nobody else opens it."""
import re
import uuid
from datetime import timedelta

import pytest

from ground.clock import now_utc
from ground.extensions import db
from models import Application, AppUser, AuditLog, Person
from tests import factories as f
from tests import world as world_module
from tests.conftest import api_captcha, csrf_token, form_tokens, job_result, login

IP = "127.0.0.1"  # the test client's remote address


@pytest.fixture(scope="module")
def world(app):
    with app.app_context():
        w = world_module.build()
        # A person waiting for the on-site real-name check in Beijing (province 11's queue).
        onsite = f.make_person(verified=False)
        person = db.session.get(Person, onsite)
        person.realname_status, person.realname_method, person.realname_province_code = "pending", "onsite", "11"
        person.realname_requested_at = now_utc()
        db.session.commit()
        w.persons["onsite"] = onsite
        w.users["unmasked"] = f.make_user("Ministry")
        from app.personal_data import set_unmasked_view

        set_unmasked_view(w.users["unmasked"])
        w.batch = db.session.get(Application, w.apps["r1"]).announcement_id
        return w


def _last_id(app) -> int:
    with app.app_context():
        return db.session.query(db.func.max(AuditLog.id)).scalar() or 0


def _rows(app, since, **match):
    with app.app_context():
        rows = db.session.query(AuditLog).filter(AuditLog.id > since).filter_by(**match).order_by(AuditLog.id).all()
        db.session.expunge_all()
        return rows


def _user_id(app, username):
    with app.app_context():
        return db.session.query(AppUser.id).filter_by(username=username).scalar()


def _jwt(client, username):
    resp = client.post("/api/v1/security/login", json={"username": username, "password": f.PASSWORD,
                                                       "provider": "db", **api_captcha(client)})
    assert resp.status_code == 200, resp.get_json()
    return {"Authorization": f"Bearer {resp.get_json()['access_token']}"}


def _version(app, application_id):
    with app.app_context():
        return db.session.get(Application, application_id).version


# --- each kind of event: (who acts, role, what to do) → (action, object type, object id) -----------------

def _transition_page(app, w):
    client = login(app.test_client(), w.users["ent1"])
    url = f"/applications/transition/{w.apps['a1']}/confirm"
    resp = client.post(url, data={"csrf_token": csrf_token(client, url), "version": _version(app, w.apps["a1"]),
                                  "attested": "y"})
    assert resp.status_code == 302
    return w.users["ent1"], "Enterprise", ("transition.confirm", "Application", w.apps["a1"])


def _transition_api(app, w):
    client = app.test_client()
    resp = client.post(f"/api/v1/application/{w.apps['a2']}/transition/confirm", headers=_jwt(client, w.users["ent2"]),
                       json={"version": _version(app, w.apps["a2"]), "attested": True})
    assert resp.status_code == 200, resp.get_json()
    return w.users["ent2"], "Enterprise", ("transition.confirm", "Application", w.apps["a2"])


def _login_ok(app, w):
    login(app.test_client(), w.users["a3"])
    return w.users["a3"], "Applicant", ("login", "AppUser", _user_id(app, w.users["a3"]))


def _login_failed(app, w):
    client = app.test_client()
    resp = client.post("/login/", data={"username": w.users["prov31"], "password": "Wrong@2026",
                                        **form_tokens(client, "/login/")})
    assert resp.status_code == 200 and "/logout" not in resp.get_data(as_text=True)
    return None, None, ("login_failed", "AppUser", _user_id(app, w.users["prov31"]))


def _export_csv(app, w):
    client = login(app.test_client(), w.users["ministry"])
    resp = job_result(client, "/exports/persons/export/csv/?flt0_name=测试")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    return w.users["ministry"], "Ministry", ("export", "Person", None)


def _certificate_pdf(app, w):
    client = login(app.test_client(), w.users["ent1"])
    resp = client.get(f"/certificates/pdf/{w.certificates['r1']}")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    return w.users["ent1"], "Enterprise", ("print", "Certificate", w.certificates["r1"])


def _application_pdf(app, w):
    client = login(app.test_client(), w.users["prov31"])
    resp = client.get(f"/applications/pdf/{w.apps['a3']}")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    return w.users["prov31"], "Province", ("print", "Application", w.apps["a3"])


def _announcement_pdf(app, w):
    client = login(app.test_client(), w.users["ministry"])
    resp = client.get(f"/announcements/pdf/{w.batch}")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    return w.users["ministry"], "Ministry", ("print", "AnnouncementBatch", w.batch)


def _roster_pdf(app, w):
    client = login(app.test_client(), w.users["prov11"])
    resp = job_result(client, "/dashboard/roster?province=11")  # the job writes the row; the download is no print
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    return w.users["prov11"], "Province", ("print", "Report", None)


def _attachment_view(app, w):
    client = login(app.test_client(), w.users["prov11"])
    resp = client.get(f"/attachments/file/{w.attachments['a1']}")
    assert resp.status_code == 200 and resp.mimetype == "image/jpeg"
    return w.users["prov11"], "Province", ("view", "Attachment", w.attachments["a1"])


def _onsite_check_page(app, w):
    client = login(app.test_client(), w.users["prov11"])
    assert client.get(f"/realnamequeue/show/{w.persons['onsite']}").status_code == 200
    return w.users["prov11"], "Province", ("view", "Person", w.persons["onsite"])


def _unmasked_person_page(app, w):
    client = login(app.test_client(), w.users["unmasked"])
    assert client.get(f"/persons/show/{w.persons['a3']}").status_code == 200
    return w.users["unmasked"], "Ministry,PersonalDataUnmasked", ("view", "Person", w.persons["a3"])


def _unmasked_person_api(app, w):
    client = app.test_client()
    resp = client.get(f"/api/v1/person/{w.persons['a2']}", headers=_jwt(client, w.users["unmasked"]))
    assert resp.status_code == 200
    return w.users["unmasked"], "Ministry,PersonalDataUnmasked", ("view", "Person", w.persons["a2"])


EVENTS = [_transition_page, _transition_api, _login_ok, _login_failed, _export_csv, _certificate_pdf,
          _application_pdf, _announcement_pdf, _roster_pdf, _attachment_view, _onsite_check_page,
          _unmasked_person_page, _unmasked_person_api]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.__name__.strip("_"))
def test_each_event_writes_one_audit_row(app, world, event):
    since, before = _last_id(app), now_utc() - timedelta(seconds=1)
    username, role, (action, object_type, object_id) = event(app, world)
    after = now_utc() + timedelta(seconds=1)
    match = {"action": action, "object_type": object_type}
    if object_id is not None:
        match["object_id"] = str(object_id)
    rows = _rows(app, since, **match)
    assert len(rows) == 1, [(r.action, r.object_type, r.object_id, r.summary) for r in rows]
    row = rows[0]
    if username is None:  # a failed sign-in: nobody is signed in; the row names the account tried
        assert row.user_id is None and row.role is None and row.username == world.users["prov31"]
    else:
        assert (row.user_id, row.username, row.role) == (_user_id(app, username), username, role)
    assert before <= row.created_at <= after and row.ip == IP
    # Prints are not counted twice (the certificate view writes its own rows), and nothing else is "printed".
    assert len(_rows(app, since, action="print")) == (1 if action == "print" else 0)


def test_masked_pages_and_own_data_are_no_disclosure(app, world):
    """Seeing masked numbers, or one's own, is not "viewing another person's sensitive data"."""
    since = _last_id(app)
    ministry = login(app.test_client(), world.users["ministry"])
    assert ministry.get(f"/persons/show/{world.persons['a1']}").status_code == 200
    assert ministry.get("/persons/list/").status_code == 200
    own = login(app.test_client(), world.users["a1"])
    assert own.get(f"/persons/show/{world.persons['a1']}").status_code == 200
    assert own.get(f"/attachments/file/{world.attachments['a1']}").status_code == 200
    assert _rows(app, since, action="view") == []


# --- the audit log cannot be changed ---------------------------------------------------------------

def _snapshot(app, upto):
    with app.app_context():
        return [(r.id, r.created_at, r.user_id, r.username, r.role, r.action, r.object_type, r.object_id, r.summary,
                 r.detail, r.ip) for r in db.session.query(AuditLog).filter(AuditLog.id <= upto).order_by(AuditLog.id)]


@pytest.mark.parametrize("who", ["ministry", "admin"])
def test_audit_rows_cannot_be_changed_or_deleted_through_the_panel_or_the_api(app, world, who):
    client = login(app.test_client(), world.users[who])
    token = csrf_token(client, "/auditlog/list/")
    upto = _last_id(app)
    target = str(upto)
    before = _snapshot(app, upto)
    forged = {"csrf_token": token, "action": "forged", "object_type": "Forged", "username": "nobody", "summary": "x"}
    attempts = [
        ("get", f"/auditlog/edit/{target}", None), ("post", f"/auditlog/edit/{target}", forged),
        ("get", f"/auditlog/delete/{target}", None), ("post", f"/auditlog/delete/{target}", {"csrf_token": token}),
        ("get", "/auditlog/add", None), ("post", "/auditlog/add", forged),
        ("get", "/auditlog/download/x.txt", None),
        ("post", "/auditlog/action_post", {"csrf_token": token, "action": "muldelete", "rowid": [target]}),
        ("post", "/auditlog/action_post", {"csrf_token": token, "action": "delete", "rowid": [target]}),
        ("post", f"/auditlog/action/muldelete/{target}", {"csrf_token": token}),
    ]
    for method, url, data in attempts:
        resp = getattr(client, method)(url, data=data)
        assert resp.status_code in (302, 403, 404, 405), (method, url, resp.status_code)
        if resp.status_code == 302:  # a redirect carries a message
            assert "/auditlog/" in resp.headers["Location"] or "/login" in resp.headers["Location"], (url, resp.headers)
    api = app.test_client()
    headers = _jwt(api, world.users[who])
    for method in ("get", "post", "put", "delete", "patch"):
        for url in ("/api/v1/auditlog/", f"/api/v1/auditlog/{target}", f"/api/v1/auditlogapi/{target}"):
            resp = getattr(api, method)(url, headers=headers, json={"action": "forged"})
            assert resp.status_code in (403, 404, 405), (method, url, resp.status_code)
    assert _snapshot(app, upto) == before
    assert _rows(app, upto, object_type="AuditLog") == []  # nothing was written about an audit row either


# --- searching the audit log -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def probes(app, world):
    """25 failed sign-ins with unknown names probe-<token>-00 … -24, from 10.9.8.7, oldest first."""
    token = uuid.uuid4().hex[:8]
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    start = _last_id(app)
    for n in range(25):
        client.post("/login/", data={"username": f"probe-{token}-{n:02d}", "password": "x" * 8,
                                     **form_tokens(client, "/login/")})
    rows = _rows(app, start, action="login_failed")
    assert len(rows) == 25 and {r.ip for r in rows} == {"10.9.8.7"}
    return {"token": token, "rows": rows}


def _listed(html, token):
    return re.findall(rf"probe-{token}-(\d\d)", html)


@pytest.mark.parametrize("who", ["ministry", "auditor"])
def test_audit_log_search_order_and_pages(app, world, probes, who):
    client = login(app.test_client(), world.users[who])
    token, rows = probes["token"], probes["rows"]

    def listed(query):
        resp = client.get(f"/auditlog/list/?{query}")
        assert resp.status_code == 200
        return _listed(resp.get_data(as_text=True), token)

    # User name (starts with): newest first, twenty to a page, the rest on the next page.
    first = listed(f"_flt_0_username=probe-{token}")
    assert first == [f"{n:02d}" for n in range(24, 4, -1)]
    assert listed(f"_flt_0_username=probe-{token}&page_AuditLogView=1") == ["04", "03", "02", "01", "00"]
    # Address, action, object type and record id, combined with the user name.
    assert len(listed(f"_flt_0_username=probe-{token}&_flt_0_ip=10.9.8.7&psize_AuditLogView=100")) == 25
    assert listed(f"_flt_0_username=probe-{token}&_flt_0_ip=127.0.0.1") == []
    assert len(listed(f"_flt_0_username=probe-{token}&_flt_0_action=login_failed&_flt_0_object_type=AppUser"
                      "&psize_AuditLogView=100")) == 25
    assert listed(f"_flt_0_username=probe-{token}&_flt_0_action=export") == []
    # Time range (after … and before …), in the stored UTC.
    start, end = rows[0].created_at - timedelta(seconds=1), rows[-1].created_at + timedelta(seconds=1)
    fmt = "%Y-%m-%d %H:%M:%S"
    assert len(listed(f"_flt_0_username=probe-{token}&_flt_1_created_at={start:{fmt}}&_flt_2_created_at={end:{fmt}}"
                      "&psize_AuditLogView=100")) == 25
    assert listed(f"_flt_0_username=probe-{token}&_flt_2_created_at={start:{fmt}}") == []
    # Record id (exact): the attachment view of the first test above, or any row's id.
    photo = world.attachments["a1"]
    html = client.get(f"/auditlog/list/?_flt_1_object_id={photo}&_flt_0_object_type=Attachment").get_data(as_text=True)
    assert "Attachment" in html and f"probe-{token}" not in html
    # The row's page shows who, role, address and detail.
    show = client.get(f"/auditlog/show/{rows[0].id}").get_data(as_text=True)
    assert f"probe-{token}-00" in show and "10.9.8.7" in show and "Failed sign-in" in show


@pytest.mark.parametrize("who", ["a1", "ent1", "prov11", "admin", "secadmin"])
def test_other_roles_cannot_open_the_audit_log(app, world, probes, who):
    client = login(app.test_client(), world.users[who])
    assert client.get("/auditlog/list/").status_code == 403
    assert client.get(f"/auditlog/show/{probes['rows'][0].id}").status_code == 403
    assert client.get(f"/auditlog/list/?_flt_0_username=probe-{probes['token']}").status_code == 403


def test_account_changes_by_the_administrator_are_in_the_trail(app):
    """Roles, activation and password of an account: one row each change, the password never in it;
    signing in (bookkeeping columns) adds no account row."""
    from app.accounts import _hash

    with app.app_context():
        username = f.make_user("Enterprise", enterprise_id=f.make_enterprise("11"))
        user = f.user(username)
        user_id = str(user.id)
        user.roles = [db.session.query(user.roles[0].__class__).filter_by(name="Province").one()]
        user.province_code = "11"
        user.active = False
        user.password = _hash("Another@2027x")
        db.session.commit()
        row = (db.session.query(AuditLog).filter_by(object_type="AppUser", object_id=user_id, action="update")
               .order_by(AuditLog.id.desc()).first())
        assert row.detail["roles"] == {"added": ["Province"], "removed": ["Enterprise"]}
        assert row.detail["active"] == [True, False]
        assert row.detail["province_code"] == [None, "11"]
        assert row.detail["password"] == ["(changed)", "(changed)"]
        assert "pbkdf2" not in str(row.detail) and "scrypt" not in str(row.detail)
        created = db.session.query(AuditLog).filter_by(object_type="AppUser", object_id=user_id,
                                                       action="create").one()
        assert created.detail["password"] == "(changed)" and created.detail["roles"] == ["Enterprise"]
        signer = f.make_user("Ministry")
        signer_id = str(f.user(signer).id)
        before = db.session.query(AuditLog).filter_by(object_type="AppUser", object_id=signer_id,
                                                      action="update").count()
    login(app.test_client(), signer)
    with app.app_context():
        assert db.session.query(AuditLog).filter_by(object_type="AppUser", object_id=signer_id,
                                                    action="update").count() == before
