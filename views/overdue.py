"""超期督办 (Overdue supervision): the province's and the ministry's list of applications past their stage's time
limit, and a second tab of those due within a few working days. The query is app.overdue's."""
from flask import abort, request
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _

from app import overdue, workflow
from app.scope import current_user
from ground.clock import today
from ground.vocabulary import STATE_LABELS


class OverdueView(BaseView):
    route_base = "/overdue"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        filters = overdue.Filters.read(request.args)
        try:
            page = overdue.query(current_user(), today(), filters)
        except workflow.Forbidden:
            abort(403)
        return self.render_template(
            "overdue/index.html", page=page, filters=page.filters, tabs=overdue.TABS, overdue_tab=overdue.OVERDUE,
            states=[(code, STATE_LABELS[code]) for code in overdue.STATES],
            types=[(code, t.label) for code, t in workflow.BUSINESS_TYPES.items()], title=_("Overdue supervision"))
