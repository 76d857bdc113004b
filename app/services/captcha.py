"""Image captcha: the answer stays on the server under a random nonce and is consumed by its first check.

Nothing about the challenge goes into the cookie session; the client only ever holds the nonce.
"""
import hmac
import secrets
from datetime import timedelta

from captcha.image import ImageCaptcha
from flask import current_app
from sqlalchemy import delete, select

from app import clock
from app.extensions import db
from models import CaptchaChallenge

# No 0/O, 1/I/L: characters people confuse on a noisy image.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
WIDTH, HEIGHT = 120, 44


def new_challenge() -> str:
    """Store a fresh challenge, drop expired ones, commit; returns the nonce."""
    now = clock.now_utc()
    length = current_app.config["CAPTCHA_LENGTH"]
    answer = "".join(secrets.choice(ALPHABET) for _ in range(length))
    nonce = secrets.token_urlsafe(24)
    db.session.execute(delete(CaptchaChallenge).where(CaptchaChallenge.expires_at < now)
                       .execution_options(synchronize_session=False))
    db.session.add(CaptchaChallenge(nonce=nonce, answer=answer, created_at=now,
                                    expires_at=now + timedelta(seconds=current_app.config["CAPTCHA_TTL_SECONDS"])))
    db.session.commit()
    return nonce


def _live(nonce: str) -> CaptchaChallenge | None:
    if not nonce:
        return None
    return db.session.scalar(select(CaptchaChallenge).where(CaptchaChallenge.nonce == nonce,
                                                            CaptchaChallenge.expires_at > clock.now_utc()))


def render_png(nonce: str) -> bytes | None:
    """The challenge drawn as a PNG, or None if the nonce is unknown or expired. Does not consume it."""
    challenge = _live(nonce)
    if challenge is None:
        return None
    image = ImageCaptcha(width=WIDTH, height=HEIGHT, font_sizes=(34, 38, 42))
    return image.generate(challenge.answer, format="png").getvalue()


def check(nonce: str, answer: str) -> bool:
    """True if the answer matches (case-insensitive). The challenge is deleted whatever the result.

    Deletes and commits at once (one DELETE ... RETURNING, so two checks of one nonce cannot both
    pass); any changes the caller has pending in the session are committed with it.
    """
    if not nonce:
        return False
    row = db.session.execute(
        delete(CaptchaChallenge).where(CaptchaChallenge.nonce == nonce)
        .returning(CaptchaChallenge.answer, CaptchaChallenge.expires_at)
        .execution_options(synchronize_session=False)
    ).first()
    db.session.commit()
    if row is None or row.expires_at <= clock.now_utc():
        return False
    given = "".join((answer or "").split()).upper()
    return hmac.compare_digest(given.encode(), row.answer.upper().encode())


def peek_answer(nonce: str) -> str:
    """Test-only: the stored answer, not consumed. Refuses unless TESTING and CAPTCHA_TEST_HOOK are on."""
    if not (current_app.testing and current_app.config.get("CAPTCHA_TEST_HOOK")):
        raise RuntimeError("captcha.peek_answer is a test hook (needs TESTING and CAPTCHA_TEST_HOOK)")
    answer = db.session.scalar(select(CaptchaChallenge.answer).where(CaptchaChallenge.nonce == nonce))
    if answer is None:
        raise LookupError("unknown captcha nonce")
    return answer
