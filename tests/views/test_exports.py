"""Ministry exports (Flask-Admin at /exports): CSV and XLSX of each model hold exactly the filtered rows,
ID and mobile numbers are masked unless the user holds can_export_unmasked, every export is audited,
drafts never leave the applicant's scope, and only the Ministry gets in."""
import csv
import io
import re
import uuid
import zipfile

import pytest
from openpyxl import load_workbook

from ground.extensions import db
from models import Application, AuditLog, Certificate, Enterprise, Person, Registration
from tests import factories as f
from tests.conftest import job_result, login

FULL_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dX](?![0-9A-Za-z])")


@pytest.fixture(scope="module")
def data(app):
    """Rows of our own, told apart from other tests' rows by a token in every name."""
    token = "导出" + uuid.uuid4().hex[:8]
    with app.app_context():
        staff = f.Staff()
        bj = f.make_enterprise("11", name=f"{token}北京企业")
        bj_other = f.make_enterprise("11", name=f"{token}北京二企业")
        sh = f.make_enterprise("31", name=f"{token}上海企业")
        registered = {}
        for key, enterprise, status in (("r1", bj, "active"), ("r2", bj_other, "active"), ("r3", sh, "active"),
                                        ("r4", bj, "cancelled")):
            _username, person_id = f.make_registered(enterprise, status=status, name=f"{token}{key}")
            registered[key] = person_id
            certificate = db.session.query(Certificate).filter_by(person_id=person_id).one()
            certificate.holder_name = f"{token}{key}"
        person = db.session.get(Person, registered["r1"])
        person.phone = "13812345678"
        db.session.commit()
        apps = {}
        for key, enterprise, actions in (("a1", bj, ("submit", "confirm")), ("a2", bj_other, ("submit", "confirm")),
                                         ("a3", bj, ("submit",)), ("a4", sh, ("submit", "confirm"))):
            username, _pid = f.make_applicant(name=f"{token}{key}")
            apps[key] = f.make_application(username, "initial", enterprise_id=enterprise)
            staff.take(apps[key], username, *actions)
        draft_user, _pid = f.make_applicant(name=f"{token}draft")
        apps["draft"] = f.make_application(draft_user, "initial", enterprise_id=bj)

        unmasked = f.make_user("Ministry")
        assert app.appbuilder.sm.find_permission_view_menu("can_export_unmasked", "Exports") is not None, \
            "sync-roles creates the grantable permission"
        result = app.test_cli_runner().invoke(args=["grant-unmasked-export", unmasked])
        assert result.exit_code == 0, result.output

        numbers = {key: db.session.get(Application, aid).number for key, aid in apps.items()}
        regs = {key: db.session.query(Registration).filter_by(person_id=pid).one().number
                for key, pid in registered.items()}
        certs = {key: db.session.query(Certificate).filter_by(person_id=pid).one().number
                 for key, pid in registered.items()}
        ids = {key: db.session.get(Person, pid).id_number for key, pid in registered.items()}
        return {"token": token, "staff": staff, "ministry": staff.ministry, "unmasked": unmasked,
                "province": staff.province("11"), "enterprise": staff.enterprise(bj),
                "applicant": draft_user, "apps": apps, "numbers": numbers, "regs": regs, "certs": certs,
                "ids": ids, "enterprises": {"bj": bj, "bj_other": bj_other, "sh": sh}}


def _csv(resp):
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    assert resp.mimetype == "text/csv"
    assert resp.data.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM for Excel"
    return list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))


def _xlsx(resp):
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    workbook = load_workbook(io.BytesIO(resp.data))
    rows = [row for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True)]
    return workbook, rows


def _xlsx_text(resp):
    with zipfile.ZipFile(io.BytesIO(resp.data)) as archive:
        return "".join(archive.read(name).decode("utf-8") for name in archive.namelist())


# (URL part, filter query, expected keys, key column → data key, column holding the key)
CASES = [
    ("registrations", "flt0_employer={token}&flt1_province=11&flt2_status=active", {"r1", "r2"}, "regs", 0),
    ("certificates", "flt0_holder={token}&flt1_province=11&flt2_status=valid", {"r1", "r2"}, "certs", 0),
    ("applications", "flt0_employer={token}&flt1_province=11&flt2_state=province_review", {"a1", "a2"},
     "numbers", 0),
]


@pytest.mark.parametrize("view, query, expected, source, column", CASES)
def test_csv_and_xlsx_hold_exactly_the_filtered_rows(app, data, view, query, expected, source, column):
    client = login(app.test_client(), data["ministry"])
    url = f"/exports/{view}/export/{{fmt}}/?" + query.format(token=data["token"])
    want = {data[source][key] for key in expected}
    rows = _csv(job_result(client, url.format(fmt="csv")))
    assert [r[column] for r in rows[1:]] and {r[column] for r in rows[1:]} == want
    assert len(rows) - 1 == len(want)
    _workbook, xrows = _xlsx(job_result(client, url.format(fmt="xlsx")))
    assert xrows[0] == tuple(rows[0])  # the same header
    assert {r[column] for r in xrows[1:]} == want and len(xrows) - 1 == len(want)
    listing = client.get(f"/exports/{view}/?" + query.format(token=data["token"])).get_data(as_text=True)
    assert all(number in listing for number in want)


def test_persons_and_enterprises_with_text_and_prefix_filters(app, data):
    client = login(app.test_client(), data["ministry"])
    token = data["token"]
    rows = _csv(job_result(client, f"/exports/persons/export/csv/?flt0_name={token}r&flt1_realname=verified"))
    assert sorted(r[0] for r in rows[1:]) == [f"{token}r{i}" for i in range(1, 5)]
    prefix = data["ids"]["r1"][:14]
    rows = _csv(job_result(client, f"/exports/persons/export/csv/?flt0_name={token}&flt1_id_number={prefix.lower()}"))
    assert [r[0] for r in rows[1:]] == [f"{token}r1"]
    assert rows[0][:2] == ["Name", "ID number"]
    assert rows[1][4] == "138****5678"  # mobile masked too
    rows = _csv(job_result(client, f"/exports/enterprises/export/csv/?flt0_name={token}&flt1_province=11"))
    assert sorted(r[0] for r in rows[1:]) == sorted([f"{token}北京企业", f"{token}北京二企业"])
    assert {r[2] for r in rows[1:]} == {"Beijing"}


def test_registration_specialty_and_date_filters(app, data):
    client = login(app.test_client(), data["ministry"])
    base = f"/exports/registrations/export/csv/?flt0_employer={data['token']}&flt1_status=active"
    rows = _csv(job_result(client, base + "&flt2_specialty=building"))
    assert {r[0] for r in rows[1:]} == {data["regs"][k] for k in ("r1", "r2", "r3")}
    assert rows[1][7].startswith("Building Construction 2")  # specialty with its valid-until date
    assert len(_csv(job_result(client, base + "&flt2_specialty=mining"))) == 1  # header only
    rows = _csv(job_result(client, base + "&flt2_valid_until=2000-01-01+to+2000-12-31"))
    assert len(rows) == 1


def test_xlsx_has_bold_header_dates_as_dates_and_a_file_name(app, data):
    client = login(app.test_client(), data["ministry"])
    resp = job_result(client, f"/exports/registrations/export/xlsx/?flt0_employer={data['token']}&flt1_province=11"
                      "&flt2_status=active")
    workbook, rows = _xlsx(resp)
    sheet = workbook.worksheets[0]
    assert sheet["A1"].font.b and sheet.freeze_panes == "A2"
    registered_on = rows[0].index("Registered on")
    assert sheet.cell(row=2, column=registered_on + 1).is_date
    disposition = resp.headers["Content-Disposition"]
    assert re.match(r"attachment; filename=\"registrations-\d{8}-\d{4}\.xlsx\"; "
                    r"filename\*=UTF-8''registrations-\d{8}-\d{4}\.xlsx$", disposition)


def test_masked_exports_hold_no_full_id_number(app, data):
    client = login(app.test_client(), data["ministry"])
    for view in ("persons", "registrations", "applications"):
        for fmt in ("csv", "xlsx"):
            resp = job_result(client, f"/exports/{view}/export/{fmt}/")
            text = resp.data.decode("utf-8-sig") if fmt == "csv" else _xlsx_text(resp)
            assert text.count("\n") >= 1 or fmt == "xlsx"
            assert not FULL_ID.search(text), (view, fmt, FULL_ID.search(text).group(0))
    page = client.get(f"/exports/persons/?flt0_name={data['token']}").get_data(as_text=True)
    assert data["ids"]["r1"][:6] + "********" + data["ids"]["r1"][14:] in page and data["ids"]["r1"] not in page


def test_unmasked_permission_gives_full_numbers(app, data):
    client = login(app.test_client(), data["unmasked"])
    rows = _csv(job_result(client, f"/exports/persons/export/csv/?flt0_name={data['token']}r1"))
    assert rows[1][1] == data["ids"]["r1"] and rows[1][4] == "13812345678"
    text = _xlsx_text(job_result(client, f"/exports/registrations/export/xlsx/?flt0_employer={data['token']}"))
    assert data["ids"]["r1"] in text
    with app.app_context():
        entry = db.session.query(AuditLog).filter_by(username=data["unmasked"], action="export").order_by(
            AuditLog.id.desc()).first()
        assert entry.detail["masked"] is False


def test_unmasked_exports_can_be_revoked_and_both_changes_are_audited(app, data):
    with app.app_context():
        officer = f.make_user("Ministry")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["grant-unmasked-export", officer]).exit_code == 0
    url = f"/exports/persons/export/csv/?flt0_name={data['token']}r1"
    assert _csv(job_result(login(app.test_client(), officer), url))[1][1] == data["ids"]["r1"]
    assert runner.invoke(args=["grant-unmasked-export", officer, "--revoke"]).exit_code == 0
    assert _csv(job_result(login(app.test_client(), officer), url))[1][1] != data["ids"]["r1"]
    with app.app_context():
        user_id = str(app.appbuilder.sm.find_user(username=officer).id)
        actions = [a for (a,) in db.session.query(AuditLog.action).filter_by(object_type="User", object_id=user_id)
                   .filter(AuditLog.action.in_(["grant", "revoke"])).order_by(AuditLog.id)]
    assert actions == ["grant", "revoke"]
    assert runner.invoke(args=["grant-unmasked-export", "nobody-such"]).exit_code != 0


def test_drafts_are_never_exported(app, data):
    client = login(app.test_client(), data["ministry"])
    rows = _csv(job_result(client, f"/exports/applications/export/csv/?flt0_employer={data['token']}"))
    exported = {r[0] for r in rows[1:]}
    assert data["numbers"]["draft"] not in exported
    assert exported == {data["numbers"][k] for k in ("a1", "a2", "a3", "a4")}
    _wb, xrows = _xlsx(job_result(client, f"/exports/applications/export/xlsx/?search={data['numbers']['draft']}"))
    assert len(xrows) == 1  # header only


def test_every_export_is_audited_with_filters_and_row_count(app, data):
    client = login(app.test_client(), data["ministry"])
    token = data["token"]
    with app.app_context():
        before = db.session.query(AuditLog.id).order_by(AuditLog.id.desc()).limit(1).scalar() or 0
    assert job_result(client, f"/exports/registrations/export/csv/?flt0_employer={token}&flt1_province=11"
                      "&flt2_status=active&search=京").data
    assert job_result(client, f"/exports/enterprises/export/xlsx/?flt0_name={token}").data
    with app.app_context():
        entries = (db.session.query(AuditLog).filter(AuditLog.id > before, AuditLog.action == "export")
                   .order_by(AuditLog.id).all())
        assert [(e.object_type, e.username, e.detail["format"], e.detail["rows"]) for e in entries] == [
            ("Registration", data["ministry"], "csv", 2), ("Enterprise", data["ministry"], "xlsx", 3)]
        first = entries[0]
        assert first.role == "Ministry" and first.detail["masked"] is True and first.detail["search"] == "京"
        assert {(flt["arg"], flt["value"]) for flt in first.detail["filters"]} == {
            ("employer", token), ("province", "11"), ("status", "active")}
        assert "2 rows" in first.summary and "CSV" in first.summary


@pytest.mark.parametrize("who", ["province", "enterprise", "applicant"])
def test_other_roles_get_403(app, data, who):
    client = login(app.test_client(), data[who])
    with app.app_context():
        before = db.session.query(AuditLog).filter_by(action="export").count()
    for url in ("/exports/", "/exports/registrations/", "/exports/persons/export/csv/",
                "/exports/applications/export/xlsx/"):
        assert client.get(url).status_code == 403, url
    with app.app_context():
        assert db.session.query(AuditLog).filter_by(action="export").count() == before
    assert 'href="/exports/"' not in client.get("/").get_data(as_text=True)


def test_anonymous_is_sent_to_the_login(app):
    client = app.test_client()
    for url in ("/exports/", "/exports/registrations/", "/exports/registrations/export/csv/"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/login/" in resp.headers["Location"], url


def test_pages_are_chinese_local_and_linked_from_the_menu(app, data):
    client = login(app.test_client(), data["ministry"], lang="zh")
    home = client.get("/").get_data(as_text=True)
    assert 'href="/exports/"' in home
    page = client.get("/exports/registrations/").get_data(as_text=True)
    assert "添加筛选器" in page and "export/csv/" in page and "export/xlsx/" in page
    assert not re.search(r"""(src|href)=["'](https?:)?//""", page), "no remote files on the intranet"
    assert client.get("/exports/").status_code == 200


def test_an_unreadable_filter_exports_nothing(app, data):
    client = login(app.test_client(), data["ministry"])
    with app.app_context():
        before = db.session.query(AuditLog).filter_by(action="export").count()
    for query in ("flt0_registered_on=yesterday", "flt0_no_such_filter=1"):
        resp = client.get(f"/exports/registrations/export/csv/?{query}")
        assert resp.status_code == 302 and "/exports/registrations/" in resp.headers["Location"]
    with app.app_context():
        assert db.session.query(AuditLog).filter_by(action="export").count() == before


def test_formulas_and_control_characters_stay_text(app, data):
    with app.app_context():
        enterprise = db.session.get(Enterprise, data["enterprises"]["sh"])
        enterprise.legal_representative = "=HYPERLINK(\"x\")\x01"
        db.session.commit()
    client = login(app.test_client(), data["ministry"])
    query = f"?flt0_name={data['token']}&flt1_province=31"
    rows = _csv(job_result(client, "/exports/enterprises/export/csv/" + query))
    assert rows[1][3].startswith("'=HYPERLINK")
    _workbook, xrows = _xlsx(job_result(client, "/exports/enterprises/export/xlsx/" + query))
    assert xrows[1][3] == "'=HYPERLINK(\"x\")"  # a string, not a formula; the control character dropped


def test_xlsx_continues_on_a_new_sheet_past_the_row_limit(app, data, monkeypatch):
    from reports import exports

    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 3)  # header + 2 rows a sheet
    client = login(app.test_client(), data["ministry"])
    workbook, rows = _xlsx(job_result(client, f"/exports/registrations/export/xlsx/?flt0_employer={data['token']}"))
    assert [sheet.max_row for sheet in workbook.worksheets] == [3, 3]
    assert workbook.worksheets[1].title.endswith("(2)") and workbook.worksheets[1]["A1"].font.b
    assert {r[0] for r in rows if r[0] != rows[0][0]} == set(data["regs"].values())


def test_submitted_dates_are_china_dates(app, data):
    from datetime import timedelta

    from ground.clock import today

    client = login(app.test_client(), data["ministry"])
    base = f"/exports/applications/export/csv/?flt0_employer={data['token']}&flt1_submitted="
    rows = _csv(job_result(client, base + f"{today()}+to+{today()}"))
    assert {r[0] for r in rows[1:]} == {data["numbers"][k] for k in ("a1", "a2", "a3", "a4")}
    submitted = rows[0].index("Submitted")
    assert all(r[submitted].startswith(str(today())) for r in rows[1:])
    yesterday = today() - timedelta(days=1)
    assert len(_csv(job_result(client, base + f"{yesterday}+to+{yesterday}"))) == 1


def test_a_person_cannot_fill_the_queues(app, data):
    """JOBS_ACTIVE_PER_USER jobs waiting or running at once; the next start is refused with a message."""
    from models import Job

    client = login(app.test_client(), data["ministry"])
    with app.app_context():
        user = f.user(data["ministry"])
        waiting = [Job(kind="export", params={}, title="waiting", state="queued", created_by_fk=user.id)
                   for _ in range(app.config["JOBS_ACTIVE_PER_USER"])]
        db.session.add_all(waiting)
        db.session.commit()
        ids = [job.id for job in waiting]
        before = db.session.query(Job).count()
    try:
        resp = client.get("/exports/enterprises/export/csv/")
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/jobs/")
        page = client.get("/jobs/").get_data(as_text=True)
        assert "jobs waiting or running" in page
        with app.app_context():
            assert db.session.query(Job).count() == before
    finally:
        with app.app_context():
            db.session.query(Job).filter(Job.id.in_(ids)).delete()
            db.session.commit()
