"""Printing an announcement batch's certificates as a background job (kind "certificate_batch", queue documents).

The job plans the valid certificates of the published batch in the starter's scope, ordered by number, in parts of
CERTIFICATES_PER_PART; each part is one WeasyPrint document (reports.certificates) rendered by whichever worker takes
it, so two workers render side by side; the parts are merged page by page (reports.pdf_merge), and the "print" audit
row of every certificate is written with the job's end (app/jobs.py: work in parts). Every part prints the copies
with the day the job was started, so the pages and the audit rows agree whichever day a part runs.
"""
from datetime import date

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ground.clock import today
from ground.errors import UserError
from ground.extensions import db
from models import AnnouncementBatch, Application, Certificate, Person
from models.choices import BatchState
from app import jobs, scope
from reports.certificates import record_prints, render_certificates_pdf
from reports.pdf_merge import merge_pdfs

KIND = "certificate_batch"
RECORD_CHUNK = 500  # certificates loaded at a time for their audit rows


def _valid_certificates(batch_id: int, user):
    return (select(Certificate.id).where(scope.clause(Certificate, user))
            .join(Application, Certificate.application_id == Application.id)
            .where(Application.announcement_id == batch_id, Certificate.status == "valid"))


def certificate_ids(batch_id: int, user) -> list[int]:
    """The valid certificates of the batch's applications that `user` may see, ordered by number."""
    query = _valid_certificates(batch_id, user).order_by(Certificate.number, Certificate.id)
    return list(db.session.execute(query).scalars())


def printable(batch: AnnouncementBatch | None, user) -> bool:
    """A published batch with at least one valid certificate in `user`'s scope."""
    return (batch is not None and batch.state == BatchState.PUBLISHED
            and db.session.execute(_valid_certificates(batch.id, user).limit(1)).first() is not None)


def _nothing_to_print():
    return UserError(_("This announcement has no valid certificates to print."))


def _load(ids):
    """The certificates of `ids` in the current user's scope, with what their copy shows, in the order of `ids`."""
    rows = (scope.query(Certificate, scope.current_user()).filter(Certificate.id.in_(ids))
            .options(selectinload(Certificate.person).selectinload(Person.attachments)).all())
    order = {cid: n for n, cid in enumerate(ids)}
    return sorted(rows, key=lambda c: order[c.id])


def _today(work) -> date:
    return date.fromisoformat(work.params["today"])


def render_part(job, work, ids, path):
    """One part: its certificates in one PDF, one page each. A certificate no longer valid (or out of scope)
    since the job was planned stops the job: the printed batch would not match its audit rows."""
    items = _load(ids)
    if len(items) != len(ids) or any(c.status != "valid" for c in items):
        raise UserError(_("The certificates of this announcement changed while they were being printed; "
                          "start the printing again."))
    data = render_certificates_pdf(items, _today(work))
    work.check()
    with open(path, "wb") as out:
        out.write(data)


def merge_parts(job, work, paths, plan):
    """The parts in order as the job's PDF; one "print" audit row per certificate (committed with the job's end)."""
    merge_pdfs(paths, work.output)
    batch = db.session.get(AnnouncementBatch, work.params["batch_id"])
    ids = [cid for part in plan for cid in part]
    for start in range(0, len(ids), RECORD_CHUNK):
        chunk = ids[start:start + RECORD_CHUNK]
        items = (db.session.query(Certificate).filter(Certificate.id.in_(chunk))
                 .options(selectinload(Certificate.person)).all())
        record_prints(db.session, items, _today(work), batch=batch.number, job=job.id)
    name = f"certificates-{batch.year}-{batch.sequence}.pdf"
    return jobs.Outcome({"certificates": len(ids), "parts": len(plan), "batch": batch.number}, name,
                        "application/pdf")


@jobs.job_kind(KIND, _l("Certificate batch printing"), queue="documents", unit="certificates",
               parts=jobs.Parts(render_part, merge_parts))
def plan_batch(job, work):
    """The parts: the batch's valid certificates in the starter's scope, CERTIFICATES_PER_PART each."""
    batch = db.session.get(AnnouncementBatch, work.params["batch_id"])
    if batch is None or batch.state != BatchState.PUBLISHED:
        raise _nothing_to_print()
    ids = certificate_ids(batch.id, scope.current_user())
    if not ids:
        raise _nothing_to_print()
    size = max(1, int(current_app.config["CERTIFICATES_PER_PART"]))
    return [ids[start:start + size] for start in range(0, len(ids), size)]


def start(batch: AnnouncementBatch, user, base_url: str | None):
    """Start printing the batch as a job of `user`."""
    params = {"batch_id": batch.id, "lang": jobs.current_language(), "today": today().isoformat(),
              "base_url": base_url}
    title = _("Certificates of announcement %(number)s", number=batch.number)
    return jobs.start(KIND, params, user, title=title)
