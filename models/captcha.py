"""Image-captcha challenges: a random nonce, used once; only a keyed hash of the answer (app/services/captcha.py)."""
from sqlalchemy import Column, DateTime, Integer, SmallInteger, String

from ground.clock import now_utc

from models.base import Model


class CaptchaChallenge(Model):
    __tablename__ = "captcha_challenge"

    id = Column(Integer, primary_key=True)
    nonce = Column(String(64), nullable=False, unique=True)
    answer_hash = Column(String(64), nullable=False)  # HMAC-SHA256 (SECRET_KEY) of nonce and answer
    length = Column(SmallInteger, nullable=False)  # the answer's length (the image is drawn from the nonce)
    client = Column(String(32), nullable=False, index=True)  # keyed hash of the client's address: the per-client cap
    created_at = Column(DateTime, nullable=False, default=now_utc)
    expires_at = Column(DateTime, nullable=False, index=True)
