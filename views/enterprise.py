"""The enterprise officer's own pages: the enterprise profile (contact details they keep up to date)
and the constructors registered with the enterprise, with their specialties and expiry dates."""
from datetime import timedelta

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.forms import DynamicForm
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlalchemy.orm import selectinload
from wtforms import StringField
from wtforms.validators import Length, Optional

from ground.clock import today
from ground.extensions import db
from app.scope import current_user
from models import Enterprise, Registration, RegistrationSpecialty

from views.forms import ContactPhone, PersonName

PAGE_SIZE = 50
EXPIRY_WARNING_DAYS = 90


class EnterpriseProfileForm(DynamicForm):
    address = StringField(_l("Address"), validators=[Optional(), Length(max=200)])
    legal_representative = StringField(_l("Legal representative"),
                                       validators=[Optional(), Length(max=50), PersonName()])
    contact_phone = StringField(_l("Contact phone"), validators=[Optional(), Length(max=40), ContactPhone()],
                                description=_l("A mobile, or a landline with area code: 010-12345678, 0755-1234567-123."))


def _own_enterprise() -> Enterprise:
    enterprise_id = getattr(current_user(), "enterprise_id", None)
    enterprise = db.session.get(Enterprise, enterprise_id) if enterprise_id else None
    if enterprise is None:
        abort(403)
    return enterprise


class EnterpriseProfileView(BaseView):
    route_base = "/enterprise-profile"
    default_view = "profile"

    @expose("/", methods=["GET", "POST"])
    @has_access
    def profile(self):
        enterprise = _own_enterprise()
        form = EnterpriseProfileForm(obj=enterprise) if request.method == "GET" else EnterpriseProfileForm()
        if request.method == "POST" and form.validate_on_submit():
            form.populate_obj(enterprise)
            db.session.commit()
            flash(_("The enterprise profile is saved."), "success")
            return redirect(url_for("EnterpriseProfileView.profile"))
        return self.render_template("enterprise/profile.html", enterprise=enterprise, form=form)

    @expose("/constructors")
    @has_access
    def constructors(self):
        """Active registrations with the enterprise, soonest expiry first."""
        enterprise = _own_enterprise()
        page = min(max(request.args.get("page", 1, type=int) or 1, 1), 10**6)  # an offset SQL can hold
        soonest = (db.session.query(RegistrationSpecialty.registration_id,
                                    func.min(RegistrationSpecialty.valid_until).label("soonest"))
                   .filter(RegistrationSpecialty.status == "active")
                   .group_by(RegistrationSpecialty.registration_id).subquery())
        query = (db.session.query(Registration, soonest.c.soonest)
                 .join(soonest, soonest.c.registration_id == Registration.id)
                 .filter(Registration.enterprise_id == enterprise.id, Registration.status == "active"))
        total = query.count()
        rows = (query.options(selectinload(Registration.person), selectinload(Registration.specialties))
                .order_by(soonest.c.soonest, Registration.id)
                .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE).all())
        return self.render_template("enterprise/constructors.html", enterprise=enterprise, rows=rows, page=page,
                                    pages=max(1, -(-total // PAGE_SIZE)), total=total, today=today(),
                                    warn_before=today() + timedelta(days=EXPIRY_WARNING_DAYS))
