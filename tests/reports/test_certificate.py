"""The electronic certificate copy: real PDF text and fonts, a QR code that decodes to a signed token,
the copy's validity date, the print endpoint's scope, refusals and audit, and the ministry's batch print."""
import re
import shutil
import subprocess
from datetime import date, timedelta
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from tests import factories as f
from tests.conftest import job_result, login


@pytest.fixture(autouse=True)
def _poppler():
    missing = [tool for tool in ("pdftotext", "pdffonts", "pdfinfo", "pdftoppm") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{missing} (poppler-utils) are needed; scripts/test installs them")


def _run(*args) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def _pages(path) -> int:
    return int(re.search(r"^Pages:\s+(\d+)", _run("pdfinfo", str(path)), re.M).group(1))


def _registered(staff, name="欧阳明远", enterprise_name=None, specialties=("building", "municipal")):
    """A person registered through the engine (initial registration, approved and announced) and their
    certificate: (username, certificate id, certificate number)."""
    from ground.extensions import db
    from models import Certificate

    enterprise = f.make_enterprise("11", name=enterprise_name or f"中建华夏建设集团第{f.next_serial()}工程有限公司")
    username, person_id, _ = f.register(staff, enterprise, specialties=specialties, name=name)
    certificate = db.session.query(Certificate).filter_by(person_id=person_id, status="valid").one()
    return username, certificate.id, certificate.number


def _audit_prints(certificate_id):
    from ground.extensions import db
    from models import AuditLog

    return (db.session.query(AuditLog)
            .filter_by(action="print", object_type="Certificate", object_id=str(certificate_id)).all())


def test_certificate_pdf_text_fonts_and_signed_qr(app, tmp_path):
    import zxingcpp
    from PIL import Image

    from ground.clock import today
    from ground.extensions import db
    from app.services import signing
    from models import Certificate
    from reports.certificates import copy_valid_until

    staff = f.Staff()
    with app.app_context():
        username, cert_id, number = _registered(staff, enterprise_name="中建华夏建设集团有限公司")
        certificate = db.session.get(Certificate, cert_id)
        registration_number = certificate.registration_number
        copy_until = copy_valid_until(certificate, today()).isoformat()

    resp = login(app.test_client(), username, lang="zh").get(f"/certificates/pdf/{cert_id}")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.headers["Content-Disposition"] == f'inline; filename="certificate-{number}.pdf"'
    path = tmp_path / "certificate.pdf"
    path.write_bytes(resp.data)
    assert _pages(path) == 1

    text = _run("pdftotext", "-layout", str(path), "-")
    for expected in ("中华人民共和国一级建造师注册证书", "欧阳明远", "中建华夏建设集团有限公司", "建筑工程", "市政公用工程",
                     registration_number, number, f"本电子证书下载件有效期至 {copy_until}", "本人签名",
                     "中华人民共和国住房和城乡建设部"):
        assert expected in text, expected
    assert "\ufffd" not in text  # no glyph came out as a replacement character

    fonts = _run("pdffonts", str(path)).splitlines()[2:]
    cjk = [line for line in fonts if "CJK" in line]
    assert cjk, fonts
    assert all(line.split()[-5] == "yes" for line in fonts), fonts  # every font embedded (emb column)

    _run("pdftoppm", "-r", "150", "-png", "-singlefile", str(path), str(tmp_path / "page"))
    codes = zxingcpp.read_barcodes(Image.open(tmp_path / "page.png"))
    assert len(codes) == 1 and codes[0].format == zxingcpp.BarcodeFormat.QRCode
    url = codes[0].text
    assert "/verify/" in url
    token = url.rsplit("/", 1)[1]
    page = app.test_client().get(urlsplit(url).path)  # the public verification page the code leads to
    assert page.status_code == 200 and number in page.get_data(as_text=True)
    with app.app_context():
        payload = signing.verify(token)
        assert payload == {"c": number, "r": registration_number, "h": "欧阳明远", "u": copy_until, "t": "cert",
                           "k": signing.keyring().current}  # the id of the key that signed it
        body, signature = token.split(".")
        swap = "B" if body[10] != "B" else "C"
        with pytest.raises(signing.InvalidToken):
            signing.verify(f"{body[:10]}{swap}{body[11:]}.{signature}")


def test_print_endpoint_scope_refusal_and_audit(app):
    from ground.extensions import db
    from models import Certificate

    staff = f.Staff()
    with app.app_context():
        holder, cert_id, number = _registered(staff, name="司马青云", specialties=("building",))
        other, _ = f.make_applicant()
        assert _audit_prints(cert_id) == []

    client = login(app.test_client(), holder)
    listing = client.get("/me/certificates").get_data(as_text=True)
    assert f"/certificates/pdf/{cert_id}" in listing
    assert f"/certificates/pdf/{cert_id}" in client.get(f"/certificates/show/{cert_id}").get_data(as_text=True)
    resp = client.get(f"/certificates/pdf/{cert_id}")
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")
    with app.app_context():
        rows = _audit_prints(cert_id)
        assert len(rows) == 1 and rows[0].summary == number and rows[0].username == holder

    assert login(app.test_client(), other).get(f"/certificates/pdf/{cert_id}").status_code == 404

    with app.app_context():
        db.session.get(Certificate, cert_id).status = "revoked"
        db.session.commit()
    resp = client.get(f"/certificates/pdf/{cert_id}", follow_redirects=True)
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    assert "Only a valid certificate can be printed" in page
    assert f"/certificates/pdf/{cert_id}" not in page  # no print button on a revoked certificate
    with app.app_context():
        assert len(_audit_prints(cert_id)) == 1


def test_ministry_prints_an_announcement_batch_in_one_pdf(app, tmp_path):
    from app import announcements
    from ground.extensions import db
    from models import AnnouncementBatch, Application, Certificate

    staff = f.Staff()
    with app.app_context():
        enterprise = f.make_enterprise("11", name="华东路桥建设股份有限公司")
        app_ids = []
        for name in ("诸葛明", "上官雪", "东方晓"):
            username, _ = f.make_applicant(name=name)
            app_id = f.make_application(username, "initial", enterprise_id=enterprise)
            staff.take(app_id, username, "submit", "confirm", "pass", "approve")
            app_ids.append(app_id)
        batch = AnnouncementBatch(title="测试公告（批量打印）", state="draft")
        db.session.add(batch)
        db.session.flush()
        db.session.query(Application).filter(Application.id.in_(app_ids)).update(
            {"announcement_id": batch.id}, synchronize_session=False)
        db.session.commit()
        batch_id = batch.id
        announcements.publish(batch_id, f.user(staff.ministry))
        cert_ids = [c.id for c in db.session.query(Certificate).filter(Certificate.application_id.in_(app_ids))]
        assert len(cert_ids) == 3
        applicant = username

    ministry = login(app.test_client(), staff.ministry)
    assert f"/certificates/batch/{batch_id}" in ministry.get(f"/announcements/show/{batch_id}").get_data(as_text=True)
    resp = job_result(ministry, f"/certificates/batch/{batch_id}")  # a background job, run at once in tests
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    path = tmp_path / "batch.pdf"
    path.write_bytes(resp.data)
    assert _pages(path) == 3
    text = _run("pdftotext", str(path), "-")
    assert all(name in text for name in ("诸葛明", "上官雪", "东方晓"))
    with app.app_context():
        assert all(len(_audit_prints(cid)) == 1 for cid in cert_ids)

    assert login(app.test_client(), applicant).get(f"/certificates/batch/{batch_id}").status_code != 200
    assert ministry.get("/certificates/batch/999999999").status_code == 404
    with app.app_context():
        draft = AnnouncementBatch(title="未发布的公告", state="draft")
        db.session.add(draft)
        db.session.commit()
        draft_id = draft.id
    resp = ministry.get(f"/certificates/batch/{draft_id}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/announcements/show/{draft_id}")


def test_copy_validity_is_the_earliest_of_three_limits(app, monkeypatch):
    from ground.clock import add_years
    from reports.certificates import copy_valid_until

    today = date(2026, 3, 10)

    def certificate(birth, *expiries):
        return SimpleNamespace(person=SimpleNamespace(birth_date=birth),
                               specialties=[{"code": "x", "name": "x", "valid_until": d.isoformat()} for d in expiries])

    young = date(1980, 5, 1)
    with app.app_context():
        assert copy_valid_until(certificate(young, date(2028, 1, 1)), today) == today + timedelta(days=180)
        soon = today + timedelta(days=20)
        assert copy_valid_until(certificate(young, date(2028, 1, 1), soon), today) == soon
        near_65 = add_years(today + timedelta(days=45), -65)  # 65th birthday in 45 days
        assert copy_valid_until(certificate(near_65, date(2028, 1, 1)), today) == today + timedelta(days=44)
        # All three at once: the specialty expires before the birthday, which comes before the 180 days.
        assert copy_valid_until(certificate(near_65, date(2028, 1, 1), soon), today) == soon
        assert copy_valid_until(certificate(near_65, today + timedelta(days=60)), today) == today + timedelta(days=44)
        monkeypatch.setitem(app.config, "CERTIFICATE_COPY_DAYS", 30)
        assert copy_valid_until(certificate(near_65, date(2028, 1, 1)), today) == today + timedelta(days=30)


def test_every_certificate_fits_on_one_page(app, tmp_path):
    """One to all ten specialties, with a two-line employer name: always exactly one page each."""
    from ground.extensions import db
    from models import Certificate, Specialty
    from reports.certificates import certificate_context, render_contexts_pdf

    staff = f.Staff()
    with app.app_context():
        _, cert_id, _ = _registered(staff, name="公孙长风", specialties=("building",))
    with app.test_request_context(base_url="https://jzs.example.gov.cn"):
        base = certificate_context(db.session.get(Certificate, cert_id))
        every = [{"name": s.name, "valid_until": "2029-01-01"} for s in db.session.query(Specialty)]
        assert len(every) == 10
        long_name = "中国建筑第八工程局有限公司华东分公司第三建设工程项目管理部（上海市浦东新区张江高科技园区）"
        contexts = [{**base, "specialties": every[:n], "enterprise_name": long_name} for n in (1, 5, 6, 10)]
        path = tmp_path / "sizes.pdf"
        path.write_bytes(render_contexts_pdf(contexts))
    assert _pages(path) == len(contexts)
    text = _run("pdftotext", str(path), "-")
    assert all(s["name"] in text for s in every)


def test_qr_points_at_the_public_address_when_configured(app, monkeypatch):
    from reports.certificates import verification_url

    with app.test_request_context("/", base_url="http://intranet-host:8080"):
        assert verification_url("abc.def") == "http://intranet-host:8080/verify/abc.def"
        monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://jzs.example.gov.cn/")
        assert verification_url("abc.def") == "https://jzs.example.gov.cn/verify/abc.def"
