"""API tokens end with the account's events: a password change (own, SMS reset, the administrator's), web and
API sign-out and deactivation revoke the account's access AND refresh tokens at once; refresh tokens rotate
(the one used stops working, also when two requests race with it)."""
import threading

import pytest

from app import accounts
from ground.extensions import db
from tests import factories as f
from tests.conftest import api_captcha, csrf_token, login

PROBE = "/api/v1/application/?q=(page_size:1)"


def _user(app, role="Ministry"):
    with app.app_context():
        return f.make_user(role)


def _tokens(app, username) -> dict:
    client = app.test_client()
    resp = client.post("/api/v1/security/login", json={"username": username, "password": f.PASSWORD,
                                                       "refresh": True, **api_captcha(client)})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _access_works(app, tokens) -> int:
    return app.test_client().get(PROBE, headers=_bearer(tokens["access_token"])).status_code


def _refresh(app, token):
    return app.test_client().post("/api/v1/security/refresh", headers=_bearer(token))


def _assert_revoked(app, tokens):
    resp = app.test_client().get(PROBE + "&_l_=en", headers=_bearer(tokens["access_token"]))
    assert resp.status_code == 401, resp.get_json()
    assert "Sign in again" in resp.get_json()["message"]
    assert _refresh(app, tokens["refresh_token"]).status_code == 401


def test_tokens_work_until_an_event(app):
    tokens = _tokens(app, _user(app))
    assert _access_works(app, tokens) == 200


def test_own_password_change_revokes_tokens(app):
    username = _user(app)
    tokens = _tokens(app, username)
    client = login(app.test_client(), username)
    resp = client.post("/account/password", data={"csrf_token": csrf_token(client, "/account/password"),
                                                  "old_password": f.PASSWORD, "password": "Neu@Pass2027x",
                                                  "confirm": "Neu@Pass2027x"})
    assert resp.status_code == 302
    _assert_revoked(app, tokens)


def test_sms_password_reset_revokes_tokens(app):
    username = _user(app)
    tokens = _tokens(app, username)
    with app.test_request_context():
        accounts.set_password(f.user(username), "Neu@Pass2027x")
        db.session.commit()
    _assert_revoked(app, tokens)


def test_administrators_reset_revokes_tokens(app):
    username = _user(app)
    tokens = _tokens(app, username)
    admin = login(app.test_client(), _user(app, "Admin"))
    with app.app_context():
        pk = f.user(username).id
    url = f"/resetpassword/form?pk={pk}"
    resp = admin.post(url, data={"csrf_token": csrf_token(admin, url), "password": "Neu@Pass2027x",
                                 "conf_password": "Neu@Pass2027x"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    _assert_revoked(app, tokens)


def test_web_sign_out_revokes_tokens(app):
    username = _user(app)
    tokens = _tokens(app, username)
    client = login(app.test_client(), username)
    assert client.post("/logout/", data={"csrf_token": csrf_token(client, "/")}).status_code == 302
    _assert_revoked(app, tokens)


@pytest.mark.parametrize("kind", ["access_token", "refresh_token"])
def test_api_sign_out_revokes_every_token(app, kind):
    username = _user(app)
    tokens, other_device = _tokens(app, username), _tokens(app, username)
    resp = app.test_client().post("/api/v1/security/logout", headers=_bearer(tokens[kind]))
    assert resp.status_code == 200, resp.get_json()
    _assert_revoked(app, tokens)
    _assert_revoked(app, other_device)
    assert _access_works(app, _tokens(app, username)) == 200  # signing in again works


def test_deactivation_revokes_tokens_for_good(app):
    username = _user(app)
    tokens = _tokens(app, username)
    with app.app_context():
        f.user(username).active = False
        db.session.commit()
        f.user(username).active = True  # reactivated: the old tokens stay revoked
        db.session.commit()
    _assert_revoked(app, tokens)


def test_refresh_rotates_and_the_old_refresh_token_stops_working(app):
    tokens = _tokens(app, _user(app))
    resp = _refresh(app, tokens["refresh_token"])
    assert resp.status_code == 200
    fresh = resp.get_json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert _access_works(app, fresh) == 200
    assert _refresh(app, tokens["refresh_token"]).status_code == 401  # used once
    assert _refresh(app, fresh["refresh_token"]).status_code == 200


def test_racing_refreshes_get_one_new_pair(app):
    token = _tokens(app, _user(app))["refresh_token"]
    codes, barrier = [], threading.Barrier(6)

    def go():
        barrier.wait()
        codes.append(_refresh(app, token).status_code)

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] + [401] * 5, codes
