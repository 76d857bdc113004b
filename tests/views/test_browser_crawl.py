"""The acceptance crawl: every page each role reaches at 1024×768 shows no 5xx, no console or page error, no
request to another host, no raw code and no English on a Chinese page (and, in a short English pass, no
Chinese interface text on an English page).

The world is ops/demo.py's (every list and page has rows), on a database of its own. Each principal follows
same-origin GET links (menus included, read from the DOM) breadth-first from its start pages, bounded per URL
pattern and per principal; files are fetched, not rendered. Every failure is collected and reported once at
the end, grouped by kind and text; pages that showed a new failure are screenshotted into the test's tmp_path."""
import re
from collections import defaultdict, deque
from urllib.parse import urlsplit, urlunsplit

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import app_on_own_database
from tests.views.browser import browser_fixture, live_server_fixture, sign_in  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

APPLICANT = "110101198503071032"  # ops/demo.py's 王建国: registered, a certificate and a draft
PUBLIC_STARTS = ["/login/", "/verify/", "/signup/", "/registry/", "/reset/"]
PRINCIPALS = [("anonymous", None, PUBLIC_STARTS), ("applicant", APPLICANT, []),
              ("enterprise-bj1", "enterprise-bj1", []), ("province-bj", "province-bj", []),
              ("ministry", "ministry", []), ("industry", "industry", []), ("admin", "admin", []),
              ("secadmin", "secadmin", []), ("auditor", "auditor", [])]
ENGLISH_PRINCIPALS = [("anonymous", None, PUBLIC_STARTS), ("applicant", APPLICANT, []), ("ministry", "ministry", [])]
MAX_PAGES = 200  # rendered pages per principal (the ministry renders about 120)
MAX_VARIANTS = 3  # pages rendered per pattern (ids as {id}, any query string); files: one (PDFs are slow)
MAX_LIST_STATES = 3  # sorted or paged variants of a list, fetched for the status (test_list_sorting: every sort)
MAX_SHOTS = 20  # screenshots per principal
ENGLISH_MAX_PAGES = 30
MANY = 8  # more findings of one kind in one text block are reported as one

# Not followed: sign-out, language switch, the API and its browser, FAB's GET doors to mutations.
SKIP = re.compile(r"^/(logout|lang/|swagger|api/)|/(delete|action)/")
# A list's sort order and page (FAB's _oc_/_od_/page_/psize_ arguments): the same page, other rows.
LIST_STATE = re.compile(r"^(_oc_|_od_|page|psize_)")
# Fetched, not rendered (status and content type); anything else that turns out not to be HTML is treated alike.
DOWNLOAD = re.compile(r"/(pdf|download|export|file|batch)(/|$)|\.(pdf|csv|xlsx|png|jpe?g)$"
                      r"|^/(roster/sample|dashboard/roster|verify/public-key)")

# ASCII words a Chinese page may show: file formats, units, acronyms and product names Chinese interfaces
# use as they are.
ALLOWED_WORDS = {"PDF", "CSV", "XLSX", "JPEG", "JPG", "PNG", "PEM", "MB", "KB", "dpi", "px", "ID", "QR", "SMS",
                 "URL", "API", "IP", "Excel", "BIM"}
ALLOWED_WORDS |= {w.lower() for w in ("PDF", "CSV", "XLSX", "JPEG", "JPG", "PNG", "PEM")}  # file extensions
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", re.A)
WEB_ADDRESS = re.compile(r"\bhttps?://[!-~]+|(?<![\w/])/[\w./{}<>?=&%-]+", re.A)
FILE_NAME = re.compile(r"[\w-]+\.(jpe?g|png|pdf|csv|xlsx)\b", re.I | re.A)
IDENTIFIER = re.compile(r"(?<![\w-])(?=[\w-]*\d)[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+(?![\w-])", re.A)  # DEMO-ADD-7
# Code wherever it stands: endpoints and view classes, source files; "a → b" between codes.
ENDPOINT = re.compile(r"(?<![A-Za-z0-9_])[A-Z][A-Za-z]*(?:View|Api)(?:\.[a-z_]+)?(?![A-Za-z0-9_])|\b\w+\.py\b", re.A)
ARROW = re.compile(r"[A-Za-z_]+\s*(?:→|->)\s*[A-Za-z_]+")
WORD = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z0-9_]*(?![A-Za-z0-9_])")
COMPOUND = re.compile(r"^[A-Z][a-z]+[A-Z]\w*$|_")  # snake_case, CamelCase: code even inside English
# A run of ASCII words on one line: one English passage (or one code standing alone).
RUN = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z0-9_'’]*(?:[ \t,.:;!?()/&+'’\"-]+[A-Za-z0-9][A-Za-z0-9_'’]*)*")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")

# What the browser shows as text, by source: the body's rendered text (without code blocks, screen-reader text
# and the language links; text areas and inputs have none); closed menus, dialogs and select options (shown on
# a click); tooltips, placeholders, button values; screen-reader text. Also every table or definition cell (for
# one-letter codes) and the links to follow.
COLLECT_TEXT = """() => {
  let page = document.body ? document.body.innerText : '';
  document.querySelectorAll('code, pre, kbd, samp, .sr-only, a[href*="/lang/"]').forEach(e => {
    const shown = e.innerText;
    const at = shown && shown.trim() ? page.indexOf(shown) : -1;
    if (at >= 0) page = page.slice(0, at) + '\\n' + page.slice(at + shown.length);
  });
  const chunks = [['title', document.title], ['page', page]];
  const add = (source, selector, read) => document.querySelectorAll(selector)
    .forEach(e => chunks.push([source, read(e) || '']));
  add('menu', '.dropdown-menu a:not([href*="/lang/"])', e => e.textContent);
  add('dialog', '.modal', e => e.textContent);
  add('option', 'select option', e => e.textContent);
  add('tooltip', '[title]', e => e.getAttribute('title'));
  add('placeholder', '[placeholder]', e => e.getAttribute('placeholder'));
  add('button value', 'input[type=submit], input[type=button], input[type=reset]', e => e.value);
  add('screen-reader text', '.sr-only', e => e.textContent);
  const cells = [...document.querySelectorAll('td, th, dd, dt, option, .label, .badge')]
    .map(e => (e.innerText || e.textContent || '').trim());
  const links = [...document.querySelectorAll('a[href]')].map(e => [e.getAttribute('href'), e.href]);
  return {chunks, cells, links};
}"""


def _codes(app) -> tuple[set, set]:
    """(codes of two or more characters, short codes checked only as a whole cell), taken from the code and
    from what the code wrote into the demo database (audit actions and object types)."""
    import models
    from ground import roles
    from app import workflow
    from ground.extensions import db
    from app.services import images, realname, sms
    from models import choices, dictionary
    from models.base import Choices

    codes = set(workflow.STATE_LABELS) | set(workflow.BUSINESS_TYPES) | set(workflow.TRANSITIONS)
    codes |= {v for k, v in vars(workflow.State).items() if not k.startswith("_")}
    for value in vars(choices).values():
        if isinstance(value, Choices):
            codes |= set(value)
    codes |= {s[0] for s in dictionary.SPECIALTIES}
    codes |= {name for name in models.__all__ if name[:1].isupper() and name != "Model"}
    codes |= set(roles.BUSINESS_ROLES) | set(sms.PURPOSES) | set(images.KINDS)
    codes |= {realname.SimulatorProvider.name, "onsite", "online"}
    codes |= {"None", "True", "False", "null", "undefined", "NaN"}  # values printed as they are
    try:  # the audit log's codes (actions, object types, providers…), where the code names them
        from views import audit_display
    except ImportError:
        audit_display = None
    for name, value in vars(audit_display or object()).items():
        if name.isupper() and isinstance(value, dict):
            codes |= {k for k in value if isinstance(k, str)}
    with app.app_context():
        for column in (models.AuditLog.action, models.AuditLog.object_type):
            codes |= {v for (v,) in db.session.query(column).distinct() if v}
        db.session.remove()
    short = {c for c in codes if len(c) < 2 or (c.isdigit() and c.startswith("0"))}
    return {c for c in codes if len(c) >= 2 and not c.isdigit()}, short


def _page_allowances() -> list[tuple[re.Pattern, set]]:
    """(path, words) shown there on purpose, in either language."""
    from app import education, employer_status, roster
    from models import dictionary

    rows = dictionary.PROVINCES + dictionary.SPECIALTIES
    return [
        # The dictionaries show both names, and the specialty code (the key the roster import also takes).
        (re.compile(r"^/(provinces|specialties)/"),
         {w for row in rows for w in WORD.findall(row[2]) + CJK.findall(row[1])}
         | {row[0] for row in dictionary.SPECIALTIES} | {row[3] for row in dictionary.PROVINCES}),
        # The roster import page lists the header spellings and yes/no values a user types into the file.
        (re.compile(r"^/roster/"),
         {w for aliases in roster.COLUMNS.values() for a in aliases for w in WORD.findall(a) + CJK.findall(a)}
         | {w for v in roster._TRUE | roster._FALSE for w in WORD.findall(v) + CJK.findall(v)}
         | set(CJK.findall(roster._DATE_CN.pattern))),
        # The continuing-education and enterprise-register imports list their header spellings and the words
        # a provider's or the register's file holds (必修/选修, 存续/注销 ...), in both languages.
        (re.compile(r"^/education-import/"),
         {w for aliases in education.COLUMNS.values() for a in aliases for w in WORD.findall(a) + CJK.findall(a)}
         | {w for v in set(education._KINDS) | education._GENERAL for w in WORD.findall(v) + CJK.findall(v)}
         | set(CJK.findall(roster._DATE_CN.pattern))),
        (re.compile(r"^/employer-status/register"),
         {w for aliases in employer_status.COLUMNS.values() for a in aliases for w in WORD.findall(a) + CJK.findall(a)}
         | {w for words in employer_status.STATUS_WORDS.values() for v in words
            for w in WORD.findall(v) + CJK.findall(v)}),
        # 节假日与调休 names the library its dates come from.
        (re.compile(r"^/calendardays/"), {"chinese", "calendar"}),
    ]


def _allowed_on(allowances, url) -> set:
    path = urlsplit(url).path
    return set().union(*(words for where, words in allowances if where.search(path)))


def _data_runs(app) -> set:
    """The Chinese runs of what the demo stored as data (names, addresses, opinions…): an English page shows
    them as they are. The dictionaries are left out: they carry English names."""
    from sqlalchemy import String, Text, select

    from ground.extensions import db
    from models import AppUser, Model

    found = set()
    with app.app_context():
        for table in Model.metadata.sorted_tables:
            if table.name in ("province", "specialty"):
                continue
            for column in table.columns:
                if isinstance(column.type, (String, Text)):
                    for (value,) in db.session.execute(select(column).distinct()):
                        if isinstance(value, str):
                            found.update(CJK.findall(value))
        for user in db.session.query(AppUser):
            found.update(CJK.findall(f"{user.first_name} {user.last_name} {user.first_name}{user.last_name}"))
        db.session.remove()
    return found


@pytest.fixture(scope="module", name="app")
def demo_app(backend, tmp_path_factory):
    """An app on a database of its own holding ops/demo.py's world."""
    from ops.demo import load_demo
    from ground.extensions import db

    with app_on_own_database(backend, tmp_path_factory) as application:
        with application.app_context():
            load_demo()
            db.session.remove()
        yield application


class Crawl:
    """One principal's breadth-first walk; failures go into the shared `findings`."""

    def __init__(self, context, base, principal, findings, shots, check):
        self.context, self.base, self.principal = context, base, principal
        self.findings, self.shots, self.check = findings, shots, check
        self.current = None
        self.variants = defaultdict(set)
        self.seen = set()
        self.queue = deque()
        self.shots_left = MAX_SHOTS
        self.page = context.new_page()
        self.page.on("response", lambda r: r.status >= 500 and self.note("5xx response",
                                                                         f"{r.status} {self.rel(r.url)}"))
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.note("page error", str(e).splitlines()[0]))
        self.page.on("request", self._request)

    def rel(self, url):
        return url[len(self.base):] if url.startswith(self.base) else url

    def note(self, kind, detail, example=""):
        self.findings[(kind, detail)].append((self.principal, self.rel(self.current or ""), example))

    def _console(self, message):
        where = (message.location or {}).get("url", "")
        if message.type != "error" or (where == self.current and message.text.startswith("Failed to load resource")):
            return  # the page's own status is reported as such
        self.note("console error", message.text, f"at {self.rel(where)}" if where else "")

    def _request(self, request):
        scheme = request.url.split(":", 1)[0]
        # Browser-internal schemes (the PDF viewer's chrome-extension://, data:, blob:) are no network requests.
        if scheme in ("http", "https", "ws", "wss") and not request.url.startswith(self.base + "/"):
            self.note("request to another host", request.url)

    def enqueue(self, url, referrer=None):
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.base:
            return
        url = urlunsplit(parts._replace(fragment=""))
        if url in self.seen or SKIP.search(parts.path):
            return
        keys = [pair.split("=")[0] for pair in parts.query.split("&") if pair]
        if keys and all(LIST_STATE.match(k) for k in keys):
            pattern, limit, status_only = ("list state", parts.path), MAX_LIST_STATES, True
        else:
            pattern = re.sub(r"(?<=/)[^/]*\d[^/]*|(?<=/(?:show|edit)/)[^/]+", "{id}", parts.path)
            limit, status_only = (1 if DOWNLOAD.search(parts.path) else MAX_VARIANTS), False
        if len(self.variants[pattern]) >= limit:
            return
        self.variants[pattern].add(url)
        self.seen.add(url)
        self.queue.append((url, referrer, status_only))

    def run(self, starts, max_pages) -> str:
        for start in starts:
            self.enqueue(self.base + start)
        visited = 0
        visited = fetched = 0
        while self.queue and visited < max_pages:
            url, referrer, status_only = self.queue.popleft()
            self.current = url
            before = len(self.findings)
            if status_only or DOWNLOAD.search(urlsplit(url).path):
                fetched += 1
                if self.fetch(url, referrer) or status_only:
                    continue
            visited += 1
            self.visit(url, referrer)
            if len(self.findings) > before and self.shots_left:
                self.shots_left -= 1
                try:
                    self.page.screenshot(path=str(self.shots / f"{self.principal}-{visited:03d}.png"), full_page=True)
                except PlaywrightError:
                    pass
        self.page.close()
        return f"{visited} pages, {fetched} fetched" + (f" (cap reached, {len(self.queue)} left)" if self.queue else "")

    def fetch(self, url, referrer) -> bool:
        """A file: status and content type, without rendering. False when it is an HTML page after all."""
        response = self.context.request.get(url)
        if response.status >= 500:
            self.note("5xx response", f"{response.status} {self.rel(url)}")
        elif response.status >= 400:
            self.note("link to an error page", f"{response.status} {self.rel(url)}",
                      f"linked from {self.rel(referrer or '')}")
        elif response.headers.get("content-type", "").startswith("text/html"):
            return False
        return True

    def visit(self, url, referrer):
        try:
            response = self.page.goto(url)
        except PlaywrightError as error:
            if "Download is starting" in str(error):
                self.fetch(url, referrer)
            else:
                self.note("navigation failed", str(error).splitlines()[0])
            return
        status = response.status if response else 0
        if 400 <= status < 500:
            self.note("link to an error page", f"{status} {self.rel(url)}", f"linked from {self.rel(referrer or '')}")
        if not self.page.url.startswith(self.base + "/"):
            self.note("left the site", self.page.url)
            return
        self.seen.add(self.page.url)  # after a redirect
        if status >= 500 or not (response and response.headers.get("content-type", "").startswith("text/html")):
            return  # the 5xx is reported; a file the browser shows inline (a PDF) has no page text
        collected = self.page.evaluate(COLLECT_TEXT)
        for kind, detail, example in self.check(self.page.url, collected):
            self.note(kind, detail, example)
        for raw, absolute in collected["links"]:
            if absolute and not raw.startswith(("javascript:", "mailto:", "tel:", "#")):
                self.enqueue(absolute, url)


def _around(text, start, end):
    return "…" + re.sub(r"\s+", " ", text[max(0, start - 30):end + 30]).strip() + "…"


def _collapse(found, source):
    """More than MANY findings of one kind in one text block: one finding (a page in English, a code dump)."""
    by_kind = defaultdict(list)
    for (kind, detail), example in found.items():
        by_kind[kind].append((detail, example))
    out = []
    for kind, items in by_kind.items():
        if len(items) > MANY:
            sample = " | ".join(d for d, _ in items[:4])
            out.append((kind, f"more than {MANY} in one block of {source}", f"{len(items)}, e.g. {sample}"))
        else:
            out += [(kind, detail, f"[{source}] {example}") for detail, example in items]
    return out


def chinese_page_checks(app):
    """The checks of a Chinese page: raw codes, then English."""
    from ops.demo import STAFF_ACCOUNTS

    codes, short = _codes(app)
    allowances = _page_allowances()
    # Demo staff user names (user lists, trails) and the accounts demo.py opens for other enterprises.
    names = "|".join(re.escape(row[0]) for row in sorted(STAFF_ACCOUNTS, key=lambda r: -len(r[0])))
    user_name = re.compile(r"(?<![\w-])(?:" + names + r"|enterprise-\d+)(?![\w-])", re.A)
    blank = lambda m: " " * len(m.group())  # noqa: E731 (offsets stay, for the context)

    def check_block(text, allowed):
        found = {}
        for pattern in (ENDPOINT, ARROW):
            for m in pattern.finditer(text):
                found.setdefault(("raw code", m.group()), _around(text, m.start(), m.end()))
            text = pattern.sub(blank, text)
        for pattern in (EMAIL, WEB_ADDRESS, FILE_NAME, IDENTIFIER, user_name):
            text = pattern.sub(blank, text)
        for run in RUN.finditer(text):
            words = [w for w in WORD.findall(run.group()) if not any(c.isdigit() for c in w) and w not in allowed]
            strong = [w for w in words if COMPOUND.search(w)]
            weak = [w for w in words if w in codes and w not in strong]
            plain = [w for w in words if w not in codes and w not in strong and len(w) > 1]
            for word in strong + (weak if not plain else []):
                found.setdefault(("raw code", word), _around(text, run.start(), run.end()))
            if plain:
                passage = re.sub(r"\s+", " ", run.group()).strip()
                found.setdefault(("English on a Chinese page", passage[:80]), _around(text, run.start(), run.end()))
        return found

    def check(url, collected):
        allowed = ALLOWED_WORDS | _allowed_on(allowances, url)
        out = []
        for source, text in collected["chunks"]:
            out += _collapse(check_block(text, allowed), source)
        out += [("raw code", cell, "[cell] a cell showing only this") for cell in set(collected["cells"]) & short]
        return out

    return check


def english_page_checks(app):
    """The checks of an English page: Chinese that is not stored data, and code-shaped words."""
    data = _data_runs(app)
    allowances = _page_allowances()

    def check(url, collected):
        allowed = data | _allowed_on(allowances, url)
        out = []
        for source, text in collected["chunks"]:
            for pattern in (EMAIL, WEB_ADDRESS, FILE_NAME):
                text = pattern.sub(lambda m: " " * len(m.group()), text)
            found = {}
            for m in ENDPOINT.finditer(text):
                found.setdefault(("raw code", m.group()), _around(text, m.start(), m.end()))
            for m in WORD.finditer(text):
                if "_" in m.group() and m.group() not in allowed:
                    found.setdefault(("raw code", m.group()), _around(text, m.start(), m.end()))
            for m in CJK.finditer(text):
                if m.group() not in allowed:
                    found.setdefault(("Chinese on an English page", m.group()), _around(text, m.start(), m.end()))
            out += _collapse(found, source)
        return out

    return check


def report(findings, counts, shots) -> str:
    lines = [f"{len(findings)} distinct failures; pages per principal: {counts}; screenshots in {shots}"]
    by_kind = defaultdict(list)
    for (kind, detail), entries in findings.items():
        by_kind[kind].append((detail, entries))
    for kind, details in sorted(by_kind.items()):
        lines.append(f"\n=== {kind} ({len(details)})")
        for detail, entries in sorted(details, key=lambda d: (-len(d[1]), d[0])):
            example = next((e for _, _, e in entries if e), "")
            lines.append(f"  * {detail}" + (f"    {example}" if example else ""))
            where = defaultdict(list)
            for principal, url, _ in entries:
                if url not in where[principal]:
                    where[principal].append(url)
            for principal, urls in where.items():
                more = f" +{len(urls) - 3} more" if len(urls) > 3 else ""
                lines.append(f"      {principal}: {', '.join(urls[:3])}{more}")
    return "\n".join(lines)


def _crawl_all(app, live_server, browser, tmp_path, principals, check, max_pages, language=None):
    password = app.config["DEMO_PASSWORD"]
    findings, counts = defaultdict(list), {}
    for principal, username, starts in principals:
        context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="zh-CN")
        if username:
            page = context.new_page()
            sign_in(page, live_server, username, app, password=password)
            assert "/login" not in page.url, f"{principal} could not sign in"
            page.close()
        crawl = Crawl(context, live_server, principal, findings, tmp_path, check)
        if language:
            crawl.page.goto(f"{live_server}/lang/{language}")
        counts[principal] = crawl.run(["/"] + starts, max_pages)
        context.close()
    return findings, counts


def test_every_page_of_every_role_in_chinese(app, live_server, browser, tmp_path):
    findings, counts = _crawl_all(app, live_server, browser, tmp_path, PRINCIPALS, chinese_page_checks(app), MAX_PAGES)
    assert not findings, report(findings, counts, tmp_path)


def test_english_pages_show_no_chinese_interface(app, live_server, browser, tmp_path):
    findings, counts = _crawl_all(app, live_server, browser, tmp_path, ENGLISH_PRINCIPALS, english_page_checks(app),
                                  ENGLISH_MAX_PAGES, language="en")
    assert not findings, report(findings, counts, tmp_path)
