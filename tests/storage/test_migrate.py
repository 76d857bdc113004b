"""`flask storage migrate` (ops/storage_cli.py): copies the local store into the S3 bucket (moto's server),
verified by SHA-256, idempotent, non-zero on a mismatch; `flask storage check` lists missing or damaged
attachments."""
import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select

from app.services import storage
from app.services.storage.s3 import S3Store
from ground.extensions import db
from models import Attachment
from tests import factories as f
from tests.conftest import app_on_own_database


@pytest.fixture(scope="module")
def local_app(backend, tmp_path_factory):
    """An app on the local store with attachments, a job result, a backup archive and a working file."""
    backups = tmp_path_factory.mktemp("backups")
    with app_on_own_database(backend, tmp_path_factory, BACKUP_FOLDER=str(backups),
                             STORAGE_FOLDER=str(tmp_path_factory.mktemp("storage"))) as application:
        with application.app_context():
            f.register(f.Staff(), f.make_enterprise())
            db.session.remove()
        results = Path(application.config["JOB_RESULT_FOLDER"])
        (results / "41-cafe.csv").write_bytes(b"a,b\n1,2\n")
        (results / "42-beef.part").write_bytes(b"half")  # a running job's working file: stays behind
        (backups / "backup-20260101-020000.tar.gz").write_bytes(b"archive")
        yield application


@pytest.fixture
def bucket(local_app, s3_server, monkeypatch):
    settings = s3_server.settings()
    for name, value in settings.items():
        monkeypatch.setitem(local_app.config, name, value)
    return settings


def _local_keys(app) -> list[str]:
    return [k for k in storage.local_store(app.config).list("") if not k.endswith(".part")]


def _sha(store, keys) -> dict:
    return {key: store.sha256(key) for key in keys}


def test_migrate_copies_every_object_verified_and_is_idempotent(local_app, bucket):
    runner = local_app.test_cli_runner()
    keys = _local_keys(local_app)
    assert "jobs/41-cafe.csv" in keys and "backups/backup-20260101-020000.tar.gz" in keys
    assert sum(k.startswith("attachments/") for k in keys) >= 2
    first = runner.invoke(args=["storage", "migrate"])
    assert first.exit_code == 0, first.output
    assert f"Copied {len(keys)}, already there 0, mismatched 0." in first.output
    with local_app.app_context():
        target = storage.backend()
        assert isinstance(target, S3Store)
        assert target.list("") == keys  # the working file stayed behind
        assert _sha(target, keys) == _sha(storage.local_store(local_app.config), keys)
        recorded = dict(db.session.execute(select(Attachment.storage_key, Attachment.sha256)).all())
        for key, sha in recorded.items():
            assert target.sha256(f"attachments/{key}") == sha
        changed = keys[0]
        target.put(changed, b"another content")  # the bucket's copy differs: copied again
    again = runner.invoke(args=["storage", "migrate"])
    assert again.exit_code == 0, again.output
    assert f"Copied 1, already there {len(keys) - 1}, mismatched 0." in again.output
    check = runner.invoke(args=["storage", "check"])
    assert check.exit_code == 0 and "missing 0, mismatched 0" in check.output, check.output


def test_a_local_file_that_differs_from_its_checksum_is_reported_and_exits_non_zero(local_app, bucket):
    with local_app.app_context():
        attachment = db.session.execute(select(Attachment).order_by(Attachment.id)).scalars().first()
        key = f"attachments/{attachment.storage_key}"
    path = storage.local_store(local_app.config).local_path(key)
    original = path.read_bytes()
    path.write_bytes(original + b"tampered")
    try:
        result = local_app.test_cli_runner().invoke(args=["storage", "migrate"])
        assert result.exit_code != 0
        assert f"MISMATCH {key}" in result.output and "mismatched 1." in result.output
        with local_app.app_context():
            assert not storage.backend().exists(key)  # never copied
        check = local_app.test_cli_runner().invoke(args=["storage", "check"])
        assert check.exit_code != 0 and f"MISSING attachment {attachment.id}" in check.output
    finally:
        path.write_bytes(original)


def test_an_upload_that_reads_back_differently_is_a_mismatch(local_app, bucket, monkeypatch):
    real = S3Store.sha256
    monkeypatch.setattr(S3Store, "sha256", lambda self, key: "0" * 64 if key.startswith("jobs/") else real(self, key))
    result = local_app.test_cli_runner().invoke(args=["storage", "migrate"])
    assert result.exit_code != 0 and "MISMATCH jobs/41-cafe.csv" in result.output, result.output


def test_check_finds_a_damaged_object(local_app, bucket):
    assert local_app.test_cli_runner().invoke(args=["storage", "migrate"]).exit_code == 0
    with local_app.app_context():
        attachment = db.session.execute(select(Attachment).order_by(Attachment.id)).scalars().first()
        storage.backend().put(f"attachments/{attachment.storage_key}", b"damaged")
        assert hashlib.sha256(b"damaged").hexdigest() != attachment.sha256
    result = local_app.test_cli_runner().invoke(args=["storage", "check"])
    assert result.exit_code != 0 and f"MISMATCH attachment {attachment.id}" in result.output


def test_migrate_refuses_a_local_target(local_app):
    result = local_app.test_cli_runner().invoke(args=["storage", "migrate"])
    assert result.exit_code != 0 and "STORAGE_BACKEND=s3" in result.output
