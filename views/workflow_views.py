"""Application pages driven by the workflow table: show page with the available moves, the
transition confirmation page, the per-role queue (待办) and announcement batches.

Every move goes through app.workflow.apply; a button is shown only for what `available()` returns.
"""
from flask import Response, abort, flash, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.actions import action as flask_appbuilder_action
from flask_appbuilder.models.filters import BaseFilter
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ground import roles as R
from ground.clock import today
from ground.extensions import db
from ground.roles import ROLE_LABELS, user_role_names
from models import Application, Certificate
from models.choices import ATTACHMENT_KINDS, BatchState
from app import announcements, applications, conflicts, penalties, scope, workflow
from app.machines import ANNOUNCEMENT, take
from app.scope import current_user
from reports.pdf import render_pdf
from views.base import ScopedModelView
from views.forms import row_id


WORKFLOW_VIEW_NAME = "Applications"  # transition permissions live on the applications view


def transition_permission(action: str) -> str:
    return f"can_{action}"


def may_take(action: str) -> bool:
    from flask import current_app

    return current_app.appbuilder.sm.has_access(transition_permission(action), WORKFLOW_VIEW_NAME)


def flash_workflow_error(exc: workflow.WorkflowError):
    message = str(exc.message)
    if exc.reasons:
        message += " " + " ".join(f"• {r}" for r in exc.reasons)
    flash(message, "danger")


MATERIAL_KINDS = ("photo", "id_front", "id_back", "id_handheld", "signature", "education_proof")


def _materials(item: Application) -> list:
    """(label, attachment) of the applicant's current materials, then those uploaded with this application."""

    person = item.person
    shown = [(ATTACHMENT_KINDS.label(kind), person.latest_attachment(kind)) for kind in MATERIAL_KINDS]
    shown = [(label, a) for label, a in shown if a is not None]
    shown += [(f"{a.kind_label}（{item.number}）", a) for a in person.attachments if a.application_id == item.id]
    return shown


# Form field → the column that displays it.
_DISPLAY = {"specialties": "specialty_names", "reason": "reason_label"}


def _refusal_grounds(item) -> list:
    """The refusal grounds (app/penalties.py) an application in progress meets now: a warning for its reviewers."""
    btype = workflow.BUSINESS_TYPES.get(item.business_type)
    if btype is None or not btype.refusal_grounds or item.state not in workflow.IN_PROGRESS_STATES:
        return []
    return penalties.refusal_reasons(item.person, item)


class ApplicationPanelView(ScopedModelView):
    """Applications: list/show for every role in scope. Applicants start and edit their drafts only in the
    personal edition's form of the business type (注册申报): the panel's add and edit lead there."""

    show_template = "applications/show.html"

    # --- show with the workflow panel -----------------------------------------------------------
    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        item = self.get_in_scope(pk)
        widgets = self._show(pk)
        user = current_user()
        owner = workflow.STAGE_OWNER.get(item.state)
        return self.render_template(
            self.show_template, pk=pk, title=self.show_title, widgets=widgets, related_views=self._related_views,
            item=item, options=[o for o in workflow.available(item, user) if may_take(o.action)],
            owner=owner, owner_label=applications.handling_office(item, owner) if owner else None,
            role_labels=ROLE_LABELS,
            overdue=item.stage_deadline is not None and item.stage_deadline < today(),
            clock=applications.release_clock(item), in_progress=workflow.IN_PROGRESS_STATES,
            view_name=self.__class__.__name__,
            editable=item.state in workflow.EDITABLE_STATES
            and self.appbuilder.sm.has_access("can_edit", WORKFLOW_VIEW_NAME),
            materials=_materials(item), refusal_grounds=_refusal_grounds(item),
            # 挂证: the reviewers (province, ministry) see the person's open social-insurance conflicts.
            conflicts=conflicts.open_for_person(item.person_id) if conflicts.may_review(user) else [],
        )

    def _get_show_widget(self, pk, item, widgets=None, actions=None, show_fieldsets=None):
        """Show only what the application's business type uses, in three groups."""
        btype = workflow.BUSINESS_TYPES.get(item.business_type)
        used = [_DISPLAY.get(name, name) for name in (btype.fields if btype else ())]
        if btype is not None and btype.records_previous_employer:
            used.insert(0, "previous_enterprise")
        fieldsets = [
            (_l("Application"), {"fields": ["number", "business_type_label", "state_label", "person",
                                            "registration", "province"]}),
            (_l("What is applied for"), {"fields": [f for f in used if f in self.show_columns]}),
            (_l("Progress"), {"fields": ["submitted_at", "state_changed_at", "stage_deadline", "announcement"]}),
        ]
        return super()._get_show_widget(pk, item, widgets=widgets, actions=actions, show_fieldsets=fieldsets)

    def _left_this_view(self, pk, t, user):
        """A record this view no longer lists but the user still sees (the queue after the move was taken, e.g.
        a double submission): who handled it and when, on its page under All applications; otherwise 404."""
        flash(self._handled_elsewhere(pk, t, user), "warning")
        return redirect(url_for("ApplicationsView.show", pk=pk))

    @staticmethod
    def _handled_elsewhere(pk, t, user) -> str:
        """Why a record the user still sees is not offered here (who handled it, when); 404 if out of scope."""
        item = db.session.get(Application, pk)
        if item is None or not scope.can_see(user, item):
            abort(404)
        handled = workflow.already_handled(pk, t)
        return str(handled.message) if handled else _("This action is not available on this application now.")

    # --- confirmation page and the move itself ----------------------------------------------------
    @expose("/transition/<int:pk>/<action>", methods=["GET", "POST"])
    def transition(self, pk, action):
        user = current_user()
        if not getattr(user, "is_authenticated", False):
            return redirect(self.appbuilder.get_url_for_login)
        item = self.datamodel.get(pk, self._base_filters)
        t = workflow.TRANSITIONS.get(action)
        if t is None:
            abort(404)
        if item is None:
            return self._left_this_view(pk, t, user)
        if not may_take(action):
            abort(403)
        if t.needs_sms:  # signed with an SMS code and the agreements: the personal edition's form does that
            return redirect(url_for("ApplyView.form", business_type=item.business_type))
        if request.method == "POST":
            try:
                workflow.apply(item.id, workflow.Move(action, opinion=request.form.get("opinion"),
                                                      version=request.form.get("version", type=int),
                                                      attested=request.form.get("attested") == "y",
                                                      reason=request.form.get("reason")), user)
            except workflow.NotFound:
                abort(404)
            except workflow.WorkflowError as exc:
                flash_workflow_error(exc)
                if self.datamodel.get(pk, self._base_filters) is None:  # moved on meanwhile: out of the queue
                    return redirect(url_for("ApplicationsView.show", pk=pk))
                return redirect(url_for(f"{self.__class__.__name__}.show", pk=pk))
            db.session.refresh(item)
            flash(_("%(number)s: %(action)s done. Now: %(state)s.", number=item.number, action=t.label,
                    state=item.state_label), "success")
            if self.datamodel.get(pk, self._base_filters) is None:
                return redirect(url_for(f"{self.__class__.__name__}.list"))
            return redirect(url_for(f"{self.__class__.__name__}.show", pk=pk))
        option = next((o for o in workflow.available(item, user) if o.action == action), None)
        if option is None:
            flash(_("This action is not available on this application now."), "warning")
            return redirect(url_for(f"{self.__class__.__name__}.show", pk=pk))
        return self.render_template("applications/transition.html", item=item, option=option,
                                    attestation=workflow.attestation_text(t, item),
                                    title=t.label, back=url_for(f"{self.__class__.__name__}.show", pk=pk))

    @expose("/pdf/<int:pk>")
    @has_access
    def pdf(self, pk):
        """The application form as a PDF (to print or file)."""

        item = self.get_in_scope(pk)
        data = render_pdf("application.html", item=item, role_labels=ROLE_LABELS)
        return Response(data, mimetype="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{item.number}.pdf"'})

    # --- applicant edits: the personal edition's form of the business type ---------------------------
    @expose("/add")
    @has_access
    def add(self):
        return redirect(url_for("ApplyView.index"))

    @expose("/edit/<pk>")
    @has_access
    def edit(self, pk):
        item = self.get_in_scope(pk)
        if item.state not in workflow.EDITABLE_STATES:
            flash(_("Only drafts and returned applications can be edited."), "warning")
            return redirect(url_for(f"{self.__class__.__name__}.show", pk=pk))
        return redirect(url_for("ApplyView.form", business_type=item.business_type))


class FilterActionable(BaseFilter):
    """Applications in a (business type, state) where the user's roles have a move: the queue (待办)."""

    name = "Actionable"
    arg_name = None

    def apply(self, query, value):
        user = current_user()
        return query.filter(workflow.actionable_clause(user_role_names(user), user))


def bulk_transitions():
    """The decisions staff take one application at a time, also offered on a selection (批量办理)."""
    return [t for t in workflow.TRANSITIONS.values()
            if not (t.auto or t.batch_only or t.needs_sms) and R.APPLICANT not in workflow.roles_of(t)]


def bulk_permission(action: str) -> str:
    return f"bulk_{action}"


class QueueView(ApplicationPanelView):
    """My queue: what the signed-in user can act on now, oldest first; decisions on a selection too."""

    base_filters = ApplicationPanelView.base_filters + [["id", FilterActionable, None]]
    base_order = ("state_changed_at", "asc")

    @expose("/bulk/<action>", methods=["GET", "POST"])
    @has_access
    def bulk(self, action):
        """Confirmation page for a decision on several applications; each moves in its own transaction."""
        t = workflow.TRANSITIONS.get(action)
        if t is None or t not in bulk_transitions():
            abort(404)
        if not self.appbuilder.sm.has_access(bulk_permission(action), self.class_permission_name):
            abort(403)
        ids = [i for i in map(row_id, (request.values.get("ids") or "").split(",")) if i is not None][:200]
        user = current_user()
        back = url_for(f"{self.__class__.__name__}.list")
        items, handled = [], []
        for pk in ids:
            item = self.datamodel.get(pk, self._base_filters)
            if item is None:  # left the queue (handled meanwhile, e.g. a double submission) or out of scope: 404
                reason = self._handled_elsewhere(pk, t, user)
                handled.append(f"{db.session.get(Application, pk).number}: {reason}")
            else:
                items.append(item)
        for line in handled:
            flash(line, "warning")
        if not items:
            return redirect(back)
        if request.method == "POST":
            done, failed = [], []
            for item in items:
                try:
                    workflow.apply(item.id, workflow.Move(action, opinion=request.form.get("opinion"),
                                                          version=request.form.get(f"version_{item.id}", type=int),
                                                          attested=request.form.get(f"attested_{item.id}") == "y",
                                                          reason=request.form.get("reason")), user)
                    done.append(item.number)
                except workflow.WorkflowError as exc:
                    reasons = " ".join(str(r) for r in exc.reasons)
                    failed.append(f"{item.number}: {exc.message} {reasons}".strip())
            if done:
                flash(_("%(action)s done for %(count)s applications: %(numbers)s.", action=t.label,
                        count=len(done), numbers="、".join(done)), "success")
            for line in failed:
                flash(line, "danger")
            return redirect(back)
        options = {item.id: next((o for o in workflow.available(item, user) if o.action == action), None)
                   for item in items}
        return self.render_template("applications/bulk.html", items=items, transition=t, options=options,
                                    attestations={i.id: workflow.attestation_text(t, i) for i in items},
                                    title=t.label, back=back, ids=",".join(str(i.id) for i in items))


def _bulk_action(action: str, label):
    def handler(self, items):
        items = items if isinstance(items, list) else [items]
        return redirect(url_for(f"{self.__class__.__name__}.bulk", action=action,
                                ids=",".join(str(i.id) for i in items)))

    return flask_appbuilder_action(bulk_permission(action), label, None, "fa-check-square", single=False)(handler)


for _t in bulk_transitions():
    setattr(QueueView, bulk_permission(_t.action), _bulk_action(_t.action, _l("%(action)s (selected)", action=_t.label)))


class AnnouncementView(ScopedModelView):
    """Announcement batches: create, gather approved applications, publish (numbers the batch)."""

    show_template = "announcements/show.html"
    add_row_message = _l("Batch created. Next: add the approved applications awaiting announcement, then publish.")

    def pre_add(self, item):
        item.created_by_id = current_user().id
        item.state = ANNOUNCEMENT.initial

    def pre_update(self, item):
        """Only a draft is edited: the edit is a move of the batch (a published batch refuses it)."""
        try:
            take(ANNOUNCEMENT, "edit", item, current_user())
        except workflow.WorkflowError as exc:
            self.refuse(exc.message)

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        item = self.get_in_scope(pk)
        waiting = (db.session.query(Application.id)
                   .filter(Application.state == workflow.State.ANNOUNCE, Application.announcement_id.is_(None))
                   .count()) if ANNOUNCEMENT.allows("gather", item.state) else 0
        return self.render_template(self.show_template, pk=pk, title=self.show_title, widgets=self._show(pk),
                                    item=item, waiting=waiting, view_name=self.__class__.__name__,
                                    moves=ANNOUNCEMENT.actions_from(item.state), published=BatchState.PUBLISHED,
                                    can_manage=self.appbuilder.sm.has_access("can_publish", self.class_permission_name))

    @expose("/pdf/<int:pk>")
    @has_access
    def pdf(self, pk):
        """The announcement as published (公告): name, masked ID, registration number, specialties, employer,
        and the electronic certificate issued on it (number and validity), once issued."""
        from itertools import groupby

        from flask import current_app


        batch = self.get_in_scope(pk)
        rows = sorted(batch.applications, key=lambda a: (a.business_type, a.id))
        groups = [(workflow.BUSINESS_TYPES[code].label, list(group))
                  for code, group in groupby(rows, key=lambda a: a.business_type)]

        certificates = {c.application_id: c for c in db.session.query(Certificate).filter(
            Certificate.application_id.in_([a.id for a in rows] or [0]))}
        data = render_pdf("announcement.html", batch=batch, rows=rows, groups=groups, certificates=certificates,
                          issuer=current_app.config.get("CERTIFICATE_ISSUER", ""))
        return Response(data, mimetype="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="announcement-{batch.id}.pdf"'})

    @expose("/gather/<int:pk>", methods=["POST"])
    @has_access
    def gather(self, pk):
        try:
            count = announcements.gather(pk, current_user())
            flash(_("%(count)s applications added to the batch.", count=count), "success")
        except workflow.NotFound:
            abort(404)
        except workflow.WorkflowError as exc:
            flash_workflow_error(exc)
        return redirect(url_for(f"{self.__class__.__name__}.show", pk=pk))

    @expose("/publish/<int:pk>", methods=["GET", "POST"])
    @has_access
    def publish(self, pk):
        item = self.get_in_scope(pk)
        if request.method == "GET":
            return self.render_template("announcements/publish.html", item=item, title=_l("Publish announcement"),
                                        back=url_for(f"{self.__class__.__name__}.show", pk=pk))
        try:
            batch = announcements.publish(pk, current_user())
            flash(_("Announcement %(number)s published with %(count)s applications.", number=batch.number,
                    count=len(batch.applications)), "success")
        except workflow.NotFound:
            abort(404)
        except workflow.WorkflowError as exc:
            flash_workflow_error(exc)
        return redirect(url_for(f"{self.__class__.__name__}.show", pk=pk))
