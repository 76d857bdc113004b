"""Separation of administrative duties (MLPS level 3, 三员分立; app/duties.py): the system administrator grants no
role and reads no audit log; the security administrator grants roles, never on its own account; an administration
role is held alone on every path (page, command line, a direct change of the model); every grant is audited and
the audit administrator reads it, and nothing else."""
import pytest
from sqlalchemy import text

from ground.extensions import db
from models import AuditLog
from tests import factories as f
from tests.conftest import csrf_token, login


def _roles(app, username) -> set:
    with app.app_context():
        db.session.expire_all()
        return f.user(username).role_names


def _role_id(app, name) -> int:
    with app.app_context():
        return app.appbuilder.sm.find_role(name).id


@pytest.fixture
def accounts(app):
    with app.app_context():
        return {"admin": f.make_user("Admin"), "secadmin": f.make_user("SecurityAdmin"),
                "auditor": f.make_user("AuditAdmin"),
                "officer": f.make_user("Enterprise", enterprise_id=f.make_enterprise("11"))}


def _grant_page(client, username, roles):
    url = "/users/roles/"
    return client.post(url, data={"csrf_token": csrf_token(client, f"{url}?username={username}"),
                                  "username": username, "roles": roles}, follow_redirects=True)


def test_the_system_administrator_cannot_give_itself_or_anyone_a_role(app, accounts):
    admin = accounts["admin"]
    with app.app_context():
        admin_id = f.user(admin).id
    client = login(app.test_client(), admin)
    url = f"/users/edit/{admin_id}"
    ministry = str(_role_id(app, "Ministry"))
    client.post(url, data={"csrf_token": csrf_token(client, url), "first_name": "测", "last_name": "试",
                           "username": admin, "email": f"{admin}@test.invalid", "active": "y", "roles": ministry},
                follow_redirects=True)
    assert _roles(app, admin) == {"Admin"}
    assert 'name="roles"' not in client.get(url).get_data(as_text=True)
    # A new account gets no role from the administrator's form, whatever is posted.
    client.post("/users/add", data={"csrf_token": csrf_token(client, "/users/add"), "first_name": "新",
                                    "last_name": "号", "username": "duties-new", "email": "n@test.invalid",
                                    "active": "y", "password": "Str0ng!Passw0rd", "conf_password": "Str0ng!Passw0rd",
                                    "roles": ministry})
    assert _roles(app, "duties-new") == set()
    # The grant page is the security administrator's alone.
    assert client.get("/users/roles/").status_code == 403
    assert _grant_page(client, admin, ["Ministry"]).status_code == 403
    assert _roles(app, admin) == {"Admin"}


def test_the_security_administrator_grants_but_never_to_itself(app, accounts):
    secadmin, officer = accounts["secadmin"], accounts["officer"]
    client = login(app.test_client(), secadmin)
    page = _grant_page(client, secadmin, ["SecurityAdmin", "Ministry"]).get_data(as_text=True)
    assert "Nobody grants or withdraws roles on their own account." in page
    assert _roles(app, secadmin) == {"SecurityAdmin"}
    page = _grant_page(client, secadmin, []).get_data(as_text=True)
    assert "own account" in page and _roles(app, secadmin) == {"SecurityAdmin"}
    # The accounts list is the security administrator's to read (not only the system administrator's).
    assert officer in client.get(f"/users/list/?_flt_0_username={officer}").get_data(as_text=True)
    # Another account: granted.
    assert "1 granted" in _grant_page(client, officer, ["Enterprise", "ExportUnmasked"]).get_data(as_text=True)
    assert _roles(app, officer) == {"Enterprise", "ExportUnmasked"}


def test_an_administration_role_is_held_alone_on_every_path(app, accounts):
    admin, secadmin, officer = accounts["admin"], accounts["secadmin"], accounts["officer"]
    alone = "An administration role is held alone"
    # The security administrator's page.
    client = login(app.test_client(), secadmin)
    assert alone in _grant_page(client, admin, ["Admin", "Ministry"]).get_data(as_text=True)
    assert alone in _grant_page(client, officer, ["Enterprise", "AuditAdmin"]).get_data(as_text=True)
    assert "at most one administration role" in _grant_page(client, admin, ["Admin", "AuditAdmin"]).get_data(
        as_text=True)
    # The command line (in the platform's language, Chinese).
    runner = app.test_cli_runner()
    for args in (["grant-unmasked-export", admin], ["grant-unmasked-view", admin], ["grant-role", admin, "Ministry"],
                 ["grant-role", officer, "SecurityAdmin"]):
        result = runner.invoke(args=args)
        assert result.exit_code != 0 and "管理员角色须单独持有" in result.output, (args, result.output)
    assert _roles(app, admin) == {"Admin"} and _roles(app, officer) == {"Enterprise"}
    # A direct change of the model, outside any page.
    from app import duties

    with app.app_context():
        user = f.user(admin)
        user.roles.append(app.appbuilder.sm.find_role("Ministry"))
        with pytest.raises(duties.RolesRefused):
            db.session.commit()
        db.session.rollback()
    assert _roles(app, admin) == {"Admin"}
    # A signed-in request changes roles only through app.duties, even where the combination is allowed.
    with app.test_request_context():
        from flask import g

        g.user = f.user(admin)
        user = f.user(officer)
        user.roles.append(app.appbuilder.sm.find_role("Province"))
        with pytest.raises(duties.RolesRefused, match="只有安全管理员"):
            db.session.commit()
        db.session.rollback()
    assert _roles(app, officer) == {"Enterprise"}


def test_every_grant_is_audited_and_the_audit_administrator_reads_it(app, accounts):
    secadmin, officer, auditor = accounts["secadmin"], accounts["officer"], accounts["auditor"]
    with app.app_context():
        officer_id = str(f.user(officer).id)
    client = login(app.test_client(), secadmin)
    _grant_page(client, officer, ["Ministry"])
    assert _roles(app, officer) == {"Ministry"}
    with app.app_context():
        rows = (db.session.query(AuditLog).filter_by(object_type="User", object_id=officer_id)
                .filter(AuditLog.action.in_(["grant", "revoke"])).order_by(AuditLog.id).all())
        assert [(r.action, r.detail["role"], r.username) for r in rows] == [
            ("grant", "Ministry", secadmin), ("revoke", "Enterprise", secadmin)]
        assert rows[0].detail["before"] == ["Enterprise"] and rows[0].detail["after"] == ["Ministry"]
        grant_id = rows[0].id
    reader = login(app.test_client(), auditor)
    listing = reader.get(f"/auditlog/list/?_flt_0_username={secadmin}&psize_AuditLogView=100")
    assert listing.status_code == 200 and officer in listing.get_data(as_text=True)
    shown = reader.get(f"/auditlog/show/{grant_id}").get_data(as_text=True)
    assert "Permission granted" in shown and officer in shown
    # Sign-ins too: the audit administrator reads all of the trail.
    assert reader.get("/auditlog/list/?_flt_0_action=login").status_code == 200


def test_the_system_administrator_reads_no_audit_log_and_the_auditor_no_personal_data(app, accounts):
    admin = login(app.test_client(), accounts["admin"])
    assert admin.get("/auditlog/list/").status_code == 403
    auditor = login(app.test_client(), accounts["auditor"])
    for url in ("/persons/list/", "/applications/list/", "/users/list/", "/users/roles/", "/exports/",
                "/exports/persons/"):
        assert auditor.get(url).status_code == 403, url


def test_setup_check_reports_accounts_from_before_the_rule(app, accounts):
    """An account given Admin and a business role before the rule: `flask check-duties` names it (exit status 1)."""
    admin = accounts["admin"]
    runner = app.test_cli_runner()
    with app.app_context():
        user_id, ministry = f.user(admin).id, app.appbuilder.sm.find_role("Ministry").id
        db.session.execute(text("INSERT INTO ab_user_role (user_id, role_id) VALUES (:u, :r)"),
                           {"u": user_id, "r": ministry})
        db.session.commit()
    try:
        result = runner.invoke(args=["check-duties"])
        assert result.exit_code != 0 and admin in result.output and "Admin, Ministry" in result.output
    finally:
        with app.app_context():
            db.session.execute(text("DELETE FROM ab_user_role WHERE user_id = :u AND role_id = :r"),
                               {"u": user_id, "r": ministry})
            db.session.commit()


def test_bootstrap_creates_administration_accounts_only(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-account", "duties-sec", "安全管理员", "--role", "SecurityAdmin",
                                 "--password", "Str0ng!Passw0rd"])
    assert result.exit_code == 0, result.output
    assert _roles(app, "duties-sec") == {"SecurityAdmin"}
    result = runner.invoke(args=["create-account", "duties-min", "部", "--role", "Ministry", "--password",
                                 "Str0ng!Passw0rd"])
    assert result.exit_code != 0
    with app.app_context():
        assert db.session.query(AuditLog).filter_by(action="grant", username="system").filter(
            AuditLog.summary.contains("duties-sec")).count() == 1


def test_a_withdrawn_role_stops_working_at_once_in_open_sessions_and_tokens(app, accounts):
    """Roles are read per request (session and API token alike): withdrawing one needs no sign-out."""
    from tests.security.helpers import bearer

    secadmin, officer = accounts["secadmin"], accounts["officer"]
    with app.app_context():
        enterprise_id = f.user(officer).enterprise_id
    session = login(app.test_client(), officer)
    token = bearer(app, officer)
    assert session.get(f"/enterprises/show/{enterprise_id}").status_code == 200
    assert session.get("/myqueue/list/").status_code == 200
    assert app.test_client().get(f"/api/v1/enterprise/{enterprise_id}", headers=token).status_code == 200
    client = login(app.test_client(), secadmin)
    assert "withdrawn" in _grant_page(client, officer, []).get_data(as_text=True)
    assert _roles(app, officer) == set()
    assert session.get("/myqueue/list/").status_code in (302, 403)
    assert app.test_client().get(f"/api/v1/enterprise/{enterprise_id}", headers=token).status_code in (401, 403)
