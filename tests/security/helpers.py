"""Shared pieces of the hostile-input suites: hypothesis settings and payload strategies, a form reader,
the stored-markup check, row-count snapshots, signed-in clients and a world of users built once per backend.

Every strategy is deterministic under `derandomize=True`; nothing here prints or seeds anything random.
"""
import io
import os
import struct
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlparse

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from tests.conftest import login


def hostile_settings(max_examples: int) -> settings:
    """Reproducible and bounded: fixed examples per test, no deadline, no example database."""
    return settings(max_examples=max_examples, deadline=None, derandomize=True, database=None, print_blob=False,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much])


# --- payloads -----------------------------------------------------------------------------------------
# Markup that would run if a page printed it unescaped. `assert_no_injected_markup` looks for exactly these.
XSS_PAYLOADS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "<xss-probe>x</xss-probe>",
    "</textarea><script>alert(1)</script>",
    '<a href="javascript:alert(1)">x</a>',
)
PAYLOADS = XSS_PAYLOADS + (
    "' OR 1=1 --", "'; DROP TABLE person; --", '" OR ""="', "1; SELECT pg_sleep(0)", "%", "_", "\\", "%' --",
    "{{7*7}}", "${7*7}", "{% raw %}", "%(name)s", "{0}",
    "../../etc/passwd", "..\\..\\windows\\win.ini", "/etc/passwd", "%00", "\x00", "a\x00b", "%2e%2e%2f",
    "😀🏗️👷‍♀️", "\u202eevil\u202c", "\u200f\u200e", "ＡＢＣ１２３ｓｃｒｉｐｔ", "\ufeff", "\u2028\u2029",
    "", " ", "\t\n\r", "0", "-1", "1e309", "NaN", "Infinity", "99999999999999999999", "-99999999999999999999",
    "2147483648", "9223372036854775808", "0x7fffffff", "1.5", "true", "null", "[]", "{}",
    "²", "١٢٣", "٣", "①", "12²", "2026-02-30", "9999-12-31", "0000-00-00", "2026-13-01", "-2026-01-01",
    "110101199001011234", "11010119900101123x", "13800138000", "+8613800138000", "a@b", "x" * 17 + "X",
)
# Lengths around the limits the forms and columns use (16, 18, 20, 32, 50, 64, 100, 120, 200, 500, 2000).
_BOUNDARIES = sorted({n + d for n in (6, 11, 16, 18, 20, 32, 40, 50, 60, 64, 100, 120, 128, 200, 500, 2000)
                      for d in (-1, 0, 1)})
_LONG = (10_000, 100_000, 1_000_000)

_chars = st.characters(codec="utf-8", exclude_categories=("Cs",))  # any code point a form can carry


def hostile_text(long=True) -> st.SearchStrategy[str]:
    """Random and boundary strings, payloads, and (with long=True) strings of 10 kB to 1 MB."""
    options = [
        st.sampled_from(PAYLOADS),
        st.text(_chars, max_size=40),
        st.text(st.characters(codec="ascii"), max_size=20),  # control characters included
        st.builds(lambda c, n: c * n, st.sampled_from("x中0<'\"\\%"), st.sampled_from(_BOUNDARIES)),
        st.builds(lambda a, b: a + b, st.sampled_from(PAYLOADS), st.text(_chars, max_size=8)),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
    ]
    if long:
        options.append(st.builds(lambda c, n: c * n, st.sampled_from(("x", "中", "<script>", "\x01")),
                                 st.sampled_from(_LONG)))
    return st.one_of(*options)


def hostile_value(long=True):
    """A scalar most of the time; sometimes a list where a scalar is expected (repeated form keys)."""
    scalar = hostile_text(long=long)
    return st.one_of(scalar, scalar, scalar, st.lists(hostile_text(long=False), min_size=2, max_size=3))


def hostile_json(depth=2):
    """Any JSON: wrong types, huge and negative numbers, nested objects and arrays, hostile strings."""
    leaves = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
                       st.floats(allow_nan=False, allow_infinity=False), hostile_text(long=False))
    return st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(hostile_text(long=False), inner, max_size=3)),
                        max_leaves=8)


FILE_NAMES = (
    "../../x.png", "../../../../tmp/evil.png", "/etc/passwd", "/tmp/absolute.png", "C:\\evil\\x.png",
    "..\\..\\x.png", "x.png\x00.html", "photo.jpg\x00", "a/b/c.png", ".htaccess", "x.php.png", "..", ".", "",
    "CON", "a" * 300 + ".png", "照片.jpg", "<script>alert(1)</script>.png", "%2e%2e%2fx.png", "x.svg",
)


# --- images -------------------------------------------------------------------------------------------
def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int, bit_depth=8, colour_type=2) -> bytes:
    """A well-formed PNG whose header claims width x height with a few bytes of pixel data (small on disk)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + png_chunk(b"IEND", b""))


def picture(size=(800, 500), fmt="JPEG", colour="white") -> bytes:
    """A plain image that passes the scan rules (light, big enough)."""
    from PIL import Image

    img = Image.new("RGB", size, colour)
    w, h = size
    img.paste((60, 50, 40), (w // 3, h // 4, 2 * w // 3, 3 * h // 4))
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


# --- HTML ---------------------------------------------------------------------------------------------
@dataclass
class FormField:
    name: str
    kind: str  # input type, "select", "textarea"
    value: str | None = None
    options: list = field(default_factory=list)
    multiple: bool = False


@dataclass
class Form:
    action: str
    method: str
    enctype: str
    fields: dict = field(default_factory=dict)

    @property
    def has_files(self) -> bool:
        return any(f.kind == "file" for f in self.fields.values())


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form = None
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "option" and self._select is not None:
            if a.get("value") is not None:
                self._select.options.append(a["value"])
        elif tag == "form":
            self._form = Form(a.get("action") or "", (a.get("method") or "get").lower(),
                              a.get("enctype") or "application/x-www-form-urlencoded")
            self.forms.append(self._form)
        elif self._form is None or not a.get("name"):
            return
        elif tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "reset"):
                # The button's name/value pair is what the view reads ("action": send_sms | save | submit).
                self._form.fields.setdefault(a["name"], FormField(a["name"], "choice"))
                self._form.fields[a["name"]].options.append(a.get("value") or "")
                return
            existing = self._form.fields.get(a["name"])
            if existing is not None and kind in ("checkbox", "radio"):
                existing.options.append(a.get("value") or "y")
                existing.multiple = existing.multiple or kind == "checkbox"
                return
            self._form.fields[a["name"]] = FormField(a["name"], kind, a.get("value"),
                                                     [a.get("value") or "y"] if kind in ("checkbox", "radio") else [])
        elif tag == "button":
            self._form.fields.setdefault(a["name"], FormField(a["name"], "choice"))
            self._form.fields[a["name"]].options.append(a.get("value") or "")
        elif tag == "select":
            self._select = FormField(a["name"], "select", multiple="multiple" in a)
            self._form.fields[a["name"]] = self._select
        elif tag == "textarea":
            self._textarea = FormField(a["name"], "textarea", "")
            self._form.fields[a["name"]] = self._textarea

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.value += data


def post_forms(html: str, page_url: str) -> list[Form]:
    """The page's POST forms that submit to the page itself (not the sign-out or language forms)."""
    parser = _FormParser()
    parser.feed(html)
    own = urlparse(page_url).path
    found = []
    for form in parser.forms:
        if form.method != "post":
            continue
        target = urlparse(urljoin(page_url, form.action or page_url)).path
        if target == own:
            found.append(form)
    return found


def the_form(html: str, page_url: str) -> Form:
    forms = post_forms(html, page_url)
    assert forms, f"no POST form for {page_url} on the page"
    return max(forms, key=lambda f: len(f.fields))


class _MarkupFinder(HTMLParser):
    """Records tags and attributes that only a payload of XSS_PAYLOADS would have created."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []
        self._script = False

    def handle_starttag(self, tag, attrs):
        if tag == "xss-probe":
            self.found.append("<xss-probe> element")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on") and "alert(" in value:
                self.found.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src", "action") and value.strip().lower().startswith("javascript:alert"):
                self.found.append(f"<{tag} {name}={value!r}>")
        self._script = tag == "script"

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self._script = False

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = False

    def handle_data(self, data):
        if self._script and data.strip() == "alert(1)":  # the payload's own script element
            self.found.append(f"<script>{data[:60]}</script>")


def injected_markup(html: str) -> list[str]:
    """Elements or attributes in `html` that came from a payload as markup, not as text."""
    finder = _MarkupFinder()
    finder.feed(html)
    finder.close()
    return finder.found


def assert_no_injected_markup(html: str, where: str = ""):
    found = injected_markup(html)
    assert not found, f"payload rendered as markup {where}: {found}"


# --- database -----------------------------------------------------------------------------------------
# Tables a refused request may still write: captcha challenges it used up, SMS codes and the outbox (a code
# sent by "Get SMS code"), the audit log (failed sign-ins are recorded on purpose), server-side sign-in
# sessions (kept and expired by every request).
SIDE_TABLES = {"captcha_challenge", "sms_code", "sms_outbox", "audit_log", "user_session"}


def row_counts(app, ignore=SIDE_TABLES) -> dict:
    """Rows per table (one query), except the side tables."""
    from flask_appbuilder import Model

    from ground.extensions import db

    with app.app_context():
        names = sorted(n for n in Model.metadata.tables if n not in ignore)  # every model and FAB's tables
        assert {"application", "person", "attachment", "ab_user"} <= set(names), names
        sql = "SELECT " + ", ".join(f'(SELECT count(*) FROM "{n}") AS "c{i}"' for i, n in enumerate(names))
        values = db.session.execute(text(sql)).one()
        db.session.rollback()
    return dict(zip(names, values, strict=True))


def changed(before: dict, after: dict) -> dict:
    return {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)}


# --- files --------------------------------------------------------------------------------------------
def tree(*roots) -> set:
    """Every file under the roots (path, size): a snapshot to compare before and after uploads."""
    found = set()
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            for name in files:
                path = os.path.join(folder, name)
                try:
                    found.add((path, os.path.getsize(path)))
                except OSError:
                    pass
    return found


# --- users --------------------------------------------------------------------------------------------
def signed_in(app, username):
    return login(app.test_client(), username)


def bearer(app, username) -> dict:
    """Authorization header with a fresh JWT for the user (as the API sign-in would give, with its token stamp)."""
    from tests import factories as f
    from views.shell import api_tokens

    with app.test_request_context():
        token = api_tokens.issue(f.user(username), refresh=False)["access_token"]
    return {"Authorization": f"Bearer {token}"}


# --- the world ----------------------------------------------------------------------------------------
_WORLDS = {}


def hostile_world(app):
    """tests/world.py's country plus what the hostile suites need, built once per backend (app):
    an applicant per business type (each may save a draft of its own), applications waiting at every
    review stage, a person queued for an on-site check, a draft announcement batch, a phone on every
    applicant and a fresh ID number and credit code nobody uses."""
    if id(app) in _WORLDS:
        return _WORLDS[id(app)]
    from ground.extensions import db
    from app.services import realname
    from models import AnnouncementBatch, Certificate, Enterprise, Person, Qualification
    from tests import factories as f
    from tests import world as world_module

    with app.app_context():
        w = world_module.build()
        staff = f.Staff()
        staff._cache.update({("Enterprise", w.e1): w.users["ent1"], ("Enterprise", w.e3): w.users["ent3"],
                             ("Province", "11"): w.users["prov11"], ("Province", "31"): w.users["prov31"],
                             ("Ministry",): w.users["ministry"]})
        # One applicant per business type, each in a state where that type's form applies.
        w.apply_users = {}
        for code in ("initial", "info_change"):
            w.apply_users[code] = f.make_applicant()[0]
        w.apply_users["re_registration"] = f.make_registered(w.e1, status="cancelled")[0]
        for code in ("add_specialty", "cancellation", "replacement"):
            w.apply_users[code] = f.make_registered(w.e1)[0]
        w.apply_users["renewal"] = f.make_registered(w.e1, expires_in_days=20)[0]
        w.apply_users["change"] = f.make_registered(w.e1, temporary=True)[0]
        # Applications waiting for each reviewer (a1: E1, a3: province 31), and one at the ministry.
        username, _person, w.apps["m1"] = f.initial_application(staff, "11", "submit", "confirm", "pass")
        w.users["m1"] = username
        # A person waiting for an on-site real-name check in province 11.
        onsite_user, onsite_person = f.make_applicant(verified=False)
        realname.request_onsite(db.session.get(Person, onsite_person), "11")
        db.session.commit()
        w.users["onsite"], w.persons["onsite"] = onsite_user, onsite_person
        batch = AnnouncementBatch(title="草稿公告", state="draft")
        db.session.add(batch)
        db.session.commit()
        w.batch = batch.id
        # Every applicant gets a mobile number (SMS forms), unique per backend.
        w.phones = {}
        for key in ("a1", "a2", "a3", "d1", "r1", "r3", "m1", "onsite", *(f"apply_{c}" for c in w.apply_users)):
            username = w.apply_users[key[6:]] if key.startswith("apply_") else w.users[key]
            person = f.user(username).person
            person.phone = f"136{f.next_serial() % 10**8:08d}"
            w.phones[key] = person.phone
        db.session.commit()
        w.enterprise_label = {k: f"{e.name} [{e.credit_code}]" for k, e in
                              (("e1", db.session.get(Enterprise, w.e1)), ("e3", db.session.get(Enterprise, w.e3)))}
        w.credit_codes = {"e2": db.session.get(Enterprise, w.e2).credit_code}
        w.unused_id_number = f.unique_id_number()
        w.unused_credit_code = f.unique_credit_code()
        w.qualifications = {"a1": db.session.scalar(select(Qualification.id).where(
            Qualification.person_id == w.persons["a1"]))}
        certificate = db.session.get(Certificate, w.certificates["r1"])
        w.certificate = (certificate.number, certificate.holder_name)
    _WORLDS[id(app)] = w
    return w
