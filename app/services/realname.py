"""Real-name verification (实名认证): on-site at the provincial authority, or online through a provider.

Online providers plug in behind `RealnameProvider` (named by the REALNAME_PROVIDER setting):
`start()` says where the person's phone must go (the QR code), `parse_callback()` checks the
provider's signed answer and returns its verdict. `SimulatorProvider` is the built-in stand-in for
a real service such as Alipay's: its "phone page" is served by this app and posts back a payload
signed with HMAC-SHA256, exactly as a real provider's callback would be signed with its key.
A real provider implements the same two methods (see docs/REALNAME.md).

A person's verification status moves only through the REALNAME machine (app/machines.py), which checks
who acts and from which status and writes the audit row of each move.
"""
import abc
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.utils import import_string

from ground import roles as R
from ground.clock import now_utc
from ground.errors import UserError
from ground.extensions import db
from models import Person, RealnameRequest
from models.choices import RealnameMethod
from models.dictionary import PROVINCE_CODES
from models.realname import RequestStatus
from app import machines
from app.machines import REALNAME
from app.workflow import WorkflowError


class RealnameError(UserError):
    """A verification step refused, with the reason."""


@dataclass(frozen=True)
class Verdict:
    """What a provider's callback says: which request, and whether the person proved who they are."""

    nonce: str
    verified: bool
    name: str
    id_number: str
    detail: str = ""


class RealnameProvider(abc.ABC):
    """Interface of an online identity provider."""

    name = "provider"

    @property
    def label(self):  # a property: ABCMeta would evaluate a lazy string at import time
        return _l("Online verification")

    @abc.abstractmethod
    def start(self, request: RealnameRequest) -> str:
        """The URL the person opens on their phone (shown as a QR code)."""

    @abc.abstractmethod
    def parse_callback(self, form: dict) -> Verdict:
        """Check the provider's signature on a callback and return its verdict, or raise RealnameError."""


class SimulatorProvider(RealnameProvider):
    """Built-in provider for development, demos and tests: the phone page is app.views' simulator."""

    name = "simulator"

    @property
    def label(self):
        return _l("Online verification (simulator)")

    def _key(self) -> bytes:
        secret = current_app.config.get("REALNAME_SIMULATOR_SECRET") or current_app.config["SECRET_KEY"]
        return hashlib.sha256(f"realname-simulator:{secret}".encode()).digest()

    def sign(self, payload: dict) -> tuple[str, str]:
        body = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        return body, hmac.new(self._key(), body.encode(), hashlib.sha256).hexdigest()

    def start(self, request):
        return url_for("RealnameSimulatorView.phone", nonce=request.nonce, _external=True)

    def parse_callback(self, form):
        body, signature = form.get("payload") or "", form.get("signature") or ""
        expected = hmac.new(self._key(), body.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise RealnameError(_l("The verification answer is not signed by the provider."))
        try:
            data = json.loads(body)
            return Verdict(nonce=str(data["nonce"]), verified=data["result"] == "verified",
                           name=str(data.get("name", "")), id_number=str(data.get("id_number", "")),
                           detail=str(data.get("detail", ""))[:500])
        except (ValueError, KeyError, TypeError):
            raise RealnameError(_l("The verification answer is malformed.")) from None


def provider() -> RealnameProvider:
    cache = current_app.extensions.setdefault("realname_provider", {})
    path = current_app.config["REALNAME_PROVIDER"]
    if path not in cache:
        cache[path] = import_string(path)()
    return cache[path]


def default_province(person: Person) -> str | None:
    """The on-site check happens where the ID number was issued unless the person chooses another."""
    code = person.id_number[:2]
    return code if code in PROVINCE_CODES else None


def _check(action: str, person: Person, user=None, role: str | None = None):
    try:
        machines.check(REALNAME, action, person, user, role)
    except WorkflowError as exc:
        raise RealnameError(exc.message) from None


def _take(action: str, person: Person, user=None, role: str | None = None, detail: dict | None = None):
    try:
        machines.take(REALNAME, action, person, user, role, detail)
    except WorkflowError as exc:
        raise RealnameError(exc.message) from None


def _applicant_role(user) -> str | None:
    """Without a signed-in user (command line), the move is taken on the person's own behalf."""
    return R.APPLICANT if user is None else None


def request_onsite(person: Person, province_code: str, user=None):
    """Queue the person for an on-site check in a province (the caller commits)."""
    _check("request_onsite", person, user, _applicant_role(user))
    if province_code not in PROVINCE_CODES:
        raise RealnameError(_l("Choose a province."))
    person.realname_method = RealnameMethod.ONSITE
    person.realname_province_code = province_code
    person.realname_requested_at = now_utc()
    person.realname_note = None
    _take("request_onsite", person, user, _applicant_role(user), {"realname_province_code": province_code})


def decide_onsite(person: Person, user, verified: bool, note: str = ""):
    """A provincial officer's decision after comparing the person, the photos and the documents."""
    action = "verify_onsite" if verified else "reject_onsite"
    _check(action, person, user)
    if person.realname_method != RealnameMethod.ONSITE:
        raise RealnameError(_l("This person is not waiting for an on-site check."))
    if getattr(user, "province_code", None) != person.realname_province_code:
        raise RealnameError(_l("This person is queued in another province."))
    note = (note or "").strip()
    if not verified and not note:
        raise RealnameError(_l("Give the reason for the rejection."))
    person.realname_verified_at = now_utc() if verified else None
    person.realname_note = note[:500] or None
    _take(action, person, user)


def start_online(person: Person, user=None) -> tuple[RealnameRequest, str]:
    """Open a request with the configured provider; returns it and the URL for the QR code."""
    _check("start_online", person, user, _applicant_role(user))
    chosen = provider()
    minutes = current_app.config["REALNAME_SESSION_MINUTES"]
    request = RealnameRequest(person=person, provider=chosen.name, nonce=secrets.token_urlsafe(24),
                              status=RequestStatus.PENDING, expires_at=now_utc() + timedelta(minutes=minutes))
    db.session.add(request)
    _take("start_online", person, user, _applicant_role(user), {"provider": chosen.name})
    return request, chosen.start(request)


def pending_request(nonce: str) -> RealnameRequest | None:
    return db.session.query(RealnameRequest).filter(RealnameRequest.nonce == nonce).one_or_none()


def complete(verdict: Verdict) -> RealnameRequest:
    """Apply a provider's verdict to its request and person (the caller commits)."""
    request = (db.session.query(RealnameRequest).filter(RealnameRequest.nonce == verdict.nonce)
               .with_for_update().one_or_none())
    if request is None:
        raise RealnameError(_l("Unknown verification request."))
    if request.status != RequestStatus.PENDING:
        raise RealnameError(_l("This verification request has already been answered."))
    if request.expires_at < now_utc():
        raise RealnameError(_l("The verification request has expired; start again."))
    person = request.person
    matches = verdict.name == person.name and verdict.id_number.upper() == person.id_number
    request.completed_at = now_utc()
    if verdict.verified and matches:
        request.status = RequestStatus.VERIFIED
        person.realname_method = RealnameMethod.ONLINE
        person.realname_verified_at = now_utc()
        person.realname_note = None
        _take("verify_online", person, role=machines.PROVIDER, detail={"provider": request.provider})
    else:
        request.status = RequestStatus.FAILED
        request.detail = (verdict.detail or ("identity mismatch" if verdict.verified else "declined"))[:500]
    return request
