"""挂证核查 (conflicts): the province's list of registrations whose holder's social insurance is paid by another
enterprise than the registered employer (its own province's; the ministry sees all), with how long each has been
open; search, pagination. Nothing is decided here: the reviewers look into them. The query is app.conflicts'."""
from flask import abort, request
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _

from app import conflicts, workflow
from app.scope import current_user
from ground.clock import today


class ConflictsView(BaseView):
    route_base = "/conflicts"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        filters = conflicts.Filters.read(request.args)
        try:
            page = conflicts.query(current_user(), today(), filters)
        except workflow.Forbidden:
            abort(403)
        return self.render_template("conflicts/index.html", page=page, filters=page.filters, today=today(),
                                    open_tab=conflicts.OPEN, resolved_tab=conflicts.RESOLVED,
                                    title=_("Social-insurance conflicts"))
