"""The access matrix: every endpoint of the URL map × every role and an anonymous visitor, checked
against the one policy table in ops/access_policy.py.

Each request uses a record in the principal's own scope; where the policy allows it, the same
request with a record of another enterprise / province / applicant must give 404 (cross-scope).
GET is used where the route has it, else POST with a valid CSRF token and an empty body, which
tests the door without passing through it: "allowed" means the handler ran (it may still refuse
the empty input), never a denial. `MATRIX_DISCOVER=1` prints what the app does, in policy form.
"""
import os
import re
from datetime import date
from urllib.parse import urlparse

import pytest
from sqlalchemy import select

from ops import access_policy as P
from ground.extensions import db
from app import penalties
from app.services import realname
from models import (Application, AppUser, Attachment, AuditLog, CalendarDay, Certificate, Person, Qualification,
                    Registration, SmsOutbox, TransitionLog)
from tests import factories as f
from tests import world as world_module
from tests.conftest import csrf_token, login

def penalty_of(person_id, username) -> int:
    values = {"kind": "administrative_penalty", "ground_code": "practice_violation", "decision_number": "矩阵1号",
              "decided_on": date(2026, 1, 5), "public": True}
    record = penalties.record(f.user(username), db.session.get(Person, person_id), values, "d.pdf", b"%PDF-1.4 x")
    db.session.commit()
    return record.id


_CSRF_META = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture(scope="module")
def world(app):
    with app.app_context():
        w = world_module.build()
        ids = lambda stmt: db.session.execute(stmt).scalars().first()  # noqa: E731
        # The industry department for railway: "ri" registered through its opinion, "i1" awaiting it.
        staff = f.Staff()
        w.users["ind"] = staff.industry(("railway",))
        w.users["ri"], w.persons["ri"], w.apps["ri"] = f.register(staff, w.e1, specialties=("railway",))
        w.certificates["ri"] = ids(select(Certificate.id).where(Certificate.person_id == w.persons["ri"],
                                                               Certificate.status == "valid"))
        username, w.persons["i1"] = f.make_applicant(qualifications=(("railway", 1),))
        w.apps["i1"] = f.make_application(username, "initial", specialties=("railway",), enterprise_id=w.e1)
        staff.take(w.apps["i1"], username, "submit", "confirm", "pass")
        w.users["i1"] = username
        w.attachments["i1"] = ids(select(Attachment.id).where(Attachment.person_id == w.persons["i1"]))
        w.registrations = {k: ids(select(Registration.id).where(Registration.person_id == w.persons[k]))
                           for k in ("r1", "r3", "ri")}
        w.qualifications = {k: ids(select(Qualification.id).where(Qualification.person_id == w.persons[k]))
                            for k in w.persons}
        w.logs = {k: ids(select(TransitionLog.id).where(TransitionLog.application_id == w.apps[k]))
                  for k in ("a1", "a2", "a3", "r1", "r3", "i1", "ri")}
        for k in ("r1", "r3", "ri"):
            w.attachments[k] = ids(select(Attachment.id).where(Attachment.person_id == w.persons[k]))
        w.batch = db.session.get(Application, w.apps["r1"]).announcement_id
        w.registration_number = db.session.get(Registration, w.registrations["r1"]).number
        w.audit = ids(select(AuditLog.id).order_by(AuditLog.id))
        staff = f.Staff()
        w.apps["r1d"] = f.make_application(w.users["r1"], "add_specialty", specialties=("municipal",))  # a draft
        w.apps["p1"] = f.initial_application(staff, "11", "submit", "confirm")[2]  # awaits province 11
        w.apps["m1"] = f.initial_application(staff, "11", "submit", "confirm", "pass")[2]  # awaits the ministry
        db.session.add(SmsOutbox(phone="13800000000", text="test", purpose="test", backend="test"))
        db.session.commit()
        w.sms = ids(select(SmsOutbox.id))
        # A penalty record (with its decision document) of r1 (Beijing) and of r3 (Shanghai), entered by the ministry.
        w.penalties = {k: penalty_of(w.persons[k], staff.ministry) for k in ("r1", "r3", "ri")}
        w.onsite = {}
        for code in ("11", "31"):  # persons waiting for the on-site real-name check
            person = db.session.get(Person, f.make_person(verified=False))
            realname.request_onsite(person, code)
            w.onsite[code] = person.id
        db.session.commit()
        w.user_ids = {k: ids(select(AppUser.id).where(AppUser.username == v)) for k, v in w.users.items()}
        # A calendar row for 节假日与调休's pages, on a day no other test counts deadlines through.
        w.calendar_day = ids(select(CalendarDay.id).where(CalendarDay.day == date(2099, 12, 31)))
        if w.calendar_day is None:
            day = CalendarDay(day=date(2099, 12, 31), is_workday=False, name="matrix", source="admin")
            db.session.add(day)
            db.session.commit()
            w.calendar_day = day.id
        return w


# Which world record each principal treats as its own, and one it must not reach (None: no scope).
# Keys: the applicant is r1 (registered, with a certificate); the enterprise E1 (Beijing); the
# province 11; E2 is another Beijing enterprise, E3 and a3 are in Shanghai.
_PAIRS = {
    "applications": {"Applicant": ("r1", "a2"), "Enterprise": ("a1", "a2"), "Province": ("a1", "a3"),
                     "Ministry": ("a1", None), "Admin": ("a1", None), None: ("a1", None), "Industry": ("i1", "a1"),
                     "SecurityAdmin": ("a1", None), "AuditAdmin": ("a1", None)},
    "queue": {"Applicant": ("r1d", "d1"), "Enterprise": ("a1", "a2"), "Province": ("p1", "a3"),
              "Ministry": ("m1", None), "Admin": ("a1", None), None: ("a1", None), "Industry": ("i1", "a1"),
              "SecurityAdmin": ("a1", None), "AuditAdmin": ("a1", None)},
    "registered": {"Applicant": ("r1", "r3"), "Enterprise": ("r1", "r3"), "Province": ("r1", "r3"),
                   "Ministry": ("r1", None), "Admin": ("r1", None), None: ("r1", None), "Industry": ("ri", "r1"),
                   "SecurityAdmin": ("r1", None), "AuditAdmin": ("r1", None)},
}
_PRINCIPAL_USER = {"Applicant": "r1", "Enterprise": "ent1", "Province": "prov11", "Ministry": "ministry",
                   "Admin": "admin", "Industry": "ind", "SecurityAdmin": "secadmin", "AuditAdmin": "auditor"}


def _record(w, principal, family, table, own=True):
    key = _PAIRS[family][principal][0 if own else 1]
    return None if key is None else table[key]


def _pk(w, view_model, principal, own=True, endpoint=""):
    """The pk a URL of this model uses for this principal (own record, or another scope's)."""
    if endpoint.startswith("MyQueueView."):
        return _record(w, principal, "queue", w.apps, own)
    by_model = {
        "Application": ("applications", w.apps), "Person": ("applications", w.persons),
        "Attachment": ("applications", w.attachments), "TransitionLog": ("applications", w.logs),
        "Certificate": ("registered", w.certificates), "Registration": ("registered", w.registrations),
        "Qualification": ("registered", w.qualifications), "PenaltyRecord": ("registered", w.penalties),
    }
    if view_model in by_model:
        family, table = by_model[view_model]
        return _record(w, principal, family, table, own)
    if not own:
        if view_model == "Enterprise" and principal in ("Enterprise", "Province"):
            return w.e2 if principal == "Enterprise" else w.e3
        return None
    return {"Enterprise": w.e1, "AnnouncementBatch": w.batch, "AuditLog": w.audit, "SmsMessage": w.sms,
            "Province": "11", "Specialty": "building", "AppUser": w.user_ids["r1"],
            "CalendarDay": w.calendar_day}.get(view_model, 1)


def _view_model(app, endpoint):
    view = app.appbuilder.baseviews
    name = endpoint.split(".")[0]
    for v in view:
        if v.__class__.__name__ == name and getattr(v, "datamodel", None) is not None:
            return v.datamodel.obj.__name__
    if name.startswith("exports_"):
        return None
    return None


def _url(app, w, rule, principal, own=True):
    """The URL of `rule` for this principal, or None when there is no record to try (cross-scope)."""
    from flask import url_for

    values = {}
    model = _view_model(app, rule.endpoint)
    extra = P.URL_ARGS.get(rule.endpoint, {})
    for arg in rule.arguments:
        if arg == "name" and rule.endpoint.endswith(".action_post"):
            continue
        if arg in extra:
            values[arg] = extra[arg]
        elif arg == "pk" and rule.endpoint.startswith("RealnameQueueView."):
            if not own and principal != "Province":
                return None
            values[arg] = w.onsite["11" if own else "31"]
        elif arg in ("pk", "batch_id"):
            pk = _pk(w, "AnnouncementBatch" if arg == "batch_id" else (model or "Application"), principal, own,
                     rule.endpoint)
            if pk is None:
                return None
            values[arg] = pk
        elif arg == "number":
            values[arg] = w.registration_number
        else:
            values[arg] = P.DEFAULT_ARGS[arg]
    if not own and not any(a in ("pk", "batch_id") for a in rule.arguments) \
            and not rule.endpoint.endswith(".action_post"):
        return None
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def _action_form(app, w, rule, principal, own=True):
    """The form of a list action (action_post): the action's name and one row, own or another scope's."""
    if not rule.endpoint.endswith(".action_post"):
        return None
    name = P.URL_ARGS.get(rule.endpoint, {}).get("name", P.DEFAULT_ARGS["name"])
    pk = _pk(w, _view_model(app, rule.endpoint) or "Application", principal, own, rule.endpoint)
    return None if pk is None else {"action": name, "rowid": str(pk)}


def _classify(resp) -> str:
    if resp.status_code >= 500:
        return "500"
    if resp.status_code in (301, 302, 303) and urlparse(resp.headers.get("Location", "")).path.startswith("/login"):
        return P.LOGIN
    if resp.status_code == 401:
        return P.LOGIN
    if resp.status_code == 403:
        return P.DENY
    if resp.status_code in (404, 405):
        return P.NOT_FOUND
    return P.ALLOW


class _Client:
    """A signed-in (or anonymous) test client with a CSRF token of its session."""

    def __init__(self, app, w, principal):
        self.client = app.test_client()
        if principal is not None:
            login(self.client, w.users[_PRINCIPAL_USER[principal]], lang="zh")
        self.token = csrf_token(self.client, "/login/" if principal is None else "/")

    def request(self, rule, url, form=None):
        api = url.startswith("/api/")
        if "GET" in rule.methods and not rule.endpoint.endswith(".action"):
            return self.client.get(url)
        method = "POST" if "POST" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        if api:
            return self.client.open(url, method=method, json={}, headers={"X-CSRFToken": self.token})
        return self.client.open(url, method=method, data={"csrf_token": self.token, **(form or {})})


def _rules(app):
    return sorted((r for r in app.url_map.iter_rules() if r.endpoint not in P.SKIPPED_ENDPOINTS),
                  key=lambda r: (r.rule, r.endpoint))


def test_every_endpoint_has_exactly_one_policy_row_and_every_row_is_used(app):
    endpoints = {r.endpoint for r in _rules(app)}
    missing = sorted(e for e in endpoints if P.row_for(e) is None)
    assert not missing, f"endpoints without a policy row in ops/access_policy.py: {missing}"
    unused = [row.pattern for row in P.POLICY if not any(row.matches(e) for e in endpoints)]
    assert not unused, f"policy rows that match no endpoint: {unused}"


@pytest.mark.parametrize("principal", P.PRINCIPALS, ids=lambda p: p or "anonymous")
def test_access_matrix(app, world, principal):
    client = _Client(app, world, principal)
    observed, wrong, cross, cross_checked = {}, [], [], []
    logout = None
    for rule in _rules(app):
        if rule.endpoint == "AppAuthDBView.logout":
            logout = rule  # signs the client out: last
            continue
        row = P.row_for(rule.endpoint)
        url = _url(app, world, rule, principal)
        got = _classify(client.request(rule, url, _action_form(app, world, rule, principal)))
        observed[rule.endpoint] = got
        if row is None:
            wrong.append(f"{rule.endpoint}: no policy row")
            continue
        expected = row.outcome(principal)
        if got != expected:
            wrong.append(f"{rule.endpoint} {url}: expected {expected}, got {got}")
        if expected == P.ALLOW and row.scoped:
            other = _url(app, world, rule, principal, own=False)
            other_form = _action_form(app, world, rule, principal, own=False)
            if other is not None and (other_form is not None or not rule.endpoint.endswith(".action_post")):
                got_other = _classify(client.request(rule, other, other_form))
                cross_checked.append(rule.endpoint)
                if got_other != P.NOT_FOUND:
                    cross.append(f"{rule.endpoint} {other}: another scope's record gave {got_other}, not 404")
    if logout is not None:
        got = _classify(client.request(logout, "/logout/"))
        observed[logout.endpoint] = got
        if P.row_for(logout.endpoint) and got != P.row_for(logout.endpoint).outcome(principal):
            wrong.append(f"logout: got {got}")
    if os.environ.get("MATRIX_DISCOVER"):
        print("\nDISCOVER", principal, observed)
    assert not wrong, "\n".join(wrong)
    if principal in ("Applicant", "Enterprise", "Province", "Industry"):  # every door of a scoped record was tried
        assert {"AttachmentsView.file", "CertificatesView.pdf", "ApplicationsView.pdf", "ApplicationsApi.get",
                "PersonsView.show", "MyQueueView.show"} <= set(cross_checked), cross_checked
    assert not cross, "\n".join(cross)
