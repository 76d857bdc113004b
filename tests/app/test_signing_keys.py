"""The certificate signing keyring (app/services/signing.py): codes name their key, a rotation keeps older copies
verifying (also when another host rotated), codes printed before key ids existed still verify, every key in use is
published; and production refuses to start without the secrets every host must share."""
import base64
import json

import pytest
from flask_babel import force_locale
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.services import signing
from ground.extensions import db
from models import AuditLog
from server import refuse_unsafe_production

PAYLOAD = {"c": "202600000001", "r": "京1112024202600001", "h": "王建国", "u": "2027-06-01", "t": "cert"}


@pytest.fixture
def keys(app, tmp_path, monkeypatch):
    """A keyring of this test's own."""
    monkeypatch.setitem(app.config, "CERTIFICATE_SIGNING_KEYS", str(tmp_path / "keys"))
    monkeypatch.setitem(app.config, "CERTIFICATE_SIGNING_KEY", str(tmp_path / "no-legacy-key.pem"))
    with app.app_context(), force_locale("en"):
        yield tmp_path / "keys"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_code_names_its_key_and_keeps_verifying_after_a_rotation(keys):
    old_token = signing.sign(PAYLOAD)
    first = signing.keyring().current
    assert signing.verify(old_token) == {**PAYLOAD, "k": first}

    previous, current = signing.rotate()
    assert previous == first and current != first
    new_token = signing.sign(PAYLOAD)
    assert signing.verify(new_token)["k"] == current
    assert signing.verify(old_token)["k"] == first  # printed before the rotation: still genuine
    published = signing.published_keys()
    assert [k["kid"] for k in published] == [current, first] and [k["current"] for k in published] == [True, False]
    for key in published:
        assert key["kid"] == signing.key_id(serialization.load_pem_public_key(key["pem"].encode()))


def test_a_retired_key_kept_as_public_only_still_verifies(keys):
    old_token = signing.sign(PAYLOAD)
    first = signing.keyring().current
    signing.rotate()
    private = keys / f"{first}.pem"
    public = signing.keyring().public[first]
    (keys / f"{first}.pub.pem").write_bytes(public.public_bytes(serialization.Encoding.PEM,
                                                                serialization.PublicFormat.SubjectPublicKeyInfo))
    private.unlink()  # the private part destroyed after the rotation
    assert signing.verify(old_token)["k"] == first
    assert first not in signing.keyring(reload=True).private


def test_unknown_key_forged_key_and_altered_codes_are_refused(keys):
    token = signing.sign(PAYLOAD)
    body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    for forged_kid in ("0000000000000000", ["a", "list"]):
        forged = _b64(json.dumps({**claims, "k": forged_kid}).encode())
        with pytest.raises(signing.InvalidToken):
            signing.verify(f"{forged}.{signature}")
    stranger = Ed25519PrivateKey.generate()  # a key of someone else, naming ours
    forged_body = json.dumps(claims).encode()
    with pytest.raises(signing.InvalidToken, match="altered"):
        signing.verify(f"{_b64(forged_body)}.{_b64(stranger.sign(forged_body))}")
    with pytest.raises(signing.InvalidToken, match="not a certificate verification code"):
        signing.verify("no-dot-here")


def test_a_code_without_key_id_from_before_key_ids_verifies(keys):
    """Copies printed before key ids existed carry none: every key is tried."""
    signing.rotate()
    signing.rotate()
    legacy_key = signing.keyring().private[signing.keyring().current]
    body = json.dumps(PAYLOAD, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    legacy_token = f"{_b64(body)}.{_b64(legacy_key.sign(body))}"
    signing.rotate()
    assert signing.verify(legacy_token) == PAYLOAD


def test_the_older_single_key_file_becomes_the_first_key(app, tmp_path, monkeypatch):
    legacy = Ed25519PrivateKey.generate()
    path = tmp_path / "certificate_signing_key.pem"
    path.write_bytes(legacy.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    monkeypatch.setitem(app.config, "CERTIFICATE_SIGNING_KEY", str(path))
    monkeypatch.setitem(app.config, "CERTIFICATE_SIGNING_KEYS", str(tmp_path / "keys"))
    with app.app_context():
        assert signing.keyring().current == signing.key_id(legacy.public_key())


def test_a_rotation_on_another_host_is_seen_here(app, keys):
    """Two hosts share the keyring folder; each process re-reads it when `current` changes."""
    from server import create_app

    first = signing.keyring().current
    other_host = create_app({**{k: app.config[k] for k in ("SQLALCHEMY_DATABASE_URI", "SQLALCHEMY_ENGINE_OPTIONS")},
                             "CERTIFICATE_SIGNING_KEYS": str(keys)})
    with other_host.app_context():
        _, rotated = signing.rotate()
        token_from_b = signing.sign(PAYLOAD)
        db.session.remove()
        db.engine.dispose()
    assert rotated != first
    assert signing.verify(token_from_b)["k"] == rotated  # host A verifies host B's new key at once
    assert signing.keyring().current == rotated  # and signs with it from now on


def test_the_public_keys_endpoint_lists_every_key(app, client, keys):
    signing.sign(PAYLOAD)  # the first key
    signing.rotate()
    data = client.get("/verify/public-keys").get_json()
    assert [k["kid"] for k in data["keys"]] == [k["kid"] for k in signing.published_keys()]
    assert len(data["keys"]) == 2 and data["keys"][0]["current"]
    assert all(k["pem"].startswith("-----BEGIN PUBLIC KEY-----") for k in data["keys"])
    assert "PRIVATE" not in json.dumps(data)


def test_flask_signing_key_rotate_and_list(app, keys):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["signing-key", "rotate"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["signing-key", "rotate"])
    assert second.exit_code == 0 and "kept for verification" in second.output
    listed = runner.invoke(args=["signing-key", "list"]).output.splitlines()
    assert len(listed) == 2 and listed[0].endswith("(current: signs new copies)")
    rows = db.session.query(AuditLog).filter_by(action="signing_key.rotate").order_by(AuditLog.id.desc()).limit(2).all()
    assert rows[0].object_id == listed[0].split()[0]


def test_production_refuses_to_start_without_the_shared_secrets(app, backend, tmp_path, monkeypatch):
    settings = {"PRODUCTION": True, "CERTIFICATE_SIGNING_KEYS": str(tmp_path / "keys")}
    for key, value in {**settings, "SECRET_KEY": None}.items():
        monkeypatch.setitem(app.config, key, value)
    with pytest.raises(SystemExit, match="^refusing to start: REGISTRY_ENV=production needs SECRET_KEY"):
        refuse_unsafe_production(app)
    monkeypatch.setitem(app.config, "SECRET_KEY", "a-shared-secret-of-the-deployment")
    with pytest.raises(SystemExit, match="needs the certificate signing keys in") as refused:
        refuse_unsafe_production(app)
    assert "\n" not in str(refused.value)  # one clear line
    with app.app_context():
        with pytest.raises(signing.NoSigningKey):  # production never makes a key by itself
            signing.sign(PAYLOAD)
        assert app.test_cli_runner().invoke(args=["signing-key", "rotate"]).exit_code == 0  # the operator does
    if backend == "sqlite":
        assert refuse_unsafe_production(app) is app
    else:  # the shared test app connects as the schema's owner (tests/security/test_database_roles.py)
        with pytest.raises(SystemExit, match="DATABASE_URL connects as"):
            refuse_unsafe_production(app)
