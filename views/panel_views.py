"""Panel views that add a little behaviour to the generated CRUD (kept out of the registry)."""
from flask import Response, abort, flash, redirect, request, send_file, url_for
from flask_appbuilder import expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ground.clock import today
from ground.extensions import db
from models import AnnouncementBatch, Person
from app import audit, scope
from app.services import storage
from reports import certificate_batch
from reports.certificates import copy_valid_until, record_prints, render_certificate_pdf
from views.base import ScopedModelView
from views.jobs import announce


class QualificationView(ScopedModelView):
    """The ministry adds roster entries by the person's ID number (no dropdown of a million persons)."""

    def pre_add(self, item):
        id_number = getattr(item, "person_id_number", None)
        person = db.session.query(Person).filter(Person.id_number == id_number).one_or_none()
        if person is None:
            self.refuse(_l("No person with this ID number is on file; add the person first."))
        item.person = person


class AttachmentView(ScopedModelView):
    """Materials: listed in scope; files are served only through the scoped `file` endpoint, and every
    view of another person's photo, ID scan or signature leaves an audit row "view"."""

    @expose("/file/<int:pk>")
    @has_access
    def file(self, pk):
        item = self.get_in_scope(pk)
        try:
            stream = storage.open_attachment(item)  # streamed from the store (local folder or S3)
        except (ValueError, FileNotFoundError):
            abort(404)
        except OSError:
            abort(503)
        viewer = scope.current_user()
        if getattr(viewer, "person_id", None) != item.person_id:
            audit.record("view", "Attachment", item.id, summary=f"{item.kind} of {item.person.masked_id_number}",
                         detail={"person_id": item.person_id, "kind": item.kind}, user=viewer)
            db.session.commit()
        response = send_file(stream, mimetype=item.content_type, download_name=item.filename, as_attachment=False,
                             etag=False, last_modified=None, conditional=False)
        response.headers["Cache-Control"] = "private, no-store"  # every view goes through here, and is traced
        return response


def _pdf_response(data: bytes, filename: str) -> Response:
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "no-store"})


class CertificateView(ScopedModelView):
    """Certificates: print a valid one as its electronic copy (PDF); the ministry prints a whole
    announcement batch as one PDF (a background job). Every printed copy leaves an audit row "print"."""

    show_template = "certificates/show.html"

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        item = self.get_in_scope(pk)
        return self.render_template(self.show_template, pk=pk, title=self.show_title, widgets=self._show(pk),
                                    related_views=self._related_views, item=item,
                                    view_name=self.__class__.__name__,
                                    can_print=self.appbuilder.sm.has_access("can_pdf", self.class_permission_name))

    @expose("/pdf/<int:pk>")
    @has_access
    def pdf(self, pk):

        item = self.get_in_scope(pk)
        if item.status != "valid":
            flash(_("Only a valid certificate can be printed; this one is %(status)s.", status=item.status_label),
                  "warning")
            return redirect(url_for(f"{self.__class__.__name__}.show", pk=pk))
        data = render_certificate_pdf(item)
        if scope.current_user().person_id == item.person_id:  # the holder's copy: reminded before it runs out
            until = copy_valid_until(item, today())
            item.copy_valid_until = max(until, item.copy_valid_until or until)
        record_prints(db.session, [item])
        db.session.commit()
        audit.printed()
        return _pdf_response(data, f"certificate-{item.number}.pdf")

    @expose("/batch/<int:batch_id>")
    @has_access
    def batch(self, batch_id):
        """Print the valid certificates of a published announcement batch (in scope) as one PDF: a background job
        rendered in parts by the workers (reports/certificate_batch.py); the page lands on 我的任务."""

        batch = db.session.get(AnnouncementBatch, batch_id)
        if batch is None:
            abort(404)
        user = scope.current_user()
        if not certificate_batch.printable(batch, user):
            flash(_("This announcement has no valid certificates to print."), "warning")
            return redirect(url_for("AnnouncementsView.show", pk=batch_id))
        announce(certificate_batch.start(batch, user, request.host_url))
        return redirect(url_for("JobsView.index"))
