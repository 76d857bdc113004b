"""The electronic certificate (电子证书) as a PDF copy: one certificate, or many in one document.

Every copy carries a verification QR code: a URL ending in a token signed with the platform's Ed25519
key (app/services/signing.py) over a short payload, so the code stays small enough to scan from paper.
A copy is valid until the earliest of: today + CERTIFICATE_COPY_DAYS (our rule), the earliest expiry of
its specialties, and the day before the holder's 65th birthday (RULES["AGE_LIMIT"]); the date is printed.

The certificate is a fixed official document: Chinese labels whatever the interface language, English
in small type for its title and the copy's validity (templates/certificate.html). Many certificates go
into ONE WeasyPrint document (one page each): fonts are loaded and subset once, which is what makes batch
printing fast (bench/certificates.py). Needs a request context (the QR code's URL is absolute).
"""
import base64
import contextlib
import gc
import io
from datetime import date, timedelta

import segno
from flask import current_app, url_for
from PIL import Image

from ground.clock import add_years, now_utc, today as china_today
from models import AuditLog
from app.audit import actor_fields
from app.services import signing, storage
from reports.pdf import TEMPLATES, local_fetcher, render_html

# Shown on the copy whatever the interface language (a fixed official document).
GENDER_NAMES = {"M": "男", "F": "女"}
# A signature image larger than this (pixels) is scaled down before it goes into the PDF.
SIGNATURE_BOX_PX = (600, 240)
QR_ERROR_LEVEL = "m"
QR_MODULE_PX = 1
QR_MASK = 0


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def copy_valid_until(certificate, today: date) -> date:
    """Last day a copy downloaded `today` is valid: the earliest of today + CERTIFICATE_COPY_DAYS, the
    earliest specialty expiry, and the day before the holder reaches the age limit (65)."""
    limits = [today + timedelta(days=current_app.config["CERTIFICATE_COPY_DAYS"])]
    limits += [_as_date(s["valid_until"]) for s in certificate.specialties or [] if s.get("valid_until")]
    if certificate.person is not None and certificate.person.birth_date:
        age_limit = current_app.config["RULES"]["AGE_LIMIT"]
        limits.append(add_years(certificate.person.birth_date, age_limit) - timedelta(days=1))
    return min(limits)


def verification_token(certificate, copy_until: date) -> str:
    """Signed token for the QR code; the payload is kept short so the code stays small."""
    return signing.sign({"c": certificate.number, "r": certificate.registration_number,
                         "h": certificate.holder_name, "u": copy_until.isoformat(), "t": "cert"})


def verification_url(token: str) -> str:
    """The public verification page for `token` (PublicView.verify_token, /verify/<token>), on
    PUBLIC_BASE_URL when set (the address the public reaches, whatever host served the download)."""
    from flask import current_app

    path = url_for("PublicView.verify_token", token=token)
    base = (current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    return f"{base}{path}" if base else url_for("PublicView.verify_token", token=token, _external=True)


def qr_data_uri(url: str) -> str:
    """The QR code of `url` as a 1-bit PNG data URI, one pixel a module, drawn unsmoothed
    (image-rendering: pixelated gives the PDF image /Interpolate false).

    Measured (bench/certificates.py): an SVG QR costs ~100 ms a page in WeasyPrint's SVG path drawing,
    the PNG next to nothing. The mask is fixed: segno's search of the best of 8 masks costs ~10 ms a
    code in pure Python, while the data (mostly base64 of a signature: random-looking bits) already
    gives a balanced pattern under any mask; every reader decodes any of the 8 masks."""
    return segno.make(url, error=QR_ERROR_LEVEL, mask=QR_MASK).png_data_uri(
        scale=QR_MODULE_PX, dark="#000", light="#fff")


def _data_uri(attachment, max_px=None):
    """The attachment's image as a data: URI, or None when missing (no file, or not an image)."""
    if attachment is None:
        return None
    try:
        data = storage.read(attachment)
    except (OSError, ValueError):
        return None
    content_type = attachment.content_type
    if content_type not in ("image/jpeg", "image/png"):
        return None
    if max_px:
        data, content_type = _fit(data, content_type, max_px)
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


def _fit(data: bytes, content_type: str, max_px) -> tuple[bytes, str]:
    """Scale an image down to fit `max_px` (header read only when it already fits)."""
    try:
        image = Image.open(io.BytesIO(data))
        if image.width <= max_px[0] and image.height <= max_px[1]:
            return data, content_type
        image.thumbnail(max_px)
        buf = io.BytesIO()
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
            image = image.convert("RGB")
        image.save(buf, "PNG", optimize=False)
        return buf.getvalue(), "image/png"
    except (OSError, ValueError):
        return data, content_type


def certificate_context(certificate, today: date | None = None) -> dict:
    """Everything certificate.html shows for one certificate."""
    today = today or china_today()
    person = certificate.person
    copy_until = copy_valid_until(certificate, today)
    token = verification_token(certificate, copy_until)
    url = verification_url(token)
    return {
        "id": certificate.id,
        "number": certificate.number,
        "status": certificate.status,
        "holder_name": certificate.holder_name,
        "registration_number": certificate.registration_number,
        "enterprise_name": certificate.enterprise_name,
        "gender": GENDER_NAMES.get(getattr(person, "gender", None), ""),
        "birth_date": person.birth_date.isoformat() if person is not None and person.birth_date else "",
        "specialties": [{"name": s.get("name", s.get("code", "")), "valid_until": str(s.get("valid_until", ""))}
                        for s in certificate.specialties or []],
        "issuer": current_app.config["CERTIFICATE_ISSUER"],
        "issued_on": certificate.issued_on.isoformat(),
        "copy_until": copy_until.isoformat(),
        "photo": _data_uri(person.latest_attachment("photo")) if person is not None else None,
        "signature": (_data_uri(person.latest_attachment("signature"), SIGNATURE_BOX_PX)
                      if person is not None else None),
        "token": token,
        "url": url,
        "qr": qr_data_uri(url),
    }


@contextlib.contextmanager
def _collector_paused():
    """WeasyPrint lays a long document out in millions of small objects, and Python's cyclic garbage
    collector keeps re-scanning them: ~25% of a batch's render time (bench/certificates.py). Paused
    while rendering (process-wide: other threads allocate uncollected meanwhile); it resumes, and
    collects as usual, afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def render_contexts_pdf(contexts: list[dict]) -> bytes:
    """The PDF of prepared certificate contexts (certificate_context), one page each."""
    from weasyprint import HTML


    html = render_html("certificate.html", certificates=contexts)
    with _collector_paused():
        return HTML(string=html, base_url=str(TEMPLATES), url_fetcher=local_fetcher()).write_pdf()


def render_certificate_pdf(certificate, today: date | None = None) -> bytes:
    """One certificate copy as a one-page PDF."""
    return render_contexts_pdf([certificate_context(certificate, today)])


def render_certificates_pdf(certificates, today: date | None = None) -> bytes:
    """Many certificate copies in ONE PDF document, one page each (fonts loaded and subset once)."""
    today = today or china_today()
    return render_contexts_pdf([certificate_context(c, today) for c in certificates])


def record_prints(session, certificates, today: date | None = None, **detail):
    """One audit row "print" per certificate (a single executemany INSERT; the caller commits)."""

    rows = list(certificates)
    if not rows:
        return
    today = today or china_today()
    actor, now = actor_fields(), now_utc()
    session.execute(AuditLog.__table__.insert(), [
        {"created_at": now, "action": "print", "object_type": "Certificate", "object_id": str(c.id),
         "summary": c.number, "detail": {"copy_valid_until": copy_valid_until(c, today).isoformat(), **detail},
         **actor}
        for c in rows])
