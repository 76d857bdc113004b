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


# --- the answer is not stored; the table is bounded ---------------------------------------------------
def test_the_database_holds_no_answer(app, ctx, hook):
    nonce = captcha.new_challenge()
    answer = captcha.peek_answer(nonce)
    row = db.session.query(CaptchaChallenge).filter_by(nonce=nonce).one()
    stored = " ".join(str(getattr(row, c.key)) for c in CaptchaChallenge.__table__.columns)
    assert answer not in stored and answer.lower() not in stored
    assert len(row.answer_hash) == 64 and row.client != "127.0.0.1"
    # The image still shows it: drawn from the answer derived from the nonce with the secret key.
    assert captcha.render_png(nonce) == _png(captcha.draw(answer, seed=nonce.encode()))
    # Another key gives another answer: the nonce alone tells nothing.
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(app.config, "SECRET_KEY", "another key")
        assert not captcha.check(nonce, answer)


def _png(image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _live_rows(client_key=None) -> int:
    query = db.session.query(CaptchaChallenge).filter(CaptchaChallenge.expires_at > clock.now_utc())
    if client_key:
        query = query.filter(CaptchaChallenge.client == client_key)
    return query.count()


def test_150_anonymous_requests_write_at_most_the_cap(app, monkeypatch):
    monkeypatch.setitem(app.config, "CAPTCHA_MAX_PER_CLIENT", 20)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.77.0.1"
    client.get("/lang/en")
    statuses = [client.get("/captcha/new").status_code for _ in range(150)]
    assert statuses.count(200) == 20 and statuses.count(429) == 130
    refused = client.get("/captcha/new")
    assert refused.get_json() == {"message": "Too many verification codes were asked for from your network. Wait 5 "
                                             "minutes, then reload the page."}
    assert refused.headers["Retry-After"] == "300"
    with app.app_context():
        assert _live_rows(captcha.client_key("10.77.0.1")) == 20
    # The sign-in page at the cap: a clear message, no image, no 500; another address is not affected.
    page = client.get("/login/")
    assert page.status_code == 200 and "Too many verification codes" in page.get_data(as_text=True)
    assert "captcha-image" not in page.get_data(as_text=True)
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.77.0.2"
    assert other.get("/captcha/new").status_code == 200


def test_expired_challenges_are_purged_and_free_the_cap(app, monkeypatch):
    monkeypatch.setitem(app.config, "CAPTCHA_MAX_PER_CLIENT", 3)
    with app.test_request_context(environ_base={"REMOTE_ADDR": "10.77.1.1"}):
        nonces = [captcha.new_challenge() for _ in range(3)]
        with pytest.raises(captcha.CaptchaRefused):
            captcha.new_challenge()
        db.session.execute(update(CaptchaChallenge).where(CaptchaChallenge.nonce.in_(nonces))
                           .values(expires_at=clock.now_utc() - timedelta(seconds=1)))
        db.session.commit()
        captcha.new_challenge()
        assert db.session.query(CaptchaChallenge).filter(CaptchaChallenge.nonce.in_(nonces)).count() == 0


def test_the_table_has_a_global_cap(app, monkeypatch):
    with app.app_context():
        live = _live_rows()
    monkeypatch.setitem(app.config, "CAPTCHA_MAX_LIVE", live + 2)
    statuses = []
    for i in range(4):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.77.2.{i}"
        statuses.append(client.get("/captcha/new").status_code)
    assert statuses == [200, 200, 429, 429]


def test_new_challenges_are_rate_limited_per_address(app, database, tmp_path_factory):
    from tests.conftest import another_app

    with another_app(database, tmp_path_factory, RATELIMIT_ENABLED=True, CAPTCHA_RATE_LIMIT="5 per minute") as limited:
        client = limited.test_client()
        client.environ_base["REMOTE_ADDR"] = "10.77.3.1"
        assert [client.get("/captcha/new").status_code for _ in range(6)] == [200] * 5 + [429]
        other = limited.test_client()
        other.environ_base["REMOTE_ADDR"] = "10.77.3.2"
        assert other.get("/captcha/new").status_code == 200
