"""Backup and restore of the platform: the database and the attachment store in one archive file.

`flask backup FILE` and `flask restore FILE [--force]` (ops/cli.py) call create_backup() and
restore_backup(); docs/OPERATIONS.md tells operators how and when to run them. The job kind "backup"
(`flask backup` without FILE, and the schedule's nightly-backup) writes backup-YYYYmmdd-HHMMSS.tar.gz on a worker
and puts it into the object store under `backups/` (the local store keeps it in BACKUP_FOLDER); the archive is
never offered for download (it holds every person's data). `flask restore` takes a local file or the name of an
archive in the object store.

The attachments are read from, and restored into, the object store (app/services/storage/: local folder or S3).

The archive is a tar file (gzip-compressed when its name ends in .gz or .tgz) holding
  database.pgdump    PostgreSQL: pg_dump custom format of the app's schema, or
  database.sqlite3   SQLite: a consistent copy made with sqlite3's online backup API;
  attachments/...    every object of the store's attachments/ area, by its key below it (= the path under
                     UPLOAD_FOLDER of the local store);
  manifest.json      format version, time (UTC), dialect, schema, alembic revision, row counts per table
                     and the sha256 of every other member.

The database is dumped before the attachments are read: attachments are written before the row that
names them is committed, so every file the dump refers to is already in the store.

Restore checks the whole archive (member names and types, checksums, format, dialect, schema, revision)
before it changes anything. Attachments are unpacked next to the store and swapped in only after the
database has been restored, so a refused or failed restore leaves the old store in place.
"""
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from contextlib import closing
from datetime import timezone
from pathlib import Path, PurePosixPath

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import create_engine, text

from models import AuditLog

from app import jobs
from app.audit import actor_fields
from app.services import storage
from ground.clock import CHINA_TZ, now_utc
from ground.errors import UserError
from ground import schema_owner
from ground.extensions import db
from ops import db_roles

FORMAT = "registry-backup"
FORMAT_VERSIONS = {1}
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ATTACHMENTS = "attachments"
DATABASE_MEMBERS = {"postgresql": "database.pgdump", "sqlite": "database.sqlite3"}
_CHUNK = 1024 * 1024
_MANIFEST_MAX_BYTES = 16 * 1024 * 1024


class BackupError(Exception):
    """A backup or restore that was refused or failed; the message is meant for the operator."""


def _quiet(_line):
    pass


# --- database helpers -------------------------------------------------------------------------------


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table_names(conn) -> list[str]:
    if conn.dialect.name == "postgresql":
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    return list(conn.execute(text(sql)).scalars())


def _row_counts(conn) -> dict[str, int]:
    return {name: conn.execute(text(f"SELECT count(*) FROM {_quote(name)}")).scalar_one()
            for name in _table_names(conn)}


def _alembic_revision(conn, tables) -> str | None:
    if "alembic_version" not in tables:
        return None
    return ",".join(sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())) or None


def _holds_data(conn) -> bool:
    """Any row in any table but alembic_version (a set-up database holds dictionaries and roles)."""
    return any(conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {_quote(name)})")).scalar_one()
               for name in _table_names(conn) if name != "alembic_version")


def _target_holds_data() -> bool:
    if db.engine.dialect.name == "sqlite" and not _sqlite_file().is_file():
        return False
    with db.engine.connect() as conn:
        return _holds_data(conn)


def _current_schema(conn) -> str:
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    if schema is None:
        raise BackupError("The database's search_path names no existing schema.")
    return schema


def _sqlite_file() -> Path:
    name = db.engine.url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        raise BackupError("Only a file-based SQLite database can be backed up or restored.")
    return Path(name)


def _sqlite_readonly(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)


def _describe_sqlite(path: Path) -> dict:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            counts = _row_counts(conn)
            return {"schema": None, "row_counts": counts, "alembic_revision": _alembic_revision(conn, counts)}
    finally:
        engine.dispose()


# --- PostgreSQL client tools ------------------------------------------------------------------------

_URL_QUERY_ENV = {"host": "PGHOST", "port": "PGPORT", "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT",
                  "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY", "connect_timeout": "PGCONNECT_TIMEOUT"}


def _pg_env(url=None) -> dict:
    """libpq settings for pg_dump/pg_restore from the app's URL (or `url`): the password travels in the environment,
    never on the command line."""
    url = url or db.engine.url
    env = dict(os.environ)
    for key, value in (("PGHOST", url.host), ("PGPORT", url.port), ("PGUSER", url.username),
                       ("PGPASSWORD", url.password), ("PGDATABASE", url.database)):
        if value is not None:
            env[key] = str(value)
    for key, name in _URL_QUERY_ENV.items():
        value = url.query.get(key)
        if value:
            env[name] = value if isinstance(value, str) else value[-1]
    return env


def _pg_tool(name: str, conn) -> str:
    """Path of pg_dump/pg_restore, refused when older than the server (it cannot read newer servers)."""
    path = shutil.which(name)
    if not path:
        raise BackupError(f"{name} not found: install the PostgreSQL client tools "
                          f"(major version at least the server's).")
    output = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"(\d+)", output)
    tool_major = int(match.group(1)) if match else 0
    server_major = int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000
    if tool_major < server_major:
        raise BackupError(f"{name} {tool_major} is older than the database server ({server_major}); "
                          f"use {name} {server_major} or newer.")
    return path


def _run(args: list[str], env: dict, hint: str = ""):
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = "\n".join(result.stderr.strip().splitlines()[-6:])
        raise BackupError(f"{Path(args[0]).name} failed (exit {result.returncode}){hint}:\n{detail}")


# --- backup -----------------------------------------------------------------------------------------


def _dump_postgresql(target: Path) -> dict:
    """pg_dump of the current schema, in the same snapshot as the row counts written to the manifest."""
    with db.engine.connect() as conn:
        conn.execution_options(isolation_level="REPEATABLE READ")
        snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        schema = _current_schema(conn)
        counts = _row_counts(conn)
        revision = _alembic_revision(conn, counts)
        pg_dump = _pg_tool("pg_dump", conn)
        _run([pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
              f"--schema={_quote(schema)}", f"--file={target}"], _pg_env())
    return {"schema": schema, "row_counts": counts, "alembic_revision": revision}


def _dump_sqlite(target: Path) -> dict:
    source = _sqlite_file()
    if not source.is_file():
        raise BackupError(f"No database file at {source}.")
    with closing(_sqlite_readonly(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    return _describe_sqlite(target)


def _store() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]).resolve()


def _store_files(store) -> tuple[list[tuple[str, str]], int]:
    """(key, path relative to the attachments area) of every attachment object of the object store, and how many
    other entries were skipped (links and special files of a local store)."""
    prefix = f"{storage.ATTACHMENTS}/"
    files = [(key, key[len(prefix):]) for key in store.list(prefix)]
    skipped = 0
    folder = store.local_path(f"{prefix}x")
    if folder is not None and folder.parent.is_dir():  # a local store: count what it does not list (links,
        entries = 0                                     # special files, names no key can have)
        for parent, dirs, names in os.walk(folder.parent):
            entries += sum(1 for d in dirs if (Path(parent) / d).is_symlink())
            entries += sum(1 for n in names if not (n.startswith(".") and n.endswith(".tmp")))
        skipped = entries - len(files)
    return files, skipped


def _add_object(tar: tarfile.TarFile, name: str, store, key: str) -> tuple[str, int]:
    """Add the object `key` as member `name`, streamed; returns (sha256, size)."""
    info = tarfile.TarInfo(name)
    path = store.local_path(key)
    info.size = path.stat().st_size if path is not None else store.size(key)
    info.mtime = int(path.stat().st_mtime) if path is not None else int(now_utc().timestamp())
    info.mode = 0o600
    with store.open(key) as fh:
        reader = _HashingReader(fh)
        tar.addfile(info, reader)
    return reader.sha256.hexdigest(), info.size


class _HashingReader:
    def __init__(self, fileobj):
        self.fileobj = fileobj
        self.sha256 = hashlib.sha256()

    def read(self, size=-1):
        data = self.fileobj.read(size)
        self.sha256.update(data)
        return data


def _add_file(tar: tarfile.TarFile, name: str, path: Path) -> str:
    info = tarfile.TarInfo(name)
    stat = path.stat()
    info.size, info.mtime, info.mode = stat.st_size, int(stat.st_mtime), 0o600
    with path.open("rb") as fh:
        reader = _HashingReader(fh)
        tar.addfile(info, reader)
    return reader.sha256.hexdigest()


def _sha256_file(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def _size(n: float) -> str:
    if n < 1024:
        return f"{n} B"
    for unit in ("KB", "MB", "GB", "TB"):
        n /= 1024
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}"


def _describe(manifest: dict) -> str:
    where = f"{manifest['dialect']}" + (f" schema {manifest['schema']}" if manifest.get("schema") else "")
    counts = manifest["row_counts"]
    return (f"{where} at revision {manifest.get('alembic_revision') or 'none'}: "
            f"{len(counts)} tables, {sum(counts.values()):,} rows")


def _audit(action: str, summary: str, detail: dict):
    with db.engine.begin() as conn:
        conn.execute(AuditLog.__table__.insert(), [{
            "created_at": now_utc(), "action": action, "object_type": "Database", "object_id": None,
            "summary": summary[:200], "detail": detail, **actor_fields()}])


def create_backup(path, progress=_quiet, stored_as: str | None = None) -> dict:
    """Write the database and the attachment store to a new archive at `path`; returns its manifest.
    stored_as: where the archive will be kept (the audit row names it) when `path` is a staging file."""
    target = Path(path)
    if target.exists():
        raise BackupError(f"{target} exists already; choose a new file name.")
    if not target.parent.is_dir():
        raise BackupError(f"No folder {target.parent}.")
    dialect = db.engine.dialect.name
    if dialect not in DATABASE_MEMBERS:
        raise BackupError(f"Backups support PostgreSQL and SQLite, not {dialect}.")
    database_member = DATABASE_MEMBERS[dialect]
    compress = target.name.endswith((".gz", ".tgz"))
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=target.parent) as work:
        work = Path(work)
        dump = work / database_member
        described = _dump_postgresql(dump) if dialect == "postgresql" else _dump_sqlite(dump)
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION,
                    "created_at": now_utc().isoformat(timespec="seconds") + "Z", "dialect": dialect,
                    **described, "database": database_member, "attachments": 0, "sha256": {}}
        progress(f"Database dumped: {_describe(manifest)} ({_size(dump.stat().st_size)}).")

        files, skipped = _store_files(storage.backend())
        partial = work / "archive.partial"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # the archive holds personal data
        with os.fdopen(fd, "wb") as out, tarfile.open(fileobj=out, mode="w:gz" if compress else "w") as tar:
            manifest["sha256"][database_member] = _add_file(tar, database_member, dump)
            store, stored = storage.backend(), 0
            for key, relative in files:
                digest, size = _add_object(tar, f"{ATTACHMENTS}/{relative}", store, key)
                manifest["sha256"][f"{ATTACHMENTS}/{relative}"] = digest
                stored += size
            manifest["attachments"] = len(files)
            data = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(data), int(now_utc().timestamp()), 0o600
            tar.addfile(info, io.BytesIO(data))
        progress(f"Attachments archived: {len(files)} files, {_size(stored)}."
                 + (f" Skipped {skipped} links or special files." if skipped else ""))
        os.replace(partial, target)
    size, digest = target.stat().st_size, _sha256_file(target)
    progress(f"Backup written to {target} ({_size(size)}, sha256 {digest}).")
    _audit("backup", f"backup to {target.name}", {
        "file": stored_as or str(target.resolve()), "size": size, "sha256": digest, "row_counts": manifest["row_counts"],
        "attachments": len(files), "alembic_revision": manifest["alembic_revision"]})
    return manifest


# --- the backup job -------------------------------------------------------------------------------

BACKUP_STEPS = 3  # create_backup reports: database dumped, attachments archived, archive written


def backup_folder() -> Path:
    return Path(current_app.config["BACKUP_FOLDER"]).resolve()


def archive_name(moment=None) -> str:
    """backup-YYYYmmdd-HHMMSS.tar.gz in China time."""
    moment = (moment or now_utc()).replace(tzinfo=timezone.utc).astimezone(CHINA_TZ)
    return f"backup-{moment:%Y%m%d-%H%M%S}.tar.gz"


BACKUPS = "backups"  # the object store's area of archives


def backup_key(name: str) -> str:
    return storage.check_key(f"{BACKUPS}/{name}")


def stored_backup(name: str) -> str:
    """Where the archive `name` of the object store is, for people (a path, or s3://bucket/key)."""
    store = storage.backend()
    path = store.local_path(backup_key(name))
    if path is not None:
        return str(path)
    return f"s3://{store.bucket}/{store.prefix}{backup_key(name)}"


def backups_location() -> str:
    """Where the backup job keeps archives, for people."""
    return stored_backup("x")[:-2]


@jobs.job_kind("backup", _l("Backup of the database and the attachments"), queue="default", unit="steps")
def backup_job(job, work) -> jobs.Outcome:
    """Write a new archive and put it into the object store under backups/ (BACKUP_FOLDER for the local store).
    create_backup writes it in a temporary folder and renames it when complete, and the store shows it only
    complete, so a failed or cancelled job leaves no file; no download (work.output unused)."""
    folder = backup_folder()  # the local staging folder (the archive itself when the store is local)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = archive_name()
    store, key = storage.backend(), backup_key(name)
    if store.exists(key):
        raise UserError(f"{stored_backup(name)} exists already; choose a new file name.")
    work.total(BACKUP_STEPS)

    def progress(_line):
        if work.done + 1 < BACKUP_STEPS:
            work.advance(1)
            work.check()  # a cancelled job stops here: the temporary folder goes with it
        else:
            work.done += 1  # the archive is complete: nothing left to cancel

    with tempfile.TemporaryDirectory(prefix=".backup-", dir=folder) as staging:
        target = Path(staging) / name
        try:
            manifest = create_backup(target, progress=progress, stored_as=stored_backup(name))
        except BackupError as exc:
            raise UserError(str(exc)) from None
        size = target.stat().st_size
        if not store.put_file(key, target, exclusive=True, move=True):
            raise UserError(f"{stored_backup(name)} exists already; choose a new file name.")
    return jobs.Outcome({"file": name, "size": size, "attachments": manifest["attachments"]})


# --- restore ----------------------------------------------------------------------------------------


def _checked_name(member: tarfile.TarInfo) -> str:
    """The member's name, if it is a regular file this archive format may hold at a safe relative path."""
    name = member.name
    if not member.isfile():
        raise BackupError(f"Refused archive member {name!r}: only regular files are allowed (no links or folders).")
    parts = PurePosixPath(name).parts
    if (not name or name.startswith("/") or "\\" in name or "\x00" in name or ".." in parts
            or "/".join(parts) != name):
        raise BackupError(f"Refused archive member {name!r}: the path is absolute or leaves the archive's folders.")
    if name != MANIFEST and name not in DATABASE_MEMBERS.values() and not (
            parts[0] == ATTACHMENTS and len(parts) > 1):
        raise BackupError(f"Refused archive member {name!r}: not part of a backup made by `flask backup`.")
    return name


def _copy_hashing(source, target: Path) -> str:
    sha = hashlib.sha256()
    with target.open("xb") as out:
        while chunk := source.read(_CHUNK):
            sha.update(chunk)
            out.write(chunk)
    return sha.hexdigest()


def _unpack(archive: Path, work: Path) -> tuple[dict, dict]:
    """Unpack the archive into `work` (database/, attachments/); returns (manifest, sha256 of each member).
    Every member's path is checked before anything is written for it."""
    staging, database = work / ATTACHMENTS, work / "database"
    staging.mkdir()
    database.mkdir()
    digests, manifest_bytes = {}, None
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                name = _checked_name(member)
                if name in digests or (name == MANIFEST and manifest_bytes is not None):
                    raise BackupError(f"Refused archive: {name!r} appears twice.")
                if name == MANIFEST:
                    if member.size > _MANIFEST_MAX_BYTES:
                        raise BackupError("Refused archive: manifest.json is implausibly large.")
                    manifest_bytes = tar.extractfile(member).read()
                    continue
                if name in DATABASE_MEMBERS.values():
                    target = database / name
                else:
                    target = staging / name[len(ATTACHMENTS) + 1:]
                    if staging.resolve() not in target.resolve().parents:
                        raise BackupError(f"Refused archive member {name!r}: it leaves the attachment store.")
                    target.parent.mkdir(parents=True, exist_ok=True)
                digests[name] = _copy_hashing(tar.extractfile(member), target)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise BackupError(f"Could not read {archive} as a backup archive: {exc}") from None
    if manifest_bytes is None:
        raise BackupError(f"{archive} has no manifest.json: not a backup made by `flask backup`.")
    try:
        manifest = json.loads(manifest_bytes)
    except ValueError:
        raise BackupError(f"The manifest of {archive} is not valid JSON.") from None
    if not isinstance(manifest, dict):
        raise BackupError(f"The manifest of {archive} is not a backup manifest.")
    return manifest, digests


def _check_manifest(manifest: dict, digests: dict, dialect: str):
    if manifest.get("format") != FORMAT or manifest.get("format_version") not in FORMAT_VERSIONS:
        raise BackupError(f"Unknown archive format {manifest.get('format')!r} version "
                          f"{manifest.get('format_version')!r}; this version reads {FORMAT} version(s) "
                          f"{', '.join(map(str, sorted(FORMAT_VERSIONS)))}.")
    expected = manifest.get("sha256")
    if not isinstance(expected, dict) or not isinstance(manifest.get("row_counts"), dict):
        raise BackupError("The manifest lacks checksums or row counts.")
    missing, unlisted = sorted(set(expected) - set(digests)), sorted(set(digests) - set(expected))
    if missing or unlisted:
        raise BackupError(f"The archive does not match its manifest: missing {missing[:5]}, unlisted {unlisted[:5]}.")
    damaged = sorted(name for name, digest in digests.items() if expected[name] != digest)
    if damaged:
        raise BackupError(f"Checksum mismatch for {', '.join(damaged[:5])}"
                          f"{' and more' if len(damaged) > 5 else ''}: the archive is damaged or was altered.")
    if manifest.get("dialect") != dialect:
        raise BackupError(f"The archive holds a {manifest.get('dialect')} database; this app uses {dialect}.")
    if manifest.get("database") != DATABASE_MEMBERS[dialect] or manifest["database"] not in digests:
        raise BackupError("The archive holds no database dump.")


def _migration_revisions() -> tuple[set[str], set[str]]:
    """(every revision, head revisions) of the code's migrations."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", current_app.extensions["migrate"].directory)
    script = ScriptDirectory.from_config(config)
    return {r.revision for r in script.walk_revisions()}, set(script.get_heads())


def _check_revision(manifest: dict, progress):
    revision = manifest.get("alembic_revision")
    if not revision:
        return
    known, heads = _migration_revisions()
    archived = set(revision.split(","))
    if not archived <= known:
        raise BackupError(f"The archive's schema (revision {revision}) is newer than this code; "
                          f"restore it with the version of the platform that made it.")
    if archived != heads:
        progress(f"The archive's schema is at revision {revision}; run `flask setup` afterwards to migrate it "
                 f"to {','.join(sorted(heads))}.")


def _restore_sqlite(dump: Path, manifest: dict):
    try:
        with closing(_sqlite_readonly(dump)) as conn:
            verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"The archived SQLite database is unreadable: {exc}") from None
    if verdict != "ok":
        raise BackupError(f"The archived SQLite database fails its integrity check: {verdict}")
    if _describe_sqlite(dump)["row_counts"] != manifest["row_counts"]:
        raise BackupError("The archived database's row counts differ from the manifest.")
    target = _sqlite_file()
    db.session.remove()
    db.engine.dispose()
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(_sqlite_readonly(dump)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _restore_postgresql(dump: Path, manifest: dict):
    """pg_restore as the schema owner (the app's role owns nothing, so it could drop nothing), then the app's role
    gets its grants back (the dump carries none)."""
    owner = schema_owner.engine()
    with owner.connect() as conn:
        pg_restore = _pg_tool("pg_restore", conn)
        schema = _current_schema(conn)
    if manifest.get("schema") != schema:
        raise BackupError(f"The archive holds schema {manifest.get('schema')!r}; this app uses {schema!r}. "
                          f"A restore goes into a schema of the same name.")
    db.session.remove()
    db.engine.dispose()
    owner.dispose()
    env = _pg_env(owner.url)
    _run([pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction",
          f"--dbname={env['PGDATABASE']}", str(dump)], env,
         hint="; nothing was changed")
    db_roles.grant_after_schema_change()


def _swap_store(staging: Path, store: Path):
    """Put `staging` in the store's place; the old store is deleted only once the new one is there."""
    previous = store.with_name(f".{store.name}.previous-{os.getpid()}")
    if store.exists():
        store.rename(previous)
    try:
        staging.rename(store)
    except OSError:
        if previous.exists():
            previous.rename(store)
        raise
    shutil.rmtree(previous, ignore_errors=True)


def _staging_parent() -> Path:
    """A local folder for unpacking when the store is not a local folder."""
    folder = backup_folder()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _replace_objects(staging: Path, store):
    """Put every unpacked attachment into the object store, then remove the objects the archive does not hold."""
    prefix = f"{storage.ATTACHMENTS}/"
    wanted = set()
    for path in sorted(p for p in staging.rglob("*") if p.is_file()):
        try:
            key = storage.check_key(prefix + path.relative_to(staging).as_posix())
        except ValueError:
            raise OSError(f"the archive's {path.relative_to(staging).as_posix()!r} cannot be a storage key") from None
        store.put_file(key, path)
        wanted.add(key)
    for key in store.list(prefix):
        if key not in wanted:
            store.delete(key)


def restore_backup(path, force=False, progress=_quiet) -> dict:
    """Replace the database and the attachment store with the archive's; returns its manifest.

    Refuses, changing nothing, an archive that is damaged, hostile, of an unknown format or another
    dialect, and (without `force`) a target database that holds data. `path` is a local file or the name of an
    archive in the object store's backups/ (what the backup job wrote)."""
    archive = Path(path)
    if not archive.is_file():
        name = str(path).removeprefix(f"{BACKUPS}/")
        try:
            key = backup_key(name)
        except ValueError:
            key = None
        if key is None or "/" in name or not storage.backend().exists(key):
            raise BackupError(f"No file {archive}.")
        with tempfile.TemporaryDirectory(prefix=".restore-", dir=_staging_parent()) as folder:
            local = Path(folder) / name
            storage.backend().download(key, local)
            return restore_backup(local, force=force, progress=progress)
    dialect = db.engine.dialect.name
    if dialect not in DATABASE_MEMBERS:
        raise BackupError(f"Backups support PostgreSQL and SQLite, not {dialect}.")
    if not force and _target_holds_data():
        raise BackupError("The database holds data; pass --force to replace it and the attachment store.")
    objects = storage.backend()
    local = objects.local_path(f"{storage.ATTACHMENTS}/x") is not None
    store = _store()
    if local and os.path.ismount(store):
        raise BackupError(f"UPLOAD_FOLDER {store} is a mount point; point it at a folder inside the volume.")
    staging_parent = store.parent if local else _staging_parent()
    staging_parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{store.name}.restore-", dir=staging_parent) as work:
        work = Path(work)
        manifest, digests = _unpack(archive, work)
        _check_manifest(manifest, digests, dialect)
        progress(f"Archive {archive.name} made {manifest.get('created_at')}: {_describe(manifest)}, "
                 f"{manifest.get('attachments')} attachments; checksums verified ({len(digests)} members).")
        _check_revision(manifest, progress)
        dump = work / "database" / manifest["database"]
        if dialect == "postgresql":
            _restore_postgresql(dump, manifest)
        else:
            _restore_sqlite(dump, manifest)
        db.engine.dispose()
        with db.engine.connect() as conn:
            counts = _row_counts(conn)
        if counts != manifest["row_counts"]:
            raise BackupError("The restored database's row counts differ from the manifest; "
                              "the attachment store was left unchanged.")
        progress(f"Database restored: {len(counts)} tables, {sum(counts.values()):,} rows.")
        staging = work / ATTACHMENTS
        files = [p for p in staging.rglob("*") if p.is_file()]
        stored = sum(p.stat().st_size for p in files)
        try:
            if local:
                _swap_store(staging, store)
            else:
                _replace_objects(staging, objects)
        except OSError as exc:
            raise BackupError(f"The database was restored, but the attachment store could not be replaced: {exc}") from None
        where = store if local else f"the object store ({objects.name})"
        progress(f"Attachments restored: {len(files)} files, {_size(stored)}, in {where}.")
    _audit("restore", f"restore from {archive.name} (made {manifest.get('created_at')})", {
        "file": str(archive.resolve()), "sha256": _sha256_file(archive), "created_at": manifest.get("created_at"),
        "row_counts": manifest["row_counts"], "attachments": len(files),
        "alembic_revision": manifest.get("alembic_revision")})
    progress("Restore complete.")
    return manifest
