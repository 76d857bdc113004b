"""The login account: FAB's user row extended with what binds it to a scope.

Applicant → person_id; Enterprise → enterprise_id; Province → province_code; Industry → its specialties
(models/industry.py); Ministry/Admin → none.

`token_stamp` goes into every API token (views/shell/api_tokens.py): a new password, deactivation and
sign-out raise it, and every token issued before stops working at its next request.
"""
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, event
from sqlalchemy.orm import relationship

from models.industry import user_industry_specialty


class AppUser(User):
    __tablename__ = "ab_user"
    # The administrator's changes to accounts are in the audit trail (roles, bindings, activation); the
    # password only as the fact that it changed; sign-in bookkeeping has its own login events.
    __audited__ = True
    __audit_redact__ = ("password",)
    __audit_ignore__ = ("last_login", "login_count", "fail_login_count", "locked_until", "changed_on",
                        "created_on", "changed_by_fk", "created_by_fk", "token_stamp")
    __audit_relations__ = ("roles", "industry_specialties")

    person_id = Column(Integer, ForeignKey("person.id"), unique=True, index=True)
    enterprise_id = Column(Integer, ForeignKey("enterprise.id"), index=True)
    province_code = Column(String(2), ForeignKey("province.code"), index=True)
    # Set after LOGIN_MAX_FAILURES consecutive failures; the lock lifts by itself at this time (UTC).
    locked_until = Column(DateTime)
    # A staff account's own person (by verified ID number, app/accounts.py link_staff_person): the engine refuses
    # this account any move on that person's applications (no self-review).
    staff_person_id = Column(Integer, ForeignKey("person.id"), index=True)
    # In every API token; raised to revoke them all (a new password, deactivation, sign-out).
    token_stamp = Column(Integer, nullable=False, default=0, server_default="0")

    person = relationship("Person", foreign_keys=[person_id])
    staff_person = relationship("Person", foreign_keys=[staff_person_id])
    enterprise = relationship("Enterprise", foreign_keys=[enterprise_id])
    province = relationship("Province", foreign_keys=[province_code])
    # An Industry account's specialties (行业主管部门: the ones it gives its opinion on).
    industry_specialties = relationship("Specialty", secondary=user_industry_specialty, lazy="select",
                                        order_by="Specialty.sort_order")

    def get_full_name(self):
        """Chinese names are written without a space between family and given name."""
        first, last = self.first_name or "", self.last_name or ""
        if any("\u4e00" <= ch <= "\u9fff" for ch in first + last):
            return f"{first}{last}"
        return f"{first} {last}".strip()

    @property
    def full_name(self) -> str:
        return self.get_full_name()

    @property
    def role_names(self) -> set[str]:
        return {role.name for role in self.roles}


def revoke_tokens(user: AppUser):
    """Every API token issued to the account so far stops working (flushed with the account)."""
    user.token_stamp = (user.token_stamp or 0) + 1


@event.listens_for(AppUser.password, "set")
def _password_set(user, value, old, _initiator):
    if value != old:  # any path: own change, SMS reset, the administrator's reset
        revoke_tokens(user)


@event.listens_for(AppUser.active, "set")
def _active_set(user, value, old, _initiator):
    if not value and old:  # deactivation (reactivating does not bring old tokens back)
        revoke_tokens(user)
