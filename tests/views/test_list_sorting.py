"""Every list view answers every sort it advertises: each column header link, both directions, as a role
that reads the list, over rows that exist (a published announcement, registrations, certificates, logs)."""
import re

import pytest
from flask_appbuilder import ModelView

from tests import factories as f
from tests.conftest import login


@pytest.fixture(scope="module")
def readers(app):
    """A user of each role, and rows in every list (an application taken to a certificate)."""
    with app.app_context():
        staff = f.Staff()
        enterprise = f.make_enterprise("11")
        applicant, _person, _app = f.register(staff, enterprise)
        return [staff.ministry, f.make_user("Admin"), staff.province("11"), staff.enterprise(enterprise), applicant]


def _list_views(app):
    """The list views some role may open (FAB's group and permission editors are granted to none)."""
    from views.grants import role_permissions

    granted = {view for pairs in role_permissions().values() for view, perm in pairs if perm == "can_list"}
    return [v for v in app.appbuilder.baseviews
            if isinstance(v, ModelView) and v.class_permission_name in granted]


def test_every_advertised_sort_answers(app, readers):
    clients = [login(app.test_client(), username) for username in readers]
    unread, failures = [], []
    for view in _list_views(app):
        name = view.__class__.__name__
        url = f"{view.route_base}/list/"
        client = next((c for c in clients if c.get(url).status_code == 200), None)
        if client is None:
            unread.append(name)
            continue
        page = client.get(url).get_data(as_text=True)
        advertised = set(re.findall(rf"_oc_{name}=([\w.]+)", page))
        assert advertised <= set(view.order_columns), (name, advertised - set(view.order_columns))
        for column in view.order_columns:
            if column not in view.list_columns:
                continue
            for direction in ("asc", "desc"):
                resp = client.get(url, query_string={f"_oc_{name}": column, f"_od_{name}": direction})
                if resp.status_code != 200:
                    failures.append((name, column, direction, resp.status_code))
    assert not failures, failures
    assert not unread, f"no role could open these lists: {unread}"


def test_announcements_sort_by_number_and_state(app, readers):
    """Other tests leave many batches in the session's database: filter to this module's kind (title starting
    with 测试公告) so the first page holds one whatever the order of the rest."""
    client = login(app.test_client(), readers[0])
    for column in ("number", "state_label"):
        resp = client.get("/announcements/list/", query_string={"_oc_AnnouncementsView": column,
                                                                "_od_AnnouncementsView": "asc",
                                                                "_flt_0_title": "测试公告"})
        assert resp.status_code == 200
        assert "测试公告" in resp.get_data(as_text=True)


def test_a_panel_spec_cannot_order_by_a_python_property(app):
    from models import AnnouncementBatch
    from views.base import PanelSpec, build_view

    spec = PanelSpec(AnnouncementBatch, "Probe", "probe", "Workflow", "fa-bullhorn", list_columns=["title"],
                     search_columns=["title"], read=set(), order_columns=["title", "applications"])
    with app.app_context(), pytest.raises(ValueError, match="applications"):
        build_view(spec)
