"""Image-captcha challenges: the answer stays on the server, keyed by a random nonce, used once."""
from sqlalchemy import Column, DateTime, Integer, String

from ground.clock import now_utc

from models.base import Model


class CaptchaChallenge(Model):
    __tablename__ = "captcha_challenge"

    id = Column(Integer, primary_key=True)
    nonce = Column(String(64), nullable=False, unique=True)
    answer = Column(String(16), nullable=False)
    created_at = Column(DateTime, nullable=False, default=now_utc)
    expires_at = Column(DateTime, nullable=False, index=True)
