"""Panel views that add a little behaviour to the generated CRUD (kept out of the registry)."""
from flask import abort, send_file
from flask_appbuilder import expose, has_access
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.services import storage
from models import Person

from .base import ScopedModelView


class QualificationView(ScopedModelView):
    """The ministry adds roster entries by the person's ID number (no dropdown of a million persons)."""

    def pre_add(self, item):
        id_number = getattr(item, "person_id_number", None)
        person = db.session.query(Person).filter(Person.id_number == id_number).one_or_none()
        if person is None:
            self.refuse(_l("No person with this ID number is on file; add the person first."))
        item.person = person


class AttachmentView(ScopedModelView):
    """Materials: listed in scope; files are served only through the scoped `file` endpoint."""

    @expose("/file/<int:pk>")
    @has_access
    def file(self, pk):
        item = self.get_in_scope(pk)
        try:
            path = storage.path_of(item)
        except ValueError:
            abort(404)
        if not path.exists():
            abort(404)
        return send_file(path, mimetype=item.content_type, download_name=item.filename, as_attachment=False)
