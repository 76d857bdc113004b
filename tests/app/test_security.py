"""Accounts: the administrator binds each account to its scope; everyone manages their own profile;
ID-number sign-in accepts lower-case x; passwords are stored hashed."""
from ground.extensions import db
from models import AppUser
from tests import factories as f
from tests.conftest import csrf_token, login


def _role_id(app, name):
    with app.app_context():
        return app.appbuilder.sm.find_role(name).id


def test_admin_creates_accounts_bound_to_their_scope(app):
    """The administrator creates the account and its binding; the security administrator grants the role, which
    needs the binding (app/duties.py)."""
    with app.app_context():
        admin, secadmin = f.make_user("Admin"), f.make_user("SecurityAdmin")
        enterprise = f.make_enterprise("11")
        _, person_id = f.make_applicant()
        from models import Person

        id_number = db.session.get(Person, person_id).id_number
        db.session.delete(f.user(id_number))  # the person's account is made again below, by the administrator
        db.session.commit()
    client = login(app.test_client(), admin)
    assert client.get("/users/list/").status_code == 200
    token = csrf_token(client, "/users/add")
    base = {"csrf_token": token, "first_name": "企", "last_name": "业", "active": "y", "email": "e@x.invalid",
            "password": "Str0ng!Passw0rd", "conf_password": "Str0ng!Passw0rd"}
    client.post("/users/add", data={**base, "username": "ent-unbound"})
    client.post("/users/add", data={**base, "username": "ent-bound", "email": "b@x.invalid",
                                    "enterprise": str(enterprise)})
    client.post("/users/add", data={**base, "username": id_number.lower(), "email": "p@x.invalid"})
    security = login(app.test_client(), secadmin)

    def grant(username, role):
        url = "/users/roles/"
        return security.post(url, data={"csrf_token": csrf_token(security, url), "username": username,
                                        "roles": [role]}, follow_redirects=True).get_data(as_text=True)

    # An Enterprise role without the account's enterprise is refused, and nothing is written.
    assert "must name its enterprise" in grant("ent-unbound", "Enterprise")
    grant("ent-bound", "Enterprise")
    # An applicant account is the person's ID number (lower-case x accepted) and binds to the person.
    grant(id_number, "Applicant")
    with app.app_context():
        assert not db.session.query(AppUser).filter_by(username="ent-unbound").one().roles
        bound = db.session.query(AppUser).filter_by(username="ent-bound").one()
        assert bound.enterprise_id == enterprise and bound.role_names == {"Enterprise"}
        user = db.session.query(AppUser).filter_by(username=id_number).one()
        assert user.person_id == person_id and user.role_names == {"Applicant"}
        assert user.password.startswith(("scrypt:", "pbkdf2:")) and "Str0ng" not in user.password


def test_everyone_changes_their_password_only_with_the_current_one(app):
    """FAB's "reset my password" asks for no current password: it is closed; ours asks for it (all roles)."""
    with app.app_context():
        staff = f.make_user("Province", province_code="11")
    client = login(app.test_client(), staff)
    assert client.get("/users/userinfo/").status_code == 200
    assert client.get("/resetmypassword/form").status_code in (302, 403)
    token = csrf_token(client, "/account/password")
    resp = client.post("/resetmypassword/form", data={"csrf_token": token, "password": "N3w!Passw0rd-x",
                                                      "conf_password": "N3w!Passw0rd-x"})
    assert resp.status_code in (302, 403)
    login(app.test_client(), staff)  # unchanged
    page = client.post("/account/password", data={"csrf_token": token, "old_password": "wrong",
                                                   "password": "N3w!Passw0rd-x", "confirm": "N3w!Passw0rd-x"})
    assert "current password is wrong" in page.get_data(as_text=True)
    resp = client.post("/account/password", data={"csrf_token": token, "old_password": f.PASSWORD,
                                                   "password": "N3w!Passw0rd-x", "confirm": "N3w!Passw0rd-x"})
    assert resp.status_code == 302
    login(app.test_client(), staff, password="N3w!Passw0rd-x")
    assert client.get("/users/list/").status_code == 403
    # Applicants are sent to their own page (with the personal-information menu).
    with app.app_context():
        applicant, _ = f.make_applicant()
    applicant_client = login(app.test_client(), applicant)
    resp = applicant_client.get("/account/password")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/me/password")
    # An applicant's name is the person's: FAB's account-edit form is for staff only.
    assert applicant_client.get("/userinfoeditview/form").status_code in (302, 403)
    assert client.get("/userinfoeditview/form").status_code == 200


def test_id_number_login_is_case_insensitive_for_x(app):
    with app.app_context():
        for _ in range(200):
            username, person_id = f.make_applicant()
            if username.endswith("X"):
                break
    assert username.endswith("X")
    login(app.test_client(), username.lower())
    login(app.test_client(), f"  {username}  ")
