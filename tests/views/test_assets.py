"""Scripts and styles are addressed by version and cached by the browser: after the first page, a page load
asks the server for the page alone (it used to revalidate some twenty files, one request each)."""
import re
import threading

import pytest
from werkzeug.serving import make_server

from tests import factories as f
from tests.views.browser import browser_fixture, sign_in  # noqa: F401 (fixtures)


def test_static_urls_carry_the_version_and_are_cached_for_a_year(app):
    client = app.test_client()
    page = client.get("/login/").get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert urls and all("?v=" in url for url in urls), urls
    resp = client.get(urls[0].replace("&amp;", "&"))
    assert resp.status_code == 200
    assert "max-age=31536000" in resp.headers["Cache-Control"] and "immutable" in resp.headers["Cache-Control"]
    stale = client.get(re.sub(r"v=[0-9a-f]+", "v=old", urls[0]))
    assert "immutable" not in stale.headers["Cache-Control"]  # an old address is not kept a year


def test_password_hash_stays_strong(app):
    """The slow sign-in was not the hash: production keeps scrypt (tests use a cheap one for speed)."""
    import config

    assert config.FAB_PASSWORD_HASH_METHOD == "scrypt"


@pytest.fixture
def counted_server(app):
    """A live server that records every path it is asked for."""
    hits = []

    def counting(environ, start_response):
        hits.append(environ["PATH_INFO"])
        return app.wsgi_app(environ, start_response)

    server = make_server("127.0.0.1", 0, counting, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()


@pytest.mark.browser
def test_second_page_asks_the_server_for_the_page_only(app, counted_server, browser):
    base, hits = counted_server
    with app.app_context():
        username, _ = f.make_applicant()
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    sign_in(page, base, username, app)
    hits.clear()
    page.goto(f"{base}/me/trail")
    page.wait_for_load_state("load")
    # Chromium looks its tab icon up through a cache of its own, sometimes with a request: one small file.
    assert [h for h in hits if h != "/static/favicon.ico"] == ["/me/trail"], hits
    context.close()
