"""Account pages: applicants live in the personal edition (FAB's user info leads to 个人信息, one 修改密码 in
their menus); staff read their own account with the name in Chinese order and role names in words."""
import re

import pytest

from ground.extensions import db
from models import AppUser
from tests import factories as f
from tests.conftest import login
from tests.views.test_no_raw_codes import visible_text


@pytest.fixture(scope="module")
def people(app):
    with app.app_context():
        applicant, _ = f.make_applicant()
        officer = f.make_user("Enterprise", enterprise_id=f.make_enterprise("11"))
        user = db.session.query(AppUser).filter_by(username=officer).one()
        user.first_name, user.last_name = "欧阳", "明远"  # family name, given name
        db.session.commit()
        return {"applicant": applicant, "officer": officer}


def test_applicant_user_info_leads_to_personal_information(app, people):
    client = login(app.test_client(), people["applicant"], lang="zh")
    resp = client.get("/users/userinfo/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/me/")
    page = client.get("/me/").get_data(as_text=True)
    assert "/users/userinfo/" not in page and "/account/password" not in page
    assert 'href="/me/password"' in page  # 修改密码 is under 个人信息 only


def test_staff_see_their_account_in_words(app, people):
    client = login(app.test_client(), people["officer"], lang="zh")
    text = visible_text(client.get("/users/userinfo/").get_data(as_text=True))
    assert "欧阳明远" in text and "姓名" in text
    assert "企业" in text and "Enterprise" not in text and "[" not in text and "None" not in text
    form = visible_text(client.get("/userinfoeditview/form").get_data(as_text=True))
    assert "First Name" not in form and "Last Name" not in form
    menu = client.get("/").get_data(as_text=True)
    assert "/users/userinfo/" in menu and "/account/password" in menu


def test_edit_form_keeps_family_name_first(app, people):
    client = login(app.test_client(), people["officer"], lang="zh")
    page = client.get("/userinfoeditview/form").get_data(as_text=True)
    family, given = page.index('name="first_name"'), page.index('name="last_name"')
    assert family < given
    labels = dict(re.findall(r'<label[^>]*for="(first_name|last_name)"[^>]*>\s*([^<*\s]+)', page))
    assert labels == {"first_name": "姓", "last_name": "名"}, labels
