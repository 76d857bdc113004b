"""People read words, not codes: 操作轨迹, the audit log, the transition log, the SMS outbox, the dictionaries
and the account pages show every code (action, object, role, state, kind, status, purpose) as a translated
label. The pages are rendered with rows of every kind and their visible text is searched for the codes."""
import re
from html.parser import HTMLParser

import pytest

from app import workflow
from ground.extensions import db
from ground.roles import BUSINESS_ROLES
from models import AuditLog, Certificate, Person
from models.choices import ATTACHMENT_KINDS, SMS_PURPOSES
from tests import factories as f
from tests.conftest import csrf_token, login


class _Text(HTMLParser):
    """The text a person sees: no tags, attributes, scripts or styles."""

    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def codes() -> set[str]:
    """Codes no page may show: states, business types, actions, audit actions, object and role names, kinds."""
    found = set(workflow.STATE_LABELS) | set(workflow.BUSINESS_TYPES) | {f"transition.{a}" for a in workflow.TRANSITIONS}
    found |= {"login", "logout", "login_failed", "login_refused", "password_change", "print", "view", "create",
              "update", "AppUser", "Certificate", "Application", "Person", "Attachment", "RealnameRequest",
              "RegistrationSpecialty", "AnnouncementBatch", "simulator", "pending"}
    found |= set(BUSINESS_ROLES) | set(ATTACHMENT_KINDS) | set(SMS_PURPOSES)
    found |= {"ApplicationsView.pdf", "CertificatesView.pdf"}
    return found - {"draft"} | {"draft →"}  # "draft" alone is an English word of the en pages


# English labels that are spelled like their codes ("Certificate", "Applicant", "photo" in "1-inch ID photo"):
# on English pages only the codes no English sentence contains are looked for.
_ENGLISH_WORDS = re.compile(r"^[A-Z]?[a-z]+$")


def raw_codes(html: str) -> list[str]:
    text = visible_text(html)
    english = 'lang="en"' in html
    wanted = {c for c in codes() if not (english and _ENGLISH_WORDS.match(c))}
    return sorted(code for code in wanted if re.search(rf"(?<![\w.]){re.escape(code)}(?![\w.])", text))


@pytest.fixture(scope="module")
def world(app):
    """An applicant with a certificate (sign-ins, submissions, prints, a provincial officer viewing the photo),
    another who started online real-name verification, and staff."""
    with app.app_context():
        staff = f.Staff()
        enterprise = f.make_enterprise("11")
        username, person_id, app_id = f.register(staff, enterprise)
        certificate = db.session.query(Certificate.id).filter_by(person_id=person_id).scalar()
        photo = db.session.get(Person, person_id).latest_attachment("photo").id
        unverified, _ = f.make_applicant(verified=False)
        admin = f.make_user("Admin")
        return {"applicant": username, "certificate": certificate, "photo": photo, "application": app_id,
                "unverified": unverified, "ministry": staff.ministry, "province": staff.province("11"),
                "admin": admin}


@pytest.fixture(scope="module")
def trail(app, world):
    """The applicant prints, the officer looks at the photo, the other person starts online verification."""
    applicant = login(app.test_client(), world["applicant"])
    assert applicant.get(f"/certificates/pdf/{world['certificate']}").status_code == 200
    assert applicant.get(f"/applications/pdf/{world['application']}").status_code == 200
    officer = login(app.test_client(), world["province"])
    assert officer.get(f"/attachments/file/{world['photo']}").status_code == 200
    other = login(app.test_client(), world["unverified"])
    other.post("/me/verify/online", data={"csrf_token": csrf_token(other, "/me/verify")})
    with app.app_context():
        kinds = {a for (a,) in db.session.query(AuditLog.action).distinct()}
    assert {"print", "view", "login", "transition.submit", "create"} <= kinds
    return world


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_operation_trail_shows_labels(app, trail, lang):
    for who in ("applicant", "unverified"):
        client = login(app.test_client(), trail[who], lang=lang)
        page = client.get("/me/trail").get_data(as_text=True)
        assert not raw_codes(page), (who, raw_codes(page))
    if lang == "zh":
        assert "待企业确认" in page or "在线认证" in page


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_audit_log_shows_labels(app, trail, lang):
    client = login(app.test_client(), trail["ministry"], lang=lang)
    page = client.get("/auditlog/list/?psize_AuditLogView=100").get_data(as_text=True)
    assert not raw_codes(page), raw_codes(page)
    with app.app_context():
        ids = [i for (i,) in db.session.query(AuditLog.id).order_by(AuditLog.id.desc()).limit(60)]
    for row_id in ids:
        page = client.get(f"/auditlog/show/{row_id}").get_data(as_text=True)
        assert not raw_codes(page), (row_id, raw_codes(page))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_staff_lists_show_labels(app, trail, lang):
    admin = login(app.test_client(), trail["admin"], lang=lang)
    ministry = login(app.test_client(), trail["ministry"], lang=lang)
    for client, url in ((admin, "/smsoutbox/list/"), (ministry, "/transitionlog/list/"),
                        (admin, "/users/list/?psize_AppUserDBModelView=100"), (admin, "/roles/list/"),
                        (ministry, "/myqueue/list/"), (ministry, "/applications/list/")):
        page = client.get(url).get_data(as_text=True)
        assert not raw_codes(page), (url, raw_codes(page))


def test_dictionary_columns_are_named_for_what_they_hold(app, trail):
    client = login(app.test_client(), trail["ministry"], lang="zh")
    provinces = visible_text(client.get("/provinces/list/").get_data(as_text=True))
    assert "省份名称" in provinces and "姓名" not in provinces
    enterprises = visible_text(client.get("/enterprises/list/").get_data(as_text=True))
    assert "企业名称" in enterprises and "姓名" not in enterprises


def test_every_audited_field_has_a_label(app):
    """An audit row's detail names the columns of the model it records: each has a label to show."""
    from flask_appbuilder import Model

    from views.audit_display import AUDIT_FIELD_LABELS
    from views.registry import DETAIL_LABELS

    missing = []
    for mapper in Model.registry.mappers:
        model = mapper.class_
        if not getattr(model, "__audited__", False):
            continue
        names = [c.key for c in mapper.column_attrs if c.key not in getattr(model, "__audit_ignore__", ())]
        names += list(getattr(model, "__audit_relations__", ()))
        missing += [f"{model.__name__}.{n}" for n in names if n not in DETAIL_LABELS and n not in AUDIT_FIELD_LABELS]
    assert not missing, missing


def test_roles_are_described_in_words(app, trail):
    client = login(app.test_client(), trail["admin"], lang="zh")
    listed = visible_text(client.get("/roles/list/").get_data(as_text=True))
    assert "部注册中心" in listed and "审批或不予注册" in listed and "申请人" in listed
    with app.app_context():
        from flask_appbuilder.security.sqla.models import Role

        ministry = db.session.query(Role).filter_by(name="Ministry").one().id
    shown = visible_text(client.get(f"/roles/show/{ministry}").get_data(as_text=True))
    assert "审批通过" in shown and "数据导出" in shown and not raw_codes(shown)
