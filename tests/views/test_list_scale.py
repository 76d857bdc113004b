"""List pages at scale: counts stop at LIST_COUNT_CAP, "starts with" is the default text filter and is an
escaped, index-friendly prefix match, and the full-scan negative filters are not offered."""
import pytest

from ground.extensions import db
from models import Person
from tests import factories as f
from tests.conftest import login


@pytest.fixture
def ministry(app):
    with app.app_context():
        return f.make_user("Ministry")


def test_count_stops_at_the_cap_and_says_so(app, ministry):
    with app.app_context():
        for _ in range(4):
            f.make_person(materials=False)
    client = login(app.test_client(), ministry)
    app.config["LIST_COUNT_CAP"] = 3
    try:
        html = client.get("/persons/list/").get_data(as_text=True)
    finally:
        app.config["LIST_COUNT_CAP"] = 10_000
    assert "3+" in html
    uncapped = client.get("/persons/list/").get_data(as_text=True)
    assert "3+" not in uncapped


def test_starts_with_is_the_default_and_matches_prefixes_only(app, ministry):
    with app.app_context():
        wanted = f.make_person(materials=False, name="欧阳前缀甲")
        f.make_person(materials=False, name="前缀欧阳乙")
        id_number = db.session.get(Person, wanted).id_number
    client = login(app.test_client(), ministry)
    html = client.get("/persons/list/").get_data(as_text=True)
    # FAB's search menu lists the name filters in the converter's order: ours first.
    assert html.index("Starts with") < html.index("Contains")
    assert "Not Contains" not in html and "Not Starts with" not in html
    found = client.get("/persons/list/?_flt_0_name=欧阳前缀").get_data(as_text=True)
    assert "欧阳前缀甲" in found and "前缀欧阳乙" not in found
    # ID numbers: prefix; a LIKE wildcard typed by the user is a literal character, not "anything".
    by_id = client.get(f"/persons/list/?_flt_0_id_number={id_number[:14]}").get_data(as_text=True)
    assert "欧阳前缀甲" in by_id
    assert "欧阳前缀甲" not in client.get("/persons/list/?_flt_0_name=%25前缀").get_data(as_text=True)


def test_the_application_form_never_lists_every_enterprise(app):
    """The employer is picked by keyword; the form holds only the chosen enterprise."""
    with app.app_context():
        listed = [f.make_enterprise("11", name=f"不应列出的企业{n}") for n in range(3)]
        chosen = f.make_enterprise("11", name="已选择的企业")
        username, _person = f.make_applicant()
        draft = f.make_application(username, "initial", enterprise_id=chosen, **f.contract())
    client = login(app.test_client(), username)
    assert client.get(f"/applications/edit/{draft}").headers["Location"].endswith("/apply/initial")
    edit = client.get("/apply/initial").get_data(as_text=True)
    assert "已选择的企业" in edit and "不应列出的企业" not in edit and 'list="enterprise-options"' in edit
    found = client.get("/apply/enterprises?q=不应列出").get_json()
    assert {row["id"] for row in found} == set(listed)
