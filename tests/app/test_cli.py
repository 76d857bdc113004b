"""Commands: demo data is complete and idempotent; the workflow prints as Mermaid and as a matrix;
roles are synced with the permissions the code defines."""
from app import workflow
from ops.cli import workflow_markdown
from ground.extensions import db
from views.grants import role_permissions
from models import Application, AppUser, Certificate, Enterprise


def test_demo_data_has_every_state_and_role_and_is_idempotent(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo-data"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        counts = (db.session.query(Application).count(), db.session.query(AppUser).count(),
                  db.session.query(Certificate).count(), db.session.query(Enterprise).count())
        states = {s for (s,) in db.session.query(Application.state).filter(
            Application.number.isnot(None)).distinct()}
        assert set(workflow.STATE_LABELS) <= states
        types = {t for (t,) in db.session.query(Application.business_type).distinct()}
        assert set(workflow.BUSINESS_TYPES) <= types
        roles = {r.name for u in db.session.query(AppUser).filter(AppUser.username.in_(
            ["admin", "ministry", "province-bj", "enterprise-bj1", "industry"])) for r in u.roles}
        assert roles == {"Admin", "Ministry", "Province", "Enterprise", "Industry"}
        # The industry department's demo queue holds the port application waiting for its opinion.
        from app import scope
        from app.industry import specialty_codes

        department = app.appbuilder.sm.find_user(username="industry")
        assert specialty_codes(department) == {"highway", "railway", "airport", "port"}
        queue = scope.query(Application, department).filter(workflow.actionable_clause(["Industry"], department))
        assert {a.state for a in queue} == {"industry_review"}
        assert "孙海洋" in {a.person.name for a in queue}  # other tests may add their own
    second = runner.invoke(args=["demo-data"])
    assert second.exit_code == 0 and "stories created: 0" in second.output
    with app.app_context():
        assert counts == (db.session.query(Application).count(), db.session.query(AppUser).count(),
                          db.session.query(Certificate).count(), db.session.query(Enterprise).count())
    # The demo accounts can sign in with the documented password.
    client = app.test_client()
    from tests.conftest import login

    login(client, "ministry", password=app.config["DEMO_PASSWORD"])


def test_workflow_command_prints_diagram_and_matrix(app):
    result = app.test_cli_runner().invoke(args=["workflow"])
    assert result.exit_code == 0
    assert result.output.strip() == workflow_markdown().strip()
    assert "stateDiagram-v2" in result.output
    assert "ministry_review --> announce_pending: approve" in result.output
    assert "| confirm | — | enterprise_review | — | — | — |" in result.output


def test_sync_roles_writes_the_code_defined_permissions(app):
    result = app.test_cli_runner().invoke(args=["sync-roles"])
    assert result.exit_code == 0
    with app.app_context():
        sm = app.appbuilder.sm
        for role_name, pairs in role_permissions().items():
            role = sm.find_role(role_name)
            stored = {(pv.view_menu.name, pv.permission.name) for pv in role.permissions}
            assert stored == set(pairs), role_name
        ministry = dict.fromkeys(p for v, p in role_permissions()["Ministry"] if v == "Applications")
        assert "can_approve" in ministry and "can_submit" not in ministry


def test_import_roster_command_writes_the_report(app, tmp_path):
    from models import Qualification
    from tests import factories as f

    good, bad = f.unique_id_number(), "110101199001011230"
    code = f"CLI-{f.next_serial()}"
    source = tmp_path / "roster.csv"
    source.write_text(f"姓名,身份证号,资格证书编号,专业,取得日期\n张三,{good},{code},建筑工程,2024-06-01\n"
                      f"李四,{bad},{code}-2,建筑工程,2024-06-01\n", encoding="utf-8")
    report = tmp_path / "report.csv"
    result = app.test_cli_runner().invoke(args=["import-roster", str(source), "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "accepted 1" in result.output and "refused 1" in result.output
    lines = report.read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 3 and any("校验位" in line or "check digit" in line for line in lines)
    with app.app_context():
        from ground.extensions import db

        assert db.session.query(Qualification).filter_by(certificate_no=code).count() == 1


def test_industry_scope_command_sets_and_refuses(app):
    from tests import factories as f

    with app.app_context():
        username = f.make_user("Industry")
        ministry = f.make_user("Ministry")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["industry-scope", username, "water", "railway"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{username}: railway, water"
    refused = runner.invoke(args=["industry-scope", username, "building"])
    assert refused.exit_code != 0 and "building" in refused.output
    assert runner.invoke(args=["industry-scope", ministry, "water"]).exit_code != 0
    assert runner.invoke(args=["industry-scope", "nobody-here", "water"]).exit_code != 0
    shown = runner.invoke(args=["industry-scope", username])
    assert shown.output.strip() == f"{username}: railway, water"


def test_db_roles_refuses_clearly_where_there_is_no_such_role(app, backend):
    """SQLite has no roles; on PostgreSQL an unknown role is named (tests/security/test_database_roles.py: the rest)."""
    result = app.test_cli_runner().invoke(args=["db-roles", "--app-role", "registry_app_absent"])
    assert result.exit_code == 1, result.output
    expected = "PostgreSQL only" if backend == "sqlite" else "No database role 'registry_app_absent'"
    assert expected in result.output
