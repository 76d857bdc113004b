"""Help (使用帮助) and technical support (技术支持).

The support contact (settings SUPPORT_*) is printed in every page's footer and on the login page; /help/
is a short guide per role, open to everyone: visitors, applicants and each staff role see their own by
default; staff may open the others' with ?role=. Rule and SMS values are read from the settings.
"""
from flask import current_app, request, url_for
from flask_appbuilder import BaseView, expose
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from ground.roles import (ADMIN, APPLICANT, AUDIT_ADMIN, ENTERPRISE, EXPORTS, INDUSTRY, MINISTRY, PROVINCE,
                          ROLE_LABELS, SECURITY_ADMIN, user_role_names)
from app import scope
from app.accounts import steps
from app.workflow import BUSINESS_TYPES
from views.apply import MENU_ORDER
from views.shell.access import view_of

VISITOR = "visitor"
TOPICS = (VISITOR, APPLICANT, ENTERPRISE, PROVINCE, MINISTRY, INDUSTRY, ADMIN, SECURITY_ADMIN, AUDIT_ADMIN)
TOPIC_LABELS = {VISITOR: _l("Visitors"), **ROLE_LABELS}
OPEN_TOPICS = (VISITOR, APPLICANT)  # what visitors and applicants may switch between; staff see every topic
_OWN_ORDER = (MINISTRY, PROVINCE, INDUSTRY, ENTERPRISE, ADMIN, SECURITY_ADMIN, AUDIT_ADMIN, APPLICANT)  # the first role a user holds chooses the guide
HELP_MENU = "Help"

# The stages of a pipeline, in the old manual's words (企业上报, 省级审查, 部级审批, 公告, 发证).
STAGE_NAMES = {
    "enterprise_review": _l("Enterprise submission"),
    "release_pending": _l("Release by the previous employer"),
    "province_review": _l("Provincial review"),
    "industry_review": _l("Industry department opinion"),
    "ministry_review": _l("Ministry approval"),
    "announce_pending": _l("Announcement"),
    "issue_pending": _l("Certificate issue"),
}
DEADLINE_STAGES = ("enterprise_review", "province_review", "industry_review", "ministry_review")


def support_contact() -> dict:
    """The support contact in the page's language (a Jinja global: footer, login page, help page)."""
    cfg = current_app.config
    english = str(get_locale() or "zh").startswith("en")

    def text(name):
        return (english and cfg.get(f"{name}_EN")) or cfg.get(name) or ""

    phones = cfg.get("SUPPORT_PHONES") or []
    if isinstance(phones, str):
        phones = [p.strip() for p in phones.split(",") if p.strip()]
    return {"phones": phones, "hours": text("SUPPORT_HOURS"), "address": text("SUPPORT_ADDRESS"),
            "site": cfg.get("SUPPORT_SITE") or "", "email": cfg.get("SUPPORT_EMAIL") or ""}


def page_link(endpoint: str, text, **values):
    """A link to a page the reader may open; for a page of another role (staff reading the applicant's
    guide), the name alone. Visitors get the link: the page asks them to sign in."""
    from markupsafe import Markup, escape

    user = scope.current_user()
    allowed = True
    if getattr(user, "is_authenticated", False) and endpoint.startswith("exports."):
        allowed = current_app.appbuilder.sm.has_access("can_export", EXPORTS)  # Flask-Admin's pages
    elif getattr(user, "is_authenticated", False):
        view, method = view_of(endpoint), endpoint.rsplit(".", 1)[1]
        if view is not None:
            permission = "can_" + view.method_permission_name.get(method, method)
            allowed = current_app.appbuilder.sm.has_access(permission, view.class_permission_name)
    if not allowed:
        return Markup('<span class="page-name">{}</span>').format(text)
    return Markup('<a href="{}">{}</a>').format(url_for(endpoint, **values), escape(text))


def own_topic(user) -> str:
    roles = user_role_names(user)
    return next((role for role in _OWN_ORDER if role in roles), VISITOR)


def _facts() -> dict:
    """Setting values the guides print (never hard-coded in the text)."""
    cfg = current_app.config
    rules = cfg["RULES"]
    limits = cfg.get("STAGE_TIME_LIMITS", {})
    types = []
    for code in MENU_ORDER:
        btype = BUSINESS_TYPES[code]
        types.append({
            "code": code, "label": btype.label,
            "needs": btype.guide % {"fresh": rules["QUALIFICATION_FRESH_YEARS"], "validity": rules["VALIDITY_YEARS"],
                                    "window": rules["RENEWAL_WINDOW_DAYS"]},
            "notes": [note for switch, note in btype.guide_notes if rules.get(switch)],
            "pipeline": [STAGE_NAMES[s] if s not in btype.conditions else
                         _l("%(stage)s (flagged specialties)", stage=STAGE_NAMES[s]) for s in btype.stages],
            "limits": [limits.get(code, {}).get(s) if s in btype.stages else None for s in DEADLINE_STAGES],
        })
    lodged = [{"code": t.code, "label": t.label, "needs": t.guide, "starters": set(t.starters),
               "pipeline": [STAGE_NAMES[s] for s in t.stages],
               "limits": [limits.get(t.code, {}).get(s) if s in t.stages else None for s in DEADLINE_STAGES]}
              for t in BUSINESS_TYPES.values() if t.started_by_staff]
    return {
        "rules": rules, "types": types, "lodged": lodged, "deadline_stages": [STAGE_NAMES[s] for s in DEADLINE_STAGES],
        "sms_minutes": max(1, cfg["SMS_CODE_TTL_SECONDS"] // 60), "sms_resend": cfg["SMS_RESEND_SECONDS"],
        "sms_attempts": cfg["SMS_CODE_MAX_ATTEMPTS"], "sms_daily": cfg["SMS_DAILY_CAP"],
        "sms_outbox": cfg.get("SMS_BACKEND", "").endswith(".OutboxGateway"),
        "login_failures": cfg["LOGIN_MAX_FAILURES"], "lock_minutes": cfg["LOGIN_LOCK_MINUTES"],
        "password_min": cfg["PASSWORD_MIN_LENGTH"], "copy_days": cfg["CERTIFICATE_COPY_DAYS"],
    }


class HelpView(BaseView):
    """使用帮助: the guide of the signed-in user's role (visitors: opening an account, signing in, verifying)."""

    route_base = "/help"
    default_view = "index"

    @expose("/")
    def index(self):

        user = scope.current_user()
        own = own_topic(user)
        allowed = OPEN_TOPICS if own in OPEN_TOPICS else TOPICS
        topic = request.args.get("role", own)
        if topic not in allowed:
            topic = own
        return self.render_template("help/index.html", topic=topic, own=own,
                                    tabs=[(t, TOPIC_LABELS[t]) for t in allowed], signup_steps=steps(None),
                                    **_facts())


def install(app):
    """The `support_contact()` and `page_link()` template globals; the help's menu entry (views.registry)
    shown to everyone: it needs no menu_access grant (FAB checks one per role for menus)."""
    fab_visible = app.jinja_env.filters["is_menu_visible"]
    app.jinja_env.filters["is_menu_visible"] = lambda item: item.name == HELP_MENU or fab_visible(item)
    app.jinja_env.globals["support_contact"] = support_contact
    app.jinja_env.globals["page_link"] = page_link
