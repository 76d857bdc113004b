"""The home page: what the signed-in user should do next (queue size, own applications), per role; for the
administrator, the years whose holidays are not entered yet (deadlines there count Monday to Friday)."""
from flask_appbuilder import IndexView as FabIndexView
from flask_appbuilder import expose

from ground.clock import today
from ground.roles import ADMIN, ROLE_LABELS, user_role_names
from models import Application, Certificate
from app import scope, workflow
from app.accounts import next_step as next_sign_up_step
from app.services import workdays


class IndexView(FabIndexView):
    index_template = "index.html"

    @expose("/")
    def index(self):
        user = scope.current_user()
        if not getattr(user, "is_authenticated", False):
            return self.render_template(self.index_template, user=None)
        roles = user_role_names(user)
        queue = (scope.query(Application, user).filter(workflow.actionable_clause(roles, user))
                 .order_by(Application.state_changed_at).limit(5).all())
        queue_count = scope.query(Application, user).filter(workflow.actionable_clause(roles, user)).count()
        own = []
        certificates = []
        next_step = None
        if getattr(user, "person", None) is not None:

            next_step = next_sign_up_step(user.person)
        if getattr(user, "person_id", None):
            own = (scope.query(Application, user).filter(Application.person_id == user.person_id)
                   .order_by(Application.id.desc()).limit(5).all())
            certificates = (scope.query(Certificate, user).filter(Certificate.person_id == user.person_id)
                            .order_by(Certificate.id.desc()).limit(3).all())
        calendar_gaps = workdays.years_without_data(today()) if ADMIN in roles else []
        return self.render_template(
            self.index_template, user=user, role_labels=[ROLE_LABELS[r] for r in ROLE_LABELS if r in roles],
            calendar_gaps=calendar_gaps,
            queue=queue, queue_count=queue_count, own=own, certificates=certificates, next_step=next_step,
            owner_labels={s: ROLE_LABELS[r] for s, r in workflow.STAGE_OWNER.items()},
        )
