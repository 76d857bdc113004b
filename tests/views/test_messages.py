"""消息中心 (views/notifications.py): own messages only, the unread filter, marking read, where a message leads
for each role (never to what the reader may not see), the navbar badge at one COUNT a page, paging, and a
message a real workflow move wrote."""
import re
import uuid

import pytest
from sqlalchemy import select

from app import notifications
from ground.extensions import db
from models import Application, Certificate, Notification, Registration
from tests import factories as f
from tests.conftest import csrf_token, login


def _send(username, kind="application_approved", subject=None, **params) -> int:
    """One message to the user (a fresh event); returns its id."""
    event = f"test:{uuid.uuid4().hex}"
    params = {"number": "TEST-1", "type": "initial", **params}
    notifications.send(kind, event, [f.user(username)], params, subject)
    db.session.commit()
    return db.session.scalar(select(Notification.id).where(Notification.event == event))


def _rows(html) -> list[str]:
    return re.findall(r'data-message-id="(\d+)"', html)


@pytest.fixture(scope="module")
def world(app):
    """E1 and E2 (Beijing), an applicant at E1 whose application waits for E1, a registered constructor at E1."""
    with app.app_context():
        staff = f.Staff()
        w = type("World", (), {})()
        w.e1, w.e2 = f.make_enterprise("11"), f.make_enterprise("11")
        w.ent1, w.ent2 = staff.enterprise(w.e1), staff.enterprise(w.e2)
        w.applicant, w.person = f.make_applicant()
        w.app = f.make_application(w.applicant, "initial", enterprise_id=w.e1)
        f.move(w.app, "submit", w.applicant)
        w.registered, w.registered_person = f.make_registered(w.e1)
        w.registration = db.session.scalar(select(Registration.id).where(Registration.person_id == w.registered_person))
        w.certificate = db.session.scalar(select(Certificate.id).where(Certificate.person_id == w.registered_person))
        w.other_applicant, _ = f.make_applicant()
        w.ministry = staff.ministry
        w.admin = f.make_user("Admin")
        return w


def test_a_returned_application_reaches_the_applicant_with_the_opinion(app, world):
    with app.app_context():
        enterprise = f.make_enterprise("11")
        enterprise_user = f.make_user("Enterprise", enterprise_id=enterprise)  # before the application arrives
        username, _person = f.make_applicant()
        app_id = f.make_application(username, "initial", enterprise_id=enterprise)
        f.move(app_id, "submit", username)
        number = db.session.get(Application, app_id).number
        f.move(app_id, "return", enterprise_user, opinion="请补交劳动合同扫描件")
    html = login(app.test_client(), username).get("/messages/").get_data(as_text=True)
    assert "was returned for amendment" in html and "Opinion: 请补交劳动合同扫描件" in html and number in html
    assert 'class="label label-primary">Unread<' in html
    # The enterprise had its own message when the application arrived, with its deadline.
    staff_html = login(app.test_client(), enterprise_user).get("/messages/").get_data(as_text=True)
    assert f"submitted application {number}" in staff_html and "for your confirmation" in staff_html


def test_the_list_shows_own_messages_only_and_anothers_id_is_not_found(app, world):
    with app.app_context():
        mine = _send(world.ent2, opinion="x", number="MINE-1")
        theirs = _send(world.other_applicant, number="THEIRS-1")
    client = login(app.test_client(), world.ent2)
    html = client.get("/messages/").get_data(as_text=True)
    assert "MINE-1" in html and "THEIRS-1" not in html and str(theirs) not in _rows(html)
    assert client.get(f"/messages/{theirs}/open").status_code == 404
    token = csrf_token(client, "/messages/")
    assert client.post(f"/messages/{theirs}/read", data={"csrf_token": token}).status_code == 404
    with app.app_context():
        assert db.session.get(Notification, theirs).read_at is None  # untouched by either door
        assert db.session.get(Notification, mine).read_at is None


def test_unread_filter_mark_one_and_mark_all(app):
    with app.app_context():
        username = f.make_user("Province", province_code="31")
        first, second, third = (_send(username, number=f"N-{i}") for i in range(3))
    client = login(app.test_client(), username)
    token = csrf_token(client, "/messages/")
    resp = client.post(f"/messages/{second}/read", data={"csrf_token": token, "show": "unread"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/messages/?show=unread")
    unread_page = client.get("/messages/?show=unread").get_data(as_text=True)
    assert _rows(unread_page) == [str(third), str(first)]
    assert _rows(client.get("/messages/").get_data(as_text=True)) == [str(third), str(second), str(first)]
    assert 'id="messages-badge">2<' in unread_page
    resp = client.post("/messages/read-all", data={"csrf_token": token})
    assert resp.status_code == 302
    html = client.get("/messages/?show=unread").get_data(as_text=True)
    assert _rows(html) == [] and "No unread messages." in html and 'id="messages-badge"><' in html
    assert "Mark all read" not in html
    with app.app_context():
        assert notifications.unread_count(f.user(username)) == 0
    # Without a CSRF token nothing is marked.
    with app.app_context():
        fresh = _send(username)
    assert client.post(f"/messages/{fresh}/read", data={}).status_code == 400
    assert client.post("/messages/read-all", data={}).status_code == 400
    with app.app_context():
        assert notifications.unread_count(f.user(username)) == 1


def _opens(app, username, message_id):
    client = login(app.test_client(), username)
    resp = client.get(f"/messages/{message_id}/open")
    assert resp.status_code == 302
    return resp.headers["Location"], client


def test_the_applicant_lands_on_the_progress_page_and_the_message_is_read(app, world):
    with app.app_context():
        message = _send(world.applicant, "application_returned", f"application:{world.app}", opinion="请补正")
    location, client = _opens(app, world.applicant, message)
    assert location == f"/progress/?kind=regular#application-{world.app}"
    page = client.get(location).get_data(as_text=True)
    assert f'id="application-{world.app}"' in page
    with app.app_context():
        assert db.session.get(Notification, message).read_at is not None


def test_the_enterprise_lands_on_the_application_page(app, world):
    with app.app_context():
        message = _send(world.ent1, "confirmation_requested", f"application:{world.app}", person="某人",
                        deadline="2030-01-01")
    location, client = _opens(app, world.ent1, message)
    assert location == f"/applications/show/{world.app}"
    assert client.get(location).status_code == 200


@pytest.mark.parametrize("who", ["ent2", "other_applicant", "admin"])
def test_a_subject_out_of_the_readers_scope_leads_back_to_the_list(app, world, who):
    username = getattr(world, who)
    with app.app_context():
        message = _send(username, "confirmation_requested", f"application:{world.app}", person="某人",
                        deadline="2030-01-01")
    location, client = _opens(app, username, message)
    assert location == "/messages/"
    html = client.get(location).get_data(as_text=True)
    assert "not available to you" in html and f"/applications/show/{world.app}" not in html
    with app.app_context():
        assert db.session.get(Notification, message).read_at is not None


def test_registrations_and_certificates_lead_each_reader_to_their_page(app, world):
    with app.app_context():
        own_registration = _send(world.registered, "registration_lapsed", f"registration:{world.registration}")
        own_certificate = _send(world.registered, "copy_expiring", f"certificate:{world.certificate}")
        staff_registration = _send(world.ent1, "registration_lapsed", f"registration:{world.registration}")
        staff_certificate = _send(world.ministry, "copy_expiring", f"certificate:{world.certificate}")
        foreign_registration = _send(world.ent2, "registration_lapsed", f"registration:{world.registration}")
        foreign_certificate = _send(world.other_applicant, "copy_expiring", f"certificate:{world.certificate}")
    assert _opens(app, world.registered, own_registration)[0] == "/me/certificates"
    assert _opens(app, world.registered, own_certificate)[0] == "/me/certificates"
    assert _opens(app, world.ent1, staff_registration)[0] == f"/registrations/show/{world.registration}"
    assert _opens(app, world.ministry, staff_certificate)[0] == f"/certificates/show/{world.certificate}"
    assert _opens(app, world.ent2, foreign_registration)[0] == "/messages/"
    assert _opens(app, world.other_applicant, foreign_certificate)[0] == "/messages/"


def test_overdue_and_odd_subjects(app, world):
    with app.app_context():
        overdue = _send(world.ministry, "overdue_digest", "overdue", overdue=2, due=1, days=3)
        admin_overdue = _send(world.admin, "overdue_digest", "overdue", overdue=2, due=1, days=3)
        none = _send(world.ent1)
        odd = [_send(world.ent1, subject=s) for s in ("application:abc", "application:99999999999",
                                                      "//evil.example/x", "http://evil.example/", "application:")]
    with app.test_request_context():
        from flask import url_for
        from werkzeug.routing import BuildError
        try:
            overdue_page = url_for("OverdueView.index")
        except BuildError:
            overdue_page = url_for("MyQueueView.list")
    assert _opens(app, world.ministry, overdue)[0] == overdue_page
    assert _opens(app, world.admin, admin_overdue)[0] == "/messages/"  # no queue for the administrator
    assert _opens(app, world.ent1, none)[0] == "/messages/"
    for message in odd:
        assert _opens(app, world.ent1, message)[0] == "/messages/"
    html = login(app.test_client(), world.ent1).get("/messages/").get_data(as_text=True)
    assert f"/messages/{none}/open" not in html  # nothing to view: no link


def test_applicants_read_it_in_the_personal_edition_staff_in_the_panel(app, world):
    applicant = login(app.test_client(), world.applicant).get("/messages/").get_data(as_text=True)
    assert 'class="list-group side-menu"' in applicant and "Message centre" in applicant
    assert re.search(r'class="list-group-item active" href="/messages/">Message centre', applicant)
    staff = login(app.test_client(), world.ent1).get("/messages/").get_data(as_text=True)
    assert "side-menu" not in staff and 'id="messages-link"' in staff


def test_the_badge_counts_unread_messages_with_one_query_a_page(app, world, count_queries):
    with app.app_context():
        username, _ = f.make_applicant()
        for i in range(3):
            _send(username, number=f"B-{i}")
    client = login(app.test_client(), username)
    for url in ("/me/", "/messages/", "/progress/"):
        client.get(url)  # warm caches
        with count_queries() as counter:
            html = client.get(url).get_data(as_text=True)
        assert 'id="messages-badge">3<' in html, url
        counting = [s for s in counter.statements if "notification" in s.lower() and "count(" in s.lower()]
        unread_counts = [s for s in counting if "read_at is null" in s.lower()]
        assert len(unread_counts) == 1, (url, counting)
    assert 'id="messages-menu-badge">3<' in client.get("/me/").get_data(as_text=True)  # 个人信息's menu
    staff = login(app.test_client(), world.ministry).get("/").get_data(as_text=True)
    assert re.search(r'id="messages-badge">\d*<', staff)


def test_pages_of_twenty_newest_first(app):
    with app.app_context():
        username = f.make_user("Enterprise", enterprise_id=f.make_enterprise("11"))
        ids = [_send(username, number=f"P-{i:02d}") for i in range(45)]
    client = login(app.test_client(), username)
    first = client.get("/messages/").get_data(as_text=True)
    assert _rows(first) == [str(i) for i in reversed(ids[-20:])]
    assert "Page 1 of 3" in first and "/messages/?page=2" in first
    last = client.get("/messages/?page=3").get_data(as_text=True)
    assert _rows(last) == [str(i) for i in reversed(ids[:5])]
    for odd in ("99", "-1", "abc", "²", "9" * 40):
        resp = client.get(f"/messages/?page={odd}")
        assert resp.status_code == 200 and len(_rows(resp.get_data(as_text=True))) in (20, 5)
    token = csrf_token(client, "/messages/")
    resp = client.post(f"/messages/{ids[0]}/read", data={"csrf_token": token, "page": "3"})
    assert resp.headers["Location"].endswith("/messages/?page=3")


def test_empty_message_centre(app):
    with app.app_context():
        username = f.make_user("Ministry")
    html = login(app.test_client(), username).get("/messages/").get_data(as_text=True)
    assert "No messages yet." in html and "Mark all read" not in html and not _rows(html)


def test_chinese_by_default(app, world):
    client = login(app.test_client(), world.applicant, lang="zh")
    resp = client.get("/messages/")
    assert resp.status_code == 200 and "<html" in resp.get_data(as_text=True)
