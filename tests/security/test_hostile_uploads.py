"""Hostile uploads: malformed multipart, path traversal in file names, image polyglots, decompression bombs,
truncated and empty files, mutated images and garbage rosters.

Rules: never a server error; a refused file leaves nothing in the upload store and no row; an accepted
image is re-encoded (the bytes served back hold none of the smuggled payload); no file is ever written
outside UPLOAD_FOLDER (the test's temporary tree, the instance folder and the working directory are
compared before and after, and the file names used carry a marker looked for everywhere).
tests/app/test_images.py covers the image rules themselves and tests/views/test_personal_bad_input.py the
messages of a few bad photos; here other files are driven through the pages, and hypothesis mutates valid ones.
"""
import io
import os
import struct
import zipfile
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ground.extensions import db
from models import Attachment
from tests import factories as f
from tests.conftest import form_tokens, login
from tests.security.helpers import (FILE_NAMES, assert_no_injected_markup, changed, hostile_settings, hostile_text,
                                    hostile_world, picture, png_chunk, png_claiming, row_counts, tree)

MARKER = "hostile-upload-7f3a"  # in every traversal file name; no file may ever carry it
TRAVERSAL_NAMES = (f"../../{MARKER}.png", f"../../../../../tmp/{MARKER}.png", f"/tmp/{MARKER}.png",
                   f"..\\..\\{MARKER}.png", f"C:\\{MARKER}.png", f"{MARKER}.png\x00.html", f"a/../../{MARKER}.jpg",
                   f"%2e%2e%2f{MARKER}.png", f"....//....//{MARKER}.png", f"./{MARKER}/../../x.png")
PAYLOAD = b"<script>alert('polyglot')</script><html><body onload=alert(1)>"


# --- files ----------------------------------------------------------------------------------------------
def png_with_tail(tail: bytes) -> bytes:
    return picture(fmt="PNG") + tail


def png_with_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("evil.html", PAYLOAD)
    return picture(fmt="PNG") + buf.getvalue()


def png_with_text_chunk() -> bytes:
    data = picture(fmt="PNG")
    return data[:33] + png_chunk(b"tEXt", b"Comment\x00" + PAYLOAD) + data[33:]


def jpeg_html_polyglot() -> bytes:
    """A JPEG with the HTML in a comment segment and again after the end marker."""
    data = picture()
    comment = b"\xff\xfe" + struct.pack(">H", len(PAYLOAD) + 2) + PAYLOAD
    return data[:2] + comment + data[2:] + PAYLOAD


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(1)</script></svg>'
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00" \
      b"\x01\x00\x01\x00\x00\x02\x02D\x01\x00;" + PAYLOAD


def jpeg_claiming(width: int, height: int) -> bytes:
    """A JPEG whose frame header claims width x height."""
    data = bytearray(picture((64, 64)))
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def png_zlib_bomb() -> bytes:
    """A valid 6000 x 6000 grey PNG (36 million pixels, under the limit) of a few kilobytes."""
    raw = zlib.compress(b"\0" * (6000 + 1) * 6000, 9)
    ihdr = struct.pack(">IIBBBBB", 6000, 6000, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", raw) + png_chunk(b"IEND", b"")


# (name, bytes, accepted: True must be, False must not be, None either way)
CASES = [
    ("png-with-html-tail", lambda: png_with_tail(PAYLOAD), None),  # refused today: no IEND at the very end
    ("png-with-zip-tail", png_with_zip, None),
    ("png-with-text-chunk", png_with_text_chunk, True),
    ("jpeg-html-polyglot", jpeg_html_polyglot, True),
    ("svg-named-png", lambda: SVG, False),
    ("gif-with-tail", lambda: GIF, False),
    ("html-named-jpg", lambda: b"<html>" + PAYLOAD, False),
    ("png-50000x50000", lambda: png_claiming(50000, 50000), False),
    ("png-100000000x1", lambda: png_claiming(100_000_000, 1), False),
    ("png-4294967295-square", lambda: png_claiming(2**32 - 1, 2**32 - 1), False),
    ("jpeg-65535x65535", lambda: jpeg_claiming(65535, 65535), False),
    ("png-zlib-bomb-36-megapixels", png_zlib_bomb, True),
    ("truncated-png", lambda: picture(fmt="PNG")[:200], False),
    ("zero-bytes", lambda: b"", False),
    ("png-signature-only", lambda: b"\x89PNG\r\n\x1a\n", False),
    ("jpeg-markers-only", lambda: b"\xff\xd8\xff\xd9", False),
]


@pytest.fixture(scope="module")
def world(app):
    return hostile_world(app)


@pytest.fixture
def applicant(app):
    """A fresh applicant with no materials, signed in."""
    with app.app_context():
        username, person_id = f.make_applicant(materials=False)
    return login(app.test_client(), username), person_id


def _roots(app):
    """Where a stray file could land, compared whole: this test session's temporary tree (UPLOAD_FOLDER's
    parent) and the instance folder. The working directory and the system temporary folder are shared
    with other processes: only the marked names are looked for there."""
    return [os.path.dirname(app.config["UPLOAD_FOLDER"]), app.instance_path]


def _top_level(*folders):
    out = set()
    for folder in folders:
        try:
            out |= {os.path.join(folder, n) for n in os.listdir(folder)}
        except OSError:
            pass
    return out


def _no_stray_files(app, before_tree, before_top):
    import tempfile

    upload_root = os.path.realpath(app.config["UPLOAD_FOLDER"])
    results = os.path.realpath(app.config["JOB_RESULT_FOLDER"])  # roster reports (and inputs) of jobs
    new = {p for p, _size in tree(*_roots(app)) - before_tree}
    outside = sorted(p for p in new if not os.path.realpath(p).startswith((upload_root + os.sep, results + os.sep)))
    assert not outside, f"files written outside UPLOAD_FOLDER and JOB_RESULT_FOLDER: {outside}"
    inputs = os.path.join(results, "inputs")
    assert not (os.path.isdir(inputs) and os.listdir(inputs)), "an uploaded roster outlived its job"
    stray_top = _top_level(os.getcwd(), tempfile.gettempdir()) - before_top
    assert not [p for p in stray_top if MARKER in p], stray_top
    marked = [p for p, _s in tree(*_roots(app)) if MARKER in p]
    assert not marked, f"a file kept the uploaded name: {marked}"


@pytest.fixture
def no_stray_files(app):
    import tempfile

    before_tree, before_top = tree(*_roots(app)), _top_level(os.getcwd(), tempfile.gettempdir())
    yield
    _no_stray_files(app, before_tree, before_top)


def _store(app, person_id):
    with app.app_context():
        rows = sorted((a.id, a.kind, a.storage_key, a.is_current) for a in
                      db.session.query(Attachment).filter_by(person_id=person_id))
    return rows, tree(app.config["UPLOAD_FOLDER"])


def _upload(client, kind, data, filename, token=None):
    token = token or form_tokens(client, "/me/materials")["csrf_token"]
    return client.post("/me/materials", data={"csrf_token": token, "kind": kind, "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def _served(client, app, person_id, kind):
    """The bytes the platform serves back for the person's current attachment of `kind`."""
    with app.app_context():
        item = db.session.query(Attachment).filter_by(person_id=person_id, kind=kind, is_current=True).one()
        item_id = item.id
    resp = client.get(f"/attachments/file/{item_id}")
    assert resp.status_code == 200, resp.status_code
    assert resp.mimetype in ("image/jpeg", "image/png"), resp.mimetype
    return resp.get_data()


@pytest.mark.parametrize("name,make,accepted", CASES, ids=[c[0] for c in CASES])
def test_images_through_the_materials_page(app, applicant, no_stray_files, name, make, accepted):
    client, person_id = applicant
    store_before = _store(app, person_id)
    counts = row_counts(app)
    resp = _upload(client, "id_front", make(), f"{name}.png")
    assert resp.status_code < 500
    assert_no_injected_markup(resp.get_data(as_text=True))
    assert resp.status_code in (200, 302), resp.status_code
    if accepted is not None:
        assert (resp.status_code == 302) is accepted, resp.get_data(as_text=True)[-3000:]
    if resp.status_code == 200:  # the form again, with the reason: nothing kept
        assert "help-block" in resp.get_data(as_text=True)
        assert _store(app, person_id) == store_before
        assert changed(counts, row_counts(app)) == {}
        return
    served = _served(client, app, person_id, "id_front")
    assert PAYLOAD not in served and b"alert" not in served and b"PK\x03\x04" not in served
    from PIL import Image

    image = Image.open(io.BytesIO(served))
    image.load()  # a whole, decodable image


@pytest.mark.parametrize("filename", TRAVERSAL_NAMES + FILE_NAMES, ids=range(len(TRAVERSAL_NAMES + FILE_NAMES)))
def test_file_names_never_become_paths(app, applicant, no_stray_files, filename):
    """A valid image under any name is stored under a generated key inside UPLOAD_FOLDER, named by its kind;
    or refused (a NUL in the name: 400; no name at all: "choose a file") with nothing stored."""
    client, person_id = applicant
    resp = _upload(client, "signature", picture((600, 200), fmt="PNG"), filename)
    assert resp.status_code in (200, 302, 400), resp.status_code
    with app.app_context():
        stored = [(a.filename, a.storage_key) for a in db.session.query(Attachment).filter_by(person_id=person_id)]
    if resp.status_code != 302:
        assert not stored and ("\x00" in filename or not filename), (filename, resp.status_code)
        return
    [(stored_name, key)] = stored
    assert stored_name == "signature.png" and key.startswith(f"{person_id}/") and ".." not in key
    root = os.path.realpath(app.config["UPLOAD_FOLDER"])
    assert os.path.realpath(os.path.join(root, key)).startswith(root + os.sep)


def test_photo_preview_decisions(app, applicant):
    """The pending photo's page takes any decision text; only "keep" keeps it."""
    client, person_id = applicant
    from tests.views.test_personal_journey import image

    for decision in ("<script>alert(1)</script>", "", "keep\x00", "KEEP", "discard"):
        assert _upload(client, "photo", image(), "p.jpg").status_code == 302
        token = form_tokens(client, "/me/materials")["csrf_token"]
        resp = client.post("/me/materials/photo", data={"csrf_token": token, "decision": decision})
        assert resp.status_code in (302, 400), (decision, resp.status_code)
    with app.app_context():
        assert db.session.query(Attachment).filter_by(person_id=person_id, kind="photo", is_current=True).count() == 0


def _mutations():
    """Valid JPEG and PNG files cut short, with bytes overwritten, or with random tails."""
    bases = st.sampled_from([picture((320, 320)), picture((320, 320), fmt="PNG")])

    def flip(base, edits):
        data = bytearray(base)
        for position, value in edits:
            data[position % len(data)] = value
        return bytes(data)

    flipped = st.builds(flip, bases, st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1,
                                              max_size=8))
    cut = st.builds(lambda b, n: b[:n % len(b)], bases, st.integers(0, 10**6))
    tail = st.builds(lambda b, t: b + t, bases, st.binary(max_size=200))
    return st.one_of(flipped, cut, tail, st.binary(max_size=300))


def test_mutated_images_never_fail(app, applicant, no_stray_files):
    client, person_id = applicant
    token = form_tokens(client, "/me/materials")["csrf_token"]

    @hostile_settings(40)
    @given(data=_mutations(), kind=st.sampled_from(["id_back", "signature", "photo", "education_proof"]))
    def run(data, kind):
        store_before = _store(app, person_id)
        resp = _upload(client, kind, data, "m.jpg", token)
        assert resp.status_code in (200, 302), resp.status_code
        if resp.status_code == 200:  # refused: nothing stored
            assert _store(app, person_id) == store_before

    run()


def _multipart(parts, boundary=b"XyZ"):
    body = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'.encode()
        if filename is not None:
            disposition += b'; filename="' + filename + b'"'
        body += b"--" + boundary + b"\r\nContent-Disposition: " + disposition + b"\r\n\r\n" + content + b"\r\n"
    return body + b"--" + boundary + b"--\r\n"


def test_malformed_multipart(app, applicant, world, no_stray_files):
    """Broken boundaries, truncated bodies, a wrong length, headers without a body, thousands of fields."""
    client, person_id = applicant
    token = form_tokens(client, "/me/materials")["csrf_token"].encode()
    good = _multipart([(b"csrf_token", None, token), (b"kind", None, b"id_front"),
                       (b"file", b"x.jpg", picture())])
    bodies = [
        ("multipart/form-data; boundary=XyZ", good[: len(good) // 2], None),
        ("multipart/form-data; boundary=XyZ", good[:-8], None),
        ("multipart/form-data; boundary=Other", good, None),
        ("multipart/form-data", good, None),
        ("multipart/form-data; boundary=", good, None),
        ("multipart/form-data; boundary=" + "x" * 5000, good, None),
        ("multipart/form-data; boundary=XyZ", good.replace(b"\r\n\r\n", b"\r\n", 1), None),
        ("multipart/form-data; boundary=XyZ", b"--XyZ\r\n" * 5000, None),
        ("multipart/form-data; boundary=XyZ", _multipart([(b"f%d" % i, None, b"v") for i in range(5000)]), None),
        ("multipart/form-data; boundary=XyZ", _multipart([(b"file", b"f%d.jpg" % i, b"x") for i in range(2000)]), None),
        ("multipart/form-data; boundary=XyZ", good, str(len(good) + 1000)),
        ("multipart/form-data; boundary=XyZ", good, "-1"),
        ("multipart/form-data; boundary=XyZ", good, "abc"),
        ("multipart/form-data; boundary=XyZ", b"\x00" * 1000, None),
        ("multipart/form-data; boundary=XyZ", _multipart([(b"file", b"../../" + MARKER.encode() + b".jpg", picture())]),
         None),
        ("multipart/mixed; boundary=XyZ", good, None),
        ("application/octet-stream", picture(), None),
    ]
    store_before = _store(app, person_id)
    for url in ("/me/materials", "/apply/info_change", "/roster/upload"):
        login_as = client if url != "/roster/upload" else login(app.test_client(), world.users["ministry"])
        for content_type, body, length in bodies:
            headers = {"Content-Length": length} if length is not None else {}
            resp = login_as.post(url, data=body, content_type=content_type, headers=headers)
            assert resp.status_code < 500, (url, content_type, length, resp.status_code)
    assert _store(app, person_id) == store_before


# --- the qualification roster ----------------------------------------------------------------------------
HEADER = ["姓名", "身份证号", "资格证书编号", "专业", "取得日期", "临时"]


def _csv_bytes(rows, encoding="utf-8-sig") -> bytes:
    import csv

    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding, errors="replace")


def _roster_files():
    cell = hostile_text(long=False)
    row = st.lists(cell, min_size=0, max_size=8)
    hostile_csv = st.builds(lambda rows: _csv_bytes([HEADER] + rows), st.lists(row, max_size=5))
    headerless = st.builds(_csv_bytes, st.lists(row, max_size=4))
    garbage = st.one_of(st.binary(max_size=400), st.sampled_from([
        b"", b"PK\x03\x04garbage", b"\xef\xbb\xbf", "姓名,身份证号\n".encode("gbk"), b"\x00" * 50,
        b'"unterminated,quote\n', b"a\rb\rc", b",,,,,,,,,,,,,,\n" * 100, b"=cmd|' /C calc'!A0,+1,-1,@SUM(A1)\n",
    ]))
    content = st.one_of(hostile_csv, headerless, garbage)
    name = st.one_of(st.sampled_from(["r.csv", "r.xlsx", "r.CSV", "r.txt", "r", ".csv", "<script>alert(1)</script>.csv",
                                      f"../../{MARKER}.csv"]), hostile_text(long=False))
    return st.tuples(content, name)


def test_roster_garbage(app, world, no_stray_files):
    """CSV and XLSX uploads of garbage, hostile cells and hostile names: a refusal on the page or a job on
    我的任务, escaped either way."""
    client = login(app.test_client(), world.users["ministry"])
    token = form_tokens(client, "/roster/upload")["csrf_token"]

    @hostile_settings(30)
    @given(upload=_roster_files())
    def run(upload):
        content, name = upload
        resp = client.post("/roster/upload", data={"csrf_token": token, "file": (io.BytesIO(content), name)},
                           content_type="multipart/form-data")
        assert resp.status_code in (200, 302, 400), resp.status_code
        if resp.status_code == 302:
            resp = client.get(resp.headers["Location"])
        assert_no_injected_markup(resp.get_data(as_text=True), "on the roster page or 我的任务")

    run()
    for payload, started in ((zipfile_not_a_workbook(), False),
                             (xlsx_with_cells([HEADER, ["<script>alert(1)</script>", "x" * 5000]]), True)):
        resp = client.post("/roster/upload", data={"csrf_token": token, "file": (io.BytesIO(payload), "r.xlsx")},
                           content_type="multipart/form-data")
        assert resp.status_code == (302 if started else 200)
        if started:
            resp = client.get(resp.headers["Location"])
        assert_no_injected_markup(resp.get_data(as_text=True), "on the roster page or 我的任务")


def test_enterprise_register_garbage(app, world, no_stray_files):
    """The national enterprise register import: garbage and hostile cells are refused on the page or reported by
    the job on 我的任务, escaped either way; nothing but statuses of the directory's enterprises changes."""
    client = login(app.test_client(), world.users["ministry"])
    token = form_tokens(client, "/employer-status/register")["csrf_token"]
    header = ["统一社会信用代码", "企业名称", "登记状态", "状态日期"]
    cell = hostile_text(long=False)
    hostile_csv = st.builds(lambda rows: _csv_bytes([header] + rows), st.lists(st.lists(cell, max_size=5), max_size=4))
    garbage = st.one_of(st.binary(max_size=300), st.sampled_from([b"", b"PK\x03\x04garbage", b"\x00" * 50,
                                                                  b'"unterminated,quote\n']))
    name = st.one_of(st.sampled_from(["r.csv", "r.xlsx", f"../../{MARKER}.csv"]), hostile_text(long=False))

    @hostile_settings(20)
    @given(upload=st.tuples(st.one_of(hostile_csv, garbage), name))
    def run(upload):
        content, filename = upload
        resp = client.post("/employer-status/register",
                           data={"csrf_token": token, "file": (io.BytesIO(content), filename)},
                           content_type="multipart/form-data")
        assert resp.status_code in (200, 302, 400), resp.status_code
        if resp.status_code == 302:
            resp = client.get(resp.headers["Location"])
        assert_no_injected_markup(resp.get_data(as_text=True), "on the register page or 我的任务")

    run()


EDUCATION_HEADER = ["姓名", "身份证号", "培训证书编号", "课程类别", "学时", "结业日期", "培训单位", "课程名称", "专业"]


def test_education_list_garbage(app, world, no_stray_files):
    """A training provider's list of garbage and hostile cells: a refusal on the page or a job, escaped."""
    client = login(app.test_client(), world.users["ministry"])
    token = form_tokens(client, "/education-import/upload")["csrf_token"]
    cell = hostile_text(long=False)
    rows = st.lists(st.lists(cell, min_size=0, max_size=10), max_size=4)
    content = st.one_of(st.builds(lambda r: _csv_bytes([EDUCATION_HEADER] + r), rows),
                        st.builds(_csv_bytes, rows), st.binary(max_size=200))

    @hostile_settings(20)
    @given(content=content, name=st.one_of(st.just("list.csv"), hostile_text(long=False)))
    def run(content, name):
        resp = client.post("/education-import/upload",
                           data={"csrf_token": token, "file": (io.BytesIO(content), name)},
                           content_type="multipart/form-data")
        assert resp.status_code in (200, 302, 400), resp.status_code
        if resp.status_code == 302:
            resp = client.get(resp.headers["Location"])
        assert_no_injected_markup(resp.get_data(as_text=True), "on the education import page or 我的任务")

    run()


def zipfile_not_a_workbook() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<not-a-workbook>" * 10)
    return buf.getvalue()


def xlsx_with_cells(rows) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
