"""Benchmark: printing electronic certificates (电子证书) as PDF.

Builds a fresh database with N registered persons, each with a 295x413 JPEG photo, a PNG signature and
a valid certificate (1-3 specialties, Chinese names and employers), then measures in the same run:

  (a) naive   render each certificate as its own WeasyPrint document, one after another
              (reports.certificates.render_certificate_pdf in a loop);
  (b) ours    reports.certificates.render_certificates_pdf: all N in ONE document, one page each;
  (c) ours×2  (b) split in 2 chunks rendered by 2 spawned processes (each builds its own app), the two
              PDFs merged with poppler's `pdfunite` when it is on PATH (no PDF library is installed);
              otherwise 2 PDFs are left and reported as such.

Each measurement runs in its own spawned process, so its peak resident memory (ru_maxrss) is its own;
the certificates (with persons and attachments) are loaded before the clock starts; the render time
includes building each certificate's context (reading photo/signature, signing the token, the QR code).
(a) and (b) warm up with one untimed render (fontconfig and font loading); (c) is timed as wall time
from starting the two processes to the merged PDF, start-up included.

Run: .venv/bin/python bench/certificates.py [--count 1000] [--database-url postgresql://...]
"""
import argparse
import hashlib
import io
import multiprocessing
import os
import random
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("INSTANCE_DIR", tempfile.mkdtemp(prefix="bench-"))
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 58)

BASE_URL = "https://jzs.example.gov.cn"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉兰斌宇浩凯健俊帆鹏辉峰琳晨阳雪梅海燕亮成林欣怡子轩梓涵一诺浩然雨桐宏博文彬晓东振华立新永刚德胜"
CITIES = "北京 上海 天津 重庆 广州 深圳 杭州 南京 武汉 成都 西安 长沙 郑州 济南 沈阳 合肥 福州 昆明 南宁 贵阳".split()
KINDS = "建工 路桥 市政 水电 安装 建设 城建 交通 港航 机电".split()


def _app(uri, engine_options, upload_folder):
    from server import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": uri, "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
                       "UPLOAD_FOLDER": upload_folder, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
                       "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})


def _photos(rng, n=24) -> list[bytes]:
    """1-inch ID photos: 295x413 JPEG, light background, a figure, sensor noise (about 15-25 KB each)."""
    from PIL import Image, ImageDraw, ImageFilter

    out = []
    for _ in range(n):
        image = Image.new("RGB", (295, 413), (250, 250, 252))
        draw = ImageDraw.Draw(image)
        skin = (rng.randint(200, 235), rng.randint(160, 195), rng.randint(130, 170))
        cloth = tuple(rng.randint(10, 90) for _ in range(3))
        draw.ellipse((40, 300, 255, 520), fill=cloth)  # shoulders
        draw.rectangle((120, 230, 175, 320), fill=skin)  # neck
        draw.ellipse((85, 90, 210, 255), fill=skin)  # face
        draw.ellipse((80, 70, 215, 150), fill=tuple(rng.randint(10, 50) for _ in range(3)))  # hair
        noise = Image.effect_noise((295, 413), 18).convert("RGB")
        image = Image.blend(image, noise, 0.08).filter(ImageFilter.SMOOTH)
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=85, optimize=True)
        out.append(buf.getvalue())
    return out


def _signatures(rng, n=12) -> list[bytes]:
    """Handwritten-looking signatures: 480x160 greyscale PNG strokes."""
    from PIL import Image, ImageDraw

    out = []
    for _ in range(n):
        image = Image.new("L", (480, 160), 255)
        draw = ImageDraw.Draw(image)
        x, y = 30, rng.randint(60, 100)
        points = [(x, y)]
        while x < 440:
            x += rng.randint(8, 30)
            y = max(20, min(140, y + rng.randint(-35, 35)))
            points.append((x, y))
        draw.line(points, fill=20, width=5, joint="curve")
        buf = io.BytesIO()
        image.save(buf, "PNG", optimize=True)
        out.append(buf.getvalue())
    return out


def build(uri, engine_options, upload_folder, count) -> list[int]:
    """N persons with photo, signature, registration and a valid certificate, inserted in bulk."""
    from sqlalchemy import insert

    from ops.cli import setup
    from ground.clock import add_years, now_utc, today
    from ground.identifiers import make_credit_code, make_id_number
    from ground.extensions import db
    from app.services import signing
    from models import Attachment, Certificate, Enterprise, Person, Registration, Specialty

    rng = random.Random(2026)
    app = _app(uri, engine_options, upload_folder)
    with app.app_context():
        setup()
        signing.private_key()  # created once here, not raced for by the worker processes
        now, day = now_utc(), today()
        names = [f"{rng.choice(CITIES)}{rng.choice(KINDS)}{rng.choice(['集团', '股份', '工程'])}有限公司第{i + 1}分公司"
                 for i in range(100)]
        db.session.execute(insert(Enterprise), [
            {"credit_code": make_credit_code("110105", 30_000_000 + i), "name": name, "province_code": "11",
             "created_at": now, "updated_at": now} for i, name in enumerate(names)])
        enterprises = db.session.query(Enterprise.id, Enterprise.name).all()
        specialties = [(s.code, s.name) for s in db.session.query(Specialty).order_by(Specialty.sort_order)]
        persons, numbers = [], set()
        while len(persons) < count:
            birth = add_years(day, -rng.randint(28, 60)) - timedelta(days=rng.randint(0, 364))
            number = make_id_number("110101", birth, rng.randint(0, 999))
            if number in numbers:
                continue
            numbers.add(number)
            given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
            persons.append({"id_number": number, "name": rng.choice(SURNAMES) + given,
                            "gender": "M" if int(number[16]) % 2 else "F", "birth_date": birth,
                            "realname_status": "verified", "created_at": now, "updated_at": now})
        db.session.execute(insert(Person), persons)
        person_rows = db.session.query(Person.id, Person.name).order_by(Person.id).all()

        photos, signatures = _photos(rng), _signatures(rng)
        attachments = []
        for n, (person_id, _name) in enumerate(person_rows):
            for kind, data, ctype in (("photo", photos[n % len(photos)], "image/jpeg"),
                                      ("signature", signatures[n % len(signatures)], "image/png")):
                key = f"{person_id}/{secrets.token_hex(16)}"
                path = Path(upload_folder) / key
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                attachments.append({"person_id": person_id, "kind": kind, "filename": f"{kind}.{ctype[6:]}",
                                    "content_type": ctype, "size": len(data),
                                    "sha256": hashlib.sha256(data).hexdigest(), "storage_key": key,
                                    "is_current": True, "created_at": now})
        db.session.execute(insert(Attachment), attachments)

        registrations, chosen = [], []
        for n, (person_id, _name) in enumerate(person_rows):
            enterprise = enterprises[n % len(enterprises)]
            digits = f"1112024{2020 + n % 5}{n:05d}"
            registrations.append({"person_id": person_id, "number": f"京{digits}", "number_digits": digits,
                                  "enterprise_id": enterprise[0], "status": "active", "initial_province_code": "11",
                                  "registered_on": day - timedelta(days=400), "is_temporary": False,
                                  "created_at": now, "updated_at": now})
            chosen.append(enterprise)
        db.session.execute(insert(Registration), registrations)
        reg_rows = db.session.query(Registration.id, Registration.person_id, Registration.number).all()
        by_person = {person_id: (reg_id, number) for reg_id, person_id, number in reg_rows}

        certificates = []
        for n, (person_id, name) in enumerate(person_rows):
            held = rng.sample(specialties, rng.choice((1, 1, 2, 3)))
            until = [day + timedelta(days=rng.randint(200, 1000)) for _ in held]
            reg_id, reg_number = by_person[person_id]
            certificates.append({
                "number": f"2026{n + 1:08d}", "registration_id": reg_id, "person_id": person_id, "status": "valid",
                "issued_on": day - timedelta(days=rng.randint(0, 300)), "valid_until": max(until),
                "holder_name": name, "registration_number": reg_number, "enterprise_name": chosen[n][1],
                "specialties": [{"code": code, "name": sname, "valid_until": u.isoformat()}
                                for (code, sname), u in zip(held, until, strict=True)],
                "created_at": now})
        db.session.execute(insert(Certificate), certificates)
        db.session.commit()
        ids = [cid for (cid,) in db.session.query(Certificate.id).order_by(Certificate.id)]
        db.session.remove()
        db.engine.dispose()
    return ids


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(job: dict) -> dict:
    """Runs in a spawned process: build an app, load the certificates, render them the way `job` says."""
    from sqlalchemy.orm import selectinload

    from ground.extensions import db
    from models import Certificate, Person
    from reports.certificates import render_certificate_pdf, render_certificates_pdf

    started = time.perf_counter()
    app = _app(job["uri"], job["engine_options"], job["upload_folder"])
    with app.app_context(), app.test_request_context(base_url=BASE_URL):
        items = (db.session.query(Certificate).filter(Certificate.id.in_(job["ids"]))
                 .options(selectinload(Certificate.person).selectinload(Person.attachments))
                 .order_by(Certificate.id).all())
        if job["warm_up"]:
            render_certificate_pdf(items[0])
        before_mb = _maxrss_mb()
        start = time.perf_counter()
        if job["method"] == "naive":
            sizes = [len(render_certificate_pdf(item)) for item in items]
            size, out = sum(sizes), None
        else:
            data = render_certificates_pdf(items)
            size, out = len(data), job["out"]
            Path(out).write_bytes(data)
        seconds = time.perf_counter() - start
        db.session.remove()
    return {"pages": len(items), "seconds": seconds, "bytes": size, "out": out, "before_mb": before_mb,
            "peak_mb": _maxrss_mb(), "process_seconds": time.perf_counter() - started}


def _pdf_pages(path):
    if not shutil.which("pdfinfo"):
        return None
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def run(info, args):
    workdir = Path(tempfile.mkdtemp(prefix="bench-certificates-"))
    upload_folder = str(workdir / "uploads")
    started = time.perf_counter()
    ids = build(info["uri"], info["engine_options"], upload_folder, args.count)
    print(f"{len(ids)} registered persons with photo, signature and certificate generated in "
          f"{time.perf_counter() - started:.1f}s on {info['uri'].split(':')[0]}; {os.cpu_count()} CPUs")
    base = {"uri": info["uri"], "engine_options": info["engine_options"], "upload_folder": upload_folder}
    spawn = multiprocessing.get_context("spawn")
    results = {}

    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        results["naive"] = pool.submit(measure, {**base, "method": "naive", "ids": ids, "warm_up": True}).result()
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        results["ours"] = pool.submit(measure, {**base, "method": "ours", "ids": ids, "warm_up": True,
                                                "out": str(workdir / "ours.pdf")}).result()

    half = (len(ids) + 1) // 2
    chunks = [ids[:half], ids[half:]]
    wall = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        futures = [pool.submit(measure, {**base, "method": "ours", "ids": chunk, "warm_up": False,
                                         "out": str(workdir / f"ours-part{i + 1}.pdf")})
                   for i, chunk in enumerate(chunks)]
        parts = [fut.result() for fut in futures]
    merged = None
    if shutil.which("pdfunite"):
        merged = workdir / "ours-2proc.pdf"
        subprocess.run(["pdfunite", *[p["out"] for p in parts], str(merged)], check=True)
    wall = time.perf_counter() - wall

    naive, ours = results["naive"], results["ours"]
    rate = {k: v["pages"] / v["seconds"] for k, v in results.items()}
    print(f"\n{'method':<34}{'pages':>6}{'seconds':>9}{'pages/s':>9}{'peak RSS MB':>13}{'PDF MB':>8}")
    print(f"{'(a) naive: one document each':<34}{naive['pages']:>6}{naive['seconds']:>9.1f}{rate['naive']:>9.1f}"
          f"{naive['peak_mb']:>13.0f}{naive['bytes'] / 1e6:>8.1f}")
    print(f"{'(b) ours: one document':<34}{ours['pages']:>6}{ours['seconds']:>9.1f}{rate['ours']:>9.1f}"
          f"{ours['peak_mb']:>13.0f}{ours['bytes'] / 1e6:>8.1f}")
    two_label = "(c) ours, 2 processes" + (" + pdfunite" if merged else " (2 PDFs)")
    two_bytes = merged.stat().st_size if merged else sum(p["bytes"] for p in parts)
    print(f"{two_label:<34}{len(ids):>6}{wall:>9.1f}{len(ids) / wall:>9.1f}"
          f"{max(p['peak_mb'] for p in parts):>13.0f}{two_bytes / 1e6:>8.1f}")
    renders = ", ".join(f"{p['seconds']:.1f}s" for p in parts)
    whole = ", ".join(f"{p['process_seconds']:.1f}s" for p in parts)
    print(f"    (c) per process: render {renders}; whole process incl. start-up {whole}; "
          f"children peak RSS (RUSAGE_CHILDREN) {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB")
    print(f"    peak RSS before rendering (app + data loaded, warmed up): naive {naive['before_mb']:.0f} MB, "
          f"ours {ours['before_mb']:.0f} MB")
    print(f"\nratio ours/naive: {rate['ours'] / rate['naive']:.1f}x; "
          f"2 processes/naive: {len(ids) / wall / rate['naive']:.1f}x; "
          f"per page: naive {1000 * naive['seconds'] / naive['pages']:.0f} ms, "
          f"ours {1000 * ours['seconds'] / ours['pages']:.1f} ms")
    pages = _pdf_pages(ours["out"])
    if pages is not None:
        print(f"pages in the PDFs: ours {pages}"
              + (f", 2 processes {_pdf_pages(merged)}" if merged else
                 f", 2 processes {' + '.join(str(_pdf_pages(p['out'])) for p in parts)}"))
    print(f"PDFs kept in {workdir}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    from bench.common import run_in_fresh_database

    run_in_fresh_database(run, args)


if __name__ == "__main__":
    main()
