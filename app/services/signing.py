"""Signed verification tokens for electronic certificates (Ed25519).

The QR code on a certificate copy carries `<payload>.<signature>` (both base64url): the payload is a
short JSON of what the copy shows; the signature is Ed25519 over the payload bytes. The private key
lives in instance/ (created on first use, mode 0600); the public key is published at
/verify/public-key so anyone can check a copy offline. Set CERTIFICATE_SIGNING_KEY to use a key file
managed elsewhere.
"""
import base64
import json
import os
import tempfile
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import current_app
from flask_babel import lazy_gettext as _l

from ground.errors import UserError


class InvalidToken(UserError):
    """A token that is malformed or not signed by this platform's key."""


def _key_path() -> Path:
    configured = current_app.config.get("CERTIFICATE_SIGNING_KEY")
    return Path(configured) if configured else Path(current_app.instance_path) / "certificate_signing_key.pem"


def private_key() -> Ed25519PrivateKey:
    cache = current_app.extensions.setdefault("certificate_signing", {})
    path = _key_path()
    if path not in cache:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            # Written whole to a private temporary file, then linked into place: another worker either
            # finds no key or a complete one, and only the first link wins.
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".key-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(pem)
                os.link(temporary, path)
            except FileExistsError:
                pass
            finally:
                os.unlink(temporary)
        cache[path] = serialization.load_pem_private_key(path.read_bytes(), password=None)
    return cache[path]


def public_key() -> Ed25519PublicKey:
    return private_key().public_key()


def public_key_pem() -> bytes:
    return public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(payload: dict) -> str:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(body)}.{_b64(private_key().sign(body))}"


def verify(token: str) -> dict:
    """The payload of a token signed with our key, or InvalidToken."""
    try:
        body_part, signature_part = (token or "").split(".")
        body, signature = _unb64(body_part), _unb64(signature_part)
        public_key().verify(signature, body)
        payload = json.loads(body)
    except InvalidSignature:
        raise InvalidToken(_l("This code was not issued by the registration system, or it was altered.")) from None
    except (ValueError, TypeError):
        raise InvalidToken(_l("This is not a certificate verification code.")) from None
    if not isinstance(payload, dict):
        raise InvalidToken(_l("This is not a certificate verification code."))
    return payload
