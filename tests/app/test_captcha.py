"""Image captcha: single use, server-side answer, public endpoints."""
import io
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import update

from app import clock
from app.extensions import db
from app.services import captcha
from models import CaptchaChallenge


@pytest.fixture
def hook(app, monkeypatch):
    monkeypatch.setitem(app.config, "CAPTCHA_TEST_HOOK", True)


def test_right_answer_passes_once(ctx, hook):
    nonce = captcha.new_challenge()
    answer = captcha.peek_answer(nonce)
    assert len(answer) == 4 and not set(answer) & set("0O1IL")
    assert captcha.check(nonce, answer)
    assert not captcha.check(nonce, answer)


def test_wrong_answer_consumes_the_challenge(ctx, hook):
    nonce = captcha.new_challenge()
    answer = captcha.peek_answer(nonce)
    assert not captcha.check(nonce, "zzzzz")
    assert not captcha.check(nonce, answer)
    assert captcha.render_png(nonce) is None


def test_answer_is_case_insensitive_and_trimmed(ctx, hook):
    nonce = captcha.new_challenge()
    assert captcha.check(nonce, f"  {captcha.peek_answer(nonce).lower()} ")


def test_expired_challenge_fails(ctx, hook):
    nonce = captcha.new_challenge()
    answer = captcha.peek_answer(nonce)
    db.session.execute(update(CaptchaChallenge).where(CaptchaChallenge.nonce == nonce)
                       .values(expires_at=clock.now_utc() - timedelta(seconds=1)))
    db.session.commit()
    assert captcha.render_png(nonce) is None
    assert not captcha.check(nonce, answer)


def test_unknown_or_empty_nonce_fails(ctx):
    assert not captcha.check("no-such-nonce", "ABCD")
    assert not captcha.check("", "")
    assert captcha.render_png("no-such-nonce") is None


def test_render_png_is_a_png(ctx):
    png = captcha.render_png(captcha.new_challenge())
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (captcha.WIDTH, captcha.HEIGHT)


def test_peek_answer_is_refused_without_the_hook(app, ctx, monkeypatch):
    nonce = captcha.new_challenge()
    monkeypatch.setitem(app.config, "CAPTCHA_TEST_HOOK", False)
    with pytest.raises(RuntimeError):
        captcha.peek_answer(nonce)
    monkeypatch.setitem(app.config, "CAPTCHA_TEST_HOOK", True)
    monkeypatch.setattr(app, "testing", False)
    with pytest.raises(RuntimeError):
        captcha.peek_answer(nonce)


def test_anonymous_endpoints(app, client, hook):
    resp = client.get("/captcha/new")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    data = resp.get_json()
    assert data["image"] == f"/captcha/{data['nonce']}.png"
    image = client.get(data["image"])
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert image.headers["Cache-Control"] == "no-store"
    Image.open(io.BytesIO(image.data)).verify()
    assert client.get("/captcha/unknown-nonce.png").status_code == 404

    with app.app_context():
        answer = captcha.peek_answer(data["nonce"])
    cookie = client.get_cookie("session")
    if cookie is not None:
        assert answer not in cookie.value
        session = app.session_interface.get_signing_serializer(app).loads(cookie.value)
        assert answer not in repr(session)
    with app.app_context():
        assert captcha.check(data["nonce"], answer)
    assert client.get(data["image"]).status_code == 404
