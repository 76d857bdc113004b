"""The README tells the truth: its workflow section is the generated one, its demo accounts exist."""
import re
from pathlib import Path

from ops.cli import workflow_markdown
from ops.demo import STAFF_ACCOUNTS, accounts_markdown, demo_accounts

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_access_policy_section_is_generated():
    from ops.access_policy import markdown

    section = re.search(r"<!-- policy:start -->\n(.*)\n<!-- policy:end -->", README, re.S).group(1)
    assert section.strip() == markdown().strip(), "run `flask access-policy` and paste it into README.md"


def test_workflow_section_is_generated():
    section = re.search(r"<!-- workflow:start -->\n(.*)\n<!-- workflow:end -->", README, re.S).group(1)
    assert section.strip() == workflow_markdown().strip(), "run `flask workflow` and paste it into README.md"


def test_two_commands_first_and_demo_accounts_listed():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    assert "./scripts/serve" in first_block and "./scripts/test" in first_block
    for username, _, role, _, _ in STAFF_ACCOUNTS:
        assert f"| {role} | `{username}` |" in README


def test_demo_accounts_section_is_generated():
    section = re.search(r"<!-- accounts:start -->\n(.*)\n<!-- accounts:end -->", README, re.S).group(1)
    assert section.strip() == accounts_markdown().strip(), "paste ops.demo.accounts_markdown() into README.md"


def test_start_banner_lists_every_demo_account_and_they_sign_in(app):
    """`./scripts/serve` prints `flask demo-accounts`: every account of the README, each one real."""
    from ground.extensions import db
    from models import AppUser

    app.test_cli_runner().invoke(args=["demo-data"])
    banner = app.test_cli_runner().invoke(args=["demo-accounts"]).output
    assert "flask demo-accounts" in (Path(__file__).resolve().parent.parent / "scripts" / "serve").read_text()
    for role, username, _who in demo_accounts():
        assert username in banner and f"`{username}`" in README
        with app.app_context():
            user = db.session.query(AppUser).filter_by(username=username).one()
            assert role in {r.name for r in user.roles}


def test_demo_applicant_in_readme_is_the_demo_persons_login(app):
    from ground.extensions import db
    from models import AppUser

    applicant = re.search(r"\| Applicant \| `(\d{17}[\dX])` \|", README).group(1)
    app.test_cli_runner().invoke(args=["demo-data"])
    with app.app_context():
        user = db.session.query(AppUser).filter_by(username=applicant).one()
        assert {r.name for r in user.roles} == {"Applicant"} and user.person.name == "王建国"
