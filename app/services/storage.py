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


def save(session, person, kind: str, filename: str, data: bytes, content_type: str, application=None) -> Attachment:
    """Store `data` and record it as the person's current attachment of this kind."""
    key = f"{person.id}/{secrets.token_hex(16)}"
    path = root() / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    for old in person.attachments:
        if old.kind == kind:
            old.is_current = False
    attachment = Attachment(person=person, application_id=getattr(application, "id", None), kind=kind,
                            filename=Path(filename).name[:200], content_type=content_type, size=len(data),
                            sha256=hashlib.sha256(data).hexdigest(), storage_key=key, is_current=True)
    session.add(attachment)
    return attachment
