"""The language switch returns to the page the person was on, with its query string; never to a page from
earlier in the visit; an address that is not a page of this site leads home."""
import re
from urllib.parse import unquote

import pytest

from tests import factories as f
from tests.conftest import login


@pytest.fixture(scope="module")
def applicant(app):
    with app.app_context():
        return f.make_applicant()[0]


def _location(resp):
    assert resp.status_code == 302, resp.status_code
    return resp.headers["Location"].replace("http://localhost", "")


def test_menu_link_carries_the_current_page_and_returns_there(app, applicant):
    client = login(app.test_client(), applicant, lang="zh")
    client.get("/me/trail")  # an earlier page FAB's history would have sent the person back to
    page = client.get("/progress/?kind=temporary").get_data(as_text=True)
    links = re.findall(r'href="(/lang/en[^"]*)"', page)
    assert links, "no link to English in the menu"
    link = links[0].replace("&amp;", "&")
    assert unquote(link.split("next=", 1)[1]) == "/progress/?kind=temporary"
    assert _location(client.get(link)) == "/progress/?kind=temporary"
    assert "Progress query" in client.get("/progress/?kind=temporary").get_data(as_text=True)


def test_without_next_the_referring_page_of_this_site(app, applicant):
    client = login(app.test_client(), applicant)
    resp = client.get("/lang/zh", headers={"Referer": "http://localhost/me/phone?x=1"})
    assert _location(resp) == "/me/phone?x=1"


@pytest.mark.parametrize("target", ["/no/such/page", "https://evil.example/me/", "//evil.example/", "javascript:x",
                                    "/lang/en", ""])
def test_anything_but_a_page_of_this_site_leads_home(app, applicant, target):
    client = login(app.test_client(), applicant)
    assert _location(client.get("/lang/zh", query_string={"next": target})) == "/"


def test_referer_of_another_site_leads_home(app, applicant):
    client = login(app.test_client(), applicant)
    assert _location(client.get("/lang/zh", headers={"Referer": "https://evil.example/me/phone"})) == "/"


def test_anonymous_visitor_on_the_login_page(app):
    client = app.test_client()
    page = client.get("/login/").get_data(as_text=True)
    link = re.findall(r'href="(/lang/en[^"]*)"', page)[0].replace("&amp;", "&")
    assert _location(client.get(link)) == "/login/"
    assert "Sign in" in client.get("/login/").get_data(as_text=True)


def test_unknown_language_is_a_404(app):
    assert app.test_client().get("/lang/fr?next=/login/").status_code == 404
