"""Image captcha: single use, server-side answer, public endpoints."""
import re
import io
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import update

from ground import clock
from ground.extensions import db
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
    assert set(data) == {"nonce", "image"}  # nothing about the answer
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


# --- the image: large, clear glyphs, light noise ------------------------------------------------------
def _dark_box(png: bytes):
    """Bounding box of the dark pixels (the glyphs; the noise is drawn much lighter)."""
    image = Image.open(io.BytesIO(png)).convert("L")
    return image.point(lambda v: 255 if v < 128 else 0).getbbox(), image.size


def test_image_is_large_enough_to_read(ctx):
    assert captcha.WIDTH >= 200 and captcha.HEIGHT >= 64
    png = captcha.render_png(captcha.new_challenge())
    assert Image.open(io.BytesIO(png)).size == (captcha.WIDTH, captcha.HEIGHT)


def test_glyphs_are_large_dark_and_the_noise_light(ctx):
    for _ in range(25):
        box, (width, height) = _dark_box(captcha.render_png(captcha.new_challenge()))
        assert box is not None, "no dark glyphs"
        left, top, right, bottom = box
        assert bottom - top >= max(32, height * 0.5), f"glyphs {bottom - top}px tall in a {height}px image"
        assert right - left >= width * 0.5
        # nothing dark along the border: dark pixels are the text, not noise scattered over the image
        assert left >= 1 and top >= 1 and right <= width - 1 and bottom <= height - 1, box


def test_a_challenge_always_looks_the_same(ctx):
    """Fetching one challenge's image again gives nothing new to average; another challenge looks different."""
    nonce = captcha.new_challenge()
    assert captcha.render_png(nonce) == captcha.render_png(nonce)
    assert captcha.render_png(nonce) != captcha.render_png(captcha.new_challenge())


def test_another_challenge_leaves_the_shown_one_to_expire(ctx, hook):
    """A refresh (GET /captcha/new) only adds a challenge; the replaced one stays single-use until it expires."""
    old = captcha.new_challenge()
    answer = captcha.peek_answer(old)
    new = captcha.new_challenge()
    assert captcha.check(old, answer) and not captcha.check(old, answer)
    assert captcha.render_png(new) is not None


@pytest.mark.parametrize("url", ["/login/", "/signup/", "/reset/", "/verify/"])
def test_pages_show_the_image_at_its_size_and_a_refresh_link(app, client, url):
    html = client.get(url).get_data(as_text=True)
    assert f'width="{captcha.WIDTH}" height="{captcha.HEIGHT}"' in html
    assert 'class="captcha-refresh"' in html and 'data-new-url="/captcha/new"' in html and "fa-refresh" in html
    assert f'href="{url}"' in html  # without JavaScript the link reloads the page
    assert re.search(r'<script src="/static/js/captcha.js(\?v=\w+)?" nonce="', html)
