"""上传附件: after each upload the material dropdown offers the next one still missing (it used to fall back
to the photo every time)."""
import re

from tests import factories as f
from tests.conftest import login
from tests.views.test_personal_journey import image, upload


def _selected(client, location=None) -> str:
    page = client.get(location or "/me/materials").get_data(as_text=True)
    select = re.search(r'<select[^>]*name="kind"[^>]*>(.*?)</select>', page, re.S).group(1)
    chosen = re.search(r'<option selected value="([^"]+)"|<option value="([^"]+)" selected', select)
    return chosen.group(1) or chosen.group(2)


def test_dropdown_offers_the_next_missing_material(app):
    with app.app_context():
        username, _ = f.make_applicant(materials=False, verified=False)
    client = login(app.test_client(), username)
    assert _selected(client) == "photo"
    resp = upload(client, "id_back", image((800, 500), face=False))
    assert resp.status_code == 302
    assert _selected(client, resp.headers["Location"]) == "id_handheld"  # next after the one just uploaded
    resp = upload(client, "signature", image((600, 200), fmt="PNG", face=False), "sign.png")
    assert _selected(client, resp.headers["Location"]) == "photo"  # wraps round to what is still missing
    resp = upload(client, "photo", image())
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/me/materials").get_data(as_text=True))
    resp = client.post("/me/materials/photo", data={"csrf_token": token.group(1), "decision": "keep"})
    assert _selected(client, resp.headers["Location"]) == "id_front"
