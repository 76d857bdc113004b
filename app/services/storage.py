"""Attachment storage on the local file system under UPLOAD_FOLDER, content-addressed by a random key.

Keys are generated here, never taken from a user, so nothing is written outside the storage root.
"""
import hashlib
import secrets
from pathlib import Path

from flask import current_app

from models import Attachment


def root() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]).resolve()


def path_of(attachment: Attachment) -> Path:
    path = (root() / attachment.storage_key).resolve()
    if root() not in path.parents:
        raise ValueError("attachment key escapes the storage root")
    return path


def save(session, person, kind: str, filename: str, data: bytes, content_type: str, application=None,
         current: bool = True) -> Attachment:
    """Store `data` and record it as the person's attachment of this kind: the current one, or (with
    current=False) one waiting for the person to confirm it (the photo preview)."""
    key = f"{person.id}/{secrets.token_hex(16)}"
    path = root() / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
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
