"""The application form PDF: rendered with a CJK font (the text extracts as Chinese), in scope only."""
import shutil
import subprocess

import pytest

from ground.extensions import db
from models import Application
from tests import factories as f
from tests.conftest import login


def test_application_pdf_has_chinese_text_and_respects_scope(app, tmp_path):
    with app.app_context():
        enterprise = f.make_enterprise("11", name="中文测试建设集团")
        username, _ = f.make_applicant(name="张三丰")
        app_id = f.make_application(username, "initial", enterprise_id=enterprise)
        other, _ = f.make_applicant()
    client = login(app.test_client(), username, lang="zh")
    resp = client.get(f"/applications/pdf/{app_id}")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.data.startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (poppler-utils) is needed; scripts/test installs it")
    path = tmp_path / "form.pdf"
    path.write_bytes(resp.data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True).stdout
    assert "张三丰" in text and "中文测试建设集团" in text
    assert login(app.test_client(), other).get(f"/applications/pdf/{app_id}").status_code == 404


def test_announcement_keeps_each_name_on_one_line(app, tmp_path):
    """Names and masked ID numbers never wrap in the announcement's narrow columns (李明/远)."""
    with app.app_context():
        staff = f.Staff()
        enterprise = f.make_enterprise("11", name="北京市第一建筑工程集团有限责任公司市政公用工程第三分公司")
        _username, _person, app_id = f.register(staff, enterprise, name="欧阳明远")
        batch = db.session.get(Application, app_id).announcement_id
    client = login(app.test_client(), staff.ministry, lang="zh")
    resp = client.get(f"/announcements/pdf/{batch}")
    assert resp.status_code == 200
    path = tmp_path / "announcement.pdf"
    path.write_bytes(resp.data)
    text = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True).stdout
    assert "欧阳明远" in text, text
    assert "********" in text and not [line for line in text.splitlines() if line.strip().endswith("********")]
