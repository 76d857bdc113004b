"""Public endpoints, no sign-in: the image captcha, certificate verification (证书查验) and the public
register of registered constructors (注册人员查询).

No @has_access here on purpose: FAB only registers permissions for decorated methods.
"""
import math
import re
from datetime import date, timezone

from flask import abort, current_app, jsonify, make_response, request, send_from_directory, url_for
from flask_appbuilder import BaseView, expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select
from sqlalchemy.orm import contains_eager
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from ground import replica
from ground.clock import CHINA_TZ, today
from ground.extensions import db
from models import Application, Certificate, Enterprise, Person, Registration
from models.choices import LAPSE_REASONS
from app import penalties
from app.services import captcha, dictionaries, signing
from app.workflow import BUSINESS_TYPES
from views.forms import CaptchaForm


def favicon():
    """/favicon.ico, which browsers ask for on every site: the platform's icon (static/favicon.ico)."""
    return send_from_directory(current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon",
                               max_age=86400)


class CaptchaView(BaseView):
    route_base = "/captcha"
    default_view = "new"

    @expose("/new")
    def new(self):
        """A fresh challenge: its nonce and image URL (for the refresh link and API clients); 429 at the caps."""
        try:
            nonce = captcha.new_challenge()
        except captcha.CaptchaRefused as exc:
            resp = jsonify({"message": str(exc.message)})
            resp.status_code = 429
            resp.headers["Retry-After"] = str(current_app.config["CAPTCHA_TTL_SECONDS"])
            resp.headers["Cache-Control"] = "no-store"
            return resp
        resp = jsonify({"nonce": nonce, "image": url_for(".image", nonce=nonce)})
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @expose("/<nonce>.png")
    def image(self, nonce):
        png = captcha.render_png(nonce)
        if png is None:
            abort(404)
        resp = make_response(png)
        resp.headers["Content-Type"] = "image/png"
        resp.headers["Cache-Control"] = "no-store"
        return resp


# --- certificate verification and the public registry ---------------------------------------------
# Anyone may check a certificate (by its QR code, or by number and holder name) and search the register of
# registered constructors. Both show a masked ID number only, never a phone, e-mail, photo or full ID number,
# and nothing about people without an active registration. Every response is rate-limited per address
# (PUBLIC_RATE_LIMIT, views/__init__.py), kept out of caches and out of search engines.
_PUBLIC_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow", "Referrer-Policy": "no-referrer"}


def _page(view, template, status=200, **context):
    return view.render_template(template, **context), status, _PUBLIC_HEADERS


def _issuer():
    """The issuing authority as printed on the certificate (config CERTIFICATE_ISSUER, shared with reports/)."""
    return current_app.config.get("CERTIFICATE_ISSUER") or ""


def _specialty_names(codes) -> dict:
    """Localised specialty names by code (one query)."""
    codes = set(codes)
    if not codes:
        return {}
    return {code: label for code, label in dictionaries.labels("specialty").items() if code in codes}


def _iso_date(value):
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _latest_successor(certificate):
    """The newest certificate in a replacement chain (bounded, in case of a loop)."""
    newest, seen = certificate.replaced_by, {certificate.id}
    while newest is not None and newest.replaced_by is not None and newest.id not in seen and len(seen) < 50:
        seen.add(newest.id)
        newest = newest.replaced_by
    return newest


def certificate_verdict(certificate, day=None) -> dict:
    """What the verification page says about a certificate: its state and the facts it shows."""
    day = day or today()
    lapse_reason = None
    if certificate.status == "revoked":
        state = "revoked"
    elif certificate.status == "expired" and certificate.revoke_reason in LAPSE_REASONS:
        state, lapse_reason = "lapsed", LAPSE_REASONS.label(certificate.revoke_reason)  # 注册失效 (app/lifecycle.py)
    elif certificate.status == "replaced":
        state = "replaced"
    elif certificate.status == "expired" or certificate.valid_until < day:
        state = "expired"
    else:
        state = "valid"
    snapshot = certificate.specialties or []
    names = _specialty_names(s.get("code") for s in snapshot)
    specialties = []
    for item in snapshot:
        until = _iso_date(item.get("valid_until"))
        specialties.append({"name": names.get(item.get("code"), item.get("name")), "valid_until": until,
                            "expired": until is not None and until < day})
    return {
        "state": state, "lapse_reason": lapse_reason, "certificate": certificate, "specialties": specialties, "issuer": _issuer(),
        "masked_id": certificate.person.masked_id_number if certificate.person else "",
        "successor": _latest_successor(certificate) if state == "replaced" else None,
    }


def _copy_check(payload, certificate, day) -> dict:
    """Whether the downloaded copy is still within its own validity and shows what the register holds."""
    copy_until = _iso_date(payload.get("u"))
    mismatches = []
    if payload.get("h") != certificate.holder_name:
        mismatches.append((_l("Holder"), payload.get("h"), certificate.holder_name))
    if payload.get("r") != certificate.registration_number:
        mismatches.append((_l("Registration number"), payload.get("r"), certificate.registration_number))
    return {"until": copy_until, "expired": copy_until is None or copy_until < day, "mismatches": mismatches}


class VerifyForm(CaptchaForm):
    number = StringField(_l("Certificate number"), validators=[DataRequired(), Length(max=20)])
    holder_name = StringField(_l("Holder's name"), validators=[DataRequired(), Length(max=50)],
                              description=_l("As printed on the certificate. Both are needed, so nobody can "
                                             "list certificates by trying numbers."))


class PublicView(BaseView):
    """证书查验: scan the QR code of a certificate copy, or type its number and the holder's name."""

    route_base = "/verify"
    default_view = "verify_form"

    @expose("/<token>")
    def verify_token(self, token):
        try:
            payload = signing.verify(token)
            if payload.get("t") != "cert" or not isinstance(payload.get("c"), str):
                raise signing.InvalidToken(_l("This is not a certificate verification code."))
        except signing.InvalidToken as exc:
            return _page(self, "public/verify_result.html", 400, genuine=False, reason=exc.message)
        certificate = db.session.scalar(select(Certificate).where(Certificate.number == payload["c"]))
        if certificate is None:
            return _page(self, "public/verify_result.html", 404, genuine=True, verdict=None, number=payload["c"])
        day = today()
        return _page(self, "public/verify_result.html", genuine=True, verdict=certificate_verdict(certificate, day),
                     copy=_copy_check(payload, certificate, day))

    @expose("/", methods=["GET", "POST"])
    def verify_form(self):
        form = VerifyForm()
        not_found = False
        if request.method == "POST" and form.validate_on_submit() and form.captcha_passed():
            number = re.sub(r"\s+", "", form.number.data).upper()
            name = form.holder_name.data.strip()
            certificate = db.session.scalar(select(Certificate).where(Certificate.number == number))
            # One answer whether the number is unknown or the name differs: nothing is revealed.
            if certificate is not None and certificate.holder_name == name:
                return _page(self, "public/verify_result.html", genuine=True,
                             verdict=certificate_verdict(certificate), copy=None, via_form=True)
            not_found = True
        form.fresh_captcha()
        return _page(self, "public/verify_form.html", form=form, not_found=not_found)

    @expose("/public-key")
    def public_key(self):
        """The Ed25519 public key (PEM) that checks the codes offline; docs/VERIFY.md shows how."""
        resp = make_response(signing.public_key_pem())
        resp.headers["Content-Type"] = "text/plain; charset=utf-8"
        resp.headers["Content-Disposition"] = 'inline; filename="certificate-verification-key.pem"'
        return resp

    @expose("/public-keys")
    def public_keys(self):
        """Every key that verifies codes (JSON: id, PEM, current): a code names its key's id in `k`, and keys
        retired by a rotation stay here so copies they signed keep verifying."""
        resp = jsonify({"keys": signing.published_keys()})
        resp.headers["Cache-Control"] = "no-store"
        return resp


PAGE_SIZE = 20
MAX_RESULTS = 200
MIN_CHARS = 2


def _registered_conditions():
    """An active registration with a valid certificate: the only people the public register shows."""
    return [Registration.status == "active",
            exists().where(Certificate.registration_id == Registration.id, Certificate.status == "valid")]


class RegistryView(BaseView):
    """注册人员查询: the public register, searchable by name, registration number or employer."""

    route_base = "/registry"
    default_view = "search"

    @staticmethod
    def _criteria():
        values = {key: " ".join((request.args.get(key) or "").split())[:limit]
                  for key, limit in (("name", 50), ("number", 20), ("enterprise", 200))}
        values["number"] = values["number"].replace(" ", "").upper()
        return values

    @expose("/")
    @replica.reading
    def search(self):
        criteria = self._criteria()
        given = {k: v for k, v in criteria.items() if v}
        context = {"criteria": criteria, "query": given, "searched": bool(given), "rows": [], "error": None,
                   "too_many": False, "total": 0, "page": 1, "pages": 0, "max_results": MAX_RESULTS}
        if not given:
            if any(k in request.args for k in criteria):
                context["error"] = _("Type a name, a registration number or an employer's name.")
            return _page(self, "public/registry_search.html", **context)
        if any(len(v) < MIN_CHARS for v in given.values()):
            context["error"] = _("Type at least %(count)s characters in each field you use.", count=MIN_CHARS)
            return _page(self, "public/registry_search.html", **context)
        conditions = _registered_conditions()
        # Prefixes only (LIKE 'x%', user wildcards escaped): an index serves them, no leading wildcard.
        if criteria["name"]:
            conditions.append(Person.name.startswith(criteria["name"], autoescape=True))
        if criteria["number"]:
            conditions.append(Registration.number == criteria["number"])
        if criteria["enterprise"]:
            conditions.append(Enterprise.name.startswith(criteria["enterprise"], autoescape=True))
        matching = (select(Registration.id).join(Person, Registration.person_id == Person.id)
                    .join(Enterprise, Registration.enterprise_id == Enterprise.id).where(*conditions))
        total = db.session.scalar(select(func.count()).select_from(matching.limit(MAX_RESULTS + 1).subquery()))
        if total > MAX_RESULTS:
            context["too_many"] = True
            return _page(self, "public/registry_search.html", **context)
        pages = max(1, math.ceil(total / PAGE_SIZE))
        page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
        rows = db.session.scalars(
            select(Registration).join(Registration.person).join(Registration.enterprise)
            .options(contains_eager(Registration.person), contains_eager(Registration.enterprise))
            .where(*conditions).order_by(Person.name, Registration.number)
            .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        ).unique().all()
        context.update(rows=rows, total=total, page=page, pages=pages)
        return _page(self, "public/registry_search.html", **context)

    @expose("/<number>")
    @replica.reading
    def detail(self, number):
        registration = db.session.scalar(
            select(Registration).where(Registration.number == number.strip().upper(), *_registered_conditions()))
        if registration is None:
            return _page(self, "public/registry_detail.html", 404, registration=None, number=number)
        certificate = db.session.scalar(
            select(Certificate).where(Certificate.registration_id == registration.id, Certificate.status == "valid")
            .order_by(Certificate.issued_on.desc(), Certificate.id.desc()).limit(1))

        history = [
            {"label": BUSINESS_TYPES[row.business_type].label if row.business_type in BUSINESS_TYPES
             else row.business_type,
             "completed_on": row.state_changed_at.replace(tzinfo=timezone.utc).astimezone(CHINA_TZ).date()}
            for row in db.session.execute(
                select(Application.business_type, Application.state_changed_at)
                .where(Application.person_id == registration.person_id, Application.state == "completed")
                .order_by(Application.state_changed_at, Application.id))
        ]
        # What the law makes public: public penalty records within PENALTY_PUBLIC_YEARS (never the document).
        records = penalties.public_records(registration.person_id)
        return _page(self, "public/registry_detail.html", registration=registration, certificate=certificate,
                     penalty_records=records, history=history, today=today())
