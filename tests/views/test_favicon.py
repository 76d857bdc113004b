"""The site icon: every page names it and /favicon.ico answers (no 404 in the console of every page)."""
from PIL import Image
import io


def test_favicon_is_served_and_linked(app):
    client = app.test_client()
    resp = client.get("/favicon.ico")
    assert resp.status_code == 200 and resp.mimetype == "image/vnd.microsoft.icon"
    assert Image.open(io.BytesIO(resp.data)).format == "ICO"
    assert 'rel="icon"' in client.get("/login/").get_data(as_text=True)
