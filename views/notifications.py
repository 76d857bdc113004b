"""消息中心 (the message centre): the signed-in user's messages (app/notifications.py writes them), newest first,
each opening what it concerns as this reader may see it; and the unread count of the navbar badge.

Every door reads the message through its owner: another user's message is a 404. A message's `subject`
("application:42", "registration:7", "certificate:9", "overdue") resolves to a page of this application only,
and only to one the reader may open (permission and row scope); anything else lands back on the list.
"""
from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.routing import BuildError

from app import accounts, notifications, scope
from app.scope import current_user
from ground.extensions import db
from models import Application, Certificate, Notification, PenaltyRecord, Registration
from views.account import menu_entries
from views.apply import qualification_kind
from views.formatting import china_time
from views.shell.access import view_of

PAGE_SIZE = 20
SHOWN = {"all": _l("All"), "unread": _l("Unread")}
MENU_LABEL = _l("Message centre")


def unread_badge() -> int:
    """The signed-in user's unread messages (navbar badge, personal menu): one COUNT per request."""
    if "messages_unread" not in g:
        g.messages_unread = notifications.unread_count(current_user())
    return g.messages_unread


def _may_open(endpoint: str) -> bool:
    """The reader holds the permission of the page behind `endpoint` (row scope is checked apart)."""
    view = view_of(endpoint)
    if view is None:
        return False
    method = endpoint.rsplit(".", 1)[1]
    permission = "can_" + (view.method_permission_name or {}).get(method, method)
    return current_app.appbuilder.sm.has_access(permission, view.class_permission_name)


def _visible(model, ident: str, user):
    """The record of `model` with this id, if the reader's row scope holds it."""
    if not (ident.isascii() and ident.isdigit() and len(ident) <= 9):
        return None
    return scope.query(model, user).filter(model.id == int(ident)).first()


def _overdue_page() -> str | None:
    for endpoint in ("OverdueView.index", "MyQueueView.list"):
        try:
            url = url_for(endpoint)
        except BuildError:  # the overdue page (OverdueView) is not registered in this build
            continue
        if _may_open(endpoint):
            return url
    return None


def destination(notification: Notification, user) -> str | None:
    """The address of what the message concerns, for this reader; None when there is none they may open."""
    kind, _sep, ident = (notification.subject or "").partition(":")
    applicant = getattr(user, "person_id", None) is not None
    if kind == "overdue":
        return _overdue_page()
    if kind == "application":
        item = _visible(Application, ident, user)
        if item is None:
            return None
        if applicant and item.person_id == user.person_id and _may_open("ProgressView.index"):
            return url_for("ProgressView.index", kind=qualification_kind(item), _anchor=f"application-{item.id}")
        return url_for("ApplicationsView.show", pk=item.id) if _may_open("ApplicationsView.show") else None
    if kind == "penalty":
        item = _visible(PenaltyRecord, ident, user)
        if item is None:
            return None
        if applicant and item.person_id == user.person_id and _may_open("MyAccountView.steps"):
            return url_for("MyAccountView.steps", _anchor="penalties")
        return url_for("PenaltyRecordsView.show", pk=item.id) if _may_open("PenaltyRecordsView.show") else None
    if kind in ("registration", "certificate"):
        model, endpoint = ((Registration, "RegistrationsView.show") if kind == "registration"
                           else (Certificate, "CertificatesView.show"))
        item = _visible(model, ident, user)
        if item is None:
            return None
        if applicant and item.person_id == user.person_id and _may_open("MyAccountView.certificates"):
            return url_for("MyAccountView.certificates")
        return url_for(endpoint, pk=item.id) if _may_open(endpoint) else None
    return None


def _own(message_id: int) -> Notification:
    message = db.session.scalar(select(Notification).where(Notification.id == message_id,
                                                           Notification.user_id == current_user().id))
    return message if message is not None else abort(404)


def _list_args(source) -> dict:
    """The list's filter and page to return to (anything else dropped)."""
    args = {}
    if source.get("show") == "unread":
        args["show"] = "unread"
    page = source.get("page", type=int)
    if page and 1 < page < 10**6:
        args["page"] = page
    return args


class MessagesView(BaseView):
    """消息中心: the person's own messages; applicants see it in the personal edition, staff in the panel."""

    route_base = "/messages"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        user = current_user()
        show = "unread" if request.args.get("show") == "unread" else "all"
        query = select(Notification).where(Notification.user_id == user.id)
        if show == "unread":
            query = query.where(Notification.read_at.is_(None))
        count = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        pages = max((count + PAGE_SIZE - 1) // PAGE_SIZE, 1)
        page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
        rows = db.session.scalars(query.order_by(Notification.id.desc())
                                  .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
        items = [{"id": n.id, "text": notifications.text(n), "time": china_time(n.created_at),
                  "unread": n.read_at is None, "linked": bool(n.subject)} for n in rows]
        values = {"items": items, "show": show, "shown": SHOWN, "page": page, "pages": pages, "count": count,
                  "unread": unread_badge(), "title": str(MENU_LABEL)}
        person = getattr(user, "person", None)
        if person is not None:  # the personal edition: 个人信息's side menu
            return self.render_template("personal/messages.html", menu=menu_entries(), active="messages",
                                        steps=accounts.steps(person), person=person, **values)
        return self.render_template("messages/index.html", **values)

    @expose("/<int:message_id>/open")
    @has_access
    def open(self, message_id):
        """Mark the message read and go to what it concerns (as this reader may see it)."""
        message = _own(message_id)
        user = current_user()
        notifications.mark_read(user, [message.id])
        if not message.subject:
            return redirect(url_for("MessagesView.index"))
        target = destination(message, user)
        if target is None:
            flash(_("What this message concerns is not available to you (any more)."), "warning")
            return redirect(url_for("MessagesView.index"))
        return redirect(target)

    @expose("/<int:message_id>/read", methods=["POST"])
    @has_access
    def read(self, message_id):
        message = _own(message_id)
        notifications.mark_read(current_user(), [message.id])
        return redirect(url_for("MessagesView.index", **_list_args(request.form)))

    @expose("/read-all", methods=["POST"])
    @has_access
    def read_all(self):
        changed = notifications.mark_read(current_user())
        if changed:
            flash(_("All messages are marked read."), "success")
        return redirect(url_for("MessagesView.index"))
