"""A move submitted again (a double click, a resent form, ten clients at once) answers "already handled by …
at …": a flash and the application's page on the web (never a 404 for a record the user still sees), a 409 from
the API; exactly one move is made."""
import re
import threading

import pytest

from ground.extensions import db
from models import Application, TransitionLog
from tests import factories as f
from tests.conftest import api_captcha, csrf_token, login


def _submitted(app):
    with app.app_context():
        staff = f.Staff()
        _, _, app_id = f.initial_application(staff, "11", "submit")
        application = db.session.get(Application, app_id)
        return staff, app_id, staff.enterprise(application.enterprise_id)


def _confirm_form(client, url):
    page = client.get(url).get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    return {"csrf_token": csrf_token(client, url), "version": version, "attested": "y", "opinion": "属实。"}


def _moves(app, app_id, action):
    with app.app_context():
        return db.session.query(TransitionLog).filter_by(application_id=app_id, action=action).count()


def _assert_handled_page(client, resp, app_id):
    assert resp.status_code == 302, resp.status_code
    assert resp.headers["Location"].endswith(f"/applications/show/{app_id}")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Already handled by" in page, page[:2000]


def test_confirm_sent_ten_times_is_one_move_and_nine_clear_answers(app):
    _, app_id, enterprise = _submitted(app)
    client = login(app.test_client(), enterprise)
    url = f"/myqueue/transition/{app_id}/confirm"
    form = _confirm_form(client, url)
    first = client.post(url, data=form)
    assert first.status_code == 302 and "/show/" not in first.headers["Location"]
    client.get(first.headers["Location"])  # the success message is read
    for _ in range(9):
        _assert_handled_page(client, client.post(url, data=form), app_id)
    with app.app_context():
        name = f.user(enterprise).get_full_name()
    page = client.get(f"/applications/show/{app_id}").get_data(as_text=True)
    client.post(url, data=form)
    flashed = client.get(f"/applications/show/{app_id}").get_data(as_text=True)
    assert re.search(r"Already handled by [^<]*" + re.escape(name) + r" at \d{4}-\d\d-\d\d \d\d:\d\d", flashed)
    assert "Already handled" not in page  # shown once, for the resubmission
    assert _moves(app, app_id, "confirm") == 1


def test_confirm_answers_in_chinese_too(app):
    _, app_id, enterprise = _submitted(app)
    client = login(app.test_client(), enterprise, lang="zh")
    url = f"/myqueue/transition/{app_id}/confirm"
    form = _confirm_form(client, url)
    client.post(url, data=form)
    resp = client.post(url, data=form, follow_redirects=True)
    assert resp.status_code == 200 and "已由" in resp.get_data(as_text=True)


def test_a_record_outside_the_users_scope_is_still_404(app):
    _, app_id, _ = _submitted(app)
    with app.app_context():
        stranger = f.make_user("Enterprise", enterprise_id=f.make_enterprise("11"))
    client = login(app.test_client(), stranger)
    url = f"/myqueue/transition/{app_id}/confirm"
    assert client.post(url, data={"csrf_token": csrf_token(client, "/")}).status_code == 404


def _api_headers(app, username):
    client = app.test_client()
    resp = client.post("/api/v1/security/login", json={"username": username, "password": f.PASSWORD,
                                                       **api_captcha(client)})
    return {"Authorization": f"Bearer {resp.get_json()['access_token']}"}


def _confirmed(app):
    staff, app_id, enterprise = _submitted(app)
    with app.app_context():
        staff.take(app_id, None, "confirm")
        application = db.session.get(Application, app_id)
        return app_id, staff.province(application.province_code), application.version


def test_api_pass_sent_ten_times_gives_one_200_and_nine_409(app):
    app_id, province, version = _confirmed(app)
    headers = _api_headers(app, province)
    client = app.test_client()
    url = f"/api/v1/application/{app_id}/transition/pass?_l_=en"
    answers = [client.post(url, json={"opinion": "同意。", "version": version}, headers=headers) for _ in range(10)]
    assert answers[0].status_code == 200, answers[0].get_json()
    for resp in answers[1:]:
        assert resp.status_code == 409, resp.get_json()
        assert resp.get_json()["message"].startswith("Already handled by"), resp.get_json()
    assert _moves(app, app_id, "pass") == 1


def _at_once(count, call):
    barrier, codes, lock = threading.Barrier(count), [], threading.Lock()

    def go(i):
        barrier.wait()
        result = call(i)
        with lock:
            codes.append(result)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return codes


def test_ten_confirmations_at_once(app, backend):
    if backend != "postgresql":
        pytest.skip("needs a server database with row locks (set TEST_DATABASE_URL)")
    _, app_id, enterprise = _submitted(app)
    url = f"/myqueue/transition/{app_id}/confirm"
    clients = [login(app.test_client(), enterprise) for _ in range(10)]
    forms = [_confirm_form(c, url) for c in clients]
    answers = _at_once(10, lambda i: (i, clients[i].post(url, data=forms[i])))  # in the order they finish
    done = [(i, r) for i, r in answers if "/show/" not in r.headers.get("Location", "")]
    assert len(done) == 1 and all(r.status_code == 302 for _, r in answers), [r.status_code for _, r in answers]
    for i, resp in answers:
        if i != done[0][0]:
            page = clients[i].get(resp.headers["Location"]).get_data(as_text=True)
            assert "Already handled by" in page, re.findall(r'class="alert[^"]*"[^>]*>(.*?)</div>', page, re.S)
    assert _moves(app, app_id, "confirm") == 1


def test_ten_api_passes_at_once(app, backend):
    if backend != "postgresql":
        pytest.skip("needs a server database with row locks (set TEST_DATABASE_URL)")
    app_id, province, version = _confirmed(app)
    headers = _api_headers(app, province)
    url = f"/api/v1/application/{app_id}/transition/pass?_l_=en"
    answers = _at_once(10, lambda i: app.test_client().post(url, json={"opinion": "同意。", "version": version},
                                                             headers=headers))
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] + [409] * 9, codes
    assert all(r.get_json()["message"].startswith("Already handled by") for r in answers if r.status_code == 409)
    assert _moves(app, app_id, "pass") == 1
