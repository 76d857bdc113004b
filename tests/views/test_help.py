"""技术支持 and 使用帮助: the configured support contact on every page and the login page, and the help page
of each role (and of visitors), with the SMS and rule values read from the settings; Chinese by default."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from flask import url_for

from tests import factories as f
from tests.conftest import login
from tests.views.browser import browser_fixture, live_server_fixture  # noqa: F401 (fixtures)

SUPPORT = {
    "SUPPORT_PHONES": ["010-6543 2100", "400-810-0000"],
    "SUPPORT_HOURS": "周一至周五 8:30–17:00",
    "SUPPORT_HOURS_EN": "Mon–Fri 8:30–17:00",
    "SUPPORT_ADDRESS": "北京市测试区帮助路9号",
    "SUPPORT_ADDRESS_EN": "9 Help Road, Beijing",
    "SUPPORT_SITE": "https://help.example.invalid",
    "SUPPORT_EMAIL": "support@example.invalid",
}


@pytest.fixture
def support(app, monkeypatch):
    """The support settings of this test, and rule and SMS values no default has."""
    for key, value in SUPPORT.items():
        monkeypatch.setitem(app.config, key, value)
    monkeypatch.setitem(app.config, "SMS_CODE_TTL_SECONDS", 420)
    monkeypatch.setitem(app.config, "SMS_RESEND_SECONDS", 75)
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES", 4)
    monkeypatch.setitem(app.config, "LOGIN_LOCK_MINUTES", 25)
    monkeypatch.setitem(app.config["RULES"], "AGE_LIMIT", 63)
    monkeypatch.setitem(app.config["RULES"], "RENEWAL_WINDOW_DAYS", 45)
    monkeypatch.setitem(app.config["STAGE_TIME_LIMITS"]["initial"], "enterprise_review", 13)
    return SUPPORT


@pytest.fixture(scope="module")
def users(app):
    with app.app_context():
        applicant, _ = f.make_applicant()
        return {
            "Applicant": applicant,
            "Enterprise": f.make_user("Enterprise", enterprise_id=f.make_enterprise()),
            "Province": f.make_user("Province", province_code="11"),
            "Ministry": f.make_user("Ministry"),
            "Admin": f.make_user("Admin"),
            "Industry": f.Staff().industry(("railway",)),
            "SecurityAdmin": f.make_user("SecurityAdmin"),
            "AuditAdmin": f.make_user("AuditAdmin"),
        }


def _client(app, users, role, lang="en"):
    client = app.test_client()
    if role is None:
        if lang:
            client.get(f"/lang/{lang}")
        return client
    return login(client, users[role], lang=lang)


def _url(app, endpoint, **values):
    with app.test_request_context():
        return url_for(endpoint, **values)


def _footer(html) -> str:
    match = re.search(r'<div class="support-footer">(.*?)</footer>', html, re.S)
    assert match, "no support footer on the page"
    return match.group(1)


@pytest.mark.parametrize("role, path", [
    (None, "/"), (None, "/login/"), (None, "/verify/"), (None, "/registry/"), (None, "/help/"),
    ("Ministry", "/applications/list/"), ("Province", "/myqueue/list/"), ("Admin", "/users/list/"),
    ("Applicant", "/me/"), ("Applicant", "/apply/"), ("Enterprise", "/enterprise-profile/"),
    ("Ministry", "/exports/"), ("Ministry", "/exports/persons/"),
])
def test_every_page_has_the_configured_support_contact_in_its_footer(app, users, support, role, path):
    resp = _client(app, users, role, lang=None).get(path)
    assert resp.status_code == 200, path
    footer = _footer(resp.get_data(as_text=True))
    assert "010-6543 2100" in footer and "400-810-0000" in footer and 'href="tel:01065432100"' in footer
    assert support["SUPPORT_HOURS"] in footer and support["SUPPORT_ADDRESS"] in footer
    assert "https://help.example.invalid" in footer and "support@example.invalid" in footer
    assert 'href="/help/"' in footer


def test_login_page_has_a_support_box(app, support):
    html = app.test_client().get("/login/").get_data(as_text=True)
    box = re.search(r'<div class="panel panel-default support-box">(.*?)</div>\s*</div>', html, re.S)
    assert box, "no support box on the login page"
    assert "010-6543 2100" in box.group(1) and support["SUPPORT_HOURS"] in box.group(1)
    assert 'href="/help/"' in box.group(1)


def test_email_is_shown_only_when_set(app, support, monkeypatch):
    monkeypatch.setitem(app.config, "SUPPORT_EMAIL", "")
    footer = _footer(app.test_client().get("/").get_data(as_text=True))
    assert "mailto:" not in footer and "010-6543 2100" in footer


def test_settings_come_from_the_environment():
    env = {**os.environ, "SUPPORT_PHONES": "0531-1111111, 0531-2222222", "SUPPORT_HOURS": "全天",
           "SUPPORT_SITE": "https://s.example.invalid"}
    out = subprocess.run([sys.executable, "-c", "import config; print(config.SUPPORT_PHONES, config.SUPPORT_HOURS, "
                          "config.SUPPORT_SITE)"], cwd=Path(__file__).resolve().parents[2], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['0531-1111111', '0531-2222222'] 全天 https://s.example.invalid"


# Per guide: an endpoint only that guide links to, and English text only it has.
GUIDES = {
    None: ("visitor", [("SignUpView.basic", {}), ("PublicView.verify_form", {}), ("PasswordResetView.start", {})],
           ["Open an account (applicants)", "Verify a certificate", "locked for 25 minutes"]),
    "Applicant": ("applicant", [("ApplyView.form", {"business_type": "renewal"}), ("MyAccountView.phone", {}),
                                ("ProgressView.index", {})],
                  ["valid for 7 minutes", "75 seconds after the last one", "63 years of age",
                   "Renewal opens 45 days before", "Common refusals", "locked for 25 minutes"]),
    "Enterprise": ("enterprise", [("EnterpriseProfileView.constructors", {}), ("MyQueueView.list", {})],
                   ["Confirm and submit", "labour contract for the stated period"]),
    "Province": ("province", [("RealnameQueueView.list", {}), ("MyQueueView.list", {})],
                 ["On-site real-name verification", "Refuse registration"]),
    "Ministry": ("ministry", [("AnnouncementsView.add", {}), ("RosterImportView.upload", {}),
                              ("CertificatesView.list", {}), ("exports.index", {})],
                 ["Announcement batches", "Publishing cannot be undone"]),
    "Industry": ("industry", [("MyQueueView.list", {}), ("ApplicationsView.list", {})],
                 ["Give industry opinion", "neither returns nor refuses"]),
    "Admin": ("admin", [("AppUserDBModelView.list", {}), ("SmsOutboxView.list", {}), ("SpecialtiesView.list", {})],
              ["Unlock", "SMS outbox", "The audit administrator reads the audit log"]),
    "SecurityAdmin": ("securityadmin", [("AppUserDBModelView.roles", {}), ("RoleModelView.list", {})],
                      ["Nobody changes the roles of their own account"]),
    "AuditAdmin": ("auditadmin", [("AuditLogView.list", {})], ["grant of a role"]),
}


@pytest.mark.parametrize("role", list(GUIDES))
def test_help_page_shows_the_guide_of_ones_own_role(app, users, support, role):
    resp = _client(app, users, role).get("/help/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    key, links, phrases = GUIDES[role]
    assert f'id="help-{key}"' in html
    for endpoint, values in links:
        assert f'href="{_url(app, endpoint, **values)}"' in html, endpoint
    for phrase in phrases:
        assert phrase in html, phrase
    for other, (other_key, _, _) in GUIDES.items():
        if other != role:
            assert f'id="help-{other_key}"' not in html
    assert "010-6543 2100" in re.search(r'class="panel panel-default support-box">(.*?)</ul>', html, re.S).group(1)


def test_staff_guides_print_the_configured_time_limits(app, users, support):
    html = _client(app, users, "Enterprise").get("/help/").get_data(as_text=True)
    table = re.search(r'<table class="table table-condensed table-bordered help-deadlines">(.*?)</table>', html, re.S)
    first_row = re.search(r"<tbody>\s*<tr>(.*?)</tr>", table.group(1), re.S).group(1)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", first_row)
    assert cells[0] == "Initial registration" and cells[1:] == ["13", "20", "10", "20"]  # with the industry opinion
    renewal = re.findall(r"<td[^>]*>([^<]*)</td>", re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)[4])
    assert renewal[0] == "Renewal" and renewal[3] == "—"  # no industry opinion


def test_staff_may_read_the_other_guides_applicants_and_visitors_only_theirs(app, users, support):
    ministry = _client(app, users, "Ministry")
    for role, (key, _, _) in GUIDES.items():
        html = ministry.get("/help/", query_string={"role": role or "visitor"}).get_data(as_text=True)
        assert f'id="help-{key}"' in html, role
    html = ministry.get("/help/?role=nobody").get_data(as_text=True)
    assert 'id="help-ministry"' in html
    applicant = _client(app, users, "Applicant")
    assert 'id="help-applicant"' in applicant.get("/help/?role=Ministry").get_data(as_text=True)
    assert 'id="help-visitor"' in applicant.get("/help/?role=visitor").get_data(as_text=True)
    visitor = _client(app, users, None)
    html = visitor.get("/help/?role=Applicant").get_data(as_text=True)
    assert 'id="help-applicant"' in html and "valid for 7 minutes" in html
    assert 'id="help-visitor"' in visitor.get("/help/?role=Admin").get_data(as_text=True)


def test_outbox_note_only_with_the_outbox_gateway(app, users, support, monkeypatch):
    client = _client(app, users, "Applicant")
    assert "SMS outbox" in client.get("/help/").get_data(as_text=True)
    monkeypatch.setitem(app.config, "SMS_BACKEND", "some.gateway.TelecomGateway")
    assert "SMS outbox" not in client.get("/help/").get_data(as_text=True)


@pytest.mark.parametrize("role", ["Applicant", "Enterprise", "Ministry", "Admin"])
def test_help_is_in_the_menu_of_every_signed_in_user(app, users, role):
    html = _client(app, users, role).get("/").get_data(as_text=True)
    navbar = html[html.index('<ul class="nav navbar-nav">'):html.index('<ul class="nav navbar-nav navbar-right">')]
    assert 'href="/help/"' in navbar


def test_chinese_by_default_english_after_switching(app, users, support):
    from flask_babel import force_locale, gettext

    with app.test_request_context():
        with force_locale("zh"):
            zh_title, zh_apply = gettext("Technical support"), gettext("Registration applications")
    client = _client(app, users, "Applicant", lang=None)
    html = client.get("/help/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert zh_apply == "注册申报" and "注册申报" in html and zh_title in _footer(html)
    assert support["SUPPORT_HOURS"] in html and support["SUPPORT_ADDRESS"] in html
    client.get("/lang/en")
    html = client.get("/help/").get_data(as_text=True)
    assert '<html lang="en">' in html and "注册申报" not in html
    assert "Registration applications" in html and "Technical support" in _footer(html)
    assert support["SUPPORT_HOURS_EN"] in html and support["SUPPORT_ADDRESS_EN"] in html
    assert support["SUPPORT_HOURS"] not in html


def test_footer_follows_the_page_at_1024x768(app, live_server, browser):
    """The footer is part of the page flow (not fixed over it) and the login form stays above it."""
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        page.goto(f"{live_server}/login/")
        footer = page.locator(".support-footer")
        assert footer.evaluate("e => getComputedStyle(e.closest('footer > div')).position") == "static"
        box_bottom = page.locator(".login-box").evaluate("e => e.getBoundingClientRect().bottom")
        assert footer.evaluate("e => e.getBoundingClientRect().top") >= box_bottom
        assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    finally:
        page.close()


def test_staff_reading_another_roles_guide_get_no_links_they_cannot_open(app, users):
    """The applicant's guide read by an officer names the applicant's pages without linking to them (403)."""
    client = _client(app, users, "Ministry", lang="zh")
    page = client.get("/help/?role=Applicant").get_data(as_text=True)
    assert 'href="/apply/' not in page and 'href="/me/' not in page and 'href="/progress/' not in page
    assert "注册申报" in page
    admin = _client(app, users, "Admin", lang="zh").get("/help/?role=Ministry").get_data(as_text=True)
    assert 'href="/dashboard/' not in admin and 'href="/exports/' not in admin
    own = _client(app, users, "Applicant", lang="zh").get("/help/").get_data(as_text=True)
    assert 'href="/apply/"' in own and 'href="/progress/"' in own
