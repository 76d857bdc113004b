"""Object storage: one interface (base.Store) with a local-folder backend (default) and an S3 backend, chosen by
STORAGE_BACKEND; and the attachments kept in it.

Attachments live under the key `attachments/<person id>/<random hex>` (Attachment.storage_key holds the part after
`attachments/`). Keys are generated here, never taken from a user, so nothing is written outside the store.
"""
import hashlib
import os
import secrets
import threading
from pathlib import Path

from flask import current_app

from models import Attachment

from .base import Missing, Store, StorageError, check_key  # noqa: F401  (the package's interface)
from .local import LocalStore

ATTACHMENTS = "attachments"
_lock = threading.Lock()
_stores: dict = {}


def _settings(config) -> tuple:
    kind = (config.get("STORAGE_BACKEND") or "local").lower()
    if kind == "s3":
        return ("s3", config.get("STORAGE_S3_BUCKET") or "", config.get("STORAGE_S3_ENDPOINT_URL") or None,
                config.get("STORAGE_S3_REGION") or "us-east-1", config.get("STORAGE_S3_PREFIX") or "",
                config.get("STORAGE_S3_ACCESS_KEY") or os.environ.get("AWS_ACCESS_KEY_ID") or None,
                config.get("STORAGE_S3_SECRET_KEY") or os.environ.get("AWS_SECRET_ACCESS_KEY") or None)
    if kind != "local":
        raise StorageError(f"STORAGE_BACKEND {kind!r}: use local or s3")
    instance = config.get("INSTANCE_DIR") or Path(config.get("UPLOAD_FOLDER") or ".").parent
    return ("local", config.get("STORAGE_FOLDER") or str(Path(instance) / "storage"),
            config.get("UPLOAD_FOLDER"), config.get("JOB_RESULT_FOLDER"), config.get("BACKUP_FOLDER"))


def make_store(settings: tuple) -> Store:
    if settings[0] == "s3":
        from .s3 import S3Store  # reason: boto3 is loaded only by deployments that use S3

        _kind, bucket, endpoint, region, prefix, access, secret = settings
        return S3Store(bucket, endpoint, region, prefix, access, secret)
    _kind, root, uploads, results, backups = settings
    return LocalStore(root, {ATTACHMENTS: uploads, "jobs": results, "backups": backups})


def backend_for(config) -> Store:
    """The store this configuration names (one instance per distinct settings, shared by threads)."""
    settings = _settings(config)
    cache_key = (os.getpid(), settings)  # a forked worker makes its own S3 client (connection pools do not fork)
    with _lock:
        store = _stores.get(cache_key)
        if store is None:
            store = _stores[cache_key] = make_store(settings)
    return store


def backend() -> Store:
    """The current app's store."""
    return backend_for(current_app.config)


def local_store(config) -> Store:
    """The local-folder store of this configuration, whatever STORAGE_BACKEND says (`flask storage migrate`)."""
    return make_store(_settings({**config, "STORAGE_BACKEND": "local"}))


# --- attachments -----------------------------------------------------------------------------------

def attachment_key(attachment: Attachment) -> str:
    return check_key(f"{ATTACHMENTS}/{attachment.storage_key}")


def open_attachment(attachment: Attachment):
    """The attachment's file object (streaming). Raises Missing (an OSError) or ValueError (a bad key)."""
    return backend().open(attachment_key(attachment))


def read(attachment: Attachment) -> bytes:
    return backend().get(attachment_key(attachment))


def save(session, person, kind: str, filename: str, data: bytes, content_type: str, application=None,
         current: bool = True) -> Attachment:
    """Store `data` and record it as the person's attachment of this kind: the current one, or (with
    current=False) one waiting for the person to confirm it (the photo preview)."""
    key = f"{person.id}/{secrets.token_hex(16)}"
    backend().put(check_key(f"{ATTACHMENTS}/{key}"), data)
    attachment = Attachment(person=person, application_id=getattr(application, "id", None), kind=kind,
                            filename=Path(filename).name[:200], content_type=content_type, size=len(data),
                            sha256=hashlib.sha256(data).hexdigest(), storage_key=key, is_current=False)
    session.add(attachment)
    if current:
        make_current(attachment)
    return attachment


def make_current(attachment: Attachment):
    """The attachment replaces the person's earlier ones of its kind."""
    for old in attachment.person.attachments:
        if old.kind == attachment.kind and old is not attachment:
            old.is_current = False
    attachment.is_current = True
