"""API tokens (flask-jwt-extended under FAB's SecurityApi): revocable, and refresh tokens used once.

Every token carries the account's `token_stamp` (models/user.py) in the claim "stamp". The JWT user loader
(SecurityManager.load_user_jwt) refuses a token whose stamp is not the account's current one, so a new
password (own, by SMS or the administrator's), deactivation and sign-out (web or API) end every token of the
account at once, on every host, without a shared list.

A refresh token is used once. Its id (jti) is kept hashed as an API session (models.UserSession, opened at
sign-in); a refresh swaps the stored hash for the new token's in one guarded UPDATE, so the old refresh token,
and a second request racing with the first, get 401. The chain keeps the absolute lifetime of a web session
(SESSION_LIFETIME_HOURS from sign-in).
"""
import hashlib
import uuid
from datetime import timedelta

from flask import current_app, request
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy import update

from ground.clock import now_utc
from ground.extensions import db
from models import UserSession

STAMP = "stamp"


def _digest(jti: str) -> str:
    return hashlib.sha256(f"api-refresh:{jti}".encode()).hexdigest()  # never equal to a web session's hash


def accepted(jwt_data: dict, user) -> bool:
    """Whether a token (access or refresh) still stands for the account."""
    return jwt_data.get(STAMP) == (user.token_stamp or 0)


def _tokens(user, *, fresh: bool, refresh_for: timedelta | None) -> tuple[dict, str | None]:
    claims = {STAMP: user.token_stamp or 0}
    tokens = {"access_token": create_access_token(identity=str(user.id), fresh=fresh, additional_claims=claims)}
    if refresh_for is None:
        return tokens, None
    jti = uuid.uuid4().hex
    tokens["refresh_token"] = create_refresh_token(identity=str(user.id), expires_delta=refresh_for,
                                                   additional_claims={**claims, "jti": jti})
    return tokens, jti


def issue(user, refresh: bool) -> dict:
    """Tokens at sign-in; with a refresh token, an API session to rotate it in (the caller commits)."""
    lifetime = timedelta(hours=current_app.config["SESSION_LIFETIME_HOURS"])
    tokens, jti = _tokens(user, fresh=True, refresh_for=lifetime if refresh else None)
    if jti:
        db.session.add(UserSession(user_id=user.id, token_hash=_digest(jti), ip=request.remote_addr))
    return tokens


def rotate(jwt_data: dict, user) -> dict | None:
    """A new access and refresh token for a refresh token used for the first time; None if it was used
    before, or its chain is over. Commits."""
    old = _digest(jwt_data.get("jti") or "")
    row = db.session.query(UserSession).filter_by(token_hash=old, user_id=user.id, ended_at=None).one_or_none()
    now = now_utc()
    left = row.created_at + timedelta(hours=current_app.config["SESSION_LIFETIME_HOURS"]) - now if row else None
    if left is None or left <= timedelta(0):
        return None
    tokens, jti = _tokens(user, fresh=False, refresh_for=left)
    swapped = db.session.execute(
        update(UserSession).where(UserSession.id == row.id, UserSession.token_hash == old,
                                  UserSession.ended_at.is_(None))
        .values(token_hash=_digest(jti), last_seen_at=now)).rowcount
    if swapped != 1:  # another request used it first
        db.session.rollback()
        return None
    db.session.commit()
    return tokens
