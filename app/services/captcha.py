"""Image captcha: the answer stays on the server under a random nonce and is consumed by its first check.

Nothing about the challenge goes into the cookie session; the client only ever holds the nonce and the image.
The database holds no answer either: the answer is derived from the nonce with a key (HMAC with SECRET_KEY), so
the image can be drawn on request, and the row keeps only a keyed hash of it (checked in constant time), its
length, its expiry and a keyed hash of the client's address.

The table is bounded: creating a challenge purges expired ones and is refused (CaptchaRefused, a translated
message) when the client's address already holds CAPTCHA_MAX_PER_CLIENT live challenges or the table holds
CAPTCHA_MAX_LIVE; GET /captcha/new is rate-limited per address (CAPTCHA_RATE_LIMIT, shared through Redis).

The image (WIDTH × HEIGHT) is drawn for people first: large dark glyphs of the bundled DroidSansMono font,
slightly turned and shifted, a gentle wave, light noise behind them; no characters people confuse.
A challenge always looks the same (its drawing is seeded by nonce and answer), so fetching its image again
gives nothing new to average.

"Another one" (security/_captcha.html, static/js/captcha.js) asks GET /captcha/new for a fresh nonce and
swaps image and hidden nonce in place. The replaced challenge is not deleted: the page no longer holds its
nonce, it is still single-use, and it expires after CAPTCHA_TTL_SECONDS like any unanswered one (a client
that kept it gains nothing over asking for a new one).
"""
import hashlib
import hmac
import io
import math
import random
import secrets
from datetime import timedelta

from captcha.image import DEFAULT_FONTS
from flask import current_app, has_request_context, request
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import delete, func, select

from ground import clock
from ground.errors import UserError
from ground.extensions import db
from models import CaptchaChallenge

# No 0/O, 1/I/L: characters people confuse.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
WIDTH, HEIGHT = 200, 64
FONT = DEFAULT_FONTS[0]  # DroidSansMono, shipped with the captcha package
MARGIN = 4  # glyphs never touch the border


class CaptchaRefused(UserError):
    """Too many live challenges for this address (or in all): no new one until some expire."""


def _keyed(*parts: str, key: str | bytes | None = None) -> str:
    key = current_app.config["SECRET_KEY"] if key is None else key
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, "\0".join(parts).encode(), hashlib.sha256).hexdigest()


def _answer_of(nonce: str, length: int, key: str | bytes | None = None) -> str:
    """The answer drawn for `nonce` (every host with the same SECRET_KEY draws the same)."""
    rng = random.Random(_keyed("captcha-answer", nonce, key=key))
    return "".join(rng.choice(ALPHABET) for _ in range(length))


def _answer_hash(nonce: str, answer: str) -> str:
    return _keyed("captcha-check", nonce, answer.upper())


def client_key(address: str | None = None) -> str:
    """The client's address as a keyed hash (the table never holds addresses)."""
    if address is None:
        address = (request.remote_addr if has_request_context() else None) or ""
    return _keyed("captcha-client", address)[:32]


def new_challenge(address: str | None = None) -> str:
    """Store a fresh challenge, drop expired ones, commit; returns the nonce. Raises CaptchaRefused at the caps."""
    now = clock.now_utc()
    config = current_app.config
    client = client_key(address)
    db.session.execute(delete(CaptchaChallenge).where(CaptchaChallenge.expires_at < now)
                       .execution_options(synchronize_session=False))
    mine = db.session.scalar(select(func.count()).select_from(CaptchaChallenge)
                             .where(CaptchaChallenge.client == client))
    everyone = db.session.scalar(select(func.count()).select_from(CaptchaChallenge))
    if mine >= config["CAPTCHA_MAX_PER_CLIENT"] or everyone >= config["CAPTCHA_MAX_LIVE"]:
        db.session.commit()  # the purge
        raise CaptchaRefused(_l("Too many verification codes were asked for from your network. Wait %(minutes)s "
                                "minutes, then reload the page.",
                                minutes=max(1, math.ceil(config["CAPTCHA_TTL_SECONDS"] / 60))))
    length = config["CAPTCHA_LENGTH"]
    nonce = secrets.token_urlsafe(24)
    db.session.add(CaptchaChallenge(nonce=nonce, answer_hash=_answer_hash(nonce, _answer_of(nonce, length)),
                                    length=length, client=client, created_at=now,
                                    expires_at=now + timedelta(seconds=config["CAPTCHA_TTL_SECONDS"])))
    db.session.commit()
    return nonce


def _live(nonce: str) -> CaptchaChallenge | None:
    if not nonce:
        return None
    return db.session.scalar(select(CaptchaChallenge).where(CaptchaChallenge.nonce == nonce,
                                                            CaptchaChallenge.expires_at > clock.now_utc()))


def _color(rng: random.Random, low: int, high: int) -> tuple[int, int, int]:
    return tuple(rng.randint(low, high) for _ in range(3))


def _glyph(rng: random.Random, char: str, size: int) -> Image.Image:
    """One character, dark, drawn a little bold, turned by up to 12°, cropped to its ink."""
    font = ImageFont.truetype(FONT, size)
    canvas = Image.new("RGBA", (size * 2, size * 2), (0, 0, 0, 0))
    color = (*_color(rng, 10, 90), 255)
    ImageDraw.Draw(canvas).text((size, size), char, font=font, fill=color, anchor="mm",
                                stroke_width=1, stroke_fill=color)
    canvas = canvas.rotate(rng.uniform(-12, 12), Image.Resampling.BICUBIC, expand=True)
    return canvas.crop(canvas.getbbox())


def _wave(rng: random.Random, image: Image.Image) -> Image.Image:
    """Shift columns up and down along a gentle sine (amplitude 2 px) via a mesh of narrow strips."""
    width, height = image.size
    amplitude, period, phase = 2.0, rng.uniform(90, 140), rng.uniform(0, 2 * math.pi)
    mesh = []
    for x in range(0, width, 8):
        x2 = min(x + 8, width)
        dy1 = amplitude * math.sin(2 * math.pi * x / period + phase)
        dy2 = amplitude * math.sin(2 * math.pi * x2 / period + phase)
        # quad corners in the source: upper left, lower left, lower right, upper right
        mesh.append(((x, 0, x2, height), (x, dy1, x, height + dy1, x2, height + dy2, x2, dy2)))
    background = image.getpixel((0, 0))
    return image.transform(image.size, Image.Transform.MESH, mesh, Image.Resampling.BICUBIC, fillcolor=background)


def draw(answer: str, seed: bytes = b"") -> Image.Image:
    """The answer drawn as an RGB image, WIDTH × HEIGHT; the same seed gives the same image."""
    rng = random.Random(hashlib.sha256(seed + answer.encode()).digest())
    background = _color(rng, 240, 255)
    image = Image.new("RGB", (WIDTH, HEIGHT), background)
    pen = ImageDraw.Draw(image)
    # Light noise, behind the text and much lighter than it.
    for _ in range(2):
        box = (rng.randint(-40, 40), rng.randint(-10, HEIGHT // 2),
               rng.randint(WIDTH - 40, WIDTH + 40), rng.randint(HEIGHT // 2, HEIGHT + 10))
        pen.arc(box, rng.randint(150, 200), rng.randint(330, 380), fill=_color(rng, 170, 215), width=2)
    for _ in range(60):
        x, y = rng.randrange(WIDTH), rng.randrange(HEIGHT)
        pen.ellipse((x, y, x + 2, y + 2), fill=_color(rng, 170, 225))

    slot = (WIDTH - 2 * 12) / len(answer)
    size = int(min(HEIGHT * 0.8, slot * 1.5))
    glyphs = [_glyph(rng, char, size) for char in answer]
    for i, glyph in enumerate(glyphs):
        w, h = glyph.size
        x = 12 + slot * (i + 0.5) - w / 2 + rng.uniform(-3, 3)
        y = (HEIGHT - h) / 2 + rng.uniform(-4, 4)
        x = min(max(x, MARGIN), WIDTH - MARGIN - w)
        y = min(max(y, MARGIN), HEIGHT - MARGIN - h)
        image.paste(glyph, (round(x), round(y)), glyph)
    return _wave(rng, image)


def render_png(nonce: str) -> bytes | None:
    """The challenge drawn as a PNG, or None if the nonce is unknown or expired. Does not consume it."""
    challenge = _live(nonce)
    if challenge is None:
        return None
    out = io.BytesIO()
    draw(_answer_of(nonce, challenge.length), seed=nonce.encode()).save(out, format="PNG", optimize=True)
    return out.getvalue()


def check(nonce: str, answer: str) -> bool:
    """True if the answer matches (case-insensitive). The challenge is deleted whatever the result.

    Deletes and commits at once (one DELETE ... RETURNING, so two checks of one nonce cannot both
    pass); any changes the caller has pending in the session are committed with it.
    """
    if not nonce:
        return False
    row = db.session.execute(
        delete(CaptchaChallenge).where(CaptchaChallenge.nonce == nonce)
        .returning(CaptchaChallenge.answer_hash, CaptchaChallenge.expires_at)
        .execution_options(synchronize_session=False)
    ).first()
    db.session.commit()
    if row is None or row.expires_at <= clock.now_utc():
        return False
    given = "".join((answer or "").split())[:16]
    return hmac.compare_digest(_answer_hash(nonce, given), row.answer_hash)


def peek_answer(nonce: str) -> str:
    """Test-only: the stored answer, not consumed. Refuses unless TESTING and CAPTCHA_TEST_HOOK are on."""
    if not (current_app.testing and current_app.config.get("CAPTCHA_TEST_HOOK")):
        raise RuntimeError("captcha.peek_answer is a test hook (needs TESTING and CAPTCHA_TEST_HOOK)")
    length = db.session.scalar(select(CaptchaChallenge.length).where(CaptchaChallenge.nonce == nonce))
    if length is None:
        raise LookupError("unknown captcha nonce")
    return _answer_of(nonce, length)
