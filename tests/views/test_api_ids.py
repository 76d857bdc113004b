"""A record address the API cannot read is a 404, never 405 or 500: negative, zero, huge and text ids on every
resource (FAB reads at <int:pk> but updates at <pk>, so a GET of /-1 used to reach only the PUT rule)."""
import pytest

from tests import factories as f
from tests.conftest import login

BAD_IDS = ["-1", "0", "-0", "99999999999999999999", "abc", "1.5", "%20", "-2147483649"]


def _read_rules(app):
    return sorted({r.rule for r in app.url_map.iter_rules()
                   if r.rule.startswith("/api/v1/") and r.rule.endswith("/<int:pk>") and "GET" in r.methods})


@pytest.mark.parametrize("bad", BAD_IDS)
def test_unreadable_application_ids_are_404(app, bad):
    with app.app_context():
        client = login(app.test_client(), f.make_user("Ministry"))
    resp = client.get(f"/api/v1/application/{bad}")
    assert resp.status_code == 404, (bad, resp.status_code, resp.get_data(as_text=True)[:200])
    assert resp.is_json


def test_every_resource_answers_404_or_403_for_unreadable_ids(app):
    with app.app_context():
        client = login(app.test_client(), f.make_user("Ministry"))
    rules = _read_rules(app)
    assert len(rules) > 3
    for rule in rules:
        for bad in BAD_IDS:
            url = rule.replace("<int:pk>", bad)
            status = client.get(url).status_code
            assert status in (403, 404), (url, status)
