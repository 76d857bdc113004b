"""A real browser, in Chinese: a ministry officer opens the statistics dashboard, filters it to one province,
downloads the PDF report, then exports every registration of that province as XLSX; each figure and row
count equals the database's. Screenshots go to the test's tmp_path."""
import io
import re
import subprocess

import pytest
from openpyxl import load_workbook
from sqlalchemy import func

from ground.clock import today
from ground.extensions import db
from models import Enterprise, Person, Registration, RegistrationSpecialty
from tests import factories as f
from tests.views.browser import browser_fixture, live_server_fixture, sign_in  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def _registered_in(province: str) -> tuple[int, int]:
    """(registered persons now, registrations of any status) of enterprises in the province, counted
    here with the ORM, independently of reports/statistics.py."""
    registered = (db.session.query(func.count(func.distinct(Registration.id)))
                  .join(Enterprise, Enterprise.id == Registration.enterprise_id)
                  .join(RegistrationSpecialty, RegistrationSpecialty.registration_id == Registration.id)
                  .filter(Enterprise.province_code == province, Registration.status == "active",
                          RegistrationSpecialty.status == "active", RegistrationSpecialty.valid_until >= today())
                  .scalar())
    every = (db.session.query(func.count(Registration.id)).join(Enterprise, Enterprise.id == Registration.enterprise_id)
             .filter(Enterprise.province_code == province).scalar())
    return registered, every


def _figure(page, label: str) -> int:
    text = page.locator(".figure", has_text=label).locator(".value").inner_text()
    return int(text.replace(",", ""))


def test_ministry_filters_the_dashboard_downloads_the_report_and_a_province_export(app, live_server, browser,
                                                                                  tmp_path):
    with app.app_context():
        for days in (400, 30):  # one valid long, one expiring soon, in Shanghai
            f.make_registered(f.make_enterprise("31", name="浏览器统计上海企业"), expires_in_days=days)
        f.make_registered(f.make_enterprise("31"), status="cancelled")
        ministry = f.make_user("Ministry", username="browser-stats-ministry")
        registered, every = _registered_in("31")
    assert registered >= 2 and every >= 3

    page = browser.new_page(locale="zh-CN", viewport={"width": 1366, "height": 900})
    sign_in(page, live_server, ministry, app)
    page.click("text=统计分析")
    with page.expect_navigation():
        page.click("text=统计看板")
    page.select_option("#province", "31")
    with page.expect_navigation():
        page.click("form.filters button[type=submit]")
    assert "province=31" in page.url
    assert _figure(page, "当前注册人数") == registered
    assert page.locator("img.chart").count() == 4
    page.screenshot(path=str(tmp_path / "dashboard-shanghai.png"), full_page=True)

    pdf_href = page.get_attribute("a:has-text('PDF 报告')", "href")
    pdf = page.request.get(live_server + pdf_href)
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    (tmp_path / "statistics.pdf").write_bytes(pdf.body())
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf.body(), capture_output=True, check=True).stdout.decode()
    assert "注册统计报告" in text and "上海市" in text
    assert f"{registered:,}" in text  # the same figure as the page

    # Registry → Data exports → registrations, filtered to Shanghai, exported as XLSX.
    page.click("text=注册信息")
    with page.expect_navigation():
        page.click("text=数据导出")
    page.goto(f"{live_server}/exports/registrations/?flt0_province=31")
    page.screenshot(path=str(tmp_path / "exports-registrations.png"), full_page=True)
    # The export is a job (run at once in tests): the page lands on 我的任务, whose Download button gives the file.
    with page.expect_navigation():
        page.click("a.export-xlsx")
    assert "/jobs/" in page.url
    with page.expect_download() as download:
        page.click("table#jobs tbody tr:first-child a:has-text('下载')")
    path = tmp_path / "registrations.xlsx"
    download.value.save_as(path)
    workbook = load_workbook(io.BytesIO(path.read_bytes()))
    rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    assert len(rows) - 1 == every
    # Masked: no person's full ID number anywhere in the file (registration numbers are long digit runs too).
    with app.app_context():
        id_numbers = {n for (n,) in db.session.query(Person.id_number)}
    assert not [cell for row in rows for cell in row if cell and any(n in str(cell) for n in id_numbers)]
    assert any(re.fullmatch(r"\d{6}\*{8}\d{3}[\dX]", str(cell)) for row in rows[1:] for cell in row if cell)
    page.close()
