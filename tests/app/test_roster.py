"""Qualification roster import (app/roster.py): CSV in UTF-8 and GB18030, XLSX, row rules, whole-file refusals,
one transaction, batched look-ups, the report and its CSV."""
import csv
import io
import uuid
from datetime import date, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import func

from app import roster
from ground.clock import today
from ground.extensions import db
from models import AuditLog, Person, Qualification, Specialty
from tests import factories as f

HEADER_ZH = ["姓名", "身份证号", "资格证书编号", "专业", "取得日期", "临时"]
HEADER_EN = ["name", "id_number", "certificate_no", "specialty", "qualified_on", "is_temporary"]


def _certs(n=20) -> list[str]:
    prefix = "R" + uuid.uuid4().hex[:10].upper()
    return [f"{prefix}{i:03d}" for i in range(n)]


def _bad_checksum(id_number: str) -> str:
    alphabet = "0123456789X"
    return id_number[:17] + alphabet[(alphabet.index(id_number[17]) + 1) % len(alphabet)]


def _id_with_x() -> str:
    while True:
        number = f.unique_id_number()
        if number.endswith("X"):
            return number


def _csv_bytes(rows, encoding="utf-8-sig") -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def _xlsx_bytes(rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buf = io.BytesIO()
    workbook.save(buf)
    return buf.getvalue()


def _by_row(report) -> dict:
    return {r.row: r for r in report.rows}


def _written(certificates) -> set[str]:
    return {c for (c,) in db.session.query(Qualification.certificate_no).filter(
        Qualification.certificate_no.in_(certificates))}


def _ministry():
    return f.user(f.make_user("Ministry"))


@pytest.fixture
def existing(ctx):
    """A person on file (name, ID, one building qualification with its certificate number and date)."""
    person_id = f.make_person(materials=False, qualifications=(("building", 2),))
    person = db.session.get(Person, person_id)
    q = person.qualifications[0]
    return {"id": person_id, "name": person.name, "id_number": person.id_number, "certificate_no": q.certificate_no,
            "qualified_on": q.qualified_on}


def test_csv_utf8_bom_with_good_and_bad_rows(ctx, existing):
    c = _certs()
    new_a, new_x, bad = f.unique_id_number(), _id_with_x(), _bad_checksum(f.unique_id_number())
    tomorrow = (today() + timedelta(days=1)).isoformat()
    rows = [
        HEADER_ZH,                                                                        # 1
        ["王小明", new_a, c[0], "建筑工程", "2020-05-01", "否"],                           # 2 accepted (new person)
        ["王小明", new_a, c[1], "municipal", "2021/3/4", "是"],                            # 3 accepted (same person)
        ["李错", bad, c[2], "建筑工程", "2020-05-01", ""],                                 # 4 checksum
        ["赵专", f.unique_id_number(), c[3], "园林工程", "2020-05-01", ""],                 # 5 unknown specialty
        ["钱未", f.unique_id_number(), c[4], "建筑工程", tomorrow, ""],                     # 6 future date
        ["孙日", f.unique_id_number(), c[5], "建筑工程", "yesterday", ""],                  # 7 date not understood
        [],                                                                               # 8 blank: skipped
        ["王小明", new_a, c[6], "建筑工程", "2020-05-01", "否"],                           # 9 duplicate of row 2
        ["周重", f.unique_id_number(), existing["certificate_no"], "矿业工程", "2020-05-01", ""],  # 10 cert in DB
        ["冒名", existing["id_number"], c[7], "铁路工程", "2020-05-01", ""],                # 11 name mismatch
        ["", f.unique_id_number(), c[8], "建筑工程", "2020-05-01", ""],                    # 12 missing name
        ["吴叉", new_x.lower(), c[9], "机电工程", "2019年12月1日", "no"],                   # 13 accepted, lower-case x
        [existing["name"], existing["id_number"], existing["certificate_no"], "建筑工程",
         existing["qualified_on"].isoformat(), "否"],                                      # 14 unchanged
        [existing["name"], existing["id_number"], c[10], "矿业工程", "2022-02-02", "0"],   # 15 accepted, existing person
        ["郑双", f.unique_id_number(), c[0], "建筑工程", "2020-05-01", ""],                 # 16 cert also on row 2
        ["冯月", f.unique_id_number(), c[11], "建筑工程", "2023-02-30", ""],                # 17 no such date
        ["陈临", f.unique_id_number(), c[12], "建筑工程", "2020-05-01", "maybe"],           # 18 bad flag
    ]
    report = roster.import_roster(_csv_bytes(rows), "名单.csv", _ministry())

    assert report.error == ""
    got = _by_row(report)
    assert sorted(got) == [2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]
    assert {n for n, r in got.items() if r.status == "accepted"} == {2, 3, 13, 15}
    assert {n for n, r in got.items() if r.status == "unchanged"} == {14}
    assert report.counts == {"rows": 16, "accepted": 4, "refused": 11, "unchanged": 1}
    assert "check character" in got[4].reason
    assert "Unknown specialty “园林工程”" in got[5].reason
    assert "is in the future" in got[6].reason
    assert "“yesterday” is not understood" in got[7].reason
    assert got[9].reason == "Same person and specialty as row 2; this row is ignored."
    assert "already on the roster for another person" in got[10].reason
    assert f"on file under the name {existing['name']}" in got[11].reason
    assert got[12].reason == "The name is missing."
    assert "also on row 2" in got[16].reason
    assert "does not exist" in got[17].reason
    assert "Temporary certificate: write" in got[18].reason
    # Masked ID numbers only, even for invalid ones.
    assert got[2].masked_id == new_a[:6] + "********" + new_a[14:]
    assert got[4].masked_id == bad[:6] + "********" + bad[14:]

    assert _written(c) == {c[0], c[1], c[9], c[10]}
    person = db.session.query(Person).filter_by(id_number=new_a).one()
    assert person.name == "王小明"
    quals = {q.specialty_code: q for q in person.qualifications}
    assert set(quals) == {"building", "municipal"}
    assert quals["municipal"].is_temporary is True and quals["municipal"].qualified_on == date(2021, 3, 4)
    assert quals["building"].is_temporary is False
    x_person = db.session.query(Person).filter_by(id_number=new_x).one()  # normalised to upper-case X
    assert x_person.qualifications[0].qualified_on == date(2019, 12, 1)
    assert {q.specialty_code for q in db.session.get(Person, existing["id"]).qualifications} == {"building", "mining"}
    refused_ids = [rows[n - 1][1] for n, r in got.items() if r.status == "refused" and rows[n - 1][1] != new_a]
    assert db.session.query(Person).filter(Person.id_number.in_(refused_ids)).count() == 1  # only `existing`
    assert db.session.query(Person).filter_by(name="冒名").count() == 0

    audit = db.session.query(AuditLog).filter_by(action="import", object_type="Roster").order_by(
        AuditLog.id.desc()).first()
    assert audit.summary == "名单.csv: rows 16, accepted 4, refused 11, unchanged 1"
    assert audit.detail["accepted"] == 4
    assert db.session.query(AuditLog).filter_by(action="create", object_type="Qualification").filter(
        AuditLog.summary.like(f"{c[0]}%")).count() == 1


def test_report_csv_lists_refused_rows_first(ctx, existing):
    c = _certs()
    rows = [HEADER_EN,
            ["Good", f.unique_id_number(), c[0], "building", "2020-01-01", ""],
            ["Bad", "123", c[1], "building", "2020-01-01", ""],
            ["=cmd()", f.unique_id_number(), c[2], "nope", "2020-01-01", ""]]
    report = roster.import_roster(_csv_bytes(rows, "utf-8"), "r.csv", None)
    lines = list(csv.reader(io.StringIO(report.to_csv())))
    assert lines[0] == ["Row", "ID number", "Name", "Specialty", "Qualification certificate number", "Result",
                        "Reason"]
    assert [line[0] for line in lines[1:]] == ["3", "4", "2"]
    assert lines[1][5] == "Not imported" and "18 characters" in lines[1][6]
    assert lines[2][2] == "'=cmd()"  # no formula reaches a spreadsheet
    assert lines[3][5] == "Imported"


def test_gb18030_csv_with_alternative_headers(ctx):
    c = _certs()
    a, b = f.unique_id_number(), f.unique_id_number()
    rows = [["身份证号码", "姓名", "专业", "证书编号", "签发日期"],  # other order, other spellings, no 临时 column
            [a, "欧阳娜娜", "港口与航道工程", c[0], "2018年7月9日"],
            [b, "司马光", "通信与广电工程", c[1], "2018-13-01"]]
    data = _csv_bytes(rows, "gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    report = roster.import_roster(io.BytesIO(data), "gbk.csv", None)
    got = _by_row(report)
    assert got[2].status == "accepted" and got[2].name == "欧阳娜娜"
    assert got[3].status == "refused" and "does not exist" in got[3].reason
    assert _written(c) == {c[0]}
    assert db.session.query(Qualification).filter_by(certificate_no=c[0]).one().specialty_code == "port"


def test_xlsx_with_title_row_date_cells_and_numeric_id(ctx, existing):
    c = _certs()
    a, b = f.unique_id_number(), f.unique_id_number()
    while b.endswith("X"):  # typed as a number below
        b = f.unique_id_number()
    numeric_cert = int(uuid.uuid4().int % 10**12) + 10**12
    rows = [["2024年度一级建造师资格名单"],                                     # 1 title row
            HEADER_EN,                                                          # 2
            ["Lin Yi", a, c[0], "Building Construction", date(2022, 4, 5), "yes"],  # 3 accepted (English name)
            ["Numeric", float(b), c[1], "building", date(2022, 4, 5), None],   # 4 ID typed as a number
            ["Future", b, c[2], "building", today() + timedelta(days=30), None],  # 5 future date cell
            ["Serial", b, numeric_cert, "mining", 44927, True],                     # 6 accepted: Excel serial, int cert
            [None, None, None, None, None, None],                               # 7 blank
            [existing["name"] + "乙", existing["id_number"], c[3], "mining", "2022-01-01", None]]  # 8 mismatch
    report = roster.import_roster(_xlsx_bytes(rows), "roster.xlsx", None)
    got = _by_row(report)
    assert sorted(got) == [3, 4, 5, 6, 8]
    assert got[3].status == "accepted"
    assert "stored as a number" in got[4].reason
    assert "in the future" in got[5].reason
    assert got[6].status == "accepted" and got[6].certificate_no == str(numeric_cert)
    assert got[8].status == "refused" and "names differ" in got[8].reason
    q = db.session.query(Qualification).filter_by(certificate_no=str(numeric_cert)).one()
    assert q.qualified_on == date(2023, 1, 1) and q.is_temporary is True and q.specialty_code == "mining"
    assert db.session.query(Qualification).filter_by(certificate_no=c[0]).one().is_temporary is True


@pytest.mark.parametrize("content, message", [
    (_csv_bytes([["姓名", "身份证号", "专业"], ["张三", "110101198001010010", "建筑工程"]]),
     "资格证书编号 (certificate_no), 取得日期 (qualified_on)"),
    (b"hello, world\nthis is a text file renamed to .xlsx\n", "姓名 (name), 身份证号 (id_number)"),
    (b"PK\x03\x04 not really a zip", "could not be read as an Excel workbook"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "Old Excel files (.xls)"),
    (b"", "The file is empty."),
    (b"\x00\x01\x02\xff\xfe\x00binary", "neither an Excel workbook"),
])
def test_whole_file_refused_writes_nothing(ctx, content, message):
    persons, quals = db.session.query(func.count(Person.id)).scalar(), db.session.query(func.count(Qualification.id)).scalar()
    report = roster.import_roster(content, "roster.xlsx", None)
    assert message in report.error
    assert report.rows == [] and report.counts["accepted"] == 0
    assert db.session.query(func.count(Person.id)).scalar() == persons
    assert db.session.query(func.count(Qualification.id)).scalar() == quals
    audit = db.session.query(AuditLog).filter_by(action="import").order_by(AuditLog.id.desc()).first()
    assert audit.detail["error"] == report.error


def test_too_many_rows_refused(ctx):
    """The command line's --max-rows: a file with more rows is refused whole."""
    c = _certs()
    rows = [HEADER_ZH] + [[f"人{i}", f.unique_id_number(), c[i], "建筑工程", "2020-01-01", ""] for i in range(3)]
    report = roster.import_roster(_csv_bytes(rows), "big.csv", None, max_rows=2)
    assert "more than 2 rows" in report.error
    assert _written(c) == set()


def test_database_refusal_writes_nothing(ctx, existing, monkeypatch):
    """A certificate number the checks did not see (taken meanwhile): the database refuses, nothing is written."""
    c = _certs()
    monkeypatch.setattr(roster, "_existing", lambda session, candidates: ({}, {}, {}))
    new = f.unique_id_number()
    rows = [HEADER_ZH,
            ["新人", new, c[0], "建筑工程", "2020-01-01", ""],
            ["另一人", f.unique_id_number(), existing["certificate_no"], "矿业工程", "2020-01-01", ""]]
    report = roster.import_roster(_csv_bytes(rows), "race.csv", None)
    assert report.error == "The database refused the import; nothing was written."
    assert report.counts == {"rows": 2, "accepted": 0, "refused": 2, "unchanged": 0}
    assert db.session.query(Person).filter_by(id_number=new).count() == 0
    assert _written(c) == set()


def test_lookups_are_batched(ctx, count_queries):
    c = _certs(60)
    rows = [HEADER_ZH] + [[f.person_name(i), f.unique_id_number(), c[i], "建筑工程", "2020-01-01", ""] for i in range(60)]
    with count_queries() as counter:
        report = roster.import_roster(_csv_bytes(rows), "batch.csv", None)
    assert report.accepted == 60
    selects = [s for s in counter.statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 6, selects


def test_sample_file_is_a_valid_roster(ctx):
    from views.roster import sample_csv

    rows = list(csv.reader(io.StringIO(sample_csv())))
    assert rows[0] == HEADER_ZH
    numbered = enumerate(rows, start=1)
    columns = roster._header(numbered)
    assert set(columns) == set(roster.COLUMNS)
    specialties = roster._specialty_lookup(db.session.query(Specialty).all())
    checked = [roster._check_row(number, values, columns, specialties) for number, values in numbered]
    assert len(checked) == 2 and all(isinstance(c, roster._Candidate) for c in checked)
