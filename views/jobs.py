"""我的任务 (My jobs): the staff's background jobs with live progress, download, cancel and retry; and the
administrator's view of the workers, the queues and the failed jobs.

Every job is read through its row scope (app.jobs.visible): someone else's job is a 404, on every door.
Progress comes from /jobs/status (JSON), polled by static/js/jobs.js (no inline script under the CSP).
"""
from urllib.parse import quote

from flask import abort, flash, jsonify, redirect, request, send_file, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from ground.clock import now_utc
from ground.extensions import db
from models import Job
from models.job import ACTIVE_JOB_STATES
from app import audit, jobs, roster
from app.scope import current_user
from views.formatting import china_time

PAGE_SIZE = 20


def _disposition(filename):
    """attachment with both the plain and the RFC 5987 (UTF-8) file name."""
    return f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}"


def _left(seconds) -> str | None:
    if seconds is None:
        return None
    if seconds < 60:
        return _("under a minute left")
    if seconds < 3600:
        return _("about %(n)s min left", n=round(seconds / 60))
    return _("about %(h)s h %(m)s min left", h=seconds // 3600, m=round(seconds % 3600 / 60))


def _size(num) -> str:
    if num is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if num < 1024 or unit == "GB":
            return f"{num:.0f} {unit}" if unit == "B" else f"{num:.1f} {unit}"
        num /= 1024
    return ""


def describe(job: Job) -> dict:
    """What the page and the JSON show of one job, in the reader's language."""
    total, done = job.progress_total, job.progress_done or 0
    percent = 100 if job.state == "done" else (int(done * 100 / total) if total else 0)
    downloadable = jobs.result_object(job) is not None
    unit = str(jobs.UNITS.get(job.unit, job.unit or ""))
    return {
        "id": job.id, "title": job.title, "state": job.state, "state_label": str(jobs.STATE_LABELS[job.state]),
        "done": done, "total": total, "percent": min(percent, 100), "unit": unit,
        "progress_text": (f"{done:,} / {total:,} {unit}" if total is not None else (f"{done:,} {unit}" if done else "")),
        "left": _left(jobs.seconds_left(job)), "error": job.error,
        "created_at": china_time(job.created_at), "finished_at": china_time(job.finished_at) if job.finished_at else "",
        "download_url": url_for("JobsView.download", job_id=job.id) if downloadable else None,
        "size": _size(job.result_size) if downloadable else "",
        "expired": job.state == "done" and bool(job.result_name) and not downloadable,
        "cancellable": job.state in ACTIVE_JOB_STATES and not job.cancel_requested,
        "cancelling": job.state in ACTIVE_JOB_STATES and job.cancel_requested,
        "retryable": job.state in ("failed", "cancelled"),
        "figures": job.outcome or {},
    }


def badge_count(user) -> int:
    """Jobs still running, and finished ones the person has not yet seen (the navbar badge)."""
    if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "person_id", None):
        return 0
    return db.session.execute(select(func.count()).select_from(Job).where(
        Job.created_by_fk == user.id,
        (Job.state.in_(ACTIVE_JOB_STATES)) | (Job.seen_at.is_(None) & Job.finished_at.is_not(None)))).scalar()


def announce(job: Job):
    """Tell the person, after a page started `job`, how it stands (it lands on 我的任务 next)."""
    if job.state == "failed":
        flash(job.error, "error")
    elif job.state == "done":
        flash(_("%(title)s is ready to download.", title=job.title), "success")
    else:
        flash(_("%(title)s has started; it runs in the background and its progress shows here.", title=job.title),
              "info")


def start_file_job(upload, kind: str, check, title, on_refused=None):
    """Keep an uploaded CSV/XLSX, check it with `check(path)` and start the job `kind` (its title: `title(filename)`).

    Returns None when started, or the message of the refusal (the upload is dropped; `on_refused(filename,
    message, user)` may audit it).
    """
    user = current_user()
    filename = roster.clean_filename(upload.filename)
    head = upload.stream.read(4)
    upload.stream.seek(0)
    name = jobs.keep_input(upload.stream, "xlsx" if head == b"PK\x03\x04" else "csv")
    params = {"input": name, "filename": filename, "lang": jobs.current_language()}
    try:
        check(jobs.input_path(params))
    except roster.RosterRefused as exc:
        jobs.drop_input(params)
        if on_refused is not None:
            on_refused(filename, exc.message, user)
        return str(exc.message)
    except BaseException:
        jobs.drop_input(params)
        raise
    announce(jobs.start(kind, params, user, title=title(filename)))
    return None


def too_many_jobs(error):
    """Error handler for app.jobs.TooManyJobs, wherever a page starts a job (views/registry.py)."""
    flash(str(error.message), "warning")
    return redirect(url_for("JobsView.index"))


class JobsView(BaseView):
    """我的任务: the person's jobs (a Ministry officer also sees the Ministry's), newest first."""

    route_base = "/jobs"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        user = current_user()
        page = max(request.args.get("page", 0, type=int) or 0, 0)
        state = request.args.get("state") or None
        query = select(Job).where(jobs.visible(user))
        if state in jobs.STATE_LABELS:
            query = query.where(Job.state == state)
        count = db.session.execute(select(func.count()).select_from(query.subquery())).scalar()
        rows = db.session.execute(query.order_by(Job.id.desc()).limit(PAGE_SIZE).offset(page * PAGE_SIZE)).scalars()
        items = [describe(job) for job in rows]
        db.session.execute(update(Job).where(Job.created_by_fk == user.id, Job.seen_at.is_(None),
                                             Job.finished_at.is_not(None)).values(seen_at=now_utc()))
        db.session.commit()
        return self.render_template("jobs/index.html", items=items, page=page, pages=(count + PAGE_SIZE - 1) // PAGE_SIZE,
                                    count=count, state=state, states=jobs.STATE_LABELS, title=_("My jobs"))

    @expose("/status")
    @has_access
    def status(self):
        """The listed jobs' state and progress (JSON), for the page to update itself."""
        ids = [int(i) for i in request.args.get("ids", "").split(",") if i.isdigit()][:PAGE_SIZE * 2]
        user = current_user()
        found = db.session.execute(select(Job).where(Job.id.in_(ids), jobs.visible(user))).scalars() if ids else []
        items = [describe(job) for job in found]
        finished = [i["id"] for i in items if i["state"] not in ACTIVE_JOB_STATES]
        if finished:
            db.session.execute(update(Job).where(Job.id.in_(finished), Job.created_by_fk == user.id,
                                                 Job.seen_at.is_(None)).values(seen_at=now_utc()))
            db.session.commit()
        return jsonify({"jobs": items, "badge": badge_count(user)})

    @expose("/<int:job_id>/download")
    @has_access
    def download(self, job_id):
        job = jobs.find(job_id, current_user()) or abort(404)
        try:
            stream = jobs.open_result(job)  # streamed from the object store
        except FileNotFoundError:
            flash(_("The file of this job is no longer kept; start the job again."), "warning")
            return redirect(url_for("JobsView.index"))
        except OSError:  # the object store is down: the translated 503 page
            abort(503)
        audit.record("download", "Job", job.id, summary=job.result_name,
                     detail={"job_kind": job.kind, "bytes": job.result_size, **(job.outcome or {})})
        db.session.commit()
        audit.printed()  # the download has its own audit row
        response = send_file(stream, mimetype=job.result_mimetype or "application/octet-stream", as_attachment=True,
                             download_name=job.result_name, max_age=0, etag=False, conditional=False)
        if job.result_size is not None:
            response.content_length = job.result_size
        response.headers["Content-Disposition"] = _disposition(job.result_name)
        response.headers["Cache-Control"] = "no-store"
        return response

    @expose("/<int:job_id>/cancel", methods=["POST"])
    @has_access
    def cancel(self, job_id):
        job = jobs.find(job_id, current_user()) or abort(404)
        if jobs.cancel(job, current_user()):
            flash(_("“%(title)s” is being cancelled.", title=job.title), "info")
        else:
            flash(_("“%(title)s” has already ended.", title=job.title), "warning")
        return redirect(url_for("JobsView.index"))

    @expose("/<int:job_id>/retry", methods=["POST"])
    @has_access
    def retry(self, job_id):
        job = jobs.find(job_id, current_user()) or abort(404)
        if job.state not in ("failed", "cancelled"):
            flash(_("Only a failed or cancelled job can be started again."), "warning")
        else:
            again = jobs.retry(job, current_user())
            flash(_("“%(title)s” has started again.", title=again.title), "info")
        return redirect(url_for("JobsView.index"))


class JobOperationsView(BaseView):
    """For the administrator: the workers alive, the queue lengths, the jobs by state and the recent
    failures (no job's file: those stay with the people who started them)."""

    route_base = "/jobs/operations"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        counts = dict(db.session.execute(select(Job.state, func.count()).group_by(Job.state)).all())
        failed = db.session.execute(select(Job).where(Job.state == "failed").order_by(Job.id.desc()).limit(50)).scalars()
        return self.render_template("jobs/operations.html", workers=jobs.workers_alive(), queues=jobs.queue_lengths(),
                                    counts={s: counts.get(s, 0) for s in jobs.STATE_LABELS}, states=jobs.STATE_LABELS,
                                    failed=[describe(job) for job in failed], queue_labels=jobs.QUEUE_LABELS,
                                    title=_("Background jobs"))


MENU_LABEL = _l("My jobs")
