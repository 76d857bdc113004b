"""The application form PDF: rendered with a CJK font (the text extracts as Chinese), in scope only."""
import shutil
import subprocess

import pytest

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
