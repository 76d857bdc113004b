"""`flask` commands: deploy set-up (schema, dictionaries, roles), demo data, backup and restore, the holiday calendar,
workflow documentation."""
import time
from datetime import timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from ground import schema_owner
from ground.extensions import db
from ground.roles import EXPORT_UNMASKED, EXPORT_UNMASKED_ROLE, EXPORTS, PERSONAL_DATA, VIEW_UNMASKED
from models import AuditLog, Job, Province, Specialty
from models.job import ACTIVE_JOB_STATES
from models.dictionary import PROVINCES, SPECIALTIES
from app import calendar, industry, jobs, staff_links, workflow
from app.audit import actor_fields
from app.personal_data import set_unmasked_view
from app import employer_status
from app.roster import import_roster
from app.services import social_insurance
from app.services import dictionaries, signing, workdays
from views.grants import role_permissions
from ops import access_policy, db_roles, schedule, storage_cli
from ops.backup import BackupError, backups_location, create_backup, restore_backup, stored_backup
from ops.demo import demo_accounts, load_demo
from ops.generate import generate
from ops.setup_lock import setup_lock


def load_dictionaries():
    """Provinces and specialties (idempotent; names are refreshed, codes never change)."""

    for code, name, name_en, abbr in PROVINCES:
        row = db.session.get(Province, code) or Province(code=code)
        row.name, row.name_en, row.abbr = name, name_en, abbr
        db.session.add(row)
    for order, (code, name, name_en, industry) in enumerate(SPECIALTIES, start=1):
        row = db.session.get(Specialty, code) or Specialty(code=code)
        row.name, row.name_en, row.needs_industry_opinion, row.sort_order = name, name_en, industry, order
        db.session.add(row)
    db.session.commit()
    dictionaries.changed()


def sync_roles():
    """Create every view's permissions and write the roles of views/grants.py to the database."""

    appbuilder = current_app.appbuilder
    sm = appbuilder.sm
    appbuilder.add_permissions(update_perms=True)
    for role_name, pairs in role_permissions().items():
        role = sm.add_role(role_name) or sm.find_role(role_name)
        role.permissions = [pvm for pvm in (sm.add_permission_view_menu(perm, view) for view, perm in pairs) if pvm]
        db.session.merge(role)
    sm.add_permission_view_menu(EXPORT_UNMASKED, EXPORTS)  # held by no role: grantable to a database role
    sm.add_permission_view_menu(VIEW_UNMASKED, PERSONAL_DATA)  # likewise (app/personal_data.py)
    sm.add_role(sm.auth_role_public)
    db.session.commit()


def set_unmasked_export(username: str, granted: bool = True):
    """Give a user (or take away) full ID and mobile numbers in exports: the database role
    EXPORT_UNMASKED_ROLE holds the permission; the change is audited."""


    sm = current_app.appbuilder.sm
    user = sm.find_user(username=username)
    if user is None:
        raise click.ClickException(f"No account named {username}.")
    role = sm.find_role(EXPORT_UNMASKED_ROLE) or sm.add_role(EXPORT_UNMASKED_ROLE)
    role.permissions = [sm.add_permission_view_menu(EXPORT_UNMASKED, EXPORTS)]
    roles = [r for r in user.roles if r.name != EXPORT_UNMASKED_ROLE]
    user.roles = roles + ([role] if granted else [])
    db.session.add(AuditLog(action="grant" if granted else "revoke", object_type="User", object_id=str(user.id),
                            summary=f"{EXPORT_UNMASKED} for {username}", **actor_fields()))
    db.session.commit()


def setup():
    """Migrate as the schema owner, re-grant the app's role (when it is another role), then load the dictionaries
    and roles through the app's own connection (so a missing grant shows here, not in the first request)."""
    try:
        upgrade(directory=current_app.extensions["migrate"].directory)
        db_roles.grant_after_schema_change()
    finally:
        schema_owner.dispose()
    load_dictionaries()
    sync_roles()


def register(app):
    @app.cli.command("setup")
    @with_appcontext
    def setup_command():
        """Deploy step: migrate the schema, load dictionaries, sync roles and permissions (under the deploy lock:
        concurrent runs wait, then find nothing to do)."""
        with setup_lock(notify=click.echo):
            setup()
        click.echo("Schema migrated, dictionaries loaded, roles synced.")

    @app.cli.command("db-roles")
    @click.option("--app-role", required=True, help="the PostgreSQL role the running app connects as")
    @with_appcontext
    def db_roles_command(app_role):
        """Grant the application's database role what the running app needs and nothing more, as the schema owner
        (MIGRATION_DATABASE_URL); idempotent. `flask setup` does this itself for DATABASE_URL's role."""
        try:
            schema = db_roles.grant_app_role(app_role)
        except db_roles.DbRoleError as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            schema_owner.dispose()
        click.echo(f"Role {app_role} may read and write the tables of schema {schema}, only add to the audit log, "
                   f"and owns nothing.")

    @app.cli.command("grant-unmasked-export")
    @click.argument("username")
    @click.option("--revoke", is_flag=True, help="take the permission away")
    @with_appcontext
    def grant_unmasked_export_command(username, revoke):
        """Let a user export full ID and mobile numbers (or, with --revoke, no longer)."""
        set_unmasked_export(username, granted=not revoke)
        click.echo(f"{username}: unmasked exports {'revoked' if revoke else 'granted'}.")

    @app.cli.command("link-staff-person")
    @click.argument("username")
    @click.argument("id_number", required=False)
    @click.option("--unlink", is_flag=True, help="remove the account's link to a person")
    @with_appcontext
    def link_staff_person_command(username, id_number, unlink):
        """Link a staff account to its own person by verified ID number (no self-review), or --unlink it."""
        try:
            if unlink:
                staff_links.unlink(username)
                click.echo(f"{username}: no longer linked to a person.")
                return
            if not id_number:
                raise click.UsageError("Give the person's ID number (or --unlink).")
            staff_links.link(username, id_number)
        except staff_links.LinkRefused as exc:
            raise click.ClickException(str(exc.message)) from None
        click.echo(f"{username}: linked to the person with ID number {id_number[:6]}********{id_number[-4:]}.")

    @app.cli.command("grant-unmasked-view")
    @click.argument("username")
    @click.option("--revoke", is_flag=True, help="take the permission away")
    @with_appcontext
    def grant_unmasked_view_command(username, revoke):
        """Let a user see full ID and mobile numbers on pages and in the API (or, with --revoke, no longer)."""

        try:
            set_unmasked_view(username, granted=not revoke)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{username}: full numbers on pages {'revoked' if revoke else 'granted'}.")

    @app.cli.command("industry-scope")
    @click.argument("username")
    @click.argument("specialties", nargs=-1)
    @with_appcontext
    def industry_scope_command(username, specialties):
        """Set the specialties an Industry account gives its opinion on (none given: print them)."""
        user = current_app.appbuilder.sm.find_user(username=username)
        if user is None:
            raise click.ClickException(f"No account {username!r}.")
        if specialties:
            try:
                industry.set_specialties(user, specialties)
            except industry.IndustryScopeError as exc:
                db.session.rollback()
                raise click.ClickException(str(exc.args[0])) from None
        click.echo(f"{username}: " + (", ".join(sorted(industry.specialty_codes(user))) or "no specialties"))

    @app.cli.command("sync-roles")
    @with_appcontext
    def sync_roles_command():
        """Write the roles and permissions defined in code to the database."""

        sync_roles()
        click.echo("Roles synced: " + ", ".join(sorted(role_permissions())))

    @app.cli.command("load-dictionaries")
    @with_appcontext
    def load_dictionaries_command():
        """Load provinces and specialties."""
        load_dictionaries()
        click.echo("Dictionaries loaded.")

    @app.cli.command("demo-data")
    @with_appcontext
    def demo_data_command():
        """Load demo enterprises, accounts (one per role), persons and applications in every state."""

        summary = load_demo()
        for line in summary:
            click.echo(line)

    @app.cli.command("demo-accounts")
    def demo_accounts_command():
        """Print the demo accounts: the start banner of ./scripts/serve (the README lists the same)."""

        password = app.config["DEMO_PASSWORD"]
        click.echo(f"Demo accounts (password {password} for every one; applicants sign in with the ID number):")
        for role, username, who in demo_accounts():
            click.echo(f"  {role:<10} {username:<20} {who}")

    @app.cli.command("generate-data")
    @click.option("--persons", type=int, default=10000, show_default=True, help="Persons to create.")
    @click.option("--enterprises", type=int, default=None, help="Enterprises to create [default: max(50, 3% of persons)].")
    @click.option("--applications-per-person", type=float, default=2.0, show_default=True)
    @click.option("--registered-share", type=float, default=1.0, show_default=True,
                  help="Share of persons holding a registration.")
    @click.option("--seed", type=int, default=None, help="Random seed, for a reproducible data set.")
    @click.option("--chunk-size", type=int, default=20000, show_default=True, help="Persons generated per batch.")
    @click.option("--keep-indexes", is_flag=True, help="PostgreSQL: keep indexes and foreign keys during the load.")
    @with_appcontext
    def generate_data_command(persons, enterprises, applications_per_person, registered_share, seed, chunk_size,
                              keep_indexes):
        """Fill a set-up database with realistic national-scale data (PostgreSQL COPY; see ops/generate.py)."""

        # A bulk load drops and rebuilds indexes and foreign keys: the owner's work when the app has its own role.
        target = schema_owner.engine() if schema_owner.separate() else db.session
        generate(target, persons=persons, enterprises=enterprises, applications_per_person=applications_per_person,
                 registered_share=registered_share, seed=seed, chunk_size=chunk_size,
                 drop_indexes=False if keep_indexes else None, progress=click.echo)

    @app.cli.command("import-roster")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Write the row report (CSV).")
    @click.option("--max-rows", type=int, default=None, help="Refuse a file with more rows (default: no limit).")
    @with_appcontext
    def import_roster_command(path, report_path, max_rows):
        """Import a qualification roster (CSV/XLSX) in one transaction; same checks as the page (which runs it
        as a background job)."""
        from pathlib import Path

        report = import_roster(Path(path), Path(path).name, None, max_rows=max_rows)
        click.echo(f"rows {report.total}, accepted {report.accepted}, unchanged {report.unchanged}, "
                   f"refused {report.refused}" + (f"; {report.error}" if report.error else ""))
        if report_path:
            Path(report_path).write_text(report.to_csv(), encoding="utf-8-sig")

    @app.cli.command("import-social-insurance")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Write the row report (CSV).")
    @with_appcontext
    def import_social_insurance_command(path, report_path):
        """Import social-insurance payments (CSV/XLSX: ID number, paying enterprise's credit code, month) for the
        conflict check's CSV source (app/services/social_insurance.py)."""
        report = social_insurance.import_payments(Path(path), Path(path).name, None)
        _import_summary(report, report_path)

    @app.cli.command("import-enterprise-register")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Write the row report (CSV).")
    @with_appcontext
    def import_enterprise_register_command(path, report_path):
        """Import enterprise statuses from the national enterprise register (CSV/XLSX: credit code, name, status,
        date); the same checks as the page (which runs it as a background job)."""
        report = employer_status.import_register(Path(path), Path(path).name, None)
        _import_summary(report, report_path)

    def _import_summary(report, report_path):
        counts = report.counts
        click.echo(f"rows {counts['rows']}, accepted {counts['accepted']}, unchanged {counts['unchanged']}, "
                   f"refused {counts['refused']}" + (f"; {report.error}" if report.error else ""))
        if report_path:
            Path(report_path).write_text(report.to_csv(), encoding="utf-8-sig")

    @app.cli.command("backup")
    @click.argument("output_file", required=False, type=click.Path(dir_okay=False))
    @click.option("--wait/--no-wait", default=True, show_default=True,
                  help="Without FILE: wait for the backup job, printing its progress, or return at once.")
    @with_appcontext
    def backup_command(output_file, wait):
        """Back up the database and the attachment store to one new archive.

        With FILE: write FILE here and now, in this process (.tar, or .tar.gz to compress).
        Without FILE: start a background backup job (a worker puts backup-YYYYmmdd-HHMMSS.tar.gz into the object
        store's backups/: BACKUP_FOLDER for the local store) and wait for it, or with --no-wait print the job's number and return. See docs/OPERATIONS.md."""

        if output_file:
            try:
                create_backup(output_file, progress=click.echo)
            except BackupError as exc:
                raise click.ClickException(str(exc)) from None
            return
        job = jobs.start("backup", {"source": "cli"}, None)
        click.echo(f"Backup job {job.id} started; it writes into {backups_location()}.")
        if wait:
            _wait_for_backup(job.id)

    @app.cli.command("restore")
    @click.argument("input_file", type=click.Path(dir_okay=False))
    @click.option("--force", is_flag=True, help="Replace a database that holds data.")
    @with_appcontext
    def restore_command(input_file, force):
        """Replace the database and the attachment store with an archive made by `flask backup`, after checking
        it whole. INPUT_FILE: a local file, or the name of an archive in the object store's backups/
        (backup-YYYYmmdd-HHMMSS.tar.gz). Stop the application first. See docs/OPERATIONS.md."""

        try:
            restore_backup(input_file, force=force, progress=click.echo)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from None

    @app.cli.group("jobs")
    def jobs_group():
        """Background jobs: the schedule, running a periodic job by hand, purging expired results."""

    @jobs_group.command("list")
    @with_appcontext
    def jobs_list():
        """The periodic jobs of ops/schedule.py: name, when, enabled, what they do."""
        for entry in schedule.SCHEDULE:
            state = "on " if entry.enabled(current_app.config) else "off"
            click.echo(f"{entry.name:<22} {state}  {_when(entry.when):<28} {entry.label}")

    @jobs_group.command("run")
    @click.argument("name")
    @click.option("--date", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
                  help="Run as of this day (YYYY-MM-DD); today in China by default.")
    @click.option("--force", is_flag=True, help="Run again even if this day's run already happened.")
    @with_appcontext
    def jobs_run(name, as_of, force):
        """Run one periodic job now, in this process."""
        try:
            schedule.find(name)
        except KeyError:
            raise click.ClickException(f"No periodic job named {name}; see `flask jobs list`.") from None
        figures = schedule.run(name, as_of.date() if as_of else None, force=force)
        if figures is None:
            click.echo(f"{name}: already ran for that day (--force runs it again).")
        else:
            click.echo(f"{name}: " + ", ".join(f"{k} {v}" for k, v in figures.items()) if figures else f"{name}: done")

    @jobs_group.command("purge")
    @with_appcontext
    def jobs_purge():
        """Delete the result files of jobs past JOB_RESULT_DAYS (and files no job names)."""
        figures = jobs.purge()
        click.echo(f"expired results deleted: {figures['expired']}, stray files deleted: {figures['orphans']}")

    @app.cli.group("calendar")
    def calendar_group():
        """The working-day calendar (节假日与调休) deadlines count by: import, fill, show."""

    @calendar_group.command("import")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @with_appcontext
    def calendar_import(path):
        """Import holidays and make-up days from a CSV file (date,type,name), all or nothing, as the page does."""
        try:
            outcome = calendar.import_csv(Path(path).read_bytes(), Path(path).name)
        except calendar.CalendarRefused as exc:
            for problem in exc.problems:
                click.echo(f"line {problem.line}: {problem.reason}  [{problem.text}]", err=True)
            raise click.ClickException(str(exc.message)) from None
        click.echo(f"added {outcome.created}, changed {outcome.updated}, unchanged {outcome.unchanged} "
                   f"(years {', '.join(map(str, outcome.years))})")

    @calendar_group.command("fill")
    @click.argument("year", type=int)
    @with_appcontext
    def calendar_fill(year):
        """Write the year's holidays and make-up days chinese-calendar knows into the table (existing dates kept)."""
        try:
            outcome = calendar.fill_from_library(year)
        except calendar.CalendarRefused as exc:
            raise click.ClickException(str(exc.message)) from None
        click.echo(f"{year}: added {outcome.created}, already in the table {outcome.unchanged}")

    @calendar_group.command("show")
    @click.argument("year", type=int)
    @with_appcontext
    def calendar_show(year):
        """The year's holidays and make-up days as deadlines count them: the table's rows and chinese-calendar's."""
        if not 1900 < year < 2200:
            raise click.ClickException("Give a year such as 2027.")
        for line in calendar_lines(year):
            click.echo(line)

    @app.cli.group("signing-key")
    def signing_key_group():
        """The certificate signing keys (app/services/signing.py): list them, rotate to a new one."""

    @signing_key_group.command("list")
    @with_appcontext
    def signing_key_list():
        """Every key that verifies certificate codes, the current one first."""
        for key in signing.published_keys():
            click.echo(f"{key['kid']}{'  (current: signs new copies)' if key['current'] else ''}")

    @signing_key_group.command("rotate")
    @with_appcontext
    def signing_key_rotate():
        """Make a new key the one that signs; the older keys stay and keep verifying the copies they signed."""
        old, new = signing.rotate()
        db.session.add(AuditLog(action="signing_key.rotate", object_type="SigningKey", object_id=new,
                                summary=f"{old or '—'} → {new}", detail={"from": old, "to": new}, **actor_fields()))
        db.session.commit()
        click.echo(f"signing key {new} is current{f' (was {old}; kept for verification)' if old else ''}; "
                   f"keyring: {signing.keyring_path()}")

    storage_cli.register(app)  # flask storage migrate / check

    @app.cli.command("access-policy")
    def access_policy_command():
        """Print the access policy (who may reach which endpoint) as Markdown, for the README."""

        click.echo(access_policy.markdown())

    @app.cli.command("workflow")
    @click.option("--format", "fmt", type=click.Choice(["mermaid", "matrix", "pipelines", "markdown"]),
                  default="markdown", help="What to print (markdown = all three, for the README).")
    def workflow_command(fmt):
        """Print the workflow table as a Mermaid diagram and the role × action matrix."""

        if fmt == "mermaid":
            click.echo(workflow.mermaid())
        elif fmt == "matrix":
            click.echo(workflow.role_action_matrix())
        elif fmt == "pipelines":
            click.echo(workflow.pipelines_table())
        else:
            click.echo(workflow_markdown())


def calendar_lines(year: int) -> list[str]:
    """`flask calendar show`: every date of the year that is not an ordinary Monday-Friday working day or weekend,
    with where it comes from, then what the other dates follow."""
    rows = {row.day: row for row in calendar.table_entries(year)}
    known = workdays.library_knows(year)
    library = {e.day: e for e in calendar.library_entries(year)} if known else {}
    lines = []
    for day in sorted(set(rows) | set(library)):
        row = rows.get(day)
        is_workday, name = (row.is_workday, row.name) if row else (library[day].is_workday, library[day].name)
        source = f"table ({row.source})" if row else "chinese-calendar"
        kind = "make-up working day" if is_workday else "holiday"
        lines.append(f"{day.isoformat()}  {day:%a}  {kind:<20} {name or '-':<12} {source}")
    if not lines:
        lines.append(f"{year}: no holidays or make-up days known.")
    basis = ("chinese-calendar" if known else "the table" if rows
             else "Monday to Friday (NO HOLIDAY DATA: import the year's arrangement)")
    lines.append(f"Other dates of {year}: {basis}. Rows in the table: {len(rows)}.")
    return lines


def _wait_for_backup(job_id: int, poll_seconds: float = 1.0):
    """Print the backup job's progress until it ends; a failed or cancelled job exits non-zero."""
    seen, waited = None, 0.0
    while True:
        db.session.rollback()  # a new transaction sees the worker's progress
        job = db.session.get(Job, job_id)
        db.session.refresh(job)
        if (job.state, job.progress_done, job.progress_total) != seen:
            seen = (job.state, job.progress_done, job.progress_total)
            total = f"/{job.progress_total}" if job.progress_total is not None else ""
            click.echo(f"Backup job {job_id}: {job.state}, step {job.progress_done}{total}")
        if job.state not in ACTIVE_JOB_STATES:
            break
        if job.state == "queued" and waited <= 10 < waited + poll_seconds:
            click.echo("Still waiting for a worker of the default queue (celery -A worker worker -Q default); "
                       "Ctrl-C stops waiting, the job stays queued.")
        time.sleep(poll_seconds)
        waited += poll_seconds
    if job.state != "done":
        raise click.ClickException(f"Backup job {job_id} {job.state}: {job.error or 'no reason recorded'}")
    figures = job.outcome or {}
    click.echo(f"Backup written to {stored_backup(figures.get('file') or 'unknown')} ({figures.get('size', 0):,} bytes).")


def _when(when) -> str:
    if isinstance(when, timedelta):
        return f"every {int(when.total_seconds())} s"
    return f"cron {when._orig_minute} {when._orig_hour} {when._orig_day_of_month} {when._orig_month_of_year} " \
           f"{when._orig_day_of_week}"


def workflow_markdown() -> str:

    return "\n".join([
        "```mermaid", workflow.mermaid(), "```", "",
        "Stages per business type:", "", workflow.pipelines_table(), "",
        "Role × action (states from which each role may take each action):", "", workflow.role_action_matrix(),
    ])
