"""Backup and restore (ops/backup.py, `flask backup` / `flask restore`): a round trip brings back every row
and every attachment byte; damaged, hostile or mismatched archives are refused before anything changes."""
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import inspect, text, update

from ops.backup import BackupError, create_backup, restore_backup
from ground.extensions import db
from models import AuditLog, Enterprise, Person
from tests import factories as f
from tests.conftest import app_on_own_database


@pytest.fixture(scope="module")
def source(backend, tmp_path_factory):
    """An app on a database of its own, set up, with two registered persons (attachments, certificates)."""
    with app_on_own_database(backend, tmp_path_factory) as application:
        with application.app_context():
            staff = f.Staff()
            enterprise = f.make_enterprise()
            f.register(staff, enterprise)
            f.register(staff, enterprise)
            f.make_person(verified=False)
            db.session.remove()
        yield application


def table_rows(app) -> dict[str, list[dict]]:
    """Every row of every table, in a stable order."""
    with app.app_context(), db.engine.connect() as conn:
        return {table: sorted((dict(row) for row in conn.execute(text(f'SELECT * FROM "{table}"')).mappings()),
                              key=repr)
                for table in inspect(conn).get_table_names()}


def store_files(app) -> dict[str, bytes]:
    store = Path(app.config["UPLOAD_FOLDER"])
    return {p.relative_to(store).as_posix(): p.read_bytes() for p in store.rglob("*") if p.is_file()}


def assert_restored(app, rows_before, files_before, archive):
    """Everything is as it was at backup time, plus the restore's own audit row."""
    rows_after = table_rows(app)
    audit_before, audit_after = rows_before.pop("audit_log"), rows_after.pop("audit_log")
    assert rows_after == rows_before
    added = [row for row in audit_after if row not in audit_before]
    assert len(audit_after) == len(audit_before) + 1 and len(added) == 1
    assert added[0]["action"] == "restore" and added[0]["username"] == "system"
    assert archive.name in added[0]["summary"]
    assert store_files(app) == files_before


def snapshot(app, *folders) -> tuple:
    """Rows, attachment files and the listing of some folders, to prove a refusal changed nothing."""
    return table_rows(app), store_files(app), {folder: sorted(p.name for p in folder.iterdir()) for folder in folders}


def backup(app, archive) -> dict:
    with app.app_context():
        return create_backup(archive)


def restore(app, archive, force=False):
    with app.app_context():
        return restore_backup(archive, force=force)


def rewrite(archive: Path, target: Path, edit_member=None, edit_manifest=None, extra=()):
    """A copy of `archive` with members changed (edit_member(name, data) -> data), the manifest changed, or
    extra members (TarInfo, data) added with their checksums listed, so only the path checks can catch them."""
    with tarfile.open(archive, "r:*") as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar]
    manifest = json.loads(next(data for m, data in members if m.name == "manifest.json"))
    members = [(m, data) for m, data in members if m.name != "manifest.json"]
    for info, data in extra:
        manifest["sha256"][info.name] = hashlib.sha256(data).hexdigest()
    if edit_manifest:
        edit_manifest(manifest)
    with tarfile.open(target, "w") as tar:
        for info, data in [*members, *extra]:
            if edit_member and info.isfile():
                data = edit_member(info.name, data)
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
        data = json.dumps(manifest).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def test_round_trip_brings_back_every_row_and_attachment_byte(source, tmp_path):
    rows_before, files_before = table_rows(source), store_files(source)
    assert len(files_before) >= 6 and rows_before["certificate"] and rows_before["attachment"]
    archive = tmp_path / "registry.tar.gz"
    manifest = backup(source, archive)
    assert manifest["row_counts"] == {table: len(rows) for table, rows in rows_before.items()}
    assert manifest["alembic_revision"] == rows_before["alembic_version"][0]["version_num"]
    assert set(manifest["sha256"]) == {manifest["database"]} | {f"attachments/{name}" for name in files_before}
    with tarfile.open(archive, "r:gz") as tar:
        assert tar.extractfile(f"attachments/{sorted(files_before)[0]}").read() == files_before[sorted(files_before)[0]]
    with source.app_context():
        assert db.session.query(AuditLog).filter_by(action="backup").order_by(AuditLog.id.desc()).first().detail[
            "attachments"] == len(files_before)
        max_enterprise = max(row["id"] for row in rows_before["enterprise"])

    # Change what a restore must undo: rows updated, added and deleted; files changed, deleted and added.
    store = Path(source.config["UPLOAD_FOLDER"])
    changed, deleted = sorted(files_before)[:2]
    (store / changed).write_bytes(b"changed")
    (store / deleted).unlink()
    (store / "stray" / "file.bin").parent.mkdir()
    (store / "stray" / "file.bin").write_bytes(b"stray")
    with source.app_context():
        f.make_enterprise()
        db.session.execute(update(Person).values(name="改名"))
        db.session.execute(text("DELETE FROM ab_user_role WHERE user_id = (SELECT max(user_id) FROM ab_user_role)"))
        db.session.commit()
    assert table_rows(source) != rows_before and store_files(source) != files_before

    restore(source, archive, force=True)
    assert_restored(source, rows_before, files_before, archive)
    with source.app_context():  # sequences came back too: new rows do not collide
        assert f.make_enterprise() > max_enterprise
        assert db.session.get(Enterprise, max_enterprise) is not None


def test_restore_into_an_empty_database_needs_no_force(source, backend, tmp_path):
    rows_before, files_before = table_rows(source), store_files(source)
    archive = tmp_path / "registry.tar"
    backup(source, archive)
    # A new server: no tables at all, no attachment store.
    with source.app_context():
        db.session.remove()
        if backend == "sqlite":
            db.engine.dispose()
            Path(db.engine.url.database).unlink()
        else:
            with db.engine.begin() as conn:
                schema = conn.execute(text("SELECT current_schema()")).scalar_one()
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            db.engine.dispose()
    shutil.rmtree(source.config["UPLOAD_FOLDER"])
    assert table_rows(source) == {}

    restore(source, archive)
    assert_restored(source, rows_before, files_before, archive)


def test_restore_over_data_needs_force(source, tmp_path):
    archive = tmp_path / "registry.tar"
    backup(source, archive)
    with source.app_context():
        f.make_enterprise()
    before = snapshot(source, tmp_path)
    with pytest.raises(BackupError, match="holds data; pass --force"):
        restore(source, archive)
    assert snapshot(source, tmp_path) == before


@pytest.mark.parametrize("member", ["database", "attachment"])
def test_tampered_archive_is_refused_and_nothing_changes(source, tmp_path, member):
    archive, tampered = tmp_path / "registry.tar", tmp_path / "tampered.tar"
    manifest = backup(source, archive)
    victim = manifest["database"] if member == "database" else sorted(manifest["sha256"])[0]
    assert victim.startswith("attachments/") == (member == "attachment")

    def flip_a_byte(name, data):
        if name != victim:
            return data
        middle = len(data) // 2
        return data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1:]

    rewrite(archive, tampered, edit_member=flip_a_byte)
    store = Path(source.config["UPLOAD_FOLDER"])
    before = snapshot(source, store.parent)
    with pytest.raises(BackupError, match=f"Checksum mismatch for {victim}"):
        restore(source, tampered, force=True)
    assert snapshot(source, store.parent) == before


@pytest.mark.parametrize("edit, message", [
    ({"format_version": 99}, "Unknown archive format"),
    ({"format": "something-else"}, "Unknown archive format"),
    ({"dialect": "oracle"}, "holds a oracle database"),
    ({"schema": "elsewhere"}, "holds schema 'elsewhere'"),
    ({"alembic_revision": "9999_from_the_future"}, "newer than this code"),
])
def test_archive_of_unknown_format_or_another_database_is_refused(source, backend, tmp_path, edit, message):
    if "schema" in edit and backend != "postgresql":
        pytest.skip("schemas are PostgreSQL's")
    archive, edited = tmp_path / "registry.tar", tmp_path / "edited.tar"
    backup(source, archive)
    rewrite(archive, edited, edit_manifest=lambda manifest: manifest.update(edit))
    store = Path(source.config["UPLOAD_FOLDER"])
    before = snapshot(source, store.parent)
    with pytest.raises(BackupError, match=message):
        restore(source, edited, force=True)
    assert snapshot(source, store.parent) == before


def test_row_counts_that_differ_from_the_manifest_are_refused(source, backend, tmp_path):
    archive, edited = tmp_path / "registry.tar", tmp_path / "edited.tar"
    backup(source, archive)
    rewrite(archive, edited, edit_manifest=lambda manifest: manifest["row_counts"].update(
        enterprise=manifest["row_counts"]["enterprise"] + 1))
    store = Path(source.config["UPLOAD_FOLDER"])
    before = snapshot(source, store.parent)
    with pytest.raises(BackupError, match="row counts differ from the manifest"):
        restore(source, edited, force=True)
    after = snapshot(source, store.parent)
    assert after[1:] == before[1:]  # the attachment store is never swapped
    if backend == "sqlite":  # SQLite's copy is counted before the database is touched
        assert after == before


def _file(name, data=b"evil"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name, target, kind):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, b""


@pytest.mark.parametrize("hostile", ["dotdot", "parent", "absolute", "symlink", "hardlink", "folder"])
def test_hostile_member_is_refused_and_nothing_is_written_outside(source, tmp_path, hostile):
    store = Path(source.config["UPLOAD_FOLDER"])
    outside = store.parent / "evil.txt"
    members = {
        "dotdot": [_file("attachments/../../evil.txt")],
        "parent": [_file("../evil.txt")],
        "absolute": [_file(str(outside))],
        "symlink": [_link("attachments/escape", str(store.parent), tarfile.SYMTYPE), _file("attachments/escape/evil.txt")],
        "hardlink": [_link("attachments/evil.txt", str(outside), tarfile.LNKTYPE)],
        "folder": [_link("attachments/sub", "", tarfile.DIRTYPE)],
    }[hostile]
    archive, hostile_archive = tmp_path / "registry.tar", tmp_path / "hostile.tar"
    backup(source, archive)
    rewrite(archive, hostile_archive, extra=members)
    before = snapshot(source, store.parent, tmp_path)
    with pytest.raises(BackupError, match="Refused archive member"):
        restore(source, hostile_archive, force=True)
    assert not outside.exists() and not (store.parent.parent / "evil.txt").exists()
    assert snapshot(source, store.parent, tmp_path) == before


def test_not_an_archive_is_refused(source, tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(BackupError, match="Could not read"):
        restore(source, junk, force=True)
    plain = tmp_path / "plain.tar"
    with tarfile.open(plain, "w") as tar:
        info, data = _file("attachments/a.txt", b"a")
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(BackupError, match="no manifest.json"):
        restore(source, plain, force=True)


def test_cli_backup_and_restore(source, tmp_path):
    runner = source.test_cli_runner()
    archive = tmp_path / "cli.tar.gz"
    result = runner.invoke(args=["backup", str(archive)])
    assert result.exit_code == 0, result.output
    assert "Database dumped:" in result.output and "rows" in result.output
    assert "Attachments archived:" in result.output and f"Backup written to {archive}" in result.output
    assert archive.stat().st_mode & 0o077 == 0  # personal data: readable by the owner only

    again = runner.invoke(args=["backup", str(archive)])
    assert again.exit_code == 1 and "exists already" in again.output

    refused = runner.invoke(args=["restore", str(archive)])
    assert refused.exit_code == 1 and "pass --force" in refused.output and "Traceback" not in refused.output

    with source.app_context():
        restores = db.session.query(AuditLog).filter_by(action="restore").count()
    done = runner.invoke(args=["restore", str(archive), "--force"])
    assert done.exit_code == 0, done.output
    assert "checksums verified" in done.output and "Database restored:" in done.output
    assert "Restore complete." in done.output
    with source.app_context():
        assert db.session.query(AuditLog).filter_by(action="restore").count() == restores + 1

    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not an archive")
    bad = runner.invoke(args=["restore", str(junk), "--force"])
    assert bad.exit_code == 1 and "Error: Could not read" in bad.output
    assert isinstance(bad.exception, SystemExit) and "Traceback" not in bad.output
