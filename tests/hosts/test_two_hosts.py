"""One journey across two hosts (issue 16 "Done when"), on real processes (tests/hosts/conftest.py): sign in on A
and continue on B; upload on A and read on B; a certificate signed on A verifies on B; an export started on A is
produced by the worker and downloaded from B; /readyz on both is 200 and turns 503 while the S3 server is down.

The client plays a browser behind the load balancer: every request carries X-Forwarded-Proto: https and one public
host name, so the production cookie (__Host-session, Secure) and Flask-WTF's strict referrer check apply as they
would in front of real hosts. Every step runs, and the failure names each hop that broke.
"""
import csv
import hashlib
import io
import re
import subprocess
import time

import requests
from PIL import Image, ImageDraw
from sqlalchemy import text

from app.services import captcha


PUBLIC_HOST = "jzs.test"  # the name the balancer answers to; both hosts see it in X-Forwarded-Host
PASSWORD = "Demo@2026"  # the demo accounts' password (config DEMO_PASSWORD)
APPLICANT = "110101198503071032"  # 王建国: registered, with a certificate (`flask demo-accounts`)
APPLICANT_NAME = "王建国"
MINISTRY = "ministry"
JOB_SECONDS = 60

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
_NONCE = re.compile(r'name="captcha_nonce"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="captcha_nonce"')


def _field(pattern, html, what):
    match = pattern.search(html)
    assert match, f"no {what} in the page"
    return match.group(1) or match.group(2)


class Browser:
    """A cookie jar that talks to host A or B by name, as one browser behind the balancer would."""

    def __init__(self, hosts, lang="en"):
        self.hosts = hosts
        self.session = requests.Session()
        self.session.headers.update({"X-Forwarded-Proto": "https", "X-Forwarded-Host": PUBLIC_HOST})
        if lang:
            self.get("A", f"/lang/{lang}")

    def _kept(self, resp):
        """The hosts are reached without TLS (the balancer's part): the jar sends their Secure cookie anyway
        (requests merges cookies into a jar of its default policy, so the flag itself is cleared)."""
        for cookie in self.session.cookies:
            cookie.secure = False
        return resp

    def get(self, host, path, **kwargs):
        return self._kept(self.session.get(self.hosts.url(host, path), allow_redirects=False, timeout=60, **kwargs))

    def post(self, host, path, data, files=None, page=None):
        """POST as a form of `page` (default: `path`) submits it: the Referer is the public page."""
        headers = {"Referer": f"https://{PUBLIC_HOST}{page or path}"}
        return self._kept(self.session.post(self.hosts.url(host, path), data=data, files=files, headers=headers,
                                            allow_redirects=False, timeout=60))

    def page(self, host, path) -> str:
        resp = self.get(host, path)
        assert resp.status_code == 200, f"GET {path} on {host}: {resp.status_code} {resp.headers.get('Location')}"
        return resp.text

    def csrf(self, host, path) -> str:
        return _field(_CSRF, self.page(host, path), f"CSRF token on {path} ({host})")

    def sign_in(self, host, username, password=PASSWORD):
        html = self.page(host, "/login/")
        nonce = _field(_NONCE, html, "captcha nonce on the login page")
        with self.hosts.engine.connect() as conn:  # the challenge is in the shared database; its answer is drawn
            length = conn.execute(text("SELECT length FROM captcha_challenge WHERE nonce = :n"), {"n": nonce}).scalar()
        assert length, f"captcha {nonce} of host {host} is not in the shared database"
        answer = captcha._answer_of(nonce, length, key=self.hosts.secret_key)  # as the hosts draw it (shared key)
        resp = self.post(host, "/login/", {"username": username, "password": password, "captcha_nonce": nonce,
                                           "captcha": answer, "csrf_token": _field(_CSRF, html, "CSRF token")})
        assert resp.status_code == 302 and "/login" not in resp.headers.get("Location", ""), \
            f"sign-in of {username} on {host} failed: {resp.status_code} {resp.headers.get('Location')} " \
            f"{_text(resp)[-600:]}"
        return self


def _text(resp) -> str:
    """A page's words without its markup, for assertion messages."""
    return " ".join(re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", resp.text, flags=re.S).split())


def _scan_png() -> bytes:
    """An ID-card-like scan, big enough for the scan rules (app/services/images.py)."""
    image = Image.new("RGB", (900, 570), (236, 240, 245))
    draw = ImageDraw.Draw(image)
    for i in range(0, 900, 30):
        draw.line([(i, 0), (900 - i, 570)], fill=(40 + i % 200, 90, 160), width=3)
    draw.rectangle([60, 80, 300, 380], outline=(20, 20, 20), width=6)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _readyz(hosts, host):
    resp = requests.get(hosts.url(host, "/readyz"), timeout=30,
                        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": PUBLIC_HOST})
    assert resp.headers.get("Content-Type", "").startswith("application/json"), \
        f"/readyz on {host}: {resp.status_code}, not JSON (HEALTH_ALLOW?)"
    return resp.status_code, resp.json()["checks"]


def _failing(checks) -> dict:
    return {name: entry["error"] for name, entry in checks.items() if not entry["ok"]}


# --- 1. sign in on A, continue on B -----------------------------------------------------------------------------
def step_1_signed_in_on_a_continues_on_b(hosts, tmp_path):
    browser = Browser(hosts).sign_in("A", APPLICANT)
    resp = browser.get("B", "/me/")
    assert resp.status_code == 200, \
        f"hop A→B: A's session cookie is no signed-in session on B ({resp.status_code} {resp.headers.get('Location')})"
    assert APPLICANT_NAME in resp.text, "hop A→B: B shows a page, but not the applicant's own"

    token = browser.csrf("A", "/messages/")  # the form as host A rendered it
    resp = browser.post("B", "/messages/read-all", {"csrf_token": token}, page="/messages/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/messages/"), \
        f"hop A→B: B refused the form A rendered (CSRF token of A): {resp.status_code}"
    assert browser.get("A", "/me/").status_code == 200, "hop B→A: the session no longer works on A"


# --- 2. upload on A, read on B ----------------------------------------------------------------------------------
def step_2_uploaded_on_a_is_served_by_b(hosts, tmp_path):
    browser = Browser(hosts).sign_in("A", APPLICANT)
    token = browser.csrf("A", "/me/materials")
    resp = browser.post("A", "/me/materials", {"csrf_token": token, "kind": "id_front"},
                        files={"file": ("id-front.png", _scan_png(), "image/png")})
    assert resp.status_code == 302 and "after=id_front" in resp.headers.get("Location", ""), \
        f"upload on A refused: {resp.status_code}\n{resp.text[:600]}"
    with hosts.engine.connect() as conn:
        attachment_id, digest = conn.execute(text(
            "SELECT a.id, a.sha256 FROM attachment a JOIN person p ON p.id = a.person_id "
            "WHERE p.id_number = :n AND a.kind = 'id_front' AND a.is_current ORDER BY a.id DESC"),
            {"n": APPLICANT}).first()

    html = browser.page("B", "/me/materials")
    links = re.findall(r'src="([^"]*/file/%d)"' % attachment_id, html)
    assert links, "hop A→B: B's materials page does not show the scan uploaded on A"
    on_b = browser.get("B", links[0].replace(f"https://{PUBLIC_HOST}", ""))
    assert on_b.status_code == 200, f"hop A→B: B cannot serve the file uploaded on A ({on_b.status_code})"
    assert hashlib.sha256(on_b.content).hexdigest() == digest, "hop A→B: B serves other bytes than A stored"
    on_a = browser.get("A", links[0].replace(f"https://{PUBLIC_HOST}", ""))
    assert on_a.status_code == 200 and on_a.content == on_b.content, "A and B serve different bytes"


# --- 3. a certificate signed on A verifies on B -----------------------------------------------------------------
def step_3_certificate_signed_on_a_verifies_on_b(hosts, tmp_path):
    import zxingcpp

    holder = Browser(hosts).sign_in("A", APPLICANT)
    pdf_links = re.findall(r'href="([^"]*/certificates/pdf/\d+)"', holder.page("A", "/me/certificates"))
    assert pdf_links, "the holder has no printable certificate on A (demo data?)"
    resp = holder.get("A", pdf_links[0].replace(f"https://{PUBLIC_HOST}", ""))
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/pdf", \
        f"A did not render the e-certificate: {resp.status_code}"
    (tmp_path / "certificate.pdf").write_bytes(resp.content)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(tmp_path / "certificate.pdf"),
                    str(tmp_path / "page")], check=True, timeout=60)
    codes = zxingcpp.read_barcodes(Image.open(tmp_path / "page.png"))
    assert len(codes) == 1 and "/verify/" in codes[0].text, "no verification QR code on A's certificate"
    url = codes[0].text
    assert url.startswith(f"https://{PUBLIC_HOST}/verify/"), f"the QR code does not point at the public host: {url}"

    public = Browser(hosts)  # anybody scanning the code, served by B
    page = public.get("B", url[len(f"https://{PUBLIC_HOST}"):])
    assert page.status_code == 200, \
        f"hop A→B: B calls the code signed on A not genuine ({page.status_code}; same CERTIFICATE_SIGNING_KEYS?)"
    assert "This certificate is on the register and valid until" in page.text, \
        "hop A→B: B verifies the signature but does not show the certificate as valid"


# --- 4. an export started on A, produced by the worker, downloaded from B ------------------------------------
def step_4_export_started_on_a_is_downloaded_from_b(hosts, tmp_path):
    ministry = Browser(hosts).sign_in("A", MINISTRY)
    resp = ministry.get("A", "/exports/registrations/export/csv/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/jobs/"), \
        f"A did not start the export as a job: {resp.status_code} {resp.headers.get('Location')}"
    newest = re.search(r'data-job-id="(\d+)"', ministry.page("A", "/jobs/"))
    assert newest, "the export started on A is not on A's 我的任务"
    job_id = newest.group(1)

    deadline = time.monotonic() + JOB_SECONDS
    seen = None
    while time.monotonic() < deadline:
        status = ministry.get("B", f"/jobs/status?ids={job_id}")
        assert status.status_code == 200, f"hop A→B: B does not know the signed-in ministry ({status.status_code})"
        found = status.json()["jobs"]
        seen = found[0] if found else None
        if seen and seen["state"] in ("done", "failed", "cancelled"):
            break
        time.sleep(0.3)
    assert seen and seen["state"] == "done", \
        f"the worker did not produce export {job_id} (seen from B: {seen})\n{hosts.logs()}"

    on_b = ministry.get("B", f"/jobs/{job_id}/download")
    assert on_b.status_code == 200, \
        f"hop worker→B: B cannot download the export ({on_b.status_code} {on_b.headers.get('Location')})"
    rows = list(csv.reader(io.StringIO(on_b.content.decode("utf-8-sig"))))
    assert rows and rows[0][:3] == ["Registration number", "Name", "ID number"], \
        f"B's download is not the registrations CSV: {rows[:1]}"
    assert len(rows) > 1, "the export has a header but no registration"
    on_a = ministry.get("A", f"/jobs/{job_id}/download")
    assert on_a.status_code == 200 and on_a.content == on_b.content, "A and B serve different export bytes"


# --- 5. /readyz on both; the S3 server stops and starts again ----------------------------------------------------
def step_5_readyz_follows_the_s3_server(hosts, tmp_path):
    for host in ("A", "B"):
        status, checks = _readyz(hosts, host)
        for name in ("database", "broker", "redis"):
            assert checks.get(name, {}).get("ok"), f"/readyz on {host}: {name} is not ok: {checks.get(name)}"
        assert status == 200, f"/readyz on {host} with everything up: {status}, failing {_failing(checks)}"

    hosts.stop_s3()
    try:
        for host in ("A", "B"):
            status, checks = _readyz(hosts, host)
            assert status == 503, f"/readyz on {host} with the S3 server stopped: {status}, checks {checks}"
            assert not checks["storage"]["ok"], f"/readyz on {host}: storage ok without the S3 server"
            assert set(_failing(checks)) == {"storage"}, f"/readyz on {host}: more than storage fails: {checks}"
    finally:
        hosts.start_s3()  # same port; moto keeps nothing, so the bucket is made again

    for host in ("A", "B"):
        status, checks = _readyz(hosts, host)
        assert status == 200, f"/readyz on {host} after the S3 server came back: {status}, failing {_failing(checks)}"


STEPS = (step_1_signed_in_on_a_continues_on_b, step_2_uploaded_on_a_is_served_by_b,
         step_3_certificate_signed_on_a_verifies_on_b, step_4_export_started_on_a_is_downloaded_from_b,
         step_5_readyz_follows_the_s3_server)


def test_one_journey_across_two_hosts(hosts, tmp_path):
    """Every step runs (they do not depend on each other); the failure lists each step that broke, by its hop.
    One test per backend, so xdist never starts the rig twice."""
    broken = []
    for step in STEPS:
        try:
            step(hosts, tmp_path)
        except Exception as exc:  # noqa: BLE001 — reported with the step's name, the next step still runs
            broken.append(f"{step.__name__}: {type(exc).__name__}: {exc}")
    assert not broken, f"{len(broken)} of {len(STEPS)} steps broke:\n\n" + "\n\n".join(broken)
