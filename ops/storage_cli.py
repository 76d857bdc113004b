"""`flask storage migrate` and `flask storage check` (docs/OPERATIONS.md, "Object storage").

migrate copies every object of the local store (UPLOAD_FOLDER, JOB_RESULT_FOLDER, BACKUP_FOLDER, STORAGE_FOLDER)
into the S3 bucket of the configuration (or of the options), verifying each by SHA-256: against Attachment.sha256
where the database knows it, and by reading the uploaded object back. An object already in the bucket with the
same checksum is skipped, so the command can run again after an interruption; any mismatch exits non-zero.
check lists the attachments whose object is missing from the configured store or differs from its checksum.
"""
from dataclasses import dataclass, field

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from app.services import storage
from ground.extensions import db
from models import Attachment


@dataclass
class MigrateReport:
    copied: int = 0
    skipped: int = 0
    mismatched: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatched


def _known_checksums() -> dict[str, str]:
    """key → sha256 of every attachment the database records."""
    rows = db.session.execute(select(Attachment.storage_key, Attachment.sha256)).all()
    return {f"{storage.ATTACHMENTS}/{key}": sha for key, sha in rows if key and sha}


def _copyable(key: str) -> bool:
    """Working files of running jobs (`.part`) stay behind: only complete objects are copied."""
    name = key.rsplit("/", 1)[-1]
    return not name.endswith(".part") and not name.startswith(".")


def migrate(source, target, progress=lambda _line: None, areas=None) -> MigrateReport:
    """Copy every object of `source` into `target`, verified; returns the counts and the mismatches."""
    known = _known_checksums()
    report = MigrateReport()
    for key in source.list(""):
        if not _copyable(key) or (areas and key.split("/", 1)[0] not in areas):
            continue
        digest = source.sha256(key)
        if known.get(key, digest) != digest:
            report.mismatched.append((key, "the local file differs from the checksum the database recorded"))
            progress(f"MISMATCH {key}: the local file differs from Attachment.sha256; not copied")
            continue
        if target.exists(key) and target.sha256(key) == digest:
            report.skipped += 1
            continue
        with source.as_file(key) as path:
            target.put_file(key, path)
        if target.sha256(key) != digest:
            report.mismatched.append((key, "the uploaded object reads back differently"))
            progress(f"MISMATCH {key}: the uploaded object reads back differently")
            continue
        report.copied += 1
        if report.copied % 1000 == 0:
            progress(f"{report.copied:,} objects copied…")
    return report


def check(store, checksums: bool = True, progress=lambda _line: None) -> tuple[int, list, list]:
    """(attachments checked, missing keys, mismatched keys) of the configured store."""
    missing, mismatched, count = [], [], 0
    rows = db.session.execute(select(Attachment.id, Attachment.storage_key, Attachment.sha256)
                              .order_by(Attachment.id).execution_options(yield_per=1000))
    for attachment_id, key, sha in rows:
        count += 1
        full = f"{storage.ATTACHMENTS}/{key}"
        try:
            if not store.exists(full):
                missing.append(full)
                progress(f"MISSING attachment {attachment_id}: {full}")
            elif checksums and sha and store.sha256(full) != sha:
                mismatched.append(full)
                progress(f"MISMATCH attachment {attachment_id}: {full}")
        except ValueError:
            missing.append(full)
            progress(f"MISSING attachment {attachment_id}: unusable key")
    return count, missing, mismatched


def _target(bucket, endpoint_url, region, prefix):
    config = dict(current_app.config)
    if bucket:
        config.update(STORAGE_BACKEND="s3", STORAGE_S3_BUCKET=bucket)
    if endpoint_url:
        config["STORAGE_S3_ENDPOINT_URL"] = endpoint_url
    if region:
        config["STORAGE_S3_REGION"] = region
    if prefix is not None:
        config["STORAGE_S3_PREFIX"] = prefix
    if (config.get("STORAGE_BACKEND") or "local") != "s3":
        raise click.ClickException("The target is an S3 bucket: set STORAGE_BACKEND=s3 and STORAGE_S3_BUCKET "
                                   "(and STORAGE_S3_ENDPOINT_URL), or pass --bucket.")
    return storage.backend_for(config)


def register(app):
    @app.cli.group("storage")
    def storage_group():
        """The object store (local folder or S3): copy the local store into a bucket, check attachments."""

    @storage_group.command("migrate")
    @click.option("--bucket", help="Target bucket (default: STORAGE_S3_BUCKET).")
    @click.option("--endpoint-url", help="Target S3 endpoint (default: STORAGE_S3_ENDPOINT_URL).")
    @click.option("--region", help="Target region (default: STORAGE_S3_REGION).")
    @click.option("--prefix", default=None, help="Key prefix in the bucket (default: STORAGE_S3_PREFIX).")
    @click.option("--area", "areas", multiple=True,
                  help="Only this area (attachments, jobs, backups, …); repeat for several. Default: all.")
    @with_appcontext
    def migrate_command(bucket, endpoint_url, region, prefix, areas):
        """Copy every object of the local store into the S3 bucket, verified by SHA-256; idempotent."""
        target = _target(bucket, endpoint_url, region, prefix)
        source = storage.local_store(current_app.config)
        try:
            report = migrate(source, target, progress=click.echo, areas=set(areas) or None)
        except OSError as exc:
            raise click.ClickException(f"Stopped: {exc}. Run the command again to continue.") from None
        click.echo(f"Copied {report.copied:,}, already there {report.skipped:,}, "
                   f"mismatched {len(report.mismatched):,}.")
        if not report.ok:
            raise click.ClickException(f"{len(report.mismatched)} object(s) did not verify; see MISMATCH above.")

    @storage_group.command("check")
    @click.option("--checksums/--no-checksums", default=True, show_default=True,
                  help="Read every object and compare its SHA-256 (slow on big stores), or only see it is there.")
    @with_appcontext
    def check_command(checksums):
        """List attachments whose object is missing from the configured store or differs from its checksum."""
        try:
            count, missing, mismatched = check(storage.backend(), checksums, progress=click.echo)
        except OSError as exc:
            raise click.ClickException(f"The object store cannot be read: {exc}") from None
        click.echo(f"Attachments checked {count:,}: missing {len(missing):,}, mismatched {len(mismatched):,}.")
        if missing or mismatched:
            raise click.ClickException("Some attachments are missing or damaged; see above.")
