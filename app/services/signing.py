"""Signed verification tokens for electronic certificates (Ed25519), with a keyring so keys can be rotated.

The QR code on a certificate copy carries `<payload>.<signature>` (both base64url): the payload is a short JSON
of what the copy shows plus `k`, the id of the key that signed it; the signature is Ed25519 over the payload
bytes. A key's id is the first 8 bytes (hex) of the SHA-256 of its raw public key.

The keyring is a folder (CERTIFICATE_SIGNING_KEYS; default instance/signing_keys, shared by every host in
production): `<kid>.pem` private keys, `<kid>.pub.pem` public keys of retired keys whose private part is gone,
and `current` naming the key that signs. `rotate()` (`flask signing-key rotate`) adds a new key and makes it
current; the old keys stay, so copies already printed keep verifying. Verification uses the key the token names;
a token without a key id (printed before key ids existed) is tried against every key. Every public key is
published at /verify/public-keys, the current one at /verify/public-key, so anyone can check a copy offline.

In development a missing keyring is created on first use (and an older single key file,
instance/certificate_signing_key.pem or CERTIFICATE_SIGNING_KEY, becomes its first key); in production
(REGISTRY_ENV=production) it must be provided: server.py refuses to start without one.
"""
import base64
import hashlib
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

CURRENT = "current"


class InvalidToken(UserError):
    """A token that is malformed or not signed by this platform's key."""


class NoSigningKey(RuntimeError):
    """The keyring has no current key (production never generates one)."""


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def keyring_path(config=None, instance_path=None) -> Path:
    config = config if config is not None else current_app.config
    configured = config.get("CERTIFICATE_SIGNING_KEYS")
    return Path(configured) if configured else Path(instance_path or current_app.instance_path) / "signing_keys"


def production_problem(config, instance_path) -> str | None:
    """Why a production process must not start with these settings (None: it may)."""
    if not config.get("SECRET_KEY"):
        return "REGISTRY_ENV=production needs SECRET_KEY or SECRET_KEY_FILE (the same on every host)"
    folder = keyring_path(config, instance_path)
    if not (folder / CURRENT).is_file():
        return (f"REGISTRY_ENV=production needs the certificate signing keys in {folder} (CERTIFICATE_SIGNING_KEYS, "
                "the same folder on every host; `flask signing-key rotate` there makes the first key)")
    return None


def _legacy_key_path() -> Path:
    configured = current_app.config.get("CERTIFICATE_SIGNING_KEY")
    return Path(configured) if configured else Path(current_app.instance_path) / "certificate_signing_key.pem"


def _write_new(path: Path, data: bytes) -> bool:
    """Write `data` to `path` whole, only if it does not exist yet (another host or worker may race)."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".key-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(temporary, 0o600)
        os.link(temporary, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary)


def _private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _add_private(folder: Path, key: Ed25519PrivateKey) -> str:
    kid = key_id(key.public_key())
    _write_new(folder / f"{kid}.pem", _private_pem(key))
    return kid


def _set_current(folder: Path, kid: str) -> None:
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".current-")
    with os.fdopen(fd, "w") as fh:
        fh.write(kid + "\n")
    os.replace(temporary, folder / CURRENT)


def _bootstrap(folder: Path) -> None:
    """Development: the first key (the older single key file if there is one, else a new key)."""
    if current_app.config.get("PRODUCTION"):
        raise NoSigningKey(f"no current certificate signing key in {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    legacy = _legacy_key_path()
    key = (serialization.load_pem_private_key(legacy.read_bytes(), password=None) if legacy.exists()
           else Ed25519PrivateKey.generate())
    kid = _add_private(folder, key)
    if _write_new(folder / CURRENT, (kid + "\n").encode()):
        return
    # Another process made the first key at the same moment: keep its choice.


class Keyring:
    """The keys of one folder, as read at `stamp` (the `current` file's modification time)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.stamp = (folder / CURRENT).stat().st_mtime_ns
        self.current = (folder / CURRENT).read_text().strip()
        self.private: dict[str, Ed25519PrivateKey] = {}
        self.public: dict[str, Ed25519PublicKey] = {}
        for path in sorted(folder.glob("*.pem")):
            if path.name.endswith(".pub.pem"):
                key = serialization.load_pem_public_key(path.read_bytes())
            else:
                private = serialization.load_pem_private_key(path.read_bytes(), password=None)
                key = private.public_key()
                self.private[key_id(key)] = private
            self.public[key_id(key)] = key
        if self.current not in self.private:
            raise NoSigningKey(f"the current key {self.current!r} has no private key in {folder}")


def keyring(reload: bool = False) -> Keyring:
    """This process's copy of the keyring, read again when `current` changed (a rotation on any host)."""
    folder = keyring_path()
    if not (folder / CURRENT).exists():
        _bootstrap(folder)
    cache = current_app.extensions.setdefault("certificate_signing", {})
    ring = cache.get(folder)
    if reload or ring is None or ring.stamp != (folder / CURRENT).stat().st_mtime_ns:
        ring = cache[folder] = Keyring(folder)
    return ring


def private_key() -> Ed25519PrivateKey:
    ring = keyring()
    return ring.private[ring.current]


def public_key() -> Ed25519PublicKey:
    return private_key().public_key()


def public_key_pem() -> bytes:
    return _public_pem(public_key())


def published_keys() -> list[dict]:
    """Every key that verifies: id, PEM, and whether it signs now (current first)."""
    ring = keyring()
    order = sorted(ring.public, key=lambda kid: (kid != ring.current, kid))
    return [{"kid": kid, "current": kid == ring.current, "pem": _public_pem(ring.public[kid]).decode()}
            for kid in order]


def rotate() -> tuple[str | None, str]:
    """A new current key (the first one of an empty keyring too); the previous one stays to verify what it
    signed. Returns (old id or None, new id)."""
    folder = keyring_path()
    folder.mkdir(parents=True, exist_ok=True)
    old = (folder / CURRENT).read_text().strip() if (folder / CURRENT).is_file() else None
    _set_current(folder, _add_private(folder, Ed25519PrivateKey.generate()))
    return old, keyring(reload=True).current


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(payload: dict) -> str:
    ring = keyring()
    body = json.dumps({**payload, "k": ring.current}, ensure_ascii=False, separators=(",", ":"),
                      sort_keys=True).encode()
    return f"{_b64(body)}.{_b64(ring.private[ring.current].sign(body))}"


_NOT_OURS = _l("This code was not issued by the registration system, or it was altered.")
_NOT_A_CODE = _l("This is not a certificate verification code.")


def verify(token: str) -> dict:
    """The payload of a token signed with one of our keys, or InvalidToken."""
    try:
        body_part, signature_part = (token or "").split(".")
        body, signature = _unb64(body_part), _unb64(signature_part)
    except (ValueError, TypeError):
        raise InvalidToken(_NOT_A_CODE) from None
    try:
        payload = json.loads(body)
    except ValueError:  # altered: no key will have signed it
        payload = None
    ring = keyring()
    named = payload.get("k") if isinstance(payload, dict) and isinstance(payload.get("k"), str) else None
    if named is not None and named not in ring.public:
        ring = keyring(reload=True)  # rotated on another host since this process read the keyring
    candidates = [ring.public[named]] if named in ring.public else ([] if named is not None else
                                                                     list(ring.public.values()))
    for key in candidates:
        try:
            key.verify(signature, body)
        except InvalidSignature:
            continue
        if not isinstance(payload, dict):
            raise InvalidToken(_NOT_A_CODE)
        return payload
    raise InvalidToken(_NOT_OURS)
